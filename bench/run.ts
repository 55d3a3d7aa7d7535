/**
 * a8's benchmark: per-call overhead, lighttpd and nginx throughput, and CPU time per request,
 * each measured natively and under a8 (2 variants) in the same run, printed as ratios against
 * native and written to bench/results/latest.json and latest.svg. See bench/README.md.
 *
 *   .tools/deno run -A bench/run.ts [--quick] [options]      (make bench runs it without options)
 *
 * It prints figures; it never fails on a timing. It exits non-zero only when something could
 * not be measured at all (a build failed, a server never answered); an a8 run that diverges or
 * dies under load is reported (with its divergence report) and the rest still runs.
 */
import { parseArgs } from "node:util";
import {
  configToml,
  type Json,
  localConfig,
  ms,
  Proc,
  readDivergence,
  readSummary,
  REPO_ROOT,
  runA8,
  runNative,
  startA8,
  tail,
  text,
  type VariantResult,
  waitA8,
} from "../tests/e2e/harness.ts";
import {
  makeDocroot,
  netns,
  type Server,
  SERVERS,
  waitHttp,
  writeServerConfig,
  wrk,
  type WrkResult,
} from "../tests/e2e/http_servers.ts";
import { readRunStats } from "../src/launch/stats.ts";
import { findProgramDir } from "../src/run/run_dirs.ts";
import type { Policy } from "../src/config/types.ts";
import { renderSvg } from "./svg.ts";

// ---------------------------------------------------------------------------------------------
// Options

const { values: opt } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    iterations: { type: "string" },
    "call-rounds": { type: "string" },
    seconds: { type: "string" },
    rounds: { type: "string" },
    connections: { type: "string", default: "10" },
    path: { type: "string", default: "/small.html" },
    policy: { type: "string", default: "outputs" },
    interposer: { type: "string", default: "auto" },
    spin: { type: "string", default: "0" },
    servers: { type: "string", default: SERVERS.map((s) => s.name).join(",") },
    "skip-calls": { type: "boolean", default: false },
    "skip-servers": { type: "boolean", default: false },
    out: { type: "string", default: `${REPO_ROOT}/bench/results` },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (opt.help) {
  console.log(`usage: bench/run.ts [--quick] [options]
  --quick              ~1 minute: fewer call iterations, one 3 s wrk round per server and mode
  --iterations N       calls per timed loop (default 100000; quick 20000)
  --call-rounds N      timed loops per call (default 5; quick 3), the median is reported
  --seconds S          wrk duration per round (default 5; quick 3)
  --rounds N           wrk rounds per server and mode (default 3; quick 1)
  --connections C      wrk connections (default 10; one wrk thread)
  --path P             what wrk fetches (default /small.html; also /files/100k.bin, /files/2m.bin)
  --policy P           a8 policy: outputs | lockstep | code (default outputs)
  --interposer I       a8 interposer: auto | sud | seccomp (default auto)
  --spin N             the config's spin_reads (default 0)
  --servers LIST       comma-separated: lighttpd,nginx (default both)
  --skip-calls, --skip-servers
  --out DIR            where latest.json and latest.svg go (default bench/results)`);
  Deno.exit(0);
}

