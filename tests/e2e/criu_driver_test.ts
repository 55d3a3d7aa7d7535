/**
 * The agent's CRIU driver (src/checkpoint/criu_driver.ts) with real process trees on this
 * machine's kernel, the way a8's rollback uses it: dump while the tree runs on, kill the tree,
 * restore the dump as the agent's child. These tests fail, never skip, when CRIU is missing.
 */
import { CRIU_KDAT_DIR } from "../../ffi/criu_paths.ts";
import { CriuDriver } from "../../src/checkpoint/criu_driver.ts";
import { readStat, socketsOf } from "../../src/checkpoint/proc_tree.ts";
import { reusableListeners } from "../../src/checkpoint/kill_tree.ts";
import { closeFd } from "../../ffi/libc.ts";
import { checkCriuCache } from "../../src/cli/host_checks.ts";
import { createLogger } from "../../src/log.ts";
import {
  buildCriuPrograms,
  EXIT_DONE,
  fmtMs,
  last,
  type Line,
  readTreeLog,
  TCP_SERVER,
  TREE,
  waitTreeLog,
} from "./criu_programs.ts";
import { assert, ms, REPO_ROOT, tail, text, withRunDir } from "./harness.ts";

async function openDriver(dir: string, keepImages?: number): Promise<CriuDriver> {
  await buildCriuPrograms();
  // The driver's warnings (a failed dump or restore) go to the test's output.
  const log = createLogger({ level: "warn" });
  try {
    return await CriuDriver.open({ runDir: dir, imagesDir: `${dir}/criu`, log, keepImages });
  } catch (e) {
    throw new Error(`${(e as Error).message}\nCRIU is missing or broken: run scripts/criu.sh`);
  }
}

function sleep(n: number): Promise<void> {
  return new Promise((r) => setTimeout(r, n));
}

/**
 * CRIU found its probes of the kernel cached (criu_options.ts, COMMON: unprivileged; the
 * wrapper's XDG_RUNTIME_DIR): a restore without them takes 50-120 ms longer here. A restore
 * logs warnings only, so this reads a dump's log (level 4): dumps and restores load the same
 * cache. Where the cache cannot be kept (a8 doctor's "criu cache" check says why) this says so
 * and checks nothing.
 */
async function assertKdatCached(criuLog: string): Promise<void> {
  const cache = checkCriuCache();
  if (cache.status !== "ok") {
    console.warn(`!!! CRIU cannot cache its kernel probes here: ${cache.detail}`);
    return;
  }
  const log = await Deno.readTextFile(criuLog);
  assert.ok(log.includes(`Loaded kdat cache from ${CRIU_KDAT_DIR}/criu.kdat`), tail(log));
}

/** The lines of `role` in a slice of the log. */
function counts(lines: Line[], role: Line["role"]): Line[] {
  return lines.filter((l) => l.role === role);
}

function spawnTree(log: string, stop: string): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    // setsid(1) without --fork execs in place: the tree's root is Deno's child, as the
    // launcher's variants are; tree.c keeps the session it finds.
    args: [TREE, log, stop],
    stdin: "null",
    // No pipes to us: CRIU would restore them unconnected (tree.c reports through its log).
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Best-effort cleanup after a failure: the test's assertions already said what went wrong. */
async function cleanup(driver: CriuDriver, pid: number): Promise<void> {
  if (pid) await driver.killTree(pid, 2000).catch((e) => console.log(`cleanup: ${e}`));
  driver.close();
}

