/**
 * What the program left running when its first process ended. The run is that process's: a8
 * ends the rest with it, and says so, since a server that puts itself in the background
 * (nginx's default `daemon on`, lighttpd without -D) would otherwise seem to start and be
 * quietly gone.
 */
import type { ProcStat } from "../checkpoint/proc_tree.ts";

export interface LeftBehind {
  pid: number;
  /** Its stream, if its monitor had said hello. */
  stream?: string;
}

/**
 * The program's processes still running: those whose monitor is connected (`live`, which
 * finds one that left the group, as a daemon's setsid does) and the members of the root's
 * process group (which finds a child forked a moment ago, whose hello is not read yet), but
 * none of `ours` (the root, retired roots, checkpoint copies and keepers).
 */
export function leftBehind(
  procs: Map<number, ProcStat>,
  group: number,
  live: { pid: number; stream: string }[],
  ours: Set<number>,
): LeftBehind[] {
  const found = new Map<number, LeftBehind>();
  for (const p of procs.values()) {
    if (p.pgrp === group && running(p)) found.set(p.pid, { pid: p.pid });
  }
  for (const l of live) if (running(procs.get(l.pid))) found.set(l.pid, l);
  return [...found.values()].filter((l) => !ours.has(l.pid)).sort((a, b) => a.pid - b.pid);
}

function running(p: ProcStat | undefined): boolean {
  return p !== undefined && p.state !== "Z" && p.state !== "X";
}
