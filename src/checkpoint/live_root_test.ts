/**
 * A rollback stops the live root at once and kills it only once its replacement serves (or
 * the rollback is given up): real processes, their state read from /proc.
 */
import assert from "node:assert/strict";
import type { ProgramHandle } from "../launch/spawn.ts";
import { LiveRoot } from "./live_root.ts";
import { readStat } from "./proc_tree.ts";

function spawnSleep(): ProgramHandle {
  const child = new Deno.Command("sleep", { args: ["30"], stdin: "null" }).spawn();
  return { pid: child.pid, status: child.status, child, killTree: () => {} };
}

async function killAll(handles: ProgramHandle[]): Promise<void> {
  for (const h of handles) {
    try {
      h.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  await Promise.all(handles.map((h) => h.status));
}

/** Alive and neither stopped nor dead. */
function running(pid: number): boolean {
  const state = readStat(pid)?.state;
  return state !== undefined && !"TtZX".includes(state);
}

/** Waits (up to 2 s) for `pid` to show `state` in /proc. */
async function waitState(pid: number, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (readStat(pid)?.state === state) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`pid ${pid} never showed state ${state} (now ${readStat(pid)?.state})`);
}

Deno.test("a retired root is stopped, and killed once its replacement serves", async () => {
  const old = spawnSleep();
  const next = spawnSleep();
  const root = new LiveRoot(old);
  try {
    root.retire();
    assert.ok(root.retired.has(old.pid));
    await waitState(old.pid, "T");
    root.replace(next.pid, next.status.then((s) => s.code));
    assert.equal((await old.status).signal, "SIGKILL");
    assert.equal(root.pid, next.pid);
    assert.ok(running(next.pid), "the new root runs on");
  } finally {
    await killAll([old, next]);
  }
});

Deno.test("a rollback given up kills the root it stopped; retire(false) leaves it alone", async () => {
  const stopped = spawnSleep();
  const left = spawnSleep();
  try {
    const a = new LiveRoot(stopped);
    a.retire();
    await waitState(stopped.pid, "T");
    a.killRetired();
    assert.equal((await stopped.status).signal, "SIGKILL");

    const b = new LiveRoot(left);
    b.retire(false);
    b.killRetired();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(running(left.pid), "retire(false) signalled the root");
  } finally {
    await killAll([stopped, left]);
  }
});