function intOpt(v: string | undefined, full: number, quick: number, name: string): number {
  const n = v === undefined ? (opt.quick ? quick : full) : Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --${name} must be a positive integer, got ${v}`);
    Deno.exit(64);
  }
  return n;
}

const ISA = Deno.build.arch;
const ITERATIONS = intOpt(opt.iterations, 100000, 20000, "iterations");
const CALL_ROUNDS = intOpt(opt["call-rounds"], 5, 3, "call-rounds");
const SECONDS = intOpt(opt.seconds, 5, 3, "seconds");
const ROUNDS = intOpt(opt.rounds, 3, 1, "rounds");
const CONNECTIONS = intOpt(opt.connections, 10, 10, "connections");
const WARMUP_SECONDS = 1;
const POLICY = opt.policy as Policy;
if (!["outputs", "lockstep", "code"].includes(POLICY)) {
  console.error(`bench: --policy must be outputs, lockstep or code`);
  Deno.exit(64);
}
const SPIN = Number(opt.spin);
if (!Number.isInteger(SPIN) || SPIN < 0) {
  console.error("bench: --spin must be a whole number >= 0");
  Deno.exit(2);
}
const INTERPOSER = opt.interposer as "auto" | "sud" | "seccomp";
if (!["auto", "sud", "seccomp"].includes(INTERPOSER)) {
  console.error(`bench: --interposer must be auto, sud or seccomp`);
  Deno.exit(64);
}
const SERVER_LIST: Server[] = opt.servers!.split(",").filter((s) => s).map((name) => {
  const s = SERVERS.find((x) => x.name === name);
  if (!s) {
    console.error(`bench: unknown server ${name} (known: ${SERVERS.map((x) => x.name)})`);
    Deno.exit(64);
  }
  return s;
});

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (s: string) => console.log(s);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const ratio = (a: number, n: number) => (n > 0 && Number.isFinite(a) ? a / n : NaN);

async function sh(argv: string[]): Promise<string> {
  const r = await runNative(argv, { timeoutMs: 60000 });
  if (r.code !== 0) {
    throw new Error(
      `${argv.join(" ")} failed (exit ${r.code}):\n${text(r.stdout)}${text(r.stderr)}`,
    );
  }
  return text(r.stdout);
}

async function tryText(argv: string[]): Promise<string> {
  try {
    const r = await runNative(argv, { timeoutMs: 10000 });
    return (text(r.stdout) + text(r.stderr)).trim();
  } catch {
    return "";
  }
}

/** Anything odd seen during the run: printed at the end and kept in the JSON. */
const anomalies: Json[] = [];
function anomaly(what: string, details: Json = {}): void {
  anomalies.push({ what, ...details });
  console.log(`\n!!! ${what}`);
  for (const [k, v] of Object.entries(details)) {
    const s = typeof v === "string" ? v : JSON.stringify(v, null, 2);
    console.log(`  ${k}:\n${s.split("\n").map((l) => "    " + l).join("\n")}`);
  }
}

/** Each variant's status, stderr tail, divergence report and summary, after an a8 run. */
async function a8Postmortem(variants: VariantResult[]): Promise<Json[]> {
  const out: Json[] = [];
  for (const v of variants) {
    let summary: Json = null;
    let divergence: Json = null;
    try {
      summary = await readSummary(v);
    } catch (e) {
      summary = `(no summary: ${(e as Error).message})`;
    }
    try {
      divergence = await readDivergence(v);
    } catch (e) {
      divergence = `(unreadable: ${(e as Error).message})`;
    }
    out.push({
      variant: v.id,
      leader: v.leader,
      exit: v.code,
      signal: v.signal,
      timedOut: v.timedOut,
      outcome: summary?.outcome ?? null,
      detail: summary?.detail ?? null,
      divergence,
      stderr: tail(text(v.stderr), 40),
      reportDir: v.reportDir,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 1. Per-call overhead

interface CallFigures {
  iterations: number;
  rounds: number;
  calls: Record<string, { ns: number; min_ns: number }>;
}

async function buildCalls(): Promise<string> {
  const dir = `${REPO_ROOT}/build/${ISA}/bench`;
  await sh(["make", "-s", "-C", `${REPO_ROOT}/bench`, `BUILD=${dir}`]);
  return `${dir}/calls`;
}

async function benchCalls(tmp: string): Promise<Json> {
  const calls = await buildCalls();
  const argv = [calls, String(ITERATIONS), String(CALL_ROUNDS)];
  log(`\n== per-call overhead: ${ITERATIONS} calls x ${CALL_ROUNDS} rounds (median) ==`);

  const n = await runNative(argv, { timeoutMs: ms(120000) });
  if (n.code !== 0) throw new Error(`native calls failed (exit ${n.code}):\n${text(n.stderr)}`);
  const native: CallFigures = JSON.parse(text(n.stdout));

  const dir = `${tmp}/calls-a8`;
  await Deno.mkdir(dir);
  const res = await runA8({
    config: localConfig(2, {
      policy: POLICY,
      interposer: INTERPOSER,
      extraTop: `spin_reads = ${SPIN}`,
    }),
    ids: [1, 2],
    leaderId: 1,
    program: argv,
    dir,
    timeoutMs: ms(600000),
  });
  let a8: CallFigures | null = null;
  const outs = res.variants.map((v) => text(v.stdout));
  if (res.variants.some((v) => v.code !== 0)) {
    anomaly("calls under a8: a variant failed", { variants: await a8Postmortem(res.variants) });
  } else {
    a8 = JSON.parse(outs[0]);
    if (outs.some((o) => o !== outs[0])) {
      anomaly("calls under a8: the variants printed different output", { outputs: outs });
    }
  }
  const leaderSummary = await readSummary(res.leader).catch(() => null);
  const rows: Json = {};
  for (const [name, f] of Object.entries(native.calls)) {
    const a = a8?.calls[name];
    rows[name] = {
      native_ns: f.ns,
      native_min_ns: f.min_ns,
      a8_ns: a?.ns ?? null,
      a8_min_ns: a?.min_ns ?? null,
      ratio: a ? round(ratio(a.ns, f.ns), 2) : null,
    };
  }
  return {
    iterations: ITERATIONS,
    rounds: CALL_ROUNDS,
    program: "bench/calls.c",
    a8_leader_summary: leaderSummary && {
      calls_seen: leaderSummary.calls_seen,
      calls_replicated: leaderSummary.calls_replicated,
      calls_local: leaderSummary.calls_local,
      bytes_sent: leaderSummary.bytes_sent,
    },
    calls: rows,
  };
}

// ---------------------------------------------------------------------------------------------
// 2 + 3. Servers: throughput and CPU per request

const PREFIX = `a8b${Deno.pid % 100000}`;
/** What Ctrl-C must not leave behind: started processes (each its own group) and the hosts. */
const live = new Set<Proc>();
let netnsUp = false;
Deno.addSignalListener("SIGINT", () => {
  for (const p of live) if (!p.exited) p.signalGroup("SIGKILL");
  if (netnsUp) {
    new Deno.Command(`${REPO_ROOT}/scripts/netns.sh`, {
      args: ["down", PREFIX],
      stdout: "null",
      stderr: "null",
    }).outputSync();
  }
  console.log("\nbench: interrupted");
  Deno.exit(130);
});
const HTTP_PORT = 8080;
const AGENT_PORT = 7772;
const host = (i: number) => `${PREFIX}h${i}`;
const addr = (i: number) => `10.88.0.${i}`;
/** Variants on hosts 1 and 2; wrk and curl on host 3, so the client is on neither variant. */
const CLIENT = 3;
const URL_BASE = `http://${addr(1)}:${HTTP_PORT}`;
const PATH = opt.path!;
const CLK_TCK = Number((await tryText(["getconf", "CLK_TCK"])) || "100");

interface ProcCpu {
  comm: string;
  ticks: number;
}

/** utime + stime (clock ticks) of every process in a namespace, by pid. */
async function nsCpu(ns: string): Promise<Map<number, ProcCpu>> {
  const pids = (await sh(["ip", "netns", "pids", ns])).split(/\s+/).filter((s) => s).map(Number);
  const m = new Map<number, ProcCpu>();
  for (const pid of pids) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      // Fields after "pid (comm) ": state is field 3, utime 14, stime 15.
      const f = stat.slice(close + 2).split(" ");
      m.set(pid, { comm, ticks: Number(f[11]) + Number(f[12]) });
    } catch { /* exited meanwhile */ }
  }
  return m;
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (counted in user)
  return { busy: total - f[3] - f[4], total };
}

