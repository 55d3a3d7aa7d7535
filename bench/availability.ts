/**
 * a8's availability benchmark (issue 4): how much service lighttpd and nginx keep under a8 when
 * divergences happen and are rolled back, against the same server run natively in the same run.
 * See bench/README.md, "Availability (issue 4)".
 *
 *   .tools/deno run -A bench/availability.ts [--quick] [options]    (make bench-availability)
 *
 * Per server (single process: nginx with `master_process off`, as the fork engine needs):
 *   1. natively: wrk on /small.html, then a verified client loop (curl, bodies compared byte
 *      for byte with the docroot's files);
 *   2. under a8 with 2 variants, checkpoint engine "fork" (every_calls 5000, every_ms 200:
 *      the shipped defaults; retries 3), at each injected divergence rate: the same wrk round
 *      and client loop, then the leader's summary.json (checkpoints, rollbacks, their times);
 *      in full mode also once with engine "none" and no faults: a8 without checkpoints;
 *   3. the same with engine "criu" (every_calls 5000, every_ms 1000: a dump takes ~0.1 s);
 *   4. CRIU alone: its dump, kill and restore of a running native lighttpd through
 *      src/checkpoint/criu_driver.ts, the floor of what a rollback with CRIU can cost.
 *
 * Output: a table on stdout, bench/results/availability.json, bench/results/availability.svg
 * (and .png when rsvg-convert is installed). Needs root (network namespaces, CRIU): without
 * root it says so and exits 1. Like bench/run.ts it never fails on a figure; it exits non-zero
 * when something could not be measured at all. A wrong answer in a client loop is printed
 * with `!!!` and makes the exit status 2.
 */
import { parseArgs } from "node:util";
import {
  a8Missing,
  configToml,
  type Json,
  ms,
  Proc,
  readSummary,
  REPO_ROOT,
  runNative,
  startA8,
  tail,
  text,
  waitA8,
} from "../tests/e2e/harness.ts";
import {
  makeDocroot,
  netns,
  type Server,
  SERVERS,
  waitHttp,
  writeServerConfig,
} from "../tests/e2e/http_servers.ts";
import { benchCriu } from "./availability_criu.ts";
import { projectCriuBinary } from "../ffi/criu_paths.ts";
import { renderAvailabilitySvg } from "./availability_svg.ts";
import {
  type ClientSetup,
  load,
  VERIFY_PATHS,
  verifyLoop,
  type VerifyPlan,
  wrkFigures,
} from "./availability_client.ts";
import {
  type Engine,
  pct,
  printRound,
  printTable,
  printVerdicts,
  type Round,
  round,
  roundLabel,
  summaryFigures,
  TARGETS,
  verdicts,
} from "./availability_report.ts";
import type { Policy } from "../src/config/types.ts";

// ---------------------------------------------------------------------------------------------
// Options

