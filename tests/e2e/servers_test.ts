/**
 * Real servers under a8, each variant on its own "host" (a network namespace made by
 * scripts/netns.sh): lighttpd and nginx serve a generated docroot. First natively in the
 * leader's namespace (the reference), then under a8 with 2 variants: curl from the leader's
 * namespace fetches every file (and a missing one) and must get the same status and bytes as
 * natively; wrk runs for 3 s against the leader; SIGTERM to the leader's agent must end every
 * variant.
 *
 * Needs root (network namespaces). Without root the test is ignored and says so loudly.
 * A8_E2E_NATIVE_ONLY=1 runs only the native steps.
 */
import {
  a8Missing,
  assert,
  cleanup,
  configToml,
  describe,
  ms,
  Proc,
  readSummary,
  runNative,
  startA8,
  text,
  waitA8,
} from "./harness.ts";
import {
  makeDocroot,
  netns,
  type Server,
  SERVERS,
  waitHttp,
  writeServerConfig,
  wrk as runWrk,
  type WrkResult,
} from "./http_servers.ts";
import type { Policy } from "../../src/config/types.ts";

const NATIVE_ONLY = Deno.env.get("A8_E2E_NATIVE_ONLY") === "1";
const IS_ROOT = Deno.uid() === 0;
const PREFIX = Deno.env.get("A8_NETNS_PREFIX") ?? `a8s${Deno.pid % 100000}`;
const VARIANTS = 2;
const HTTP_PORT = 8080;
const AGENT_PORT = 7772;
const host = (i: number) => `${PREFIX}h${i}`;
const addr = (i: number) => `10.88.0.${i}`;
const LEADER_URL = `http://${addr(1)}:${HTTP_PORT}`;

if (!IS_ROOT) {
  console.warn(
    "\nservers_test: SKIPPED: network namespaces need root (run the e2e tests as root, as CI does)\n",
  );
}

/** What the client fetches: path and the status expected. */
const PATHS: [string, number][] = [
  ["/", 200],
  ["/small.html", 200],
  ["/files/100k.bin", 200],
  ["/files/2m.bin", 200],
  ["/dir/", 200],
  ["/dir/a.txt", 200],
  ["/missing.html", 404],
];

function writeConfig(server: Server, tmp: string, docroot: string): Promise<string> {
  return writeServerConfig(server, tmp, docroot, { address: addr(1), port: HTTP_PORT });
}

interface Fetched {
  status: number;
  body: Uint8Array;
}

/** curl in the leader's namespace. */
async function fetch(path: string, outDir: string): Promise<Fetched> {
  const out = `${outDir}/body-${path.replace(/\W/g, "_")}`;
  const r = await runNative(
    ["curl", "-s", "--max-time", "15", "-o", out, "-w", "%{http_code}", `${LEADER_URL}${path}`],
    { netns: host(1), timeoutMs: ms(20000) },
  );
  const status = Number(text(r.stdout).trim());
  let body = new Uint8Array();
  try {
    body = await Deno.readFile(out);
  } catch { /* no body */ }
  return { status: r.code === 0 ? status : -r.code, body };
}

/** Waits until the leader's address answers HTTP, or a watched process exits. */
function waitReady(procs: Proc[], what: string): Promise<void> {
  return waitHttp(`${LEADER_URL}/`, host(1), procs, what);
}