interface Snapshot {
  ns: Map<number, Map<number, ProcCpu>>;
  machine: { busy: number; total: number };
  calls: number | null;
}

/** CPU seconds a group of processes used between two snapshots (new processes from 0). */
function cpuDelta(
  a: Map<number, ProcCpu>,
  b: Map<number, ProcCpu>,
  pick: (comm: string) => boolean,
): number {
  let ticks = 0;
  for (const [pid, p] of b) {
    if (!pick(p.comm)) continue;
    const before = a.get(pid);
    ticks += p.ticks - (before && before.comm === p.comm ? before.ticks : 0);
  }
  return ticks / CLK_TCK;
}

/** The largest VmHWM (peak RSS) among the processes named `comm` in a namespace, in MiB. */
async function peakRss(ns: string, comm: string): Promise<number | null> {
  let peak: number | null = null;
  for (const [pid, p] of await nsCpu(ns)) {
    if (p.comm !== comm) continue;
    const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
    const kb = Number(/VmHWM:\s*(\d+) kB/.exec(status)?.[1] ?? NaN);
    if (Number.isFinite(kb)) peak = Math.max(peak ?? 0, round(kb / 1024, 1));
  }
  return peak;
}

/**
 * The leader's monitors' run dir (in /tmp/a8-<run id>-<id>: src/run/run_dirs.ts), found by a
 * stats file naming one of `pids`.
 */
