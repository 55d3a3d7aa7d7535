/**
 * Processes as /proc shows them: what the agent needs to find a variant's process tree (CRIU
 * dumps, restores and kills whole trees; a tree checkpoint asks every process of it).
 */

export interface ProcStat {
  pid: number;
  /** R, S, D, T, t, Z, ... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Start time in clock ticks after boot: with the pid, names one process (pids are reused). */
  start: number;
}

export function readStat(pid: number): ProcStat | null {
  let s: string;
  try {
    s = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name is in parentheses and may hold anything, ')' and spaces included.
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { pid, state: f[0], ppid: +f[1], pgrp: +f[2], session: +f[3], start: +f[19] };
}

export function scanProc(): Map<number, ProcStat> {
  return rescanProc(new Map(), new Set());
}

/**
 * A scan that reads again only the pids in `reread` and those not in `prev` (new processes);
 * the others keep their entry in `prev`. Reading every /proc/<pid>/stat costs ~50 µs a pid
 * (3-8 ms a scan here); a caller that needs only some processes' news passes the rest on.
 */
export function rescanProc(
  prev: ReadonlyMap<number, ProcStat>,
  reread: ReadonlySet<number>,
): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = +e.name;
    const st = !reread.has(pid) && prev.get(pid) || readStat(pid);
    if (st) all.set(pid, st);
  }
  return all;
}

/** `root` and its descendants, by parent pid, root first (empty when root is gone). */
export function treeOf(root: number): number[] {
  const all = scanProc();
  if (!all.has(root)) return [];
  const children = new Map<number, number[]>();
  for (const p of all.values()) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.shift()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) {
      if (all.get(c)?.state !== "Z") todo.push(c);
    }
  }
  return out;
}

/** The sockets a process holds: fd number and "socket:[inode]"; none when it is gone. */
export function socketsOf(pid: number): [number, string][] {
  const out: [number, string][] = [];
  let fds: Deno.DirEntry[];
  try {
    fds = [...Deno.readDirSync(`/proc/${pid}/fd`)];
  } catch {
    return out;
  }
  for (const e of fds) {
    try {
      const target = Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
      if (target.startsWith("socket:")) out.push([+e.name, target]);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}
