/**
 * The criu engine lets a stopped root finish an output its log marks as in flight, before the
 * kill. Real processes stand in for the monitor: a shell that stops itself, and, woken, clears
 * the mark in the log file as the monitor's a8_out_end does, then stops itself again.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../peer/test_helpers.ts";
import { killTree } from "./kill_tree.ts";
import { SETTLE_MS, settleOutput } from "./output_settle.ts";
import { readStat } from "./proc_tree.ts";

/** A log header: used, overflow, pad, then the mark (out_seq, live_pid, retired). */
function header(outSeq: number, livePid: number): Uint8Array {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  v.setBigUint64(16, BigInt(outSeq), true);
  v.setInt32(24, livePid, true);
  return b;
}

function mark(path: string): { outSeq: number; retired: number } {
  const v = new DataView(Deno.readFileSync(path).buffer);
  return { outSeq: Number(v.getBigUint64(16, true)), retired: v.getUint32(28, true) };
}

/** Stops itself; woken, runs `then` (with $F the log file), stops itself again, then sleeps. */
function spawnMonitorLike(then: string, file: string): Deno.ChildProcess {
  const script = `kill -STOP $$; ${then}; kill -STOP $$; exec sleep 30`;
  return new Deno.Command("sh", {
    args: ["-c", script],
    env: { F: file },
    stdin: "null",
  }).spawn();
}

async function waitState(pid: number, states: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = readStat(pid)?.state;
    if (s !== undefined && states.includes(s)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`pid ${pid} never showed state ${states} (now ${readStat(pid)?.state})`);
}

