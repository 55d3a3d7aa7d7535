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

/**
 * The children of every thread of `pid` (/proc/<pid>/task/<tid>/children: CONFIG_PROC_CHILDREN,
 * which CRIU needs too); none when it is gone. Reading these instead of every process's stat
 * keeps a tree walk as cheap on a machine with thousands of processes as on an idle one (a
 * full scan of /proc took ~2 ms here with 64 processes, twice per kill of a tree).
 */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: Deno.DirEntry[];
  try {
    tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
  } catch {
    return out;
  }
  for (const t of tasks) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`);
    } catch {
      continue; // the thread ended
    }
    for (const c of text.split(" ")) if (c.trim()) out.push(+c);
  }
  return out;
}

/**
 * `roots` and their descendants, each once, parents before their children, with what /proc
 * says of each. Zombies only with `zombies` (a zombie's pid is taken until it is reaped).
 */
export function descendants(roots: number[], zombies = false): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  const todo = [...roots];
  while (todo.length) {
    const pid = todo.shift()!;
    if (out.has(pid)) continue;
    const st = readStat(pid);
    const dead = st?.state === "Z" || st?.state === "X";
    if (!st || (dead && !zombies)) continue;
    out.set(pid, st);
    if (!dead) todo.push(...childrenOf(pid));
  }
  return out;
}

/** `root` and its running descendants, root first (empty when root is gone or a zombie). */
export function treeOf(root: number): number[] {
  return [...descendants([root]).keys()];
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
