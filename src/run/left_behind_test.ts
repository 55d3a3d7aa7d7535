import assert from "node:assert/strict";
import type { ProcStat } from "../checkpoint/proc_tree.ts";
import { leftBehind } from "./left_behind.ts";

const proc = (pid: number, pgrp: number, state = "S"): [number, ProcStat] => [
  pid,
  { pid, state, ppid: 1, pgrp, session: pgrp, start: 0 },
];

Deno.test("leftBehind: the root's group and the connected monitors, less a8's and the ended", () => {
  const procs = new Map([
    proc(100, 100), // the root (ours)
    proc(101, 100), // a child forked a moment ago: no hello read yet
    proc(102, 100, "Z"), // ended, not reaped
    proc(103, 100), // a checkpoint copy (ours)
    proc(200, 200), // a daemon that left the group (setsid), its monitor connected
    proc(300, 300), // not the program's
  ]);
  const live = [{ pid: 200, stream: "0.1" }, { pid: 400, stream: "0.2" }]; // 400: gone
  assert.deepEqual(leftBehind(procs, 100, live, new Set([100, 103])), [
    { pid: 101 },
    { pid: 200, stream: "0.1" },
  ]);
  assert.deepEqual(leftBehind(new Map([proc(100, 100)]), 100, [], new Set([100])), []);
});