async function findRunDir(id: number, pids: Set<number>): Promise<string | null> {
  for await (const e of Deno.readDir("/tmp")) {
    if (!e.isDirectory || !/^a8-[0-9a-f]+-\d+$/.test(e.name) || !e.name.endsWith(`-${id}`)) {
      continue;
    }
    try {
      const dir = await findProgramDir(`/tmp/${e.name}`);
      if (!dir) continue;
      const st = await readRunStats(dir);
      if (st.streams.some((s) => pids.has(s.pid))) return dir;
    } catch { /* not ours or half-written */ }
  }
  return null;
}

interface ModeResult {
  mode: "native" | "a8";
  rounds: Json[];
  requests_per_s: number;
  requests: number;
  socket_errors: number;
  non2xx: number;
  /** µs of CPU per request: the server processes (native) / the leader's program (a8). */
  cpu_us_per_req: number;
  /** a8 only: the follower's program, both agents, and everything (programs + agents). */
  follower_cpu_us_per_req?: number;
  agents_cpu_us_per_req?: number;
  all_cpu_us_per_req?: number;
  /** Busy share of the whole machine (all cores) while wrk ran. */
  machine_busy: number;
  /** Peak resident memory (VmHWM) of the biggest program process: server / leader, MiB. */
  peak_rss_mib?: number | null;
  /** a8 only: the same for the follower's program. */
  follower_peak_rss_mib?: number | null;
  /** a8 only: the leader's monitored system calls per request. */
  leader_calls_per_req?: number | null;
  failed?: boolean;
}