async function fetchAll(outDir: string): Promise<Map<string, Fetched>> {
  await Deno.mkdir(outDir, { recursive: true });
  const got = new Map<string, Fetched>();
  for (const [path] of PATHS) got.set(path, await fetch(path, outDir));
  return got;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function wrk(path: string, seconds: number): Promise<WrkResult> {
  return runWrk(`${LEADER_URL}${path}`, { netns: host(1), connections: 4, seconds });
}

for (const server of SERVERS) {
  Deno.test({
    name: `server ${server.name}: native vs a8 with ${VARIANTS} variants on netns hosts`,
    ignore: !IS_ROOT,
    fn: async (t) => {
      for (const tool of [server.binary, "/usr/bin/curl", "/usr/bin/wrk"]) {
        await Deno.stat(tool).catch(() => {
          throw new Error(`${tool} is missing: run scripts/setup.sh`);
        });
      }
      const tmp = await Deno.makeTempDir({ prefix: `a8-e2e-${server.name}-` });
      await Deno.chmod(tmp, 0o755);
      const docroot = `${tmp}/docroot`;
      await makeDocroot(docroot);
      let ok = false;
      try {
        await netns("up", String(VARIANTS), PREFIX);
        // Set by the native step (a cast, so TypeScript does not narrow it to null).
        let native = null as Map<string, Fetched> | null;

        const nativeOk = await t.step("native", async () => {
          const dir = `${tmp}/native`;
          await Deno.mkdir(dir);
          const conf = await writeConfig(server, dir, docroot);
          const proc = new Proc(`native ${server.name}`, server.argv(conf, dir), {
            netns: host(1),
          });
          try {
            await waitReady([proc], `native ${server.name}`);
            const got = await fetchAll(`${dir}/fetched`);
            for (const [path, status] of PATHS) {
              assert.equal(got.get(path)!.status, status, `native ${server.name} GET ${path}`);
            }
            assert.ok(
              sameBytes(
                got.get("/files/2m.bin")!.body,
                await Deno.readFile(`${docroot}/files/2m.bin`),
              ),
              `native ${server.name}: /files/2m.bin differs from the file`,
            );
            assert.match(text(got.get("/dir/")!.body), /a\.txt[\s\S]*b\.txt/, "directory listing");
            // A short native load: checks wrk and its parsing, and gives a baseline to read.
            const w = await wrk("/small.html", 1);
            console.log(`${server.name} native: ${w.requests} requests in 1 s`);
            assert.ok(w.requests > 0 && w.socketErrors === 0 && w.non2xx === 0, w.output);
            native = got;
          } finally {
            proc.signal("SIGTERM");
            const r = await proc.wait(ms(10000));
            assert.ok(!r.timedOut, `native ${server.name} did not stop on SIGTERM`);
          }
        });

        const a8Ok = await t.step({
          name: `a8 with ${VARIANTS} variants`,
          ignore: NATIVE_ONLY,
          fn: async () => {
            const reference = native;
            if (!reference) {
              throw new Error("the native run failed, so there is nothing to compare with");
            }
            const missing = await a8Missing();
            if (missing) throw new Error(`cannot run a8: ${missing}`);
            const dir = `${tmp}/a8`;
            await Deno.mkdir(dir);
            await Deno.chmod(dir, 0o755);
            const conf = await writeConfig(server, dir, docroot);
            const run = await serverUnderA8(server, conf, dir);
            let stopped = false;
            try {
              await waitReady(run.variants.map((v) => v.proc), `${server.name} under a8`);
              const got = await fetchAll(`${dir}/fetched`);
              for (const [path] of PATHS) {
                const a: Fetched = got.get(path)!;
                const n: Fetched = reference.get(path)!;
                assert.equal(a.status, n.status, `GET ${path}: status under a8 vs native`);
                assert.ok(
                  sameBytes(a.body, n.body),
                  `GET ${path}: body under a8 (${a.body.length} bytes) differs from native (${n.body.length})`,
                );
              }
              const w = await wrk("/small.html", 3);
              console.log(`${server.name} under a8: ${w.requests} requests in 3 s`);
              assert.ok(w.requests > 0, `wrk made no requests:\n${w.output}`);
              assert.ok(
                w.socketErrors <= 5,
                `wrk saw ${w.socketErrors} socket errors:\n${w.output}`,
              );
              assert.equal(w.non2xx, 0, `wrk saw non-2xx responses:\n${w.output}`);
              for (const v of run.variants) {
                assert.ok(
                  !v.proc.exited,
                  `variant ${v.id} exited during the load:\n${v.proc.stderrText()}`,
                );
              }

              // SIGTERM to the leader's agent ends the run on every variant.
              run.leader.proc.signal("SIGTERM");
              const result = await waitA8(run, ms(20000));
              stopped = true;
              const all = describe(result.variants);
              for (const v of result.variants) {
                assert.ok(!v.timedOut, `variant ${v.id} did not exit after SIGTERM\n${all}`);
              }
            } finally {
              if (!stopped) {
                await Promise.all(run.variants.map((v) => v.proc.kill()));
              }
            }
          },
        });
        const faultsOk = await t.step({
          name: `a8 with ${VARIANTS} variants, 1 % injected divergences rolled back`,
          ignore: NATIVE_ONLY,
          fn: () => underFaults(server, tmp, docroot, FORK_FAULTS),
        });
        // nginx as it runs by default, a master and its workers: CRIU takes the whole tree.
        const treeOk = server.name !== "nginx" || await t.step({
          name: `a8 with ${VARIANTS} variants, master and workers, criu engine, divergences ` +
            "rolled back",
          ignore: NATIVE_ONLY,
          fn: () => underFaults(server, tmp, docroot, CRIU_TREE_FAULTS),
        });
        const stopOk = server.name !== "lighttpd" || await t.step({
          name: `a8 with ${VARIANTS} variants, code policy, criu engine, 5 % injected ` +
            "divergences: a stop ends the run",
          ignore: NATIVE_ONLY,
          fn: () => underFaults(server, tmp, docroot, CRIU_CODE_FAULTS),
        });
        ok = nativeOk && ((a8Ok && faultsOk && treeOk && stopOk) || NATIVE_ONLY);
      } finally {
        await netns("down", PREFIX).catch((e) => console.error(e.message));
        if (ok) await cleanup(tmp);
        else console.log(`(server test files kept in ${tmp})`);
      }
    },
  });
}

/** The server under a8, one variant per host (leader 1), with extra config tables. */
function serverUnderA8(
  server: Server,
  conf: string,
  dir: string,
  extraTables?: string,
  policy?: Policy,
) {
  const ids = Array.from({ length: VARIANTS }, (_, i) => i + 1);
  return startA8({
    config: configToml({
      variants: ids.map((id) => ({ id, address: addr(id), port: AGENT_PORT })),
      policy,
      extraTables,
    }),
    ids,
    leaderId: 1,
    netns: host,
    program: server.argv(conf, dir),
    dir,
  });
}

/** Requests of the client loop under injected divergences, and the files that answer them. */
const LOOP_PATHS: [string, string][] = [
  ["/small.html", "small.html"],
  ["/index.html", "index.html"],
  ["/dir/a.txt", "dir/a.txt"],
  ["/files/100k.bin", "files/100k.bin"],
];

/** How a fault step runs the server under a8. */
interface FaultRun {
  label: string;
  /** The server as one process (the fork engine copies the root only). */
  oneProcess: boolean;
  checkpoint: string;
  probability: number;
  requests: number;
  /** Share of the requests that must get their right answer (the rest: closed). */
  minRight: number;
  policy?: Policy;
  /** Seconds of wrk load before the client loop (the stop then finds a long replay log). */
  loadSeconds?: number;
  /** More config tables. */
  tables?: string;
  /**
   * The user the server drops to after its start (lighttpd `server.username`, nginx `user`),
   * as servers run in production: its monitor must still reach the agent and its files.
   */
  dropTo?: string;
  /**
   * Then this many requests on one kept-alive connection (curl reuses it), paced over a few
   * seconds of rollbacks: at most `maxReconnects` new connections may be made for them.
   */
  keptAlive?: { requests: number; maxReconnects: number };
  /**
   * Why the stop may end the run with a divergence report (criu): a follower faults before its
   * agent hears of the stop (src/run/faults_off.ts), and the rollback that follows cannot
   * restore a tree whose open files the shutdown removed (a pid file unlinked at the exit;
   * one it only truncated is fitted back: src/checkpoint/dumped_files.ts).
   */
  stopMayDiverge?: string;
  /**
   * Why the program may have to be killed at the stop (a8 does so after shutdown_ms): known,
   * not fixed; the step says so loudly when it happens. Every other check still holds.
   */
  stopMayHang?: string;
}

const FORK_FAULTS: FaultRun = {
  label: "fork",
  oneProcess: true,
  checkpoint: `engine = "fork"\nevery_calls = 200\nevery_ms = 50\nretries = 3\n`,
  probability: 0.01,
  requests: 500,
  minRight: 0.9,
  // Before run_dirs.ts a copy of a process that had left root could not reach its agent, and
  // the first divergence ended the run: "no copy of checkpoint 1 on the leader".
  dropTo: "nobody",
};
/**
 * A CRIU rollback restores the whole tree in ~0.15 s. A new connection made meanwhile waits in
 * the listening socket, which the agent holds through the kill and hands over to the restored
 * tree (with tcp_migrate_req, which scripts/netns.sh sets). Before that it was refused: 126
 * and 127 of 150 right in two runs; 130-144 in 45 runs since, while the workers had no keeper
 * and a rollback closed their connections; 150 of 150 in every run since they have one and
 * replay their logs. A kept-alive connection lived through the rollbacks then too (one
 * reconnection at most for 100 requests, against one per rollback without). The bar leaves
 * room for a loaded machine: criu_driver_test.ts tests the held socket itself. In 4 more of
 * those runs the run ended early, the restored root finding no keeper: a rollback had killed it
 * with the tree while it was starting (fixed: a round now ends when every keeper has registered).
 */
const CRIU_TREE_FAULTS: FaultRun = {
  label: "criu, whole tree",
  oneProcess: false,
  checkpoint: `engine = "criu"\nevery_calls = 200\nevery_ms = 300\nretries = 3\n`,
  probability: 0.01,
  requests: 150,
  minRight: 0.9,
  keptAlive: { requests: 100, maxReconnects: 4 },
  stopMayDiverge: "a follower may fault until its agent hears of the stop (one message later)",
  stopMayHang: "after a rollback at the stop, nginx's master and workers sometimes never end " +
    "(now and then: 1 run in 6 in one session, 1 in 14 in the next; their checkpoint rounds are " +
    "abandoned with the processes missing; a likely cause, the master's stop message to its " +
    "workers on their socketpair not written again by its replay, is fixed: ckpt/pipes.c)",
};
/**
 * Under the code policy the follower lags the leader by up to a batch of calls: at 5 % per
 * call nearly every checkpoint round meets a fault first, so most rollbacks go back to the
 * first checkpoint, and the requests wait through them. What must hold: no wrong answer, most
 * answered, and the stop signal ends the run cleanly with the program's own status. (A rollback after the stop turns
 * injection off in the restored variants, src/checkpoint/rollback_test.ts; without that, the
 * availability bench's rounds at 5 % under this policy never ended: every replay carrying the
 * stop met a fault first.)
 */
const CRIU_CODE_FAULTS: FaultRun = {
  label: "criu, code policy",
  oneProcess: true,
  checkpoint: `engine = "criu"\nevery_calls = 5000\nevery_ms = 1000\nretries = 3\n`,
  probability: 0.05,
  requests: 40,
  // Each request is a new connection: one made while the tree is restored waits in the live
  // listening socket, which the root's keeper holds (scripts/netns.sh sets tcp_migrate_req).
  // Refused and reset before that: 17 of 40 right; 39-40 since.
  minRight: 0.75,
  policy: "code",
  loadSeconds: 3,
  tables: "[timeouts]\nshutdown_ms = 3000\n",
  stopMayDiverge: "the follower may fault until its agent hears of the stop (one message later)",
};

interface LoopCounts {
  ok: number;
  closed: number;
  /** Requests given up after 10 s without a byte of answer (curl 28): a delay, not an answer. */
  unanswered: string[];
  wrong: string[];
}

/**
 * `requests` curl requests from the leader's namespace, one connection each. A response
 * whose status or bytes differ from the file is wrong; a connection closed before or during
 * its response (curl: empty reply, receive error, partial file) is closed: a client may see
 * that, never a wrong answer. One given up after 10 s without an answer is unanswered: under
 * the harshest settings (criu, code policy, 5 %) divergences can come faster than checkpoints,
 * and each rollback replays the whole stretch since the first one while no new request is taken
 * (before the code policy bounded the follower's lag, one run in about ten here left the follower
 * ~2800 calls behind after the load phase: ~150 rollbacks, one request unanswered for 10 s). It
 * counts against `minRight` like a closed one.
 */
interface KeptAliveCounts {
  requests: number;
  ok: number;
  /** Connections curl made for all the requests (1: the first one lived throughout). */
  connects: number;
  /** Lines "index rc code" of answers that were not the file (a closed one is not wrong). */
  wrong: string[];
}

/**
 * `requests` GETs of /small.html from the client's host (as clientLoop), all in one curl,
 * which keeps one connection alive for them (and makes a new one only when it was closed), ~25
 * a second.
 */
async function keptAliveLoop(
  docroot: string,
  dir: string,
  requests: number,
): Promise<KeptAliveCounts> {
  const want = await Deno.readFile(`${docroot}/small.html`);
  const out = `${dir}/kept`;
  await Deno.mkdir(out, { recursive: true });
  const r = await runNative([
    "curl",
    "-s",
    "--max-time",
    "30",
    "--rate",
    "25/s",
    "-w",
    "%{num_connects} %{exitcode} %{http_code}\\n",
    "-o",
    `${out}/#1`,
    `${LEADER_URL}/small.html?[1-${requests}]`,
  ], { netns: host(1), timeoutMs: ms(60000) });
  const counts: KeptAliveCounts = { requests, ok: 0, connects: 0, wrong: [] };
  const lines = text(r.stdout).trim().split("\n");
  for (const [i, line] of lines.entries()) {
    const [connects, rc, code] = line.split(" ");
    counts.connects += Number(connects);
    if (rc !== "0") continue; // closed or cut: a client may see that (README)
    const got = await Deno.readFile(`${out}/${i + 1}`).catch(() => new Uint8Array());
    const same = got.length === want.length && got.every((b, k) => b === want[k]);
    if (code === "200" && same) counts.ok++;
    else counts.wrong.push(`${i + 1} ${rc} ${code}`);
  }
  return counts;
}

async function clientLoop(docroot: string, dir: string, requests: number): Promise<LoopCounts> {
  const sums = new Map<string, string>();
  for (const [, file] of LOOP_PATHS) {
    const h = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${docroot}/${file}`));
    sums.set(file, [...new Uint8Array(h)].map((b) => b.toString(16).padStart(2, "0")).join(""));
  }
  const paths = LOOP_PATHS.map(([p]) => p).join(" ");
  const script = `set -u; out=${dir}/loop.body; i=0
    while [ $i -lt ${requests} ]; do for p in ${paths}; do
      [ $i -ge ${requests} ] && break
      rm -f $out; code=$(curl -s --max-time 10 -o $out -w '%{http_code}' ${LEADER_URL}$p); rc=$?
      sum=$( [ -f $out ] && sha256sum $out | cut -d' ' -f1 || echo none)
      echo "$p $rc $code $sum"; i=$((i+1)); done; done`;
  const r = await runNative(["bash", "-c", script], { netns: host(1), timeoutMs: ms(240000) });
  const counts: LoopCounts = { ok: 0, closed: 0, unanswered: [], wrong: [] };
  for (const line of text(r.stdout).trim().split("\n")) {
    const [path, rc, code, sum] = line.split(" ");
    const file = LOOP_PATHS.find(([p]) => p === path)?.[1];
    if (rc === "52" || rc === "56" || rc === "18" || rc === "7") counts.closed++;
    else if (rc === "28" && code === "000" && sum === "none") counts.unanswered.push(line);
    else if (rc === "0" && code === "200" && file && sum === sums.get(file)) counts.ok++;
    else counts.wrong.push(line);
  }
  return counts;
}

/** Makes the server's config switch to `user` (and its group `nogroup`) once started. */
async function dropPrivileges(server: Server, conf: string, user: string): Promise<void> {
  const text = await Deno.readTextFile(conf);
  const changed = server.name === "nginx"
    ? text.replace("user root;", `user ${user} nogroup;`)
    : `${text}server.username = "${user}"\nserver.groupname = "nogroup"\n`;
  assert.notEqual(changed, text, `${conf}: no user to change`);
  await Deno.writeTextFile(conf, changed);
  // lighttpd opens its logs once it is that user.
  await Deno.chmod(conf.slice(0, conf.lastIndexOf("/")), 0o777);
}

/**
 * The server under a8 with checkpoints and checked calls diverging on purpose: the variants
 * roll back and go on; the client loop sees only right answers or closed connections. With
 * the fork engine the server runs as one process (nginx: master_process off; the fork engine
 * copies a root process without children); with criu as it runs by default.
 */
async function underFaults(
  server: Server,
  tmp: string,
  docroot: string,
  f: FaultRun,
): Promise<void> {
  const missing = await a8Missing();
  if (missing) throw new Error(`cannot run a8: ${missing}`);
  const dir = `${tmp}/faults-${f.label.replace(/\W+/g, "-")}`;
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o755);
  const conf = await writeConfig(server, dir, docroot);
  if (f.oneProcess) {
    await Deno.writeTextFile(
      conf,
      (await Deno.readTextFile(conf)).replace("master_process on;", "master_process off;"),
    );
  }
  if (f.dropTo) await dropPrivileges(server, conf, f.dropTo);
  const run = await serverUnderA8(
    server,
    conf,
    dir,
    `[checkpoint]\n${f.checkpoint}\n[faults]\ndivergence_probability = ${f.probability}\nseed = 7\n` +
      (f.tables ?? ""),
    f.policy,
  );
  let stopped = false;
  try {
    await waitReady(run.variants.map((v) => v.proc), `${server.name} under a8 with faults`);
    if (f.loadSeconds) await wrk("/small.html", f.loadSeconds);
    const counts = await clientLoop(docroot, dir, f.requests);
    console.log(
      `${server.name}, ${f.label}, ${f.probability * 100} % injected divergences: ` +
        `${counts.ok} right, ${counts.closed} closed, ${counts.wrong.length} wrong` +
        (counts.unanswered.length
          ? `, ${counts.unanswered.length} unanswered in 10 s: ${counts.unanswered.join("; ")}`
          : ""),
    );
    const kept = f.keptAlive ? await keptAliveLoop(docroot, dir, f.keptAlive.requests) : null;
    if (kept) {
      console.log(
        `${server.name}, ${f.label}, kept alive: ${kept.ok} right of ${kept.requests}, ` +
          `${kept.connects} connections, ${kept.wrong.length} wrong`,
      );
    }
    run.leader.proc.signal("SIGTERM");
    const result = await waitA8(run, ms(20000));
    stopped = true;
    const all = describe(result.variants);
    assert.deepEqual(counts.wrong, [], `wrong answers under injected divergences\n${all}`);
    // lighttpd lowers its fd limit (server.max-fds): the monitor keeps room above it for its own
    // fds, but must not ask to raise it (which takes CAP_SYS_RESOURCE, missing on these VMs).
    for (const v of result.variants) {
      assert.doesNotMatch(text(v.stderr), /setrlimit\(\): Operation not permitted/, all);
    }
    assert.equal(counts.ok + counts.closed + counts.unanswered.length, f.requests, all);
    assert.ok(counts.ok >= f.requests * f.minRight, `only ${counts.ok} right answers\n${all}`);
    if (kept && f.keptAlive) {
      assert.deepEqual(kept.wrong, [], `wrong answers on a kept-alive connection\n${all}`);
      assert.ok(
        kept.ok >= f.keptAlive.requests * f.minRight,
        `only ${kept.ok} right answers on a kept-alive connection\n${all}`,
      );
      assert.ok(
        kept.connects - 1 <= f.keptAlive.maxReconnects,
        `the kept-alive connection was made anew ${kept.connects - 1} times\n${all}`,
      );
    }
    const s = await readSummary(result.leader);
    console.log(`${server.name}: ${s.checkpoints} checkpoints, ${s.rollbacks} rollbacks`);
    assert.ok((s.rollbacks as number) > 0, `no rollback happened\n${all}`);
    // Injected faults stop at the stop signal, in every process of the program: with fork
    // copies the stop ends the run as the program ends, never with a divergence.
    const outcomes = f.stopMayDiverge ? ["ok", "divergence"] : ["ok"];
    assert.ok(outcomes.includes(s.outcome as string), `the stop ended with ${s.detail}\n${all}`);
    if (s.outcome !== "ok") console.log(`the stop ended with a divergence: ${f.stopMayDiverge}`);
    for (const v of result.variants) {
      assert.ok(!v.timedOut, `variant ${v.id} did not exit after SIGTERM\n${all}`);
      assert.equal(v.code, result.leader.code, `every variant ends alike\n${all}`);
    }
    if (result.leader.code === 137 && f.stopMayHang) {
      // The variants' logs, for whoever looks into it next.
      console.log(`!!! the program had to be killed at the stop: ${f.stopMayHang}\n${all}`);
    } else {
      assert.notEqual(result.leader.code, 137, `the program had to be killed\n${all}`);
    }
  } finally {
    if (!stopped) await Promise.all(run.variants.map((v) => v.proc.kill()));
  }
}