Deno.test("criu driver: a running tree is dumped, killed and restored from its dump, twice", async () => {
  await withRunDir("a8-criu-driver-tree-", async (dir) => {
    const driver = await openDriver(dir);
    let root = 0;
    try {
      const log = `${dir}/tree.log`;
      const stop = `${dir}/stop`;
      const proc = spawnTree(log, stop);
      root = proc.pid;
      await waitTreeLog(
        log,
        "10 counts each",
        (l) => last(l, "root") >= 10 && last(l, "child") >= 10,
      );

      // Round 1: the root is Deno's child (as a freshly launched variant is).
      const atStart = await readTreeLog(log);
      const dump1 = await driver.dump(root, 1);
      const atEnd = await readTreeLog(log);
      assert.equal(dump1.dir, `${dir}/criu/1`);
      // The dumped counts are between what the log had when the dump started and ended.
      const dumped = {
        root: [last(atStart.lines, "root"), last(atEnd.lines, "root")],
        child: [last(atStart.lines, "child"), last(atEnd.lines, "child")],
      };
      // Left running: the tree counts on, well past the dump.
      await waitTreeLog(
        log,
        "the tree to count on after the dump",
        (l) => last(l, "root") >= dumped.root[1] + 20 && last(l, "child") >= dumped.child[1] + 20,
      );
      const k0 = performance.now();
      await driver.killTree(root);
      const kill1 = performance.now() - k0;
      const st = await proc.status; // Deno reaps its own child: resolves, does not hang.
      assert.equal(st.signal, "SIGKILL", `root after killTree: ${JSON.stringify(st)}`);
      const atKill = await readTreeLog(log);
      await sleep(50);
      assert.equal((await readTreeLog(log)).lines.length, atKill.lines.length, "the log grows");
      const killed = { root: last(atKill.lines, "root"), child: last(atKill.lines, "child") };

      const restore1 = await driver.restore(1);
      assert.equal(restore1.pid, root, "the restored root has another pid");
      // The agent's child as soon as the restore returns (CRIU's sibling mode), not only once
      // CRIU has exited and the root was re-parented to the subreaper.
      assert.equal(readStat(root)?.ppid, Deno.pid, "the restored root is not the agent's child");
      const k = atKill.lines.length;
      const r1 = await waitTreeLog(
        log,
        "the restored tree to count",
        (l) => counts(l.slice(k), "root").length >= 10 && counts(l.slice(k), "child").length >= 10,
      );
      assert.equal(counts(atStart.lines, "root")[0].pid, root, "setsid forked: root unknown");
      const childPid = counts(atStart.lines, "child")[0].pid;
      for (const role of ["root", "child"] as const) {
        const after = counts(r1.lines.slice(k), role);
        const first = after[0].n;
        assert.ok(
          first >= dumped[role][0] + 1 && first <= dumped[role][1] + 1,
          `restored ${role} counts on from ${first}, dumped at ${dumped[role].join("..")}`,
        );
        assert.ok(first < killed[role], `restored ${role} goes on from the killed state`);
        after.forEach((l, i) => assert.equal(l.n, first + i, `${role}: gap at ${l.n}`));
      }
      for (const l of r1.lines.slice(k)) {
        if (l.role === "root") {
          assert.equal(l.pid, root);
          assert.equal(l.ppid, Deno.pid, "the restored root is not the agent's child");
        } else {
          assert.equal(l.pid, childPid);
          assert.equal(l.ppid, root);
        }
      }

      // Round 2: the root is now the driver's child, with a waitExit pending on it.
      const exit2 = driver.waitExit(root);
      const dump2 = await driver.dump(root, 2);
      const atDump2 = await readTreeLog(log);
      await waitTreeLog(
        log,
        "the restored tree to count on after its dump",
        (l) => last(l, "root") >= last(atDump2.lines, "root") + 10,
      );
      const k1 = performance.now();
      await driver.killTree(root);
      const kill2 = performance.now() - k1;
      assert.deepEqual(await exit2, { code: 128 + 9, signal: 9 }, "waitExit after killTree");
      const k2 = (await readTreeLog(log)).lines.length;
      const restore2 = await driver.restore(2);
      assert.equal(restore2.pid, root);
      assert.equal(readStat(root)?.ppid, Deno.pid, "the restored root is not the agent's child");
      await assertKdatCached(`${dir}/criu/2/dump.log`);
      await waitTreeLog(log, "the tree restored again to count", (l) => {
        const after = l.slice(k2);
        return counts(after, "root").length >= 5 && counts(after, "child").length >= 5;
      });
      const firstAgain = counts((await readTreeLog(log)).lines.slice(k2), "root")[0].n;
      assert.ok(firstAgain <= last(atDump2.lines, "root") + 1, `second restore from ${firstAgain}`);

      // The restored root is the agent's child: its exit status comes to waitExit.
      const exit3 = driver.waitExit(root);
      await Deno.writeTextFile(stop, "");
      const end = await exit3;
      const final = await readTreeLog(log);
      const raw = await Deno.readTextFile(log);
      assert.deepEqual(final.errors, [], `tree.c reported errors:\n${tail(raw)}`);
      assert.deepEqual(end, { code: EXIT_DONE, signal: null }, `end: ${tail(raw)}`);
      assert.ok(final.done);
      assert.deepEqual(driver.epochs(), [1, 2]);
      // Every dump and restore found a CRIU started ahead of it; the restores through it still
      // made the root the agent's child (checked above, round 1).
      assert.equal(driver.callsOnSpareWorker, 4, "calls that had to start their own CRIU");
      root = 0;
      console.log(
        `criu driver, 2-process tree: dump ${fmtMs(dump1.ms)} (Deno's child), ` +
          `killTree ${fmtMs(kill1)}, restore ${fmtMs(restore1.ms)}; ` +
          `dump ${fmtMs(dump2.ms)} (restored), killTree ${fmtMs(kill2)}, ` +
          `restore ${fmtMs(restore2.ms)}`,
      );
    } finally {
      await cleanup(driver, root);
    }
  });
});