async function loadRounds(
  server: Server,
  mode: "native" | "a8",
  namespaces: string[],
  alive: () => string | null,
  runDir: string | null,
): Promise<ModeResult> {
  const url = `${URL_BASE}${PATH}`;
  const prog = (c: string) => c === server.name;
  const snap = async (): Promise<Snapshot> => {
    const ns = new Map<number, Map<number, ProcCpu>>();
    for (const [i, n] of namespaces.entries()) ns.set(i, await nsCpu(n));
    let calls: number | null = null;
    if (runDir) {
      calls = (await readRunStats(runDir).catch(() => null))?.totals.callsSeen ?? null;
    }
    return { ns, machine: await machineCpu(), calls };
  };
  await wrk(url, { netns: host(CLIENT), seconds: WARMUP_SECONDS, connections: CONNECTIONS });
  const rounds: Json[] = [];
  let failed = false;
  for (let r = 0; r < ROUNDS; r++) {
    const a = await snap();
    let w: WrkResult;
    try {
      w = await wrk(url, { netns: host(CLIENT), seconds: SECONDS, connections: CONNECTIONS });
    } catch (e) {
      anomaly(`${server.name} ${mode}: wrk failed in round ${r + 1}`, {
        error: (e as Error).message,
      });
      failed = true;
      break;
    }
    const b = await snap();
    const leader = cpuDelta(a.ns.get(0)!, b.ns.get(0)!, prog);
    const round1: Json = {
      requests: w.requests,
      requests_per_s: w.requestsPerSec,
      socket_errors: w.socketErrors,
      non2xx: w.non2xx,
      leader_cpu_s: leader,
      machine_busy: (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total),
    };
    if (mode === "a8") {
      round1.follower_cpu_s = cpuDelta(a.ns.get(1)!, b.ns.get(1)!, prog);
      round1.agents_cpu_s = cpuDelta(a.ns.get(0)!, b.ns.get(0)!, (c) => !prog(c)) +
        cpuDelta(a.ns.get(1)!, b.ns.get(1)!, (c) => !prog(c));
      round1.leader_calls = a.calls !== null && b.calls !== null ? b.calls - a.calls : null;
    }
    rounds.push(round1);
    log(
      `  ${mode.padEnd(6)} round ${r + 1}: ${round(w.requestsPerSec, 0)} req/s, ${w.requests} ` +
        `requests, leader CPU ${round(leader, 2)} s` +
        (w.socketErrors || w.non2xx
          ? `, socket errors ${w.socketErrors}, non-2xx ${w.non2xx}`
          : ""),
    );
    if (w.socketErrors || w.non2xx) {
      anomaly(`${server.name} ${mode}: wrk saw errors in round ${r + 1}`, { wrk: w.output });
    }
    const dead = alive();
    if (dead) {
      failed = true;
      break;
    }
  }
  const sum = (k: string) => rounds.reduce((s, x) => s + (x[k] ?? 0), 0);
  const requests = sum("requests");
  const perReq = (cpuS: number) => (requests > 0 ? round((cpuS * 1e6) / requests, 2) : NaN);
  const res: ModeResult = {
    mode,
    rounds,
    requests,
    requests_per_s: rounds.length ? round(sum("requests_per_s") / rounds.length, 0) : NaN,
    socket_errors: sum("socket_errors"),
    non2xx: sum("non2xx"),
    cpu_us_per_req: perReq(sum("leader_cpu_s")),
    machine_busy: rounds.length ? round(sum("machine_busy") / rounds.length, 3) : NaN,
  };
  if (mode === "a8") {
    res.follower_cpu_us_per_req = perReq(sum("follower_cpu_s"));
    res.agents_cpu_us_per_req = perReq(sum("agents_cpu_s"));
    res.all_cpu_us_per_req = perReq(
      sum("leader_cpu_s") + sum("follower_cpu_s") + sum("agents_cpu_s"),
    );
    res.leader_calls_per_req = rounds.every((x) => x.leader_calls !== null) && requests > 0
      ? round(sum("leader_calls") / requests, 1)
      : null;
  }
  res.peak_rss_mib = await peakRss(namespaces[0], server.name);
  if (mode === "a8") {
    res.follower_peak_rss_mib = await peakRss(namespaces[1], server.name);
    const l = res.peak_rss_mib ?? 0, f = res.follower_peak_rss_mib ?? 0;
    if (f > 256 && f > 4 * l) {
      anomaly(`${server.name} a8: the follower's program grew to ${f} MiB peak RSS`, {
        leader_peak_rss_mib: l,
        follower_peak_rss_mib: f,
        note: "the leader's program peaked at the figure above; the same program, same load",
      });
    }
  }
  if (failed) res.failed = true;
  return res;
}

