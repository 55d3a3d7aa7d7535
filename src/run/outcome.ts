/**
 * How a run ends, and what a8 exits with: the decisions, kept apart from the sockets and
 * processes that produce their inputs so they can be tested as plain functions.
 */
import { constants } from "node:os";
import { EXIT } from "../cli/exit_codes.ts";
import type { Outcome } from "../report/summary.ts";

export type RunEnd =
  /** Every variant's program exited with this status. */
  | { kind: "exited"; status: number }
  | {
    kind: "divergence";
    /** The variant whose monitor (or agent, for exit statuses) found it. */
    by: number;
    stream: string;
    seq: number;
    call: string;
    reason: string;
    detail: string;
  }
  | { kind: "fatal"; by: number; reason: string; call: string }
  | { kind: "peer-lost"; id: number; reason: string };

/** A process status as a shell reports it: the exit code, or 128+N for signal N. */
export function shellStatus(s: Deno.CommandStatus): number {
  if (s.signal) {
    const n = (constants.signals as Record<string, number>)[s.signal];
    return 128 + (n ?? 0);
  }
  return s.code;
}

/**
 * Compares our program's exit status with every peer's. Differing statuses are a divergence
 * (reason `exit-status`) found by this agent, naming each variant's status.
 */
export function compareExits(self: number, statuses: Map<number, number>): RunEnd {
  const own = statuses.get(self);
  if (own === undefined) throw new Error(`no exit status for variant ${self}`);
  const distinct = new Set(statuses.values());
  if (distinct.size === 1) return { kind: "exited", status: own };
  const detail = [...statuses].sort(([a], [b]) => a - b)
    .map(([id, s]) => `variant ${id} exited with ${s}`).join(", ");
  return {
    kind: "divergence",
    by: self,
    stream: "0",
    seq: -1,
    call: "exit_group",
    reason: "exit-status",
    detail,
  };
}

export function exitCode(end: RunEnd): number {
  switch (end.kind) {
    case "exited":
      return end.status;
    case "divergence":
      return EXIT.divergence;
    case "fatal":
      return EXIT.monitorFatal;
    case "peer-lost":
      return EXIT.peer;
  }
}

export function summaryOutcome(end: RunEnd): Outcome {
  const map: Record<RunEnd["kind"], Outcome> = {
    exited: "ok",
    divergence: "divergence",
    fatal: "monitor-fatal",
    "peer-lost": "peer-failure",
  };
  return map[end.kind];
}

/** The one line the user reads on stderr (a divergence also gets the full report). */
export function describe(end: RunEnd, self: number): string {
  switch (end.kind) {
    case "exited":
      return `a8: every variant exited with ${end.status}`;
    case "divergence":
      return `a8: divergence found by variant ${end.by} (${end.reason}) at ${end.call}` +
        (end.detail ? `: ${end.detail}` : "");
    case "fatal": {
      const who = end.by === self ? "this variant's monitor" : `the monitor of variant ${end.by}`;
      return `a8: ${who} stopped: ${end.reason}` + (end.call ? ` (at ${end.call})` : "");
    }
    case "peer-lost":
      return `a8: lost peer ${end.id}: ${end.reason}`;
  }
}

/** A monitor's `fatal` reason code as a sentence for people. */
export function fatalReason(reason: string): string {
  const known: Record<string, string> = {
    threads: "threads are not supported yet",
    "unknown-call": "a system call a8 does not know",
    "peer-lost": "its peer monitor was lost",
    protocol: "a data-plane protocol error",
    timeout: "a peer monitor did not answer in time",
    refused: "the program cannot be monitored",
  };
  return known[reason] ?? reason;
}
