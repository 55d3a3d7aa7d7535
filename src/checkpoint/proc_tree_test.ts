/**
 * proc_tree.ts's incremental scans (killTree's later scans): what is read again, on real
 * processes. A pid the kernel hands out again after a scan must be read again, or a new child
 * of the tree could hide behind a dead process's entry and survive the kill.
 */
import { assert } from "../../tests/e2e/harness.ts";
import { handedOutBetween, type ProcStat, snapshotProc, waitsForChild } from "./proc_tree.ts";

Deno.test("handedOutBetween: the pids after `from` up to `to`, across the wrap at pid_max", () => {
  assert.ok(handedOutBetween(101, 100, 105));
  assert.ok(handedOutBetween(105, 100, 105));
  assert.ok(!handedOutBetween(100, 100, 105));
  assert.ok(!handedOutBetween(106, 100, 105));
  assert.ok(!handedOutBetween(5, 100, 105));
  // Wrapped: after 32000 came 301 .. 400.
  assert.ok(handedOutBetween(32767, 32000, 400));
  assert.ok(handedOutBetween(301, 32000, 400));
  assert.ok(!handedOutBetween(401, 32000, 400));
  assert.ok(!handedOutBetween(20000, 32000, 400));
  assert.ok(!handedOutBetween(200, 200, 200)); // nothing handed out
});

Deno.test("snapshotProc: entries of pids handed out since the last scan are read again; others are kept", async () => {
  const first = snapshotProc();
  assert.ok(first.lastPid !== null, "no /proc/sys/kernel/ns_last_pid");
  assert.equal(first.procs.get(Deno.pid)?.pid, Deno.pid);
  // Pretend the next pids belonged to processes that are gone, as after a wrap of pid_max: a
  // stale entry of a dead process, with another parent, for each of them.
  const fake = (pid: number): ProcStat => ({
    pid,
    state: "S",
    ppid: 999999,
    pgrp: 999999,
    session: 999999,
    start: 0,
  });
  // Only pids free at the first scan: after a wrap, a process made before it may hold a pid
  // above the last one handed out, and its entry is rightly kept.
  const prev = { procs: new Map(first.procs), lastPid: first.lastPid };
  const faked = new Set<number>();
  for (let pid = first.lastPid! + 1; pid <= first.lastPid! + 64; pid++) {
    if (first.procs.has(pid)) continue;
    prev.procs.set(pid, fake(pid));
    faked.add(pid);
  }
  assert.ok(faked.size > 0, "every pid after the last one handed out is taken");
  // An entry from before the scan is kept as it was (it is not read again).
  const old = [...first.procs.keys()].find((pid) => pid < first.lastPid! && pid !== Deno.pid)!;
  prev.procs.set(old, { ...first.procs.get(old)!, state: "kept" });

  const child = new Deno.Command("sleep", { args: ["5"] }).spawn();
  try {
    const next = snapshotProc(prev, new Set([Deno.pid]));
    const seen = next.procs.get(child.pid);
    assert.equal(seen?.ppid, Deno.pid, `the new child's entry: ${JSON.stringify(seen)}`);
    assert.equal(next.procs.get(old)?.state, "kept");
    assert.notEqual(next.procs.get(Deno.pid)?.state, undefined);
    for (const [pid, p] of next.procs) {
      if (faked.has(pid)) {
        assert.notEqual(p.ppid, 999999, `pid ${pid} kept a dead process's entry`);
      }
    }
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("waitsForChild: bash in wait (wait4) for its child is, a sleeping process is not", async () => {
  const parent = new Deno.Command("bash", { args: ["-c", "sleep 30 & wait"], stdin: "null" })
    .spawn();
  const sleeper = new Deno.Command("sleep", { args: ["30"], stdin: "null" }).spawn();
  try {
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) {
      seen = waitsForChild(parent.pid);
      if (!seen) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(seen, "the shell never showed as waiting for its child");
    assert.equal(waitsForChild(sleeper.pid), false);
    assert.equal(waitsForChild(2 ** 22 + 1), false, "no such process");
  } finally {
    for (const c of [parent, sleeper]) c.kill("SIGKILL");
    await Promise.all([parent.status, sleeper.status]);
  }
});