async function benchNative(server: Server, tmp: string): Promise<ModeResult> {
  const dir = `${tmp}/${server.name}-native`;
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o755);
  const conf = await writeServerConfig(server, dir, `${tmp}/docroot`, {
    address: addr(1),
    port: HTTP_PORT,
  });
  const proc = new Proc(`native ${server.name}`, server.argv(conf, dir), { netns: host(1) });
  live.add(proc);
  try {
    await waitHttp(`${URL_BASE}/`, host(CLIENT), [proc], `native ${server.name}`);
    return await loadRounds(
      server,
      "native",
      [host(1)],
      () => (proc.exited ? "native server exited" : null),
      null,
    );
  } finally {
    proc.signal("SIGTERM");
    const r = await proc.wait(ms(10000));
    if (r.timedOut) anomaly(`native ${server.name} did not stop on SIGTERM`);
  }
}

async function benchA8(server: Server, tmp: string): Promise<ModeResult> {
  const dir = `${tmp}/${server.name}-a8`;
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o755);
  const conf = await writeServerConfig(server, dir, `${tmp}/docroot`, {
    address: addr(1),
    port: HTTP_PORT,
  });
  const ids = [1, 2];
  const run = await startA8({
    config: configToml({
      variants: ids.map((id) => ({ id, address: addr(id), port: AGENT_PORT })),
      policy: POLICY,
      interposer: INTERPOSER,
      extraTop: `spin_reads = ${SPIN}`,
    }),
    ids,
    leaderId: 1,
    netns: host,
    program: server.argv(conf, dir),
    dir,
  });
  for (const v of run.variants) live.add(v.proc);
  let result: ModeResult | null = null;
  let error: Error | null = null;
  try {
    await waitHttp(`${URL_BASE}/`, host(CLIENT), run.variants.map((v) => v.proc), server.name);
    const leaderPids = new Set(
      [...(await nsCpu(host(1))).entries()].filter(([, p]) => p.comm === server.name).map(([
        pid,
      ]) => pid),
    );
    const runDir = await findRunDir(1, leaderPids);
    if (!runDir) log(`  (leader's stats files not found: no calls per request)`);
    result = await loadRounds(
      server,
      "a8",
      [host(1), host(2)],
      () => {
        const dead = run.variants.filter((v) => v.proc.exited);
        return dead.length ? `variant(s) ${dead.map((v) => v.id)} exited under load` : null;
      },
      runDir,
    );
  } catch (e) {
    error = e as Error;
  }
  // Stop: SIGTERM to the leader's agent ends every variant.
  const early = run.variants.filter((v) => v.proc.exited).map((v) => v.id);
  run.leader.proc.signal("SIGTERM");
  const done = await waitA8(run, ms(20000), { throwOnTimeout: false });
  const post = await a8Postmortem(done.variants);
  const bad = post.filter((p) => p.timedOut || p.divergence || p.outcome !== "ok");
  if (early.length || error || result?.failed || bad.length) {
    anomaly(`${server.name} under a8: ${error ? error.message.split("\n")[0] : "run failed"}`, {
      exited_under_load: early,
      error: error?.message ?? null,
      variants: post,
      run_dir: dir,
    });
    if (result) result.failed = true;
  }
  if (!result) {
    return {
      mode: "a8",
      rounds: [],
      requests: 0,
      requests_per_s: NaN,
      socket_errors: 0,
      non2xx: 0,
      cpu_us_per_req: NaN,
      machine_busy: NaN,
      failed: true,
    };
  }
  (result as Json).stop = post.map((p) => ({
    variant: p.variant,
    exit: p.exit,
    outcome: p.outcome,
    detail: p.detail,
  }));
  return result;
}

