/**
 * Killing a variant's process tree so that CRIU can restore a checkpoint of it: every pid of the
 * tree must be free again (CRIU restores each process under its old pid), and no socket of the
 * killed tree may hold on to a port the restore listens on.
 *
 * The tree is the root, its descendants (ppid links in /proc), and every process in the root's
 * session or process group (so orphans that were re-parented to the agent are not missed). It
 * is first stopped with SIGSTOP until a scan finds no new member, so no process can fork a new
 * one between the scan and the kill.
 */
import {
  closeFd,
  getsockoptInt,
  kill,
  killGroup,
  LibcError,
  pidfdGetfd,
  pidfdOpen,
  setLinger,
  SIGNALS,
  SOCKET,
  waitpidNoHang,
} from "../../ffi/libc.ts";
import type { Logger } from "../log.ts";
import {
  type ProcSnapshot,
  type ProcStat,
  readStat,
  snapshotProc,
  socketsOf,
} from "./proc_tree.ts";

export interface KillTreeOptions {
  /** Throw if pids are still taken after this long. */
  timeoutMs: number;
  /** Sockets ("socket:[inode]") whose connections must not be aborted (another process holds them on). */
  spare: ReadonlySet<string>;
  /**
   * Sockets ("socket:[inode]") to hold open past the kill if they are listening with
   * SO_REUSEPORT set: their port keeps queueing clients while the tree is restored (the
   * restore binds it again beside them). killTree returns the fds it holds them by.
   */
  hold?: ReadonlySet<string>;
  log: Logger;
  /**
   * Whether the agent may reap `pid`, a zombie child of the agent, with waitpid: not one that
   * Deno spawned (Deno reaps it: its `status` resolves with SIGKILL), nor one another wait
   * reaps (it then resolves with SIGKILL).
   */
  mayReap(pid: number): boolean;
  /** `pid` of the tree is gone (reaped here or elsewhere). */
  gone(pid: number): void;
  /**
   * Called with each process once the whole tree is stopped, before the kill: it may be let
   * finish an output it was making (output_settle.ts); it must be left stopped. True if it was
   * woken (the tree is then stopped again, a child it made included).
   */
  settle?(pid: number): Promise<boolean>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `send`; a process (or group) that is already gone is no error. False if it was. */
function unlessGone(send: () => void): boolean {
  try {
    send();
    return true;
  } catch (e) {
    if (!(e instanceof LibcError && e.errno === 3 /* ESRCH */)) throw e;
    return false;
  }
}

/**
 * Sends a signal; a process that is already gone is no error (the tree is dying anyway).
 * False if it was gone.
 */
export function signal(pid: number, sig: number): boolean {
  return unlessGone(() => kill(pid, sig));
}

/**
 * SIGKILLs the tree rooted at `rootPid` and waits until all of its pids are free. Returns the
 * fds of the `hold` sockets it holds, for the caller to close.
 */
export async function killTree(rootPid: number, o: KillTreeOptions): Promise<number[]> {
  if (!Number.isInteger(rootPid) || rootPid <= 1 || rootPid === Deno.pid) {
    throw new RangeError(`bad root pid ${rootPid}`);
  }
  const t0 = performance.now();
  const deadline = t0 + o.timeoutMs;
  const self = Deno.pid;
  const tree = new Map<number, ProcStat>();
  const root = readStat(rootPid);
  if (root) tree.set(rootPid, root);
  const member = (p: ProcStat) =>
    p.pid !== self &&
    (tree.has(p.ppid) || p.session === rootPid || p.pgrp === rootPid);

  // 1. Stop: scan, add members, SIGSTOP those not stopped, until a scan in which every
  // member already showed stopped (or dead) and none was new.
  // Only new processes can join the tree between scans (a process cannot enter another's
  // session, a group only within its own session, and an orphan goes to the agent or
  // init): later scans read only pids of processes that may be new, and the members' state.
  let scans = 0;
  let snap: ProcSnapshot | undefined;
  // The variant's processes form one group (preload/core/init.c): one kill stops them all at
  // once, so the first scan mostly finds them stopped already (a scan takes 2-5 ms, and each
  // process it stops costs a 1 ms wait and another scan).
  if (root?.pgrp === rootPid) unlessGone(() => killGroup(rootPid, SIGNALS.SIGSTOP));
  const stopAll = async () => {
    for (;;) {
      scans++;
      snap = snapshotProc(snap, tree);
      const procs = snap.procs;
      let grew = true;
      while (grew) {
        grew = false;
        for (const p of procs.values()) {
          if (!tree.has(p.pid) && member(p)) {
            tree.set(p.pid, p);
            grew = true;
          }
        }
      }
      let running = 0;
      for (const [pid, known] of tree) {
        const p = procs.get(pid);
        if (!p || p.start !== known.start || p.state === "Z" || p.state === "X") continue;
        if (p.state === "T" || p.state === "t") continue;
        running++;
        signal(pid, SIGNALS.SIGSTOP);
      }
      if (running === 0) return;
      if (performance.now() > deadline) return; // Kill what we have; the reaping reports.
      await sleep(1);
    }
  };
  await stopAll();
  const settling = performance.now();

  // 2. An output a process was making must not be made twice after the restore (a leader
  // process replays its log, the others note their stdio writes). Woken, a process may have forked
  // meanwhile: the tree is stopped again. A failed settle costs that output (its connection
  // is closed after the replay, or a line is printed twice), not the rollback.
  if (o.settle) {
    let woke = false;
    for (const [pid, known] of [...tree]) {
      // A member that ended may have left its mark; its pid may be another process's now.
      if (readStat(pid)?.start !== known.start) continue;
      try {
        woke = (await o.settle(pid)) || woke;
      } catch (e) {
        woke = true;
        o.log.warn("cannot let a process finish its output", {
          pid,
          error: (e as Error).message,
        });
      }
    }
    if (woke) await stopAll();
  }

  // 3. Abort the tree's TCP connections when it dies (see abortOnClose), then kill:
  // SIGKILL ends stopped processes too.
  const stopped = performance.now();
  const alive = [...tree].filter(([pid, known]) => readStat(pid)?.start === known.start);
  const aborted = new Set<string>(o.spare);
  const held: Held = { wanted: o.hold ?? new Set(), fds: [] };
  let killed = stopped;
  try {
    for (const [pid] of alive) abortOnClose(pid, aborted, held, o.log);
    for (const [pid] of alive) signal(pid, SIGNALS.SIGKILL);
    // 4. Reap until every member's pid is gone.
    killed = performance.now();
    await reapAll(rootPid, tree, deadline, o);
  } catch (e) {
    // Nobody would close them: the port would queue clients that nobody accepts.
    for (const fd of held.fds) closeFd(fd);
    throw e;
  }
  o.log.info("criu kill tree", {
    pid: rootPid,
    processes: tree.size,
    tcp_sockets: aborted.size - o.spare.size - held.fds.length,
    listeners_held: held.fds.length,
    ms: Math.round(performance.now() - t0),
    scans,
    stop_ms: Math.round(settling - t0),
    settle_ms: Math.round(stopped - settling),
    abort_ms: Math.round(killed - stopped),
  });
  return held.fds;
}

/** Waits until every process of `tree` is gone, reaping those the agent may reap. */
async function reapAll(
  rootPid: number,
  tree: ReadonlyMap<number, ProcStat>,
  deadline: number,
  o: KillTreeOptions,
): Promise<void> {
  const self = Deno.pid;
  const pending = new Map(tree);
  let nudged = performance.now();
  for (;;) {
    for (const [pid, known] of pending) {
      const p = readStat(pid);
      if (!p || p.start !== known.start) {
        pending.delete(pid);
        o.gone(pid);
        continue;
      }
      if (p.state === "Z" && p.ppid === self && !o.mayReap(pid)) {
        nudged = nudgeReaper(nudged);
        continue;
      }
      if (p.state !== "Z" || p.ppid !== self || !o.mayReap(pid)) continue;
      try {
        if (waitpidNoHang(pid)) {
          pending.delete(pid);
          o.gone(pid);
        }
      } catch (e) {
        // ECHILD: someone else reaped it between the stat and the wait; it is gone.
        if (!(e instanceof LibcError && e.errno === 10)) throw e;
      }
    }
    if (pending.size === 0) break;
    if (performance.now() > deadline) {
      const left = [...pending.keys()].map((pid) => {
        const p = readStat(pid);
        return p ? `${pid} (state ${p.state}, parent ${p.ppid})` : `${pid}`;
      });
      throw new Error(
        `killTree(${rootPid}): after ${o.timeoutMs} ms these pids are still taken: ` +
          left.join(", "),
      );
    }
    await sleep(2);
  }
}

/** SIGCHLD, the same number on x86_64 and aarch64. */
const SIGCHLD = 17;
/** How long a child Deno should reap may stay a zombie before Deno is told again. */
const NUDGE_MS = 250;

/**
 * A zombie child of the agent that Deno spawned is Deno's to reap, when it hears SIGCHLD. Once
 * in a full test suite one stayed a zombie for the whole 5 s time-out (criu_driver_test.ts, the
 * variant on a pipe; 12 of 12 alone passed). I did not find why its SIGCHLD went unheard (the
 * agent also forks CRIU's workers through libcriu, which waits for them itself). Another
 * SIGCHLD makes Deno look at its children again; a spurious one is harmless. Returns when it
 * last did.
 */
function nudgeReaper(last: number): number {
  if (performance.now() - last < NUDGE_MS) return last;
  kill(Deno.pid, SIGCHLD);
  return performance.now();
}

/** The listening sockets killTree was asked to hold, and the fds it holds them by. */
interface Held {
  wanted: ReadonlySet<string>;
  fds: number[];
}

/**
 * Whether `fd` (a duplicate of a tree's socket) listens with SO_REUSEPORT: only then can the
 * restore bind its port while it stays open.
 */
function listensReusable(fd: number): boolean {
  return getsockoptInt(fd, SOCKET.SOL_SOCKET, SOCKET.SO_ACCEPTCONN) === 1 &&
    getsockoptInt(fd, SOCKET.SOL_SOCKET, SOCKET.SO_REUSEPORT) === 1;
}

/**
 * The sockets ("socket:[inode]") `pid` listens on with SO_REUSEPORT set, looked at through
 * duplicates of its fds (pidfd_getfd). Taken right after a dump, while the tree stands still,
 * they are the ones the image has with SO_REUSEPORT: a rollback to it may `hold` them.
 */
export function reusableListeners(pid: number): Set<string> {
  const found = new Set<string>();
  socketDups(pid, () => true, (fd, target) => {
    if (listensReusable(fd)) found.add(target);
  });
  return found;
}

/**
 * Calls `visit` with a duplicate (pidfd_getfd) of each of `pid`'s sockets that `wanted` names,
 * and its target ("socket:[inode]"); the duplicate is closed afterwards unless `visit` says
 * "keep" (it is the caller's then). A failure is logged at debug level when `log` is given:
 * best effort, a socket may be closed meanwhile.
 */
function socketDups(
  pid: number,
  wanted: (target: string) => boolean,
  visit: (fd: number, target: string) => "keep" | void,
  log?: Logger,
): void {
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch (e) {
    log?.debug("cannot open pidfd", { pid, error: (e as Error).message });
    return;
  }
  try {
    for (const [n, target] of socketsOf(pid)) {
      if (!wanted(target)) continue;
      let fd = -1;
      try {
        fd = pidfdGetfd(pidfd, n);
        if (visit(fd, target) === "keep") fd = -1;
      } catch (e) {
        log?.debug("cannot look at a socket", { pid, fd: n, error: (e as Error).message });
      } finally {
        if (fd >= 0) closeFd(fd);
      }
    }
  } finally {
    closeFd(pidfd);
  }
}

/**
 * Sets SO_LINGER {on, 0 s} on every TCP socket of `pid` (through a duplicate of its fd,
 * pidfd_getfd), so that when the process dies its connections are aborted: peers get a RST
 * at once (a reset says "start again"; a FIN could pass for the end of a reply), and the
 * sockets vanish instead of lingering in FIN_WAIT or TIME_WAIT for up to a minute. A
 * lingering socket on a listening port stops the restore from binding that port again
 * ("Address already in use") unless the program had set SO_REUSEADDR. `seen` holds the
 * socket inodes done already (processes share sockets). A listening socket `held` wants is
 * held open instead. Best effort: a failure is logged.
 */
function abortOnClose(pid: number, seen: Set<string>, held: Held, log: Logger): void {
  socketDups(pid, (target) => !seen.has(target), (fd, target) => {
    const domain = getsockoptInt(fd, SOCKET.SOL_SOCKET, SOCKET.SO_DOMAIN);
    if (domain !== SOCKET.AF_INET && domain !== SOCKET.AF_INET6) return;
    if (getsockoptInt(fd, SOCKET.SOL_SOCKET, SOCKET.SO_TYPE) !== SOCKET.SOCK_STREAM) return;
    seen.add(target);
    if (held.wanted.has(target) && listensReusable(fd)) {
      held.fds.push(fd);
      return "keep";
    }
    setLinger(fd, true, 0);
  }, log);
}