const { values: opt } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    verify: { type: "string", default: "100" },
    rates: { type: "string", default: "0,0.001,0.01,0.05" },
    connections: { type: "string", default: "4" },
    seed: { type: "string", default: "1" },
    "criu-cycles": { type: "string" },
    "every-calls": { type: "string", default: "5000" },
    "every-ms": { type: "string", default: "200" },
    engines: { type: "string", default: "fork,criu" },
    "criu-rates": { type: "string" },
    "criu-every-calls": { type: "string", default: "5000" },
    "criu-every-ms": { type: "string", default: "1000" },
    retries: { type: "string", default: "3" },
    policy: { type: "string", default: "outputs" },
    servers: { type: "string", default: "lighttpd,nginx,nginx-tree" },
    baseline: { type: "boolean", default: false },
    "no-baseline": { type: "boolean", default: false },
    "skip-criu": { type: "boolean", default: false },
    out: { type: "string", default: `${REPO_ROOT}/bench/results` },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (opt.help) {
  console.log(`usage: bench/availability.ts [--quick] [options]      (needs root)
  --quick            ~2 minutes: 3 s wrk rounds, no baseline round, 3 CRIU cycles
                     (full: 6 s rounds, a baseline round per server, 5 cycles, ~5 minutes)
  --seconds S        wrk duration per round (default 6; quick 3)
  --verify N         verified curl requests per round (default 100)
  --rates LIST       injected divergence probabilities per checked call (default 0,0.001,0.01,0.05)
  --connections C    wrk connections, one thread (default 4)
  --seed N           faults.seed (default 1)
  --criu-cycles N    CRIU dump/kill/restore cycles of a native lighttpd (default 5; quick 3)
  --engines LIST     checkpoint engines under a8: fork,criu (default both)
  --every-calls N    fork: checkpoint.every_calls (default 5000, the shipped default)
  --every-ms N       fork: checkpoint.every_ms (default 200, the shipped default)
  --criu-rates LIST  the rates for the criu engine (default: --rates; quick 0,0.01)
  --criu-every-calls N, --criu-every-ms N
                     criu: checkpoint.every_calls and every_ms (default 5000 and 1000: a dump
                     takes ~0.1-0.3 s, the README says every_ms should be seconds with criu)
  --retries N        checkpoint.retries (default 3)
  --policy P         the a8 policy: outputs (default), lockstep or code (see README, Policies)
  --servers LIST     comma-separated: lighttpd,nginx,nginx-tree (default all three; nginx-tree:
                     nginx with its master and two workers, criu engine only)
  --baseline         also in quick mode: a8 without checkpoints (engine "none"), for reference
  --no-baseline      not in full mode either
  --skip-criu        skip the CRIU measurement
  --out DIR          where availability.json/.svg/.png go (default bench/results)`);
  Deno.exit(0);
}

function fail(msg: string, code = 64): never {
  console.error(`bench/availability: ${msg}`);
  Deno.exit(code);
}

