/**
 * `summary.json`: what one variant's agent saw during a run, for people and for scripts (the
 * e2e tests and benchmarks read it). Field names are snake_case and stable: it is an output
 * format, not an internal structure.
 */
import type { RunStats, StreamCounters } from "../launch/stats.ts";

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
  checkpoints?: number;
  rollbacks?: number;
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
  streams: StreamSummary[];
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
    checkpoints: input.checkpoints ?? 0,
    rollbacks: input.rollbacks ?? 0,
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
