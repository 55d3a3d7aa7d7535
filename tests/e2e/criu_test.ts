/**
 * CRIU through ffi/libcriu.ts on this machine's kernel: the project's CRIU is installed and
 * works, and a real two-process tree (tests/criu/tree.c) is dumped, killed, restored as the test
 * process's child and carries on from its dumped state. These tests fail, never skip, when CRIU
 * is missing: the criu checkpoint engine depends on it.
 */
import { CriuError, type DumpResult, Libcriu } from "../../ffi/libcriu.ts";
import { criuBinaries, projectCriuBinary } from "../../ffi/criu_paths.ts";
import {
  type ExitStatus,
  isChildSubreaper,
  kill,
  processExists,
  setChildSubreaper,
  SIGNALS,
  waitExit,
} from "../../ffi/libc.ts";
import {
  assertContinuous,
  buildCriuPrograms as buildPrograms,
  EXIT_DONE,
  fmtMs as fmt,
  last,
  readTreeLog as readLog,
  TCP_CLIENT,
  TREE,
  waitTreeLog as waitLog,
} from "./criu_programs.ts";
import { assert, ms, tail, text, withRunDir } from "./harness.ts";

/** Loads libcriu, or fails saying how to install it. */
function openCriu(): Libcriu {
  try {
    return Libcriu.open();
  } catch (e) {
    throw new Error(`${(e as Error).message}\nCRIU is missing: run scripts/criu.sh (as root)`);
  }
}

Deno.test("the project's CRIU is installed, criu check passes, libcriu talks to it", async () => {
  const found = criuBinaries();
  assert.equal(
    found[0],
    projectCriuBinary(),
    `${projectCriuBinary()} is missing (found: ${found.join(", ") || "none"}): run scripts/criu.sh`,
  );
  const criu = openCriu();
  try {
    assert.equal(criu.serviceBinary, projectCriuBinary());
    const version = await criu.version();
    assert.ok(version >= 40000, `CRIU ${version} is older than 4.0`);
    await criu.check();
    console.log(`libcriu ${criu.path} -> ${criu.serviceBinary}, CRIU ${version}: check passes`);
  } finally {
    criu.close();
  }
});

Deno.test("a failed dump says why, with the end of CRIU's log", async () => {
  const criu = openCriu();
  try {
    await withRunDir("a8-criu-fail-", async (dir) => {
      // A pid that surely is not running: one that just exited and was reaped.
      const gone = new Deno.Command("true").spawn();
      await gone.status;
      const err = await criu.dump({ pid: gone.pid, imagesDir: dir }).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof CriuError, `dump of a dead pid: ${err}`);
      assert.equal(err.code, -52);
      assert.match(err.message, /CRIU reported failure/);
      assert.match(err.logTail, /Error/, err.message);
    });
  } finally {
    criu.close();
  }
});

/** Kills and reaps whatever of the tree is still there (after a failure). */
function killTree(pids: number[]) {
  for (const pid of pids) {
    try {
      if (processExists(pid)) kill(pid, SIGNALS.SIGKILL);
      waitExit(pid, 0).catch(() => {});
    } catch {
      // Not ours or already gone.
    }
  }
}