function intOpt(v: string | undefined, full: number, quick: number, name: string): number {
  const n = v === undefined ? (opt.quick ? quick : full) : Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${v}`);
  return n;
}

const SECONDS = intOpt(opt.seconds, 6, 3, "seconds");
const BASELINE = opt.baseline || (!opt.quick && !opt["no-baseline"]);
const VERIFY = intOpt(opt.verify, 100, 100, "verify");
const CONNECTIONS = intOpt(opt.connections, 4, 4, "connections");
const CRIU_CYCLES = intOpt(opt["criu-cycles"], 5, 3, "criu-cycles");
const SEED = Number(opt.seed);
if (!Number.isInteger(SEED) || SEED < 0) fail("--seed must be a whole number >= 0");
function rateList(v: string, name: string): number[] {
  const rs = v.split(",").filter((s) => s).map(Number);
  if (!rs.length || rs.some((r) => !(r >= 0 && r <= 1))) {
    fail(`--${name} must be numbers in 0..1, got ${v}`);
  }
  return rs;
}
const RATES = rateList(opt.rates!, "rates");
const CRIU_RATES = rateList(
  opt["criu-rates"] ?? (opt.quick ? "0,0.01" : opt.rates!),
  "criu-rates",
);
/**
 * A server as the benchmark runs it: as one process (the fork engine copies a root process
 * without children), or nginx as it runs by default, a master and two workers, for the criu
 * engine only (it takes the whole tree).
 */
interface BenchServer extends Server {
  oneProcess: boolean;
  engines: ("fork" | "criu")[];
  what: string;
}
const BENCH_SERVERS: BenchServer[] = [
  ...SERVERS.map((s) => ({
    ...s,
    oneProcess: true,
    engines: ["fork", "criu"] as ("fork" | "criu")[],
    what: s.name === "nginx"
      ? "nginx (master_process off: one process)"
      : `${s.name} (one process)`,
  })),
  {
    ...SERVERS.find((s) => s.name === "nginx")!,
    name: "nginx-tree",
    oneProcess: false,
    engines: ["criu"],
    what: "nginx-tree (nginx as it runs by default: a master and two workers; criu only)",
  },
];
const SERVER_LIST: BenchServer[] = opt.servers!.split(",").filter((s) => s).map((name) =>
  BENCH_SERVERS.find((x) => x.name === name) ??
    fail(`unknown server ${name} (known: ${BENCH_SERVERS.map((x) => x.name)})`)
);
const WARMUP_SECONDS = 1;
/** curl's --max-time per verified request, and the whole loop's deadline. */
const CURL_MAX_S = 5;
const VERIFY_DEADLINE_S = opt.quick ? 8 : 20;
/** timeouts.shutdown_ms of the runs: how long a stop at the end of a round may take. */
const SHUTDOWN_MS = 3000;
/** How long the agents get to end after the SIGTERM before they are killed. */
const STOP_WAIT_MS = 10000;
const ENGINES = opt.engines!.split(",").filter((s) => s) as ("fork" | "criu")[];
if (ENGINES.some((e) => e !== "fork" && e !== "criu")) fail("--engines: fork and/or criu");
const POLICY = opt.policy as Policy;
if (!["outputs", "lockstep", "code"].includes(POLICY)) fail("--policy: outputs, lockstep or code");
/**
 * The checkpoint settings under test. fork: the shipped defaults; criu: checkpoints as seldom
 * as the README advises for CRIU; 3 retries for both.
 */
const CHECKPOINT = {
  fork: {
    every_calls: intOpt(opt["every-calls"], 5000, 5000, "every-calls"),
    every_ms: intOpt(opt["every-ms"], 200, 200, "every-ms"),
  },
  criu: {
    every_calls: intOpt(opt["criu-every-calls"], 5000, 5000, "criu-every-calls"),
    every_ms: intOpt(opt["criu-every-ms"], 1000, 1000, "criu-every-ms"),
  },
  retries: intOpt(opt.retries, 3, 3, "retries"),
};
const CRIU_NOTE = ENGINES.includes("criu")
  ? `measured under a8 run: the rounds "a8 criu" (every_calls ${CHECKPOINT.criu.every_calls}, ` +
    `every_ms ${CHECKPOINT.criu.every_ms})`
  : "not measured (--engines without criu)";

if (Deno.uid() !== 0) {
  console.error(
    "\n!!! bench/availability: NOT RUN: it needs root (network namespaces for the servers, " +
      `CRIU for the dumps); running as uid ${Deno.uid()}.\n` +
      "!!! Run it as root: sudo .tools/deno run -A bench/availability.ts\n",
  );
  Deno.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (s: string) => console.log(s);

async function tryText(argv: string[]): Promise<string> {
  try {
    const r = await runNative(argv, { timeoutMs: 10000 });
    return (text(r.stdout) + text(r.stderr)).trim();
  } catch {
    return "";
  }
}

/** Anything odd: printed with !!! as it happens and kept in the JSON. */
const anomalies: Json[] = [];
function anomaly(what: string, details: Json = {}): void {
  anomalies.push({ what, ...details });
  log(`\n!!! ${what}`);
  for (const [k, v] of Object.entries(details)) {
    const s = typeof v === "string" ? v : JSON.stringify(v, null, 2);
    log(`  ${k}:\n${s.split("\n").map((l) => "    " + l).join("\n")}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Hosts, processes, Ctrl-C

const PREFIX = `a8a${Deno.pid % 100000}`;
const HTTP_PORT = 8080;
const AGENT_PORT = 7772;
const host = (i: number) => `${PREFIX}h${i}`;
const addr = (i: number) => `10.88.0.${i}`;
/** Leader (or the native server) on host 1, follower on host 2, wrk and curl on host 3. */
const CLIENT = 3;
const URL_BASE = `http://${addr(1)}:${HTTP_PORT}`;

const live = new Set<Proc>();
const CLIENTS: ClientSetup = {
  urlBase: URL_BASE,
  netns: host(CLIENT),
  connections: CONNECTIONS,
  live,
};
const VERIFY_PLAN: VerifyPlan = {
  count: VERIFY,
  curlMaxS: CURL_MAX_S,
  deadlineS: VERIFY_DEADLINE_S,
};
let netnsUp = false;
let criuPid = 0;
Deno.addSignalListener("SIGINT", () => {
  for (const p of live) if (!p.exited) p.signalGroup("SIGKILL");
  if (criuPid) {
    try {
      Deno.kill(criuPid, "SIGKILL");
    } catch { /* gone */ }
  }
  if (netnsUp) {
    new Deno.Command(`${REPO_ROOT}/scripts/netns.sh`, {
      args: ["down", PREFIX],
      stdout: "null",
      stderr: "null",
    }).outputSync();
  }
  console.log("\nbench/availability: interrupted");
  Deno.exit(130);
});

