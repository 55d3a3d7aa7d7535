/**
 * The availability bench's figures (bench/availability.ts): what a round records, how it is
 * printed, the targets of issue 4 and the verdicts on them.
 */
import type { Json } from "../tests/e2e/harness.ts";
import type { Verified, VerifyPlan, WrkFigures } from "./availability_client.ts";

export type Engine = "none" | "fork" | "criu";

/** Targets of issue 4, printed next to the figures. */
export const TARGETS = {
  ratio_at_1pct: 0.5,
  ratio_at_5pct: 0.2,
  rollback_ms_fork: 5,
  rollback_ms_criu: 100,
};

const log = (s: string) => console.log(s);
export const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
export const pct = (r: number) => `${round(r * 100, 2)} %`;

export interface Stats {
  count: number;
  mean: number;
  p50: number;
  max: number;
}

export function stats(xs: number[], d = 2): Stats {
  if (!xs.length) return { count: 0, mean: 0, p50: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  return {
    count: s.length,
    mean: round(s.reduce((a, b) => a + b, 0) / s.length, d),
    p50: round(s[Math.floor(s.length / 2)], d),
    max: round(s[s.length - 1], d),
  };
}

export interface SummaryFigures {
  outcome: string | null;
  detail: string | null;
  checkpoints: number;
  rollbacks: number;
  /** Rollbacks by mode: "retry" replays; "drop" replays without the input (its connection). */
  retries: number;
  drops: number;
  checkpoint_us: Stats;
  rollback_ms: Stats;
  divergences: number;
  calls_checked: number;
  /** Each rollback's ms, for pooled figures. */
  rollback_ms_all: number[];
}

export function summaryFigures(s: Json): SummaryFigures {
  const rlog: Json[] = s.rollback_log ?? [];
  return {
    outcome: s.outcome ?? null,
    detail: s.detail ?? null,
    checkpoints: s.checkpoints ?? 0,
    rollbacks: s.rollbacks ?? 0,
    retries: rlog.filter((r) => r.mode === "retry").length,
    drops: rlog.filter((r) => r.mode === "drop").length,
    checkpoint_us: s.checkpoint_us,
    rollback_ms: s.rollback_ms,
    divergences: s.divergences ?? 0,
    calls_checked: s.calls_checked ?? 0,
    rollback_ms_all: rlog.map((r) => r.ms as number),
  };
}

export interface Round {
  server: string;
  /** "native", "a8 no checkpoints", or "a8 fork" with `rate`. */
  label: string;
  engine: "native" | Engine;
  rate: number | null;
  wrk: WrkFigures | null;
  /** requests/s against native's, same run. */
  ratio: number | null;
  verify: Verified | null;
  leader?: SummaryFigures | null;
  follower?: SummaryFigures | null;
  /** a8 ended (or never served) before the round was over: when, and why. */
  stopped: { when: string; reason: string; variants: Json[]; signal_from_outside?: boolean } | null;
  /** Something else failed (wrk, the client loop). */
  error: string | null;
  /** CPU that processes not of the benchmark used during the wrk round, in cores (approx.). */
  other_load_cores: number | null;
  duration_s: number;
  /** The round went through, but the run did not end cleanly on our SIGTERM: how not. */
  unclean_stop?: string;
  /** a8 rounds: from starting the agents to the first answer, and from SIGTERM to their end. */
  start_s?: number;
  stop_s?: number;
}

export function roundLabel(engine: "native" | Engine, rate: number | null): string {
  if (engine === "native") return "native";
  if (engine === "none") return "a8, no checkpoints";
  return `a8 ${engine}, ${pct(rate ?? 0)}`;
}

export function printRound(r: Round): void {
  const w = r.wrk;
  const parts = [
    `  ${r.label.padEnd(20)}`,
    w ? `${round(w.requests_per_s, 0)} req/s` : "no wrk figure",
    r.ratio !== null ? `(${fmtRatio(r.ratio)}x native)` : "",
    w
      ? `wrk socket errors ${w.socket_errors}, non-2xx ${w.non2xx}` +
        (w.refused_starts ? ` (started ${w.refused_starts + 1} times: refused)` : "")
      : "",
    r.verify
      ? `verified ${r.verify.ok} ok, ${r.verify.closed} closed, ${r.verify.timeouts} timeouts, ` +
        `${r.verify.wrong} wrong${r.verify.not_made ? `, ${r.verify.not_made} not made` : ""} ` +
        `in ${r.verify.seconds} s`
      : "",
    r.leader
      ? `${r.leader.checkpoints} checkpoints, ${r.leader.rollbacks} rollbacks ` +
        `(${r.leader.drops} drops)`
      : "",
  ];
  if (r.other_load_cores !== null) parts.push(`other load ${r.other_load_cores} cores`);
  log(parts.filter((p) => p).join("; "));
  if (r.verify?.cut) log(`    client loop ${r.verify.cut}`);
  if (r.unclean_stop) log(`    the run did not end cleanly on SIGTERM: ${r.unclean_stop}`);
  if (r.stopped) log(`    a8 STOPPED ${r.stopped.when}: ${r.stopped.reason.split("\n")[0]}`);
  if (r.error) log(`    ERROR: ${r.error.split("\n")[0]}`);
}

export interface Verdict {
  target: string;
  figure: string;
  met: boolean | null;
  note: string;
}

/** The servers measured, each with the engines it was measured with. */
export interface Measured {
  servers: { name: string; engines: readonly string[] }[];
  engines: ("fork" | "criu")[];
}

export function verdicts(rounds: Round[], criu: Json, m: Measured): Verdict[] {
  const out: Verdict[] = [];
  for (const server of m.servers) {
    for (const engine of m.engines.filter((e) => server.engines.includes(e))) {
      out.push(...engineVerdicts(rounds, server.name, engine));
    }
  }
  out.push(criuRawVerdict(criu));
  return out;
}

function engineVerdicts(rounds: Round[], server: string, engine: "fork" | "criu"): Verdict[] {
  const out: Verdict[] = [];
  {
    for (
      const [rate, min] of [[0.01, TARGETS.ratio_at_1pct], [0.05, TARGETS.ratio_at_5pct]] as const
    ) {
      const r = rounds.find((x) => x.server === server && x.engine === engine && x.rate === rate);
      const target = `${server} ${engine}: >= ${min}x native at ${pct(rate)}`;
      if (!r) out.push({ target, figure: "-", met: null, note: "rate not run" });
      else if (r.stopped) {
        out.push({ target, figure: "a8 stopped", met: false, note: r.stopped.when });
      } else if (r.ratio === null) {
        out.push({ target, figure: "-", met: null, note: r.error ?? "no figure" });
      } else {
        out.push({
          target,
          figure: `${fmtRatio(r.ratio)}x`,
          met: r.ratio >= min,
          note: r.verify?.wrong ? `but ${r.verify.wrong} WRONG answers` : "",
        });
      }
    }
    const all = rounds.filter((x) => x.server === server && x.engine === engine)
      .flatMap((x) => x.leader?.rollback_ms_all ?? []);
    const limit = engine === "fork" ? TARGETS.rollback_ms_fork : TARGETS.rollback_ms_criu;
    const target = `${server} ${engine}: rollback <= ${limit} ms (leader)`;
    if (!all.length) out.push({ target, figure: "-", met: null, note: "no rollback happened" });
    else {
      const s = stats(all);
      const within = all.filter((x) => x <= limit).length;
      out.push({
        target,
        figure: `p50 ${s.p50} ms, mean ${s.mean}, max ${s.max}`,
        met: s.p50 <= limit,
        note:
          `${within} of ${all.length} rollbacks within (${round(100 * within / all.length)} %)` +
          ", judged on the median",
      });
    }
  }
  return out;
}

function criuRawVerdict(criu: Json): Verdict {
  const target = `criu dump/restore of a native lighttpd: kill + restore <= ` +
    `${TARGETS.rollback_ms_criu} ms`;
  if (!criu || criu.skipped) return { target, figure: "-", met: null, note: "skipped" };
  if (!criu.cycles?.length) {
    return { target, figure: "-", met: null, note: criu.error ?? "no cycle" };
  }
  const kr = criu.cycles.map((c: Json) => c.kill_ms + c.restore_wall_ms) as number[];
  const s = stats(kr);
  return {
    target,
    figure: `p50 ${s.p50} ms, max ${s.max} (restore alone p50 ${criu.restore_ms.p50})`,
    met: s.p50 <= TARGETS.rollback_ms_criu,
    note: `dump p50 ${criu.dump_ms.p50} ms (paid at every checkpoint); CRIU alone, not a8`,
  };
}

function fmt(x: number | null | undefined, d = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d);
}

