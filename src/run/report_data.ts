/**
 * Gathering the divergence report: each agent reads its own variant's stats ring, sends the
 * calls around the divergent position to every peer (`report-data`), and waits briefly for
 * theirs, so every host can show every variant side by side. A peer that does not answer in
 * time is shown as "no record", never waited on for ever.
 */
import { readRunStats, type RunStats } from "../launch/stats.ts";
import type { Logger } from "../log.ts";
import type { PeerGroup } from "../peer/mod.ts";
import type { CallRecord } from "../report/call_record.ts";
import { toCallRecord } from "../report/call_record.ts";
import { type DivergenceInput, writeDivergenceReport } from "../report/divergence.ts";
import { buildDivergenceReport, formatDivergence } from "../report/divergence.ts";
import type { RunEnd } from "./outcome.ts";

/** Calls kept before the divergent one. */
const BEFORE = 10;

export interface StreamCalls {
  stream: string;
  records: CallRecord[];
}

/** The records of `stream` up to `seq` (seq < 0: its newest calls), oldest first. */
export function recordsAround(stats: RunStats, stream: string, seq: number): StreamCalls[] {
  const s = stats.streams.find((x) => x.stream === stream);
  if (!s) return [];
  const upto = seq < 0 ? s.ring : s.ring.filter((e) => e.seq <= seq);
  return [{ stream, records: upto.slice(-(BEFORE + 1)).map(toCallRecord) }];
}

/** Peers' data is authenticated but still checked: a bad entry is dropped, not trusted. */
export function parseStreamCalls(v: unknown[]): StreamCalls[] {
  const isRecord = (r: unknown): r is CallRecord => {
    const o = r as Record<string, unknown>;
    return typeof o === "object" && o !== null && typeof o.seq === "number" &&
      typeof o.call === "string" && Array.isArray(o.args) && typeof o.ret === "string";
  };
  return v.flatMap((x) => {
    const o = x as Record<string, unknown>;
    if (typeof o !== "object" || o === null || typeof o.stream !== "string") return [];
    if (!Array.isArray(o.records)) return [];
    return [{ stream: o.stream, records: o.records.filter(isRecord) }];
  });
}

export interface GatherOptions {
  self: number;
  leaderId: number;
  runId: string;
  runDir: string;
  /** Whether a pid is of this run's program (a monitor of it said hello). */
  ours?: (pid: number) => boolean;
  isas: Map<number, string>;
  group: PeerGroup;
  waitMs: number;
  reportDir?: string;
  log: Logger;
}

/** Exchanges ring data with the peers and returns the report text for stderr. */
export async function reportDivergence(
  end: RunEnd & { kind: "divergence" },
  o: GatherOptions,
): Promise<string> {
  let own: StreamCalls[] = [];
  try {
    own = recordsAround(await readRunStats(o.runDir, o.ours), end.stream, end.seq);
  } catch (e) {
    o.log.warn("cannot read this variant's stats", { reason: (e as Error).message });
  }
  await o.group.broadcast({ t: "report-data", variant: o.self, streams: own });
  const byVariant = new Map<number, StreamCalls[]>([[o.self, own]]);
  const peers = o.group.live;
  await Promise.all(peers.map(async (id) => {
    const e = await o.group.waitFor(
      (e) => e.kind === "message" && e.from === id && e.msg.t === "report-data",
      o.waitMs,
    );
    if (e?.kind === "message" && e.msg.t === "report-data") {
      byVariant.set(id, parseStreamCalls(e.msg.streams));
    }
  }));

  const ids = [...new Set([o.self, ...peers, end.by])].sort((a, b) => a - b);
  const pick = (id: number): CallRecord[] =>
    byVariant.get(id)?.find((s) => s.stream === end.stream)?.records ?? [];
  const at = (records: CallRecord[]) =>
    end.seq < 0 ? records.at(-1) ?? null : records.find((r) => r.seq === end.seq) ?? null;
  const detecting = pick(end.by);
  const input: DivergenceInput = {
    runId: o.runId,
    detectedBy: end.by,
    stream: end.stream,
    seq: end.seq,
    call: end.call,
    reason: end.reason,
    detail: end.detail || undefined,
    variants: ids.map((id) => ({
      variant: id,
      leader: id === o.leaderId,
      isa: id === o.self ? Deno.build.arch : o.isas.get(id),
      call: at(pick(id)),
    })),
    recent: detecting.filter((r) => end.seq < 0 || r.seq < end.seq).slice(-BEFORE),
  };
  if (o.reportDir) return await writeDivergenceReport(o.reportDir, input);
  return formatDivergence(buildDivergenceReport(input));
}