// ---------------------------------------------------------------------------------------------
// Other load on the machine: these VMs are shared (a test run may be going on), and 2 cores
// do not leave much room, so each round records how much CPU went to processes that are not
// the benchmark's (neither this process nor anything in its namespaces).

const CLK_TCK = Number((await tryText(["getconf", "CLK_TCK"])) || "100");

interface CpuSample {
  at: number;
  /** pid -> [start time, utime + stime] of the processes not ours. */
  procs: Map<number, [string, number]>;
}

async function netnsInode(name: string): Promise<number | null> {
  return (await Deno.stat(`/run/netns/${name}`).catch(() => null))?.ino ?? null;
}

let ourNetns = new Set<string>();
async function noteOurNetns(): Promise<void> {
  const inodes = await Promise.all([1, 2, 3].map((i) => netnsInode(host(i))));
  ourNetns = new Set(inodes.filter((x) => x !== null).map((x) => `net:[${x}]`));
}

async function otherCpu(): Promise<CpuSample> {
  const procs = new Map<number, [string, number]>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    if (pid === Deno.pid) continue;
    try {
      if (ourNetns.has(await Deno.readLink(`/proc/${pid}/ns/net`))) continue;
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 14, 15 (utime, stime) and 22 (starttime), after "pid (comm) ". Not the
      // children's times: a process that reaps a long-lived child would add all of its time.
      procs.set(pid, [f[19], +f[11] + +f[12]]);
    } catch { /* gone meanwhile */ }
  }
  return { at: performance.now(), procs };
}

/**
 * Cores' worth of CPU the other processes used between two samples: a lower bound, as the
 * ones that ended meanwhile are not counted.
 */
function otherCores(a: CpuSample, b: CpuSample): number {
  let ticks = 0;
  for (const [pid, [start, t]] of b.procs) {
    const before = a.procs.get(pid);
    ticks += t - (before && before[0] === start ? before[1] : 0);
  }
  return round(ticks / CLK_TCK / ((b.at - a.at) / 1000), 2);
}

/**
 * Processes still in the benchmark's namespaces once a run has ended (a checkpoint copy that
 * outlived its agent keeps the port bound, and every later round would fail): SIGKILLed by
 * pid, and returned as "pid comm" for the report.
 */
async function killLeftovers(): Promise<string[]> {
  const out: string[] = [];
  for (const i of [1, 2, 3]) {
    const r = await runNative(["ip", "netns", "pids", host(i)], { timeoutMs: 10000 });
    for (const pid of text(r.stdout).split(/\s+/).filter((x) => x).map(Number)) {
      const comm = (await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "?")).trim();
      try {
        Deno.kill(pid, "SIGKILL");
        out.push(`${pid} ${comm} (host ${i})`);
      } catch { /* gone meanwhile */ }
    }
  }
  return out;
}

/** The server's config in `dir`, listening on the leader's address; nginx as it is run. */
async function serverConfig(server: BenchServer, dir: string, docroot: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.chmod(dir, 0o755);
  const conf = await writeServerConfig(server, dir, docroot, {
    address: addr(1),
    port: HTTP_PORT,
  });
  if (server.template === "nginx.conf" && server.oneProcess) {
    const body = await Deno.readTextFile(conf);
    if (!body.includes("master_process on;")) throw new Error("nginx.conf: no master_process");
    await Deno.writeTextFile(conf, body.replace("master_process on;", "master_process off;"));
  }
  return conf;
}

// ---------------------------------------------------------------------------------------------
// Rounds

/** Warm-up, the timed wrk round, the client loop; `alive` names a dead process or null. */
async function measure(
  r: Round,
  docroot: string,
  dir: string,
  alive: () => string | null,
): Promise<string | null> {
  await load(CLIENTS, WARMUP_SECONDS);
  let dead = alive();
  if (dead) return "during the warm-up";
  const a = await otherCpu();
  const w = await load(CLIENTS, SECONDS);
  r.wrk = { ...wrkFigures(w), refused_starts: w.refusedStarts };
  r.other_load_cores = otherCores(a, await otherCpu());
  dead = alive();
  if (dead) return "during the wrk round";
  r.verify = await verifyLoop(CLIENTS, VERIFY_PLAN, docroot, dir, alive);
  dead = alive();
  if (dead) return "during the client loop";
  return null;
}