Deno.test("dump, kill and restore a two-process tree; it carries on from its dumped state", async () => {
  await buildPrograms();
  const criu = openCriu();
  const wasSubreaper = isChildSubreaper();
  // The dumped tree's child is re-parented to us when CRIU kills its root: we reap it, and so
  // its pid is free again for the restore, as the agent must do.
  setChildSubreaper(true);
  const pids: number[] = [];
  try {
    await withRunDir("a8-criu-tree-", async (dir) => {
      const log = `${dir}/tree.log`;
      const stop = `${dir}/stop`;
      const images = `${dir}/images`;
      const images2 = `${dir}/images2`;
      await Deno.mkdir(images);
      await Deno.mkdir(images2);

      const proc = new Deno.Command(TREE, {
        args: [log, stop],
        stdin: "null",
        // No pipes to us: CRIU would restore them unconnected (tree.c reports through its log).
        stdout: "null",
        stderr: "null",
      }).spawn();
      const root = proc.pid;
      pids.push(root);
      let before = await waitLog(
        log,
        "both processes to count to 10",
        (l) => last(l, "root") >= 10 && last(l, "child") >= 10,
      );
      const child = before.lines.find((l) => l.role === "child")!.pid;
      pids.push(child);

      const dump: DumpResult = await criu.dump({ pid: root, imagesDir: images });

      // The tree is gone: the root was Deno's child, the child is now ours to reap.
      const rootStatus = await proc.status;
      assert.equal(rootStatus.signal, "SIGKILL", `root after dump: ${JSON.stringify(rootStatus)}`);
      const childStatus = await waitExit(child, ms(2000));
      assert.equal(childStatus?.signal, SIGNALS.SIGKILL, `child after dump: ${childStatus}`);
      assert.ok(!processExists(root) && !processExists(child), "the tree outlived its dump");
      before = await readLog(log);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await readLog(log)).lines.length, before.lines.length, "the log still grows");
      const dumpedRoot = last(before.lines, "root");
      const dumpedChild = last(before.lines, "child");

      const restored = await criu.restore({ imagesDir: images });
      assert.equal(restored.pid, root, "the restored root has another pid");
      await waitLog(
        log,
        "both restored processes to count on",
        (l) => last(l, "root") >= dumpedRoot + 5 && last(l, "child") >= dumpedChild + 5,
      );

      // A second dump leaves the restored tree running: the warm figure, and leave_running.
      const again = await criu.dump({ pid: root, imagesDir: images2, leaveRunning: true });
      const atSecond = await readLog(log);
      await waitLog(
        log,
        "the tree to run on after a leave-running dump",
        (l) => last(l, "root") >= last(atSecond.lines, "root") + 5,
      );

      await Deno.writeTextFile(stop, "");
      const end: ExitStatus | null = await waitExit(root, ms(5000));
      const final = await readLog(log);
      const raw = await Deno.readTextFile(log);
      assert.ok(end, `the restored root did not exit:\n${tail(raw)}`);
      assert.deepEqual(final.errors, [], `tree.c reported errors:\n${tail(raw)}`);
      assert.equal(end.code, EXIT_DONE, `restored root ended ${JSON.stringify(end)}`);
      assert.ok(final.done, "no done line");
      assertContinuous(final.lines, "root", root);
      assertContinuous(final.lines, "child", child, root);
      assert.ok(last(final.lines, "root") > dumpedRoot + 5);

      console.log(
        `CRIU 2-process tree: dump ${fmt(dump.ms)} (kill), restore ${fmt(restored.ms)}, ` +
          `dump ${fmt(again.ms)} (leave running); counts at dump: root ${dumpedRoot}, ` +
          `child ${dumpedChild}; at the end: root ${last(final.lines, "root")}, ` +
          `child ${last(final.lines, "child")}`,
      );
    });
  } finally {
    killTree(pids);
    if (!wasSubreaper) setChildSubreaper(false);
    criu.close();
  }
});

/**
 * The server side of tests/criu/tcp_client.c, here in the test process, outside the dumped
 * tree: it records the numbers the client sends and acknowledges each one.
 */
class CountServer {
  readonly seen: number[] = [];
  #closing = false;
  readonly done: Promise<void>;

  constructor(private conn: Deno.Conn) {
    this.done = this.#serve();
  }

  async #serve() {
    const buf = new Uint8Array(4096);
    let pending = "";
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) return;
        pending += text(buf.subarray(0, n));
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const l of lines) {
          this.seen.push(Number(l));
          await this.conn.write(new Uint8Array([107]));
        }
      }
    } catch (e) {
      if (!this.#closing) throw e;
    }
  }

  /** Closing is what tells the client to stop. */
  async close() {
    this.#closing = true;
    this.conn.close();
    await this.done;
  }

  async waitFor(count: number, what: string, timeoutMs = ms(5000)) {
    const deadline = Date.now() + timeoutMs;
    while (this.seen.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}: ${this.seen.length} numbers so far`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

Deno.test("an established TCP connection survives dump and restore (nftables lock)", async () => {
  await buildPrograms();
  const criu = openCriu();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let server: CountServer | null = null;
  let pid = 0;
  try {
    await withRunDir("a8-criu-tcp-", async (images) => {
      const proc = new Deno.Command(TCP_CLIENT, {
        args: [`${listener.addr.port}`],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      pid = proc.pid;
      server = new CountServer(await listener.accept());
      await server.waitFor(10, "the first numbers");

      // iptables, CRIU's default lock, is not installed here; nftables is built into criu.
      const tcp = { tcpEstablished: true, networkLock: "nftables" as const };
      const dump = await criu.dump({ pid, imagesDir: images, ...tcp });
      assert.equal((await proc.status).signal, "SIGKILL");
      const atDump = server.seen.length;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(server.seen.length, atDump, "numbers arrived from a dumped client");

      const restored = await criu.restore({ imagesDir: images, ...tcp });
      assert.equal(restored.pid, pid);
      await server.waitFor(atDump + 10, "numbers from the restored client");
      await server.close();
      const end = await waitExit(pid, ms(5000));
      assert.equal(end?.code, EXIT_DONE, `restored client ended ${JSON.stringify(end)}`);
      server.seen.forEach((n, i) => assert.equal(n, i + 1, `number ${i + 1} arrived as ${n}`));
      console.log(
        `CRIU TCP client: dump ${fmt(dump.ms)}, restore ${fmt(restored.ms)}; ` +
          `${atDump} numbers before the dump, ${server.seen.length} in all, one connection`,
      );
    });
  } finally {
    if (pid) killTree([pid]);
    await (server as CountServer | null)?.close().catch(() => {});
    listener.close();
    criu.close();
  }
});