async function benchServers(tmp: string): Promise<Json> {
  if (Deno.uid() !== 0) {
    log("\n== servers: SKIPPED (network namespaces need root) ==");
    return { skipped: "not root" };
  }
  for (const tool of [...SERVER_LIST.map((s) => s.binary), "/usr/bin/curl", "/usr/bin/wrk"]) {
    await Deno.stat(tool).catch(() => {
      throw new Error(`${tool} is missing: run scripts/setup.sh`);
    });
  }
  await Deno.chmod(tmp, 0o755);
  await makeDocroot(`${tmp}/docroot`);
  const out: Json = {};
  await netns("up", "3", PREFIX);
  netnsUp = true;
  try {
    for (const server of SERVER_LIST) {
      log(
        `\n== ${server.name}: wrk -t1 -c${CONNECTIONS} -d${SECONDS}s ${PATH} x ${ROUNDS} ` +
          `(after a ${WARMUP_SECONDS} s warm-up), client on its own netns host ==`,
      );
      const native = await benchNative(server, tmp);
      const a8 = await benchA8(server, tmp);
      out[server.name] = {
        native,
        a8,
        throughput_ratio: round(ratio(a8.requests_per_s, native.requests_per_s), 3),
        cpu_per_req_ratio: round(ratio(a8.cpu_us_per_req, native.cpu_us_per_req), 2),
        all_cpu_per_req_ratio: round(ratio(a8.all_cpu_us_per_req ?? NaN, native.cpu_us_per_req), 2),
        cpu_ceiling_ratio: round(cpuCeiling(a8, native), 3),
      };
    }
  } finally {
    await netns("down", PREFIX).catch((e) => console.error(e.message));
    netnsUp = false;
  }
  return out;
}

/**
 * The most a8 could serve on this machine, as a ratio to native, if CPU were its only limit:
 * every core busy with the variants and agents alone (the client's share taken as nothing), at
 * the CPU a request cost them in this run. No wait, checkpoint or fault can raise a8 above it.
 */
function cpuCeiling(a8: ModeResult, native: ModeResult): number {
  const cores = navigator.hardwareConcurrency;
  return ratio(cores * 1e6 / (a8.all_cpu_us_per_req ?? NaN), native.requests_per_s);
}

// ---------------------------------------------------------------------------------------------
// Report

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function fmt(x: number | null | undefined, d = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d);
}

function printTable(r: Json): void {
  const rows: [string, string, string, string][] = [];
  if (r.calls?.calls) {
    for (const [name, c] of Object.entries(r.calls.calls) as [string, Json][]) {
      rows.push([`${name} (ns/call)`, fmt(c.native_ns), fmt(c.a8_ns), fmt(c.ratio, 2)]);
    }
  }
  for (const [name, s] of Object.entries(r.servers ?? {}) as [string, Json][]) {
    if (!s?.native) continue;
    rows.push([
      `${name} (req/s)`,
      fmt(s.native.requests_per_s, 0),
      fmt(s.a8.requests_per_s, 0),
      fmt(s.throughput_ratio, 3),
    ]);
    rows.push([
      `${name} leader CPU (µs/req)`,
      fmt(s.native.cpu_us_per_req, 2),
      fmt(s.a8.cpu_us_per_req, 2),
      fmt(s.cpu_per_req_ratio, 2),
    ]);
    rows.push([
      `${name} all CPU (µs/req)`,
      fmt(s.native.cpu_us_per_req, 2),
      fmt(s.a8.all_cpu_us_per_req, 2),
      fmt(s.all_cpu_per_req_ratio, 2),
    ]);
    for (
      const [who, v] of [["leader", s.a8.peak_rss_mib], ["follower", s.a8.follower_peak_rss_mib]]
    ) {
      rows.push([
        `${name} ${who} peak RSS (MiB)`,
        fmt(s.native.peak_rss_mib, 1),
        fmt(v, 1),
        fmt(ratio(v, s.native.peak_rss_mib), 2),
      ]);
    }
  }
  const head: [string, string, string, string] = ["figure", "native", "a8", "a8/native"];
  const w = [0, 1, 2, 3].map((i) => Math.max(...[head, ...rows].map((x) => x[i].length)));
  const line = (x: string[]) => x.map((c, i) => pad(c, w[i], i > 0)).join("  ");
  log(`\n${line(head)}\n${w.map((n) => "-".repeat(n)).join("  ")}`);
  for (const x of rows) log(line(x));
  for (const [name, s] of Object.entries(r.servers ?? {}) as [string, Json][]) {
    if (!s?.a8) continue;
    log(
      `${name} under a8: follower program ${fmt(s.a8.follower_cpu_us_per_req, 2)} µs/req, agents ` +
        `${fmt(s.a8.agents_cpu_us_per_req, 2)} µs/req, leader ${
          fmt(s.a8.leader_calls_per_req, 1)
        } calls/req; machine busy ${fmt(s.native.machine_busy * 100, 0)}% native, ${
          fmt(s.a8.machine_busy * 100, 0)
        }% a8; CPU ceiling ${fmt(s.cpu_ceiling_ratio, 3)}x native`,
    );
  }
}