async function nativeRound(
  server: BenchServer,
  tmp: string,
  docroot: string,
): Promise<Round> {
  const t0 = performance.now();
  const r: Round = {
    server: server.name,
    label: roundLabel("native", null),
    engine: "native",
    rate: null,
    wrk: null,
    ratio: 1,
    verify: null,
    stopped: null,
    error: null,
    other_load_cores: null,
    duration_s: 0,
  };
  const dir = `${tmp}/${server.name}-native`;
  const conf = await serverConfig(server, dir, docroot);
  const proc = new Proc(`native ${server.name}`, server.argv(conf, dir), { netns: host(1) });
  live.add(proc);
  try {
    await waitHttp(`${URL_BASE}/`, host(CLIENT), [proc], `native ${server.name}`);
    const when = await measure(r, docroot, dir, () => (proc.exited ? "exited" : null));
    if (when) {
      r.stopped = {
        when,
        reason: `native ${server.name} exited:\n${tail(proc.stderrText())}`,
        variants: [],
      };
    }
  } catch (e) {
    r.error = (e as Error).message;
  } finally {
    proc.signal("SIGTERM");
    const done = await proc.wait(ms(10000));
    live.delete(proc);
    if (done.timedOut) anomaly(`native ${server.name} did not stop on SIGTERM`);
  }
  r.duration_s = round((performance.now() - t0) / 1000, 1);
  return r;
}

function faultTables(engine: Engine, rate: number): string {
  // TOML: a float always has a point (0.0), as the config's number type is written.
  const p = Number.isInteger(rate) ? rate.toFixed(1) : String(rate);
  const every = CHECKPOINT[engine === "criu" ? "criu" : "fork"];
  return `[checkpoint]\nengine = "${engine}"\nevery_calls = ${every.every_calls}\n` +
    `every_ms = ${every.every_ms}\nretries = ${CHECKPOINT.retries}\n\n` +
    `[faults]\ndivergence_probability = ${p}\nseed = ${SEED}\n\n` +
    `[timeouts]\nshutdown_ms = ${SHUTDOWN_MS}\n`;
}