/** One line out, one line back, over a TCP connection to tcp_server.c. */
class LineClient {
  #buf = "";
  /** How the connection ended, once `readLine` returned null. */
  end: "eof" | "reset" | null = null;
  constructor(readonly conn: Deno.Conn) {}

  static async connect(port: number): Promise<LineClient> {
    return new LineClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(line: string): Promise<void> {
    await this.conn.write(new TextEncoder().encode(`${line}\n`));
  }

  /** The next line, or null at EOF or a reset (`end` says which). */
  async readLine(): Promise<string | null> {
    const chunk = new Uint8Array(256);
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        return line;
      }
      let n: number | null;
      try {
        n = await this.conn.read(chunk);
      } catch (e) {
        if (!(e instanceof Deno.errors.ConnectionReset)) throw e;
        this.end = "reset";
        return null;
      }
      if (n === null) {
        this.end = "eof";
        return null;
      }
      this.#buf += text(chunk.subarray(0, n));
    }
  }

  /** Asks for the next number of the server's counter. */
  async next(): Promise<number> {
    await this.send("n");
    const l = await this.readLine();
    if (l === null) throw new Error("the server closed the connection");
    return Number(l);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

async function waitFile(path: string, what: string, timeoutMs = ms(5000)): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await Deno.readTextFile(path).catch(() => null);
    if (s !== null) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${path})`);
    await sleep(10);
  }
}

async function waitServerLog(path: string, what: string, re: RegExp, timeoutMs = ms(5000)) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await Deno.readTextFile(path).catch(() => "");
    const m = re.exec(s);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${tail(s)}`);
    await sleep(10);
  }
}

