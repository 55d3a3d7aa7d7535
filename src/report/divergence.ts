/**
 * The divergence report: what the user reads first when a8 stops a run. It puts side by side
 * what each variant did at the position where they parted, and what led up to it, so the
 * user can tell an attack from a nondeterminism a8 failed to hide.
 */
import type { StreamStats } from "../launch/stats.ts";
import { type CallRecord, toCallRecord } from "./call_record.ts";

export interface VariantCall {
  variant: number;
  leader: boolean;
  isa?: string;
  /** This variant's call at the divergent position; null if its ring does not hold it. */
  call: CallRecord | null;
}

/** What the run orchestrator collects (its own stats plus what peers sent) to report. */
export interface DivergenceInput {
  runId: string;
  /** The variant whose monitor found the mismatch. */
  detectedBy: number;
  stream: string;
  seq: number;
  /** Canonical call name, as the monitor's `divergence` event gave it. */
  call: string;
  /** `args`, `result`, `exit-status`, `order`, `signal`, ... (docs/monitor-abi.md). */
  reason: string;
  detail?: string;
  variants: VariantCall[];
  /** The detecting variant's calls before `seq`, oldest first (see `callsBefore`). */
  recent: CallRecord[];
}

export interface DivergenceReport {
  run_id: string;
  detected_by: number;
  stream: string;
  seq: number;
  call: string;
  reason: string;
  detail: string | null;
  /** What differs between the variants' records: `call`, `arg[2]`, `digest`, `blob`, `ret`. */
  differs: string[];
  variants: VariantCall[];
  recent: CallRecord[];
}

/** The stream's ring entry at `seq`, if the ring still holds it. */
export function callAt(stats: StreamStats, seq: number): CallRecord | null {
  const e = stats.ring.find((x) => x.seq === seq);
  return e ? toCallRecord(e) : null;
}

/** Up to `n` calls before `seq`, oldest first. */
export function callsBefore(stats: StreamStats, seq: number, n = 10): CallRecord[] {
  return stats.ring.filter((x) => x.seq < seq).slice(-n).map(toCallRecord);
}

export function buildDivergenceReport(input: DivergenceInput): DivergenceReport {
  return {
    run_id: input.runId,
    detected_by: input.detectedBy,
    stream: input.stream,
    seq: input.seq,
    call: input.call,
    reason: input.reason,
    detail: input.detail ?? null,
    differs: differingFields(input.variants.flatMap((v) => (v.call ? [v.call] : []))),
    variants: [...input.variants].sort((a, b) => a.variant - b.variant),
    recent: input.recent,
  };
}

function differingFields(calls: CallRecord[]): string[] {
  if (calls.length < 2) return [];
  const differs = (f: (c: CallRecord) => string) => new Set(calls.map(f)).size > 1;
  const out: string[] = [];
  if (differs((c) => c.call)) out.push("call");
  for (let i = 0; i < 6; i++) if (differs((c) => c.args[i] ?? "")) out.push(`arg[${i}]`);
  if (differs((c) => c.digest)) out.push("digest");
  if (differs((c) => c.blob_hex)) out.push("blob");
  if (differs((c) => c.ret)) out.push("ret");
  return out;
}

function formatCall(c: CallRecord): string {
  return `#${c.seq} ${c.call}(${c.args.join(", ")}) = ${c.ret}`;
}

/** The multi-line text for stderr. */
export function formatDivergence(r: DivergenceReport, reportPath?: string): string {
  const lines = [
    `a8: divergence: variant ${r.detected_by} found a mismatch (${r.reason}) at ${r.call}, ` +
    `stream ${r.stream}, call #${r.seq}`,
  ];
  if (r.detail) lines.push(`  detail: ${r.detail}`);
  for (const v of r.variants) {
    const who = `variant ${v.variant} (${v.leader ? "leader" : "follower"}${
      v.isa ? `, ${v.isa}` : ""
    })`;
    if (!v.call) {
      lines.push(`  ${who}: no record of call #${r.seq} (not reached, or out of its ring)`);
      continue;
    }
    lines.push(`  ${who}: ${formatCall(v.call)}  digest ${v.call.digest}`);
    if (v.call.blob_text !== null) {
      lines.push(`      canonical text: ${JSON.stringify(v.call.blob_text)}`);
    }
    if (v.call.blob_hex) lines.push(`      canonical hex:  ${v.call.blob_hex}`);
  }
  if (r.differs.length) lines.push(`  differs: ${r.differs.join(", ")}`);
  if (r.recent.length) {
    lines.push(`  calls before it (variant ${r.detected_by}):`);
    for (const c of r.recent) lines.push(`    ${formatCall(c)}`);
  }
  if (reportPath) lines.push(`  report: ${reportPath}`);
  return lines.join("\n");
}

/** Writes `dir/divergence.json` (creating `dir`); returns the text to show the user. */
export async function writeDivergenceReport(dir: string, input: DivergenceInput): Promise<string> {
  const report = buildDivergenceReport(input);
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/divergence.json`;
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
  return formatDivergence(report, path);
}