async function a8Round(
  server: BenchServer,
  tmp: string,
  docroot: string,
  engine: Engine,
  rate: number,
): Promise<Round> {
  const t0 = performance.now();
  const r: Round = {
    server: server.name,
    label: roundLabel(engine, rate),
    engine,
    rate,
    wrk: null,
    ratio: null,
    verify: null,
    leader: null,
    follower: null,
    stopped: null,
    error: null,
    other_load_cores: null,
    duration_s: 0,
  };
  const dir = `${tmp}/${server.name}-a8-${engine}-${rate}`;
  const conf = await serverConfig(server, dir, docroot);
  const ids = [1, 2];
  const run = await startA8({
    dir,
    config: configToml({
      variants: ids.map((id) => ({ id, address: addr(id), port: AGENT_PORT })),
      policy: POLICY,
      extraTables: faultTables(engine, rate),
    }),
    ids,
    leaderId: 1,
    netns: host,
    program: server.argv(conf, dir),
  });
  for (const v of run.variants) live.add(v.proc);
  const exited = () => run.variants.filter((v) => v.proc.exited).map((v) => v.id);
  const alive = () => (exited().length ? `variant(s) ${exited()} exited` : null);
  let when: string | null = null;
  let startError = "";
  try {
    try {
      await waitHttp(`${URL_BASE}/`, host(CLIENT), run.variants.map((v) => v.proc), r.label);
      r.start_s = round((performance.now() - t0) / 1000, 1);
    } catch (e) {
      when = "before serving";
      startError = `${(e as Error).message}\n`;
      throw e;
    }
    when = await measure(r, docroot, dir, alive);
  } catch (e) {
    if (!when) r.error = (e as Error).message;
  }
  if (!when && exited().length) when = "at the end of the round";
  // An agent that says it is stopping before our SIGTERM got a signal from elsewhere.
  const signalledBefore = run.variants.filter((v) =>
    v.proc.stderrText().includes("stopping the program")
  ).map((v) => v.id);
  // Stop: SIGTERM to the leader's agent ends every variant; then the reports are complete.
  run.leader.proc.signal("SIGTERM");
  const s0 = performance.now();
  const done = await waitA8(run, ms(STOP_WAIT_MS), { throwOnTimeout: false });
  r.stop_s = round((performance.now() - s0) / 1000, 1);
  for (const v of run.variants) live.delete(v.proc);
  const leftovers = await killLeftovers();
  if (leftovers.length) {
    anomaly(`${server.name} ${r.label}: processes were left in the namespaces after the run`, {
      killed: leftovers,
    });
  }
  // Agents end by exiting, also on SIGTERM: one that died of a signal (and was not killed by
  // waitA8 at its deadline) was killed from outside, as was one that stopped on a signal
  // before ours. Other jobs on a shared machine have done that (pkill).
  const outside = [
    ...signalledBefore,
    ...done.variants.filter((v) => v.signal !== null && !v.timedOut).map((v) => v.id),
  ];
  const variants: Json[] = [];
  for (const v of done.variants) {
    const s = await readSummary(v).catch(() => null);
    const f = s ? summaryFigures(s) : null;
    if (v.leader) r.leader = f;
    else r.follower = f;
    variants.push({
      variant: v.id,
      leader: v.leader,
      exit: v.code,
      signal: v.signal,
      timed_out_at_stop: v.timedOut,
      outcome: f?.outcome ?? "(no summary.json)",
      detail: f?.detail ?? null,
      stderr_tail: tail(text(v.stderr), 20),
    });
  }
  if (when) {
    const reason = startError +
      (outside.length
        ? `!!! the agent(s) of variant(s) ${[...new Set(outside)]} got a signal from outside ` +
          "the benchmark (another job on this machine?): not a8's doing\n"
        : "") +
      variants.map((v) =>
        `variant ${v.variant} (${v.leader ? "leader" : "follower"}): exit ${v.exit}, outcome ` +
        `${v.outcome}${v.detail ? `: ${v.detail}` : ""}\n${v.stderr_tail}`
      ).join("\n");
    r.stopped = { when, reason, variants, signal_from_outside: outside.length > 0 };
    anomaly(`${server.name} ${r.label}: a8 stopped ${when}`, { variants, run_dir: dir });
  } else if (variants.some((v) => v.timed_out_at_stop || v.outcome !== "ok")) {
    r.unclean_stop = variants.some((v) => v.timed_out_at_stop)
      ? `agents still running ${STOP_WAIT_MS / 1000} s after the SIGTERM: killed`
      : `outcome ${variants.find((v) => v.outcome !== "ok")!.outcome}`;
    anomaly(`${server.name} ${r.label}: the run did not end cleanly on SIGTERM`, {
      variants,
      run_dir: dir,
    });
  }
  if (r.error) anomaly(`${server.name} ${r.label}: ${r.error.split("\n")[0]}`, { error: r.error });
  r.duration_s = round((performance.now() - t0) / 1000, 1);
  return r;
}

async function benchServers(tmp: string): Promise<Round[]> {
  const docroot = `${tmp}/docroot`;
  await makeDocroot(docroot);
  const rounds: Round[] = [];
  await netns("up", "3", PREFIX);
  netnsUp = true;
  await noteOurNetns();
  try {
    for (const server of SERVER_LIST) {
      log(
        `\n== ${server.what}: wrk -t1 -c${CONNECTIONS} -d${SECONDS}s /small.html ` +
          `after a ${WARMUP_SECONDS} s warm-up, then ${VERIFY} verified curl requests ==`,
      );
      const native = await nativeRound(server, tmp, docroot);
      printRound(native);
      rounds.push(native);
      const plan: [Engine, number][] = [
        ...(BASELINE ? [["none", 0] as [Engine, number]] : []),
        ...ENGINES.filter((e) => server.engines.includes(e)).flatMap((e) =>
          (e === "criu" ? CRIU_RATES : RATES).map((rate) => [e, rate] as [Engine, number])
        ),
      ];
      for (const [engine, rate] of plan) {
        const r = await a8Round(server, tmp, docroot, engine, rate);
        const n = native.wrk?.requests_per_s ?? 0;
        r.ratio = r.wrk && n > 0 ? Number((r.wrk.requests_per_s / n).toPrecision(3)) : null;
        printRound(r);
        rounds.push(r);
      }
    }
  } finally {
    await netns("down", PREFIX).catch((e) => console.error(e.message));
    netnsUp = false;
  }
  for (const r of rounds) {
    if (r.verify?.wrong) {
      anomaly(`${r.server} ${r.label}: ${r.verify.wrong} WRONG answers in the client loop`, {
        lines: r.verify.wrong_lines,
      });
    }
  }
  return rounds;
}

