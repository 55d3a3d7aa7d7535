/**
 * `summary.json`: what one variant's agent saw during a run, for people and for scripts (the
 * e2e tests and benchmarks read it). Field names are snake_case and stable: it is an output
 * format, not an internal structure.
 */
import type { RunStats, StreamCounters } from "../launch/stats.ts";
import type { CheckpointStats } from "../checkpoint/copies.ts";
import type { RollbackRecord } from "../checkpoint/rollback.ts";

export type Outcome =
  /** Every variant agreed; the program's exit status is a8's. */
  | "ok"
  | "divergence"
  | "monitor-fatal"
  | "peer-failure"
  /** Refused up front: host or program cannot be monitored. */
  | "refused"
  | "internal-error";

export interface SummaryInput {
  variant: number;
  leader: boolean;
  runId: string;
  program: string[];
  /** The program's exit status (128+N for signal N); null if it never ran or is unknown. */
  exitStatus: number | null;
  outcome: Outcome;
  durationMs: number;
  stats: RunStats;
  /** Checkpoints and rollbacks (fork engine); absent: none. */
  survival?: {
    checkpoints: CheckpointStats;
    rollbacks: RollbackRecord[];
    /** Why the divergence that ended the run was not rolled back. */
    refused?: string;
  };
  /** One line for the user when the outcome is not "ok". */
  detail?: string;
}

/** The monitor's counters, as summary.json names them (per stream and in total). */
export interface SummaryCounters {
  calls_seen: number;
  calls_checked: number;
  calls_replicated: number;
  calls_local: number;
  divergences: number;
  signals: number;
  bytes_sent: number;
  bytes_received: number;
}

export interface StreamSummary extends SummaryCounters {
  stream: string;
  pid: number;
  vpid: number;
  seq: number;
}

export interface Summary extends SummaryCounters {
  variant: number;
  leader: boolean;
  run_id: string;
  program: string[];
  exit_status: number | null;
  outcome: Outcome;
  detail: string | null;
  duration_ms: number;
  checkpoints: number;
  rollbacks: number;
  /** How long the monitor's fork of a checkpoint copy took (newest 1000 checkpoints). */
  checkpoint_us: TimeStats;
  /** From a divergence reaching this agent to its variant serving again, per rollback. */
  rollback_ms: TimeStats;
  /** Each survived divergence and what was done about it. */
  rollback_log: RollbackSummary[];
  /** Why the divergence that ended the run was not rolled back; null if none was refused. */
  rollback_refused: string | null;
  streams: StreamSummary[];
}

export interface TimeStats {
  count: number;
  mean: number;
  p50: number;
  max: number;
}

export interface RollbackSummary {
  epoch: number;
  mode: "retry" | "drop";
  stream: string;
  seq: number;
  call: string;
  reason: string;
  detail: string;
  /** Variant whose monitor found it (-1: learnt from the leader's agent). */
  found_by: number;
  ms: number;
}

export function timeStats(xs: number[]): TimeStats {
  if (!xs.length) return { count: 0, mean: 0, p50: 0, max: 0 };
  const sorted = [...xs].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    count: xs.length,
    mean: round(xs.reduce((a, b) => a + b, 0) / xs.length),
    p50: round(sorted[Math.floor(sorted.length / 2)]),
    max: round(sorted[sorted.length - 1]),
  };
}

function rollbackSummary(r: RollbackRecord): RollbackSummary {
  const d = r.divergence;
  return {
    epoch: r.epoch,
    mode: r.mode,
    stream: d.stream,
    seq: d.seq,
    call: d.call,
    reason: d.reason,
    detail: d.detail,
    found_by: d.by,
    ms: Math.round(r.ms * 100) / 100,
  };
}

function counters(c: StreamCounters): SummaryCounters {
  return {
    calls_seen: c.callsSeen,
    calls_checked: c.callsChecked,
    calls_replicated: c.callsReplicated,
    calls_local: c.callsLocal,
    divergences: c.divergences,
    signals: c.signals,
    bytes_sent: c.bytesSent,
    bytes_received: c.bytesReceived,
  };
}

export function buildSummary(input: SummaryInput): Summary {
  return {
    variant: input.variant,
    leader: input.leader,
    run_id: input.runId,
    program: input.program,
    exit_status: input.exitStatus,
    outcome: input.outcome,
    detail: input.detail ?? null,
    duration_ms: Math.round(input.durationMs),
    ...counters(input.stats.totals),
    checkpoints: input.survival?.checkpoints.taken ?? 0,
    rollbacks: input.survival?.rollbacks.length ?? 0,
    checkpoint_us: timeStats(input.survival?.checkpoints.micros ?? []),
    rollback_ms: timeStats(input.survival?.rollbacks.map((r) => r.ms) ?? []),
    rollback_log: (input.survival?.rollbacks ?? []).map(rollbackSummary),
    rollback_refused: input.survival?.refused ?? null,
    streams: input.stats.streams.map((s) => ({
      stream: s.stream,
      pid: s.pid,
      vpid: s.vpid,
      seq: s.seq,
      ...counters(s),
    })),
  };
}

/** Writes `dir/summary.json` (creating `dir`) and returns its path. */
export async function writeSummary(dir: string, summary: Summary): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/summary.json`;
  await Deno.writeTextFile(path, JSON.stringify(summary, null, 2) + "\n");
  return path;
}