async function withChild(
  then: string,
  body: (pid: number, file: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "a8-settle-" });
  const child = spawnMonitorLike(then, `${dir}/out`);
  try {
    await waitState(child.pid, "Tt");
    await body(child.pid, `${dir}/replay-${child.pid}`, dir);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone already
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the monitor does once its output's record is logged: out_seq back to 0. */
const CLEAR = `printf '\\000\\000\\000\\000\\000\\000\\000\\000' | ` +
  `dd of="$(dirname "$F")/replay-$$" bs=1 seek=16 conv=notrunc status=none`;

Deno.test("a root stopped inside an output is woken to finish it, then left stopped", async () => {
  await withChild(CLEAR, async (pid, file, dir) => {
    Deno.writeFileSync(file, header(42, pid));
    const { logger, lines } = memoryLogger(1);
    // The shell takes longer than the monitor would to clear the mark: a generous limit.
    const outcome = await settleOutput(pid, dir, logger, 5000);
    assert.equal(outcome, "finished", lines.join("\n"));
    assert.deepEqual(mark(file), { outSeq: 0, retired: 1 });
    await waitState(pid, "Tt");
    assert.ok(lines.some((l) => l.includes("output in flight") && l.includes("finished")));
  });
});

Deno.test("a root that does not finish its output in time is stopped again", async () => {
  // Woken, it runs on and never clears the mark: only the agent can stop it again.
  await withChild("while :; do :; done", async (pid, file, dir) => {
    Deno.writeFileSync(file, header(7, pid));
    const t0 = performance.now();
    const outcome = await settleOutput(pid, dir, memoryLogger(1).logger);
    assert.equal(outcome, "gave-up");
    assert.ok(performance.now() - t0 >= SETTLE_MS);
    assert.equal(mark(file).outSeq, 7);
    await waitState(pid, "Tt");
  });
});

Deno.test("no mark, no log, or a mark of another process: the root is not woken", async () => {
  await withChild(CLEAR, async (pid, file, dir) => {
    const log = memoryLogger(1).logger;
    assert.equal(await settleOutput(pid, dir, log), "none"); // no log file
    Deno.writeFileSync(file, header(0, pid));
    assert.equal(await settleOutput(pid, dir, log), "none");
    Deno.writeFileSync(file, header(9, pid + 100000));
    assert.equal(await settleOutput(pid, dir, log), "none");
    assert.deepEqual(mark(file), { outSeq: 9, retired: 0 });
    // Still in its first stop: never woken, so it never cleared anything.
    assert.ok("Tt".includes(readStat(pid)?.state ?? "?"));
  });
});

Deno.test("killTree settles the root once the whole tree is stopped, then kills it", async () => {
  await withChild(CLEAR, async (pid, file) => {
    Deno.writeFileSync(file, header(5, pid));
    let stoppedAtSettle = false;
    let settled = -1;
    const gone = new Set<number>();
    const { logger } = memoryLogger(1);
    const killing = killTree(pid, {
      timeoutMs: 3000,
      spare: new Set(),
      log: logger,
      mayReap: () => false, // Deno reaps its own child
      gone: (p) => gone.add(p),
      settle: async (root) => {
        stoppedAtSettle = "Tt".includes(readStat(root)?.state ?? "?");
        settled = root;
        const dir = file.slice(0, file.lastIndexOf("/"));
        assert.equal(await settleOutput(root, dir, logger, 5000), "finished");
        return true;
      },
    });
    await killing;
    assert.equal(settled, pid);
    assert.ok(stoppedAtSettle);
    assert.ok(gone.has(pid));
    assert.equal(mark(file).outSeq, 0);
  });
});

Deno.test("killTree kills the tree even if the settle fails", async () => {
  await withChild(CLEAR, async (pid) => {
    const gone = new Set<number>();
    const { logger, lines } = memoryLogger(1);
    await killTree(pid, {
      timeoutMs: 3000,
      spare: new Set(),
      log: logger,
      mayReap: () => false,
      gone: (p) => gone.add(p),
      settle: () => Promise.reject(new Error("no log for you")),
    });
    assert.ok(gone.has(pid));
    assert.ok(lines.some((l) => l.includes("no log for you")), lines.join("\n"));
  });
});

/*
 * The other files that carry the same mark: a tree child's notes of its stdio writes, and a
 * follower root's note of how far it ran (redo.c); the monitor clears it once it has noted.
 */
for (
  const [who, file, seq] of [
    ["a tree child stopped inside a stdio write", "outs", 11],
    ["a follower root stopped inside an output of its own", "ran", 9],
  ] as const
) {
  Deno.test(`${who} is woken to note it, then left stopped`, async () => {
    await withChild(CLEAR.replace("/replay-", `/${file}-`), async (pid, _replay, dir) => {
      const path = `${dir}/${file}-${pid}`;
      Deno.writeFileSync(path, header(seq, pid));
      const outcome = await settleOutput(pid, dir, memoryLogger(1).logger, 5000);
      assert.equal(outcome, "finished");
      assert.deepEqual(mark(path), { outSeq: 0, retired: 1 });
      await waitState(pid, "Tt");
    });
  });
}

/** What a tree child's monitor does once its stdio write is noted (redo.c): the mark cleared. */
const CLEAR_OUTS = CLEAR.replace("/replay-", "/outs-");

Deno.test("killTree settles every process of the tree, not only the root", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a8-settle-tree-" });
  // The root waits for its child, which stands in for a tree child's monitor.
  const child = `kill -STOP $$; ${CLEAR_OUTS}; kill -STOP $$; exec sleep 30`;
  const root = new Deno.Command("sh", {
    args: ["-c", `sh -c '${child.replaceAll("'", "'\\''")}' & wait`],
    env: { F: `${dir}/out` },
    stdin: "null",
  }).spawn();
  try {
    let kid = 0;
    for (let i = 0; i < 200 && !kid; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const c = Deno.readTextFileSync(`/proc/${root.pid}/task/${root.pid}/children`).trim();
      if (c && "Tt".includes(readStat(+c)?.state ?? "?")) kid = +c;
    }
    assert.ok(kid, "the child never stopped itself");
    Deno.writeFileSync(`${dir}/outs-${kid}`, header(3, kid));
    const { logger } = memoryLogger(1);
    const settled: number[] = [];
    await killTree(root.pid, {
      timeoutMs: 3000,
      spare: new Set(),
      log: logger,
      mayReap: () => false,
      gone: () => {},
      settle: async (p) => {
        settled.push(p);
        return (await settleOutput(p, dir, logger, 5000)) !== "none";
      },
    });
    assert.deepEqual(settled.sort(), [root.pid, kid].sort());
    assert.equal(mark(`${dir}/outs-${kid}`).outSeq, 0, "the child did not note its write");
  } finally {
    await root.status;
    await Deno.remove(dir, { recursive: true });
  }
});