/**
 * What a fork and a copy-on-write fault cost here (bench/forkcost.c): the fork engine pays a
 * fork at each checkpoint and rollback, and a fault for each page written after it, by the
 * live process and the resumed copy. On a VM whose page faults go through the hypervisor the
 * faults are most of a fault cycle's time. Null if it could not be built or run.
 */
async function forkCost(): Promise<Json | null> {
  const dir = `${REPO_ROOT}/build/${Deno.build.arch}/bench`;
  await tryText(["make", "-s", "-C", `${REPO_ROOT}/bench`, `BUILD=${dir}`]);
  try {
    return JSON.parse(await tryText([`${dir}/forkcost`, "1024", "7"]));
  } catch {
    return null;
  }
}

async function machineInfo(): Promise<Json> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    hostname: Deno.hostname(),
    isa: Deno.build.arch,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    mem_gib: round(Deno.systemMemoryInfo().total / 2 ** 30, 1),
    kernel: Deno.osRelease(),
    a8: (await tryText([`${REPO_ROOT}/a8`, "version"])).split("\n")[0],
    deno: Deno.version.deno,
    lighttpd: (await tryText(["/usr/sbin/lighttpd", "-v"])).split("\n")[0],
    nginx: (await tryText(["/usr/sbin/nginx", "-v"])).split("\n")[0],
    wrk: (await tryText(["wrk", "--version"])).split("\n")[0],
    criu: (await tryText([projectCriuBinary(), "--version"])).split("\n")[0],
    fork_cost: await forkCost(),
    // What was measured: the commit, and the files that differ from it (read-only git).
    commit: (await tryText(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"])) || null,
    uncommitted: (await tryText([
      "git",
      "--no-optional-locks",
      "-C",
      REPO_ROOT,
      "status",
      "--porcelain",
      "--",
      "src",
      "preload",
    ]))
      .split("\n").filter((l) => l).map((l) => l.trim()),
  };
}

// ---------------------------------------------------------------------------------------------