/** A ratio: 3 decimals, or 2 significant digits below 0.01 (a collapse is not 0.000). */
function fmtRatio(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  return x === 0 || x >= 0.01 ? x.toFixed(3) : x.toPrecision(2);
}

function triple(s: Stats | undefined, d = 1): string {
  return s && s.count ? `${fmt(s.mean, d)}/${fmt(s.p50, d)}/${fmt(s.max, d)}` : "-";
}

export function printTable(rounds: Round[], plan: VerifyPlan): void {
  const head = [
    "server",
    "run",
    "req/s",
    "xnative",
    "sock err",
    "non-2xx",
    "verified ok/closed/wrong/unmade",
    "ckpts",
    "rollbacks (drops)",
    "ckpt us mean/p50/max",
    "rollback ms mean/p50/max",
    "div",
    "other load",
    "status",
  ];
  const rows = rounds.map((r) => {
    const l = r.leader;
    const v = r.verify;
    return [
      r.server,
      r.label,
      fmt(r.wrk?.requests_per_s, 0),
      fmtRatio(r.ratio),
      r.wrk ? String(r.wrk.socket_errors) : "-",
      r.wrk ? String(r.wrk.non2xx) : "-",
      v ? `${v.ok}/${v.closed + v.timeouts}/${v.wrong}/${v.not_made}` : "-",
      l ? String(l.checkpoints) : "-",
      l ? `${l.rollbacks} (${l.drops})` : "-",
      triple(l?.checkpoint_us, 0),
      triple(l?.rollback_ms, 2),
      r.engine === "native" ? "-" : String(
        Math.max(l?.divergences ?? 0, r.follower?.divergences ?? 0),
      ),
      fmt(r.other_load_cores, 2),
      r.stopped
        ? `A8 STOPPED ${r.stopped.when}`
        : r.error
        ? "ERROR"
        : r.unclean_stop
        ? "ok, UNCLEAN STOP"
        : "ok",
    ];
  });
  const w = head.map((_, i) => Math.max(...[head, ...rows].map((x) => x[i].length)));
  const line = (x: string[]) => x.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i])));
  log(`\n${line(head).join("  ")}\n${w.map((n) => "-".repeat(n)).join("  ")}`);
  for (const x of rows) log(line(x).join("  "));
  log(
    [
      "wrk: requests/s of one round; xnative: against the native round of this run.",
      `verified: ${plan.count} curl requests, bodies compared byte for byte with the files; closed:`,
      "  connection refused, reset or cut (curl 7/18/52/56) or no answer within " +
      `${plan.curlMaxS} s; unmade: not`,
      "  made because a8 stopped or the loop's deadline passed.",
      "ckpts, rollbacks (drops: rollbacks that dropped a connection) and times: the leader's",
      "  summary.json. div: summary.json's divergences, the larger of leader and follower: the",
      "  monitor counts them in the process that diverged, which a rollback replaces, so",
      "  survived divergences are missing there; rollbacks counts them.",
      "other load: CPU cores used during the wrk round by processes that are not the",
      "  benchmark's (other jobs on this machine), approximate.",
    ].map((l) => `  ${l}`).join("\n"),
  );
}

export function printVerdicts(vs: Verdict[], criu: Json, criuNote: string): void {
  log(`\ncriu engine: ${criuNote}`);
  if (criu?.cycles?.length) {
    log(
      `criu dump/restore of a native lighttpd (${criu.cycles.length} cycles, mean/p50/max ms): ` +
        `dump ${triple(criu.dump_ms, 1)}, kill ${triple(criu.kill_ms, 1)}, restore ` +
        `${triple(criu.restore_ms, 1)}, first right answer after restore ` +
        `${triple(criu.first_answer_after_restore_ms, 1)}`,
    );
  }
  log("\ntargets (issue 4):");
  const w = Math.max(...vs.map((v) => v.target.length));
  for (const v of vs) {
    const m = v.met === null ? "NOT MEASURED" : v.met ? "met" : "NOT MET";
    log(`  ${v.target.padEnd(w)}  ${v.figure.padEnd(22)}  ${m}${v.note ? `  (${v.note})` : ""}`);
  }
}
