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
  return snapshotProc().procs;
}

/** A scan of /proc, with the last pid the kernel had handed out when it began. */
export interface ProcSnapshot {
  procs: Map<number, ProcStat>;
  /** /proc/sys/kernel/ns_last_pid before the listing; null if it could not be read. */
  lastPid: number | null;
}

function lastPid(): number | null {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/kernel/ns_last_pid"));
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * Whether the kernel may have handed out `pid` after it had handed out `from`, up to `to`:
 * pids go up from the last one handed out and start again low at pid_max.
 */
export function handedOutBetween(pid: number, from: number, to: number): boolean {
  return to >= from ? pid > from && pid <= to : pid > from || pid <= to;
}

/**
 * A scan of /proc. With `prev`, it reads again only the pids in `reread` and those that may
 * belong to a process made since `prev` (absent from it, or handed out since it began: pids are
 * reused, and pid_max is 32768 here); the others keep their entry in `prev`. Reading every
 * /proc/<pid>/stat costs ~50 µs a pid (3-8 ms a scan here under load).
 */
export function snapshotProc(
  prev?: ProcSnapshot,
  reread: { has(pid: number): boolean } = new Set(),
): ProcSnapshot {
  const before = lastPid();
  const names = [...Deno.readDirSync("/proc")].map((e) => e.name).filter((n) => /^\d+$/.test(n));
  const after = lastPid();
  const from = prev?.lastPid ?? null;
  const stale = (pid: number) =>
    from === null || after === null || reread.has(pid) || handedOutBetween(pid, from, after);
  const procs = new Map<number, ProcStat>();
  for (const name of names) {
    const pid = +name;
    const st = (!stale(pid) && prev?.procs.get(pid)) || readStat(pid);
    if (st) procs.set(pid, st);
  }
  return { procs, lastPid: before };
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
  return fdTargets(pid).filter(([, target]) => target.startsWith("socket:"));
}

/** `pid`'s open fds and what each names (/proc/PID/fd links); empty if it is gone. */
export function fdTargets(pid: number): [number, string][] {
  const out: [number, string][] = [];
  let fds: Deno.DirEntry[];
  try {
    fds = [...Deno.readDirSync(`/proc/${pid}/fd`)];
  } catch {
    return out;
  }
  for (const e of fds) {
    try {
      out.push([+e.name, Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`)]);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

/** wait4 and waitid, by the agent's ISA (the same as its variant's). */
const WAIT_FOR_CHILD: Record<string, number[]> = { x86_64: [61, 247], aarch64: [260, 95] };

/**
 * Whether `pid` is blocked waiting for a child (wait4, waitid; /proc/PID/syscall names the
 * call a blocked process is in). False when it runs, is gone, or the ISA is unknown.
 */
export function waitsForChild(pid: number): boolean {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/syscall`);
  } catch {
    return false;
  }
  const nr = Number(text.split(" ", 1)[0]);
  return (WAIT_FOR_CHILD[Deno.build.arch] ?? []).includes(nr);
}

/** Waits up to `ms` for `pid` to be free: who held it (its command name), and if it is free now. */
export async function waitPidFree(
  pid: number,
  ms: number,
): Promise<{ pid: number; holder: string; free: boolean }> {
  let holder = "?";
  try {
    holder = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch { /* gone already */ }
  for (let waited = 0; waited < ms && readStat(pid); waited += 10) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pid, holder, free: readStat(pid) === null };
}