async function machineInfo(): Promise<Json> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const version = await tryText([`${REPO_ROOT}/a8`, "version"]);
  return {
    hostname: Deno.hostname(),
    isa: ISA,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    mem_gib: round(Deno.systemMemoryInfo().total / 2 ** 30, 1),
    kernel: Deno.osRelease(),
    a8: version.split("\n")[0],
    deno: Deno.version.deno,
    lighttpd: (await tryText(["/usr/sbin/lighttpd", "-v"])).split("\n")[0],
    nginx: (await tryText(["/usr/sbin/nginx", "-v"])).split("\n")[0],
    wrk: (await tryText(["wrk", "--version"])).split("\n")[0],
  };
}

// ---------------------------------------------------------------------------------------------

const started = new Date();
const tmp = await Deno.makeTempDir({ prefix: "a8-bench-" });
log(
  `a8 bench${opt.quick ? " (quick)" : ""}: policy ${POLICY}, interposer ${INTERPOSER}, ` +
    `2 variants; temp dir ${tmp}`,
);
const result: Json = {
  date: started.toISOString(),
  quick: opt.quick,
  machine: await machineInfo(),
  settings: {
    policy: POLICY,
    spin_reads: SPIN,
    interposer: INTERPOSER === "auto"
      // What "auto" picks (src/cli/run.ts): SUD on x86_64, seccomp elsewhere.
      ? `auto (${ISA === "x86_64" ? "sud" : "seccomp"})`
      : INTERPOSER,
    variants: 2,
    call_iterations: ITERATIONS,
    call_rounds: CALL_ROUNDS,
    wrk: `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s ${PATH}`,
    wrk_rounds: ROUNDS,
    warmup_s: WARMUP_SECONDS,
  },
};
let fatal: Error | null = null;
try {
  if (!opt["skip-calls"]) result.calls = await benchCalls(tmp);
  if (!opt["skip-servers"]) result.servers = await benchServers(tmp);
} catch (e) {
  fatal = e as Error;
  anomaly("the benchmark stopped", { error: fatal.stack ?? fatal.message });
}
result.duration_s = round((Date.now() - started.getTime()) / 1000, 1);
result.anomalies = anomalies;

printTable(result);
await Deno.mkdir(opt.out!, { recursive: true });
const jsonPath = `${opt.out}/latest.json`;
const svgPath = `${opt.out}/latest.svg`;
await Deno.writeTextFile(jsonPath, JSON.stringify(result, null, 2) + "\n");
await Deno.writeTextFile(svgPath, renderSvg(result));
// In the repo's own style, so `deno fmt --check` (make check) stays clean after a run.
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", jsonPath, svgPath],
  cwd: REPO_ROOT,
  stdout: "null",
  stderr: "null",
}).output().catch(() => {});
log(`\nwrote ${jsonPath} and ${svgPath} (${result.duration_s} s)`);
if (anomalies.length) {
  log(
    `${anomalies.length} anomal${
      anomalies.length === 1 ? "y" : "ies"
    }: see above and "anomalies" in ${jsonPath}; files kept in ${tmp}`,
  );
} else {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
if (fatal) Deno.exit(1);