const started = new Date();
const missing = await a8Missing();
if (missing) fail(`cannot run a8: ${missing}`, 1);
for (const tool of [...SERVER_LIST.map((s) => s.binary), "/usr/bin/curl", "/usr/bin/wrk"]) {
  await Deno.stat(tool).catch(() => fail(`${tool} is missing: run scripts/setup.sh`, 1));
}
const tmp = await Deno.makeTempDir({ prefix: "a8-availability-" });
await Deno.chmod(tmp, 0o755);
log(
  `a8 availability bench${opt.quick ? " (quick)" : ""}: 2 variants, policy ${POLICY}, retries ` +
    `${CHECKPOINT.retries}; ` +
    ENGINES.map((e) =>
      `engine ${e} (every_calls ${CHECKPOINT[e].every_calls}, every_ms ` +
      `${CHECKPOINT[e].every_ms}) at injected divergence rates ` +
      (e === "criu" ? CRIU_RATES : RATES).map(pct).join(", ")
    ).join("; ") + `; temp dir ${tmp}`,
);
const result: Json = {
  date: started.toISOString(),
  quick: opt.quick,
  machine: await machineInfo(),
  settings: {
    variants: 2,
    policy: POLICY,
    interposer: "auto",
    servers: SERVER_LIST.map((s) => s.what),
    hosts: "netns: server / leader 10.88.0.1, follower 10.88.0.2, wrk and curl 10.88.0.3",
    wrk: `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s --timeout 2s /small.html`,
    warmup_s: WARMUP_SECONDS,
    verify_requests: VERIFY,
    verify_paths: VERIFY_PATHS.map(([p]) => p),
    engines: ENGINES,
    checkpoint: CHECKPOINT,
    criu_rates: ENGINES.includes("criu") ? CRIU_RATES : null,
    baseline: BASELINE ? 'engine "none", no faults' : null,
    verify_deadline_s: VERIFY_DEADLINE_S,
    curl_max_time_s: CURL_MAX_S,
    shutdown_ms: SHUTDOWN_MS,
    rates: RATES,
    seed: SEED,
    criu_cycles: CRIU_CYCLES,
  },
  targets: TARGETS,
  criu: CRIU_NOTE,
};
const fc = result.machine.fork_cost;
log(
  fc
    ? `this machine: fork of a process with ${fc.pages} pages written ${fc.fork_us} us, then ` +
      `${fc.cow_fault_us} us per copy-on-write fault (bench/forkcost.c)`
    : "!!! bench/forkcost could not be built or run: fork and fault costs unknown",
);
let fatal: Error | null = null;
let rounds: Round[] = [];
let criu: Json = { skipped: true };
try {
  rounds = await benchServers(tmp);
  if (!opt["skip-criu"]) {
    criu = await benchCriu(tmp, {
      cycles: CRIU_CYCLES,
      log,
      anomaly,
      onRoot: (pid) => criuPid = pid,
    });
  }
} catch (e) {
  fatal = e as Error;
  anomaly("the benchmark stopped", { error: fatal.stack ?? fatal.message });
}
result.rounds = rounds.map((r) => ({
  ...r,
  leader: r.leader ? { ...r.leader, rollback_ms_all: undefined } : r.leader,
  follower: r.follower ? { ...r.follower, rollback_ms_all: undefined } : r.follower,
}));
result.criu_raw_lighttpd = criu;
const vs = verdicts(rounds, criu, { servers: SERVER_LIST, engines: ENGINES });
result.verdicts = vs;
result.duration_s = round((Date.now() - started.getTime()) / 1000, 1);
result.anomalies = anomalies;

printTable(rounds, VERIFY_PLAN);
printVerdicts(vs, criu, CRIU_NOTE);
const busiest = Math.max(0, ...rounds.map((r) => r.other_load_cores ?? 0));
result.other_load_max_cores = busiest;
if (busiest >= 0.3) {
  log(
    `\nnote: other jobs used up to ${busiest} cores of this ${navigator.hardwareConcurrency}-core ` +
      "machine during the rounds: absolute figures are lower than on an idle machine, and the " +
      "ratios are less certain",
  );
}
await Deno.mkdir(opt.out!, { recursive: true });
const jsonPath = `${opt.out}/availability.json`;
const svgPath = `${opt.out}/availability.svg`;
const pngPath = `${opt.out}/availability.png`;
await Deno.writeTextFile(jsonPath, JSON.stringify(result, null, 2) + "\n");
await Deno.writeTextFile(svgPath, renderAvailabilitySvg(result));
// In the repo's own style, so `deno fmt --check` (make check) stays clean after a run.
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", jsonPath, svgPath],
  cwd: REPO_ROOT,
  stdout: "null",
  stderr: "null",
}).output().catch(() => {});
let png = "";
// Optional: a missing program makes Command throw at once, not reject (Deno.errors.NotFound).
const rsvg = await (async () => {
  try {
    return await new Deno.Command("rsvg-convert", {
      args: ["-b", "white", "-o", pngPath, svgPath],
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch {
    return null;
  }
})();
if (rsvg?.success) png = ` and ${pngPath}`;
else log(`(no PNG: rsvg-convert ${rsvg ? "failed" : "is not installed (librsvg2-bin)"})`);
log(`\nwrote ${jsonPath}, ${svgPath}${png} (${result.duration_s} s)`);
const wrong = rounds.reduce((s, r) => s + (r.verify?.wrong ?? 0), 0);
if (anomalies.length) {
  log(
    `${anomalies.length} anomal${anomalies.length === 1 ? "y" : "ies"}: see above and ` +
      `"anomalies" in ${jsonPath}; files kept in ${tmp}`,
  );
} else {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
if (fatal) Deno.exit(1);
if (wrong) {
  log(`\n!!! ${wrong} WRONG answers in the client loops`);
  Deno.exit(2);
}