/** tcp_server.c in a session of its own (CRIU dumps it without --shell-job), and its port. */
async function startTcpServer(
  dir: string,
  log: string,
  ...extra: string[]
): Promise<{ proc: Deno.ChildProcess; port: number }> {
  const proc = new Deno.Command("setsid", {
    args: [TCP_SERVER, `${dir}/port`, log, ...extra],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return { proc, port: Number(await waitFile(`${dir}/port`, "the server's port")) };
}

Deno.test("criu driver: a restored server listens again, its old connection comes back closed", async () => {
  await withRunDir("a8-criu-driver-tcp-", async (dir) => {
    const driver = await openDriver(dir);
    let pid = 0;
    const clients: LineClient[] = [];
    try {
      const log = `${dir}/server.log`;
      const { proc, port } = await startTcpServer(dir, log);
      pid = proc.pid;
      const old = await LineClient.connect(port);
      clients.push(old);
      for (let i = 1; i <= 3; i++) assert.equal(await old.next(), i);
      const oldFd = (await waitServerLog(log, "the accept", /^accept (\d+)$/m))[1];

      // A client that connects while the server is busy waits in the listening socket's
      // queue: CRIU refuses such a dump, unless told to leave those connections out.
      await old.send("b");
      await waitServerLog(log, "the server to be busy", /^busy$/m);
      const queued = await LineClient.connect(port);
      clients.push(queued);

      const dump = await driver.dump(pid, 1);
      const dumpLog = await Deno.readTextFile(`${dump.dir}/dump.log`);
      assert.match(
        dumpLog,
        /Skipping in-flight connection/,
        "no connection was queued at the dump",
      );
      // Left running, connections and all: the counter goes on past the dump, and the live
      // server takes the queued client once awake.
      assert.equal(await old.next(), 4, "the connection does not work after the dump");
      assert.equal(await queued.next(), 5, "the queued client was not served");

      const k0 = performance.now();
      await driver.killTree(pid);
      const killMs = performance.now() - k0;
      assert.equal((await proc.status).signal, "SIGKILL");
      // killTree aborted the connection: the client saw a reset, not a FIN (which could pass
      // for the end of a reply), and no socket of the dead server holds the port.
      assert.equal(await old.readLine(), null, "the killed server's connection is still open");
      assert.equal(old.end, "reset", "the killed server's connection ended without a reset");
      assert.equal(await queued.readLine(), null);
      assert.equal(queued.end, "reset");
      const logAtKill = await Deno.readTextFile(log);

      const restore = await driver.restore(1);
      assert.equal(restore.pid, pid);
      // The restored server's copy of the old connection is closed: it sees it end.
      const closed = await waitServerLog(
        log,
        "the restored server to see its old connection closed",
        new RegExp(`^closed ${oldFd} (\\S+)$`, "m"),
      );
      assert.ok(
        (await Deno.readTextFile(log)).startsWith(logAtKill),
        "the log was rewritten",
      );
      // The listening socket listens again: a new client gets the counter as it was dumped.
      const fresh = await LineClient.connect(port);
      clients.push(fresh);
      assert.equal(await fresh.next(), 4, "the restored counter is not the dumped one");
      assert.equal(await fresh.next(), 5);
      const second = await LineClient.connect(port);
      clients.push(second);
      assert.equal(await second.next(), 6);

      const exit = driver.waitExit(pid);
      await fresh.send("q");
      const end = await exit;
      const raw = await Deno.readTextFile(log);
      assert.deepEqual(end, { code: EXIT_DONE, signal: null }, `server ended:\n${tail(raw)}`);
      assert.doesNotMatch(raw, /^error/m, raw);
      pid = 0;
      console.log(
        `criu driver, TCP server (listening + 1 established): dump ${fmtMs(dump.ms)}, ` +
          `killTree ${fmtMs(killMs)}, restore ${fmtMs(restore.ms)}; ` +
          `old connection on the restored side: ${closed[1]}`,
      );
    } finally {
      for (const c of clients) c.close();
      await cleanup(driver, pid);
    }
  });
});

/** Runs `fn` with net.ipv4.tcp_migrate_req at `value` in this namespace, then puts it back. */
async function withTcpMigrate(value: string, fn: () => Promise<void>): Promise<void> {
  const path = "/proc/sys/net/ipv4/tcp_migrate_req";
  const was = (await Deno.readTextFile(path).catch((e) => {
    throw new Error(`${path}: ${e.message} (Linux 5.14 or later has it; the test needs it)`);
  })).trim();
  await Deno.writeTextFile(path, value);
  try {
    await fn();
  } finally {
    await Deno.writeTextFile(path, was);
  }
}

Deno.test("criu driver: a listening socket held through killTree queues clients during the restore and hands them over", async () => {
  // The handover moves the held socket's queue to the restored one: net.ipv4.tcp_migrate_req,
  // which a8 doctor recommends for the criu engine (set here for the test, then put back).
  await withTcpMigrate("1", () =>
    withRunDir("a8-criu-driver-hold-", async (dir) => {
      const driver = await openDriver(dir);
      let pid = 0;
      const held: number[] = [];
      const clients: LineClient[] = [];
      try {
        const log = `${dir}/server.log`;
        const { proc, port } = await startTcpServer(dir, log, "reuseport");
        pid = proc.pid;
        const first = await LineClient.connect(port);
        clients.push(first);
        assert.equal(await first.next(), 1);
        await driver.dump(pid, 1);
        assert.equal(await first.next(), 2, "the connection does not work after the dump");
        // What the criu engine notes after a dump: the listening socket alone.
        const sockets = reusableListeners(pid);
        assert.equal(sockets.size, 1, "the listening socket was not found");

        held.push(...await driver.killTree(pid, undefined, new Set(), sockets));
        assert.equal((await proc.status).signal, "SIGKILL");
        assert.equal(held.length, 1, "killTree did not hold the listening socket alone");
        // The established connection is aborted as ever; the port still takes clients.
        assert.equal(await first.readLine(), null);
        assert.equal(first.end, "reset");
        const waiting = await LineClient.connect(port);
        clients.push(waiting);

        // The restore binds the port beside the held socket (both have SO_REUSEPORT).
        assert.equal((await driver.restore(1)).pid, pid);
        for (const fd of held.splice(0)) closeFd(fd);
        assert.equal(await waiting.next(), 2, "the waiting client was not handed over");
        const fresh = await LineClient.connect(port);
        clients.push(fresh);
        assert.equal(await fresh.next(), 3);

        const exit = driver.waitExit(pid);
        await fresh.send("q");
        const raw = await Deno.readTextFile(log);
        assert.deepEqual(await exit, { code: EXIT_DONE, signal: null }, `server:\n${tail(raw)}`);
        pid = 0;
      } finally {
        for (const fd of held) closeFd(fd);
        for (const c of clients) c.close();
        await cleanup(driver, pid);
      }
    }));
});

Deno.test("criu driver: killTree holds only listening sockets with SO_REUSEPORT", async () => {
  await withRunDir("a8-criu-driver-nohold-", async (dir) => {
    const driver = await openDriver(dir);
    let pid = 0;
    try {
      const { proc, port } = await startTcpServer(dir, `${dir}/server.log`);
      pid = proc.pid;
      const client = await LineClient.connect(port);
      assert.equal(await client.next(), 1);
      // Without SO_REUSEPORT a held socket would keep the restore from binding its port.
      assert.equal(reusableListeners(pid).size, 0);
      const sockets = new Set(socketsOf(pid).map(([, target]) => target));
      assert.deepEqual(await driver.killTree(pid, undefined, new Set(), sockets), []);
      pid = 0;
      client.close();
      await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
    } finally {
      await cleanup(driver, pid);
    }
  });
});

Deno.test("criu driver: only the newest keepImages epochs stay, discardBelow drops older ones; a failed dump says why", async () => {
  await withRunDir("a8-criu-driver-keep-", async (dir) => {
    const driver = await openDriver(dir, 2);
    let root = 0;
    try {
      const log = `${dir}/tree.log`;
      const proc = spawnTree(log, `${dir}/stop`);
      root = proc.pid;
      await waitTreeLog(log, "the tree to start", (l) => last(l, "child") >= 1);
      const times: number[] = [];
      for (const epoch of [1, 2, 3]) times.push((await driver.dump(root, epoch)).ms);
      assert.deepEqual(driver.epochs(), [2, 3]);
      assert.ok(!(await Deno.stat(`${dir}/criu/1`).catch(() => null)), "epoch 1 is still there");
      assert.ok((await Deno.stat(`${dir}/criu/3/inventory.img`)).isFile);
      // A dump again at an epoch that exists replaces it.
      await driver.dump(root, 3);
      assert.deepEqual(driver.epochs(), [2, 3]);

      // A failed dump: a pid that surely is not running (one that just exited and was reaped).
      const gone = new Deno.Command("true").spawn();
      await gone.status;
      const err = await driver.dump(gone.pid, 4).then(() => null, (e) => e as Error);
      assert.ok(err, "the dump of a dead pid succeeded");
      assert.match(err.message, /checkpoint of pid \d+ at epoch 4 failed/);
      assert.match(err.message, /CRIU log \(last lines\)/);
      assert.match(err.message, /Error/);
      assert.deepEqual(driver.epochs(), [2, 3], "a failed dump touched the kept epochs");
      assert.ok((await Deno.stat(`${dir}/criu/failed-4/dump.log`)).isFile);
      await assert.rejects(() => driver.restore(1), /no images/);
      // A follower drops what its leader no longer needs.
      await driver.discardBelow(3);
      assert.deepEqual(driver.epochs(), [3]);

      await driver.killTree(root);
      assert.equal((await proc.status).signal, "SIGKILL");
      root = 0;
      console.log(`criu driver, 3 dumps of a running tree: ${times.map(fmtMs).join(", ")}`);
    } finally {
      await cleanup(driver, root);
    }
  });
});

/** Processes in `session`, from /proc (zombies included). */
function inSession(session: number): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const s = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      if (+f[3] === session) out.push(`${e.name} (${f[0]}, parent ${f[1]})`);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

Deno.test("criu driver: killTree gets orphans and processes forked while it runs", async () => {
  await withRunDir("a8-criu-driver-kill-", async (dir) => {
    const driver = await openDriver(dir);
    let root = 0;
    try {
      // The root's first child exits at once, leaving two orphans (re-parented to the agent,
      // its subreaper, and so no longer the root's descendants); then the root forks without
      // pause, so processes are born while killTree runs.
      const script = `sh -c 'sleep 60 & sleep 60 & exit 0'; echo ready > ${dir}/ready; ` +
        "while :; do sleep 60 & done";
      const proc = new Deno.Command("setsid", {
        args: ["sh", "-c", script],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      root = proc.pid;
      await waitFile(`${dir}/ready`, "the orphans");
      await sleep(50);
      const before = inSession(root).length;
      assert.ok(before >= 10, `only ${before} processes in the tree's session`);
      const orphans = inSession(root).filter((l) =>
        !l.startsWith(`${root} `) && l.endsWith(`parent ${Deno.pid})`)
      );
      assert.equal(orphans.length, 2, `orphans re-parented to the agent: ${orphans}`);
      const t0 = performance.now();
      await driver.killTree(root);
      const killMs = performance.now() - t0;
      assert.equal((await proc.status).signal, "SIGKILL");
      assert.deepEqual(inSession(root), [], "killTree left processes of the tree");
      root = 0;
      console.log(`criu driver: killTree of ${before}+ processes, forking: ${fmtMs(killMs)}`);
    } finally {
      await cleanup(driver, root);
    }
  });
});

/**
 * Runs tests/e2e/criu_stdio_agent.ts with its stdout on a pipe, or on a terminal (script(1)
 * gives it one): its variant inherits that stdout, as a8's variants inherit the agent's.
 */
async function runStdioAgent(dir: string, terminal: boolean) {
  const agent = `${REPO_ROOT}/tests/e2e/criu_stdio_agent.ts`;
  const run = [Deno.execPath(), "run", "-A", agent, dir];
  const [program, ...args] = terminal
    ? ["script", "-qec", run.map((a) => `'${a}'`).join(" "), "/dev/null"]
    : run;
  const out = await new Deno.Command("timeout", {
    args: [`${Math.round(ms(60_000) / 1000)}`, program, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const report = JSON.parse(
    await Deno.readTextFile(`${dir}/report.json`).catch(() =>
      `{"error": "no report; agent status ${out.code}: ${JSON.stringify(text(out.stderr))}"}`
    ),
  );
  return { out: text(out.stdout).replaceAll("\r", ""), report };
}

for (const terminal of [false, true]) {
  const what = terminal ? "a terminal" : "a pipe";
  Deno.test(`criu driver: a variant writing to the agent's stdout, ${what}, writes on after a restore`, async () => {
    await buildCriuPrograms();
    await withRunDir("a8-criu-driver-stdio-", async (dir) => {
      const { out, report } = await runStdioAgent(dir, terminal);
      assert.equal(report.error, undefined, `agent: ${report.error}\n${tail(out)}`);
      assert.equal(report.killed, "SIGKILL");
      assert.deepEqual(report.end, { code: EXIT_DONE, signal: null }, tail(out));
      // The variant's lines: 1, 2, ... up to the kill, then again from the dumped count on.
      const ns = out.split("\n").map((l) => /^out (\d+)$/.exec(l)?.[1]).filter(Boolean).map(Number);
      const drops = ns.flatMap((n, i) => (i > 0 && n <= ns[i - 1] ? [i] : []));
      assert.equal(drops.length, 1, `expected one restart in the output:\n${tail(out, 40)}`);
      const [k] = drops;
      ns.slice(0, k).forEach((n, i) => assert.equal(n, i + 1, "the first run skipped a count"));
      ns.slice(k).forEach((n, i) => assert.equal(n, ns[k] + i, "the restored run skipped one"));
      assert.ok(ns.length - k >= 10, `the restored variant wrote ${ns.length - k} lines`);
      console.log(
        `criu driver, variant on ${what}: dump ${fmtMs(report.dumpMs)}, restore ` +
          `${fmtMs(report.restoreMs)}; ${k} lines, then from ${ns[k]} on ${ns.length - k} more`,
      );
    });
  });
}

/** Spawns `argv` under pid `want` (ns_last_pid one below, root only): null if another fork won. */
function spawnAtPid(want: number, argv: string[]): Deno.ChildProcess | null {
  Deno.writeTextFileSync("/proc/sys/kernel/ns_last_pid", `${want - 1}`);
  const p = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "null", stderr: "null" })
    .spawn();
  if (p.pid === want) return p;
  p.kill("SIGKILL");
  return null;
}

Deno.test("criu driver: a restore whose pid a short-lived process holds is tried again", async () => {
  await withRunDir("a8-criu-driver-pid-taken-", async (dir) => {
    const driver = await openDriver(dir);
    let root = 0;
    try {
      const log = `${dir}/tree.log`;
      const proc = spawnTree(log, `${dir}/stop`);
      root = proc.pid;
      await waitTreeLog(log, "the tree to count", (l) => last(l, "root") >= 3);
      await driver.dump(root, 1);
      await driver.killTree(root);
      await proc.status;
      // Another process takes the root's pid for 100 ms: the first restore fails on it.
      let holder: Deno.ChildProcess | null = null;
      for (let i = 0; i < 20 && !holder; i++) holder = spawnAtPid(root, ["sleep", "0.1"]);
      assert.ok(holder, `could not start a process at pid ${root} (other processes forking)`);
      assert.ok(readStat(root), `pid ${root} is free again already: the test proves nothing`);
      const r = await driver.restore(1);
      assert.equal(r.pid, root);
      await holder.status;
      await waitTreeLog(log, "the restored tree to count", (l) => last(l, "root") >= 6);
      await driver.killTree(root);
      driver.close();
    } catch (e) {
      await cleanup(driver, root);
      throw e;
    }
  });
});
