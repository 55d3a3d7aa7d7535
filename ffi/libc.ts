/**
 * The few libc calls the agent needs to own processes it did not spawn itself: a tree that
 * CRIU restored (it becomes the agent's child, but Deno knows nothing of it) and orphans of the
 * variant's tree that the kernel re-parents to the agent once it is a child subreaper.
 *
 * Only pass pids that Deno did not spawn to `waitpid`: reaping one of Deno's own children here
 * would take its exit status away from `Deno.ChildProcess.status`.
 */

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  // prctl and open are variadic; x86_64 and aarch64 Linux pass integer variadic arguments
  // like fixed ones, so fixed prototypes call them correctly.
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // The same waitpid on Deno's blocking thread pool: waits for an exit without polling.
  waitpid_blocking: {
    name: "waitpid",
    parameters: ["i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  // The value is a union sigval (int or pointer): 8 bytes, passed in an integer register on
  // x86_64 and aarch64 like a u64.
  sigqueue: { parameters: ["i32", "i32", "u64"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // syscall is variadic too; integer arguments only (see prctl).
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** A failed libc call, with errno and its text. */
export class LibcError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${strerror(errno)} (errno ${errno})`);
    this.name = "LibcError";
  }
}

/**
 * errno of the last failed call. Read right after the call, on the same thread, before any
 * other FFI call; V8 may still make a system call in between, so it is advisory.
 */
function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

function strerror(e: number): string {
  const p = libc().strerror(e);
  return p === null ? `errno ${e}` : Deno.UnsafePointerView.getCString(p);
}

function check(call: string, r: number): number {
  if (r < 0) throw new LibcError(call, errno());
  return r;
}

function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${s}\0`);
}

export const SIGNALS = { SIGKILL: 9, SIGTERM: 15, SIGCONT: 18, SIGSTOP: 19 } as const;

const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;

/**
 * Makes this process the one that inherits orphans from below it: a variant's processes whose
 * parent died are re-parented to the agent, not to init, so the agent sees them exit and CRIU
 * can find their pids free again before a restore.
 */
export function setChildSubreaper(on = true): void {
  check(
    "prctl(PR_SET_CHILD_SUBREAPER)",
    libc().prctl(PR_SET_CHILD_SUBREAPER, on ? 1n : 0n, 0n, 0n, 0n),
  );
}

export function isChildSubreaper(): boolean {
  const out = new Int32Array(1);
  const ptr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out)));
  check("prctl(PR_GET_CHILD_SUBREAPER)", libc().prctl(PR_GET_CHILD_SUBREAPER, ptr, 0n, 0n, 0n));
  return out[0] !== 0;
}

/** How a process ended: exactly one of `code` and `signal` is a number. */
export interface ExitStatus {
  pid: number;
  /** exit(2) status, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: number | null;
  coreDumped: boolean;
}

const WNOHANG = 1;
const CLOCK_MONOTONIC = 1;

/**
 * CLOCK_MONOTONIC in ms, the clock the monitor stamps its events with (a8_ckpt_now_ns):
 * `performance.now()` runs on it too, from an origin of its own.
 */
export function monotonicMs(): number {
  const ts = new BigInt64Array(2);
  check("clock_gettime", libc().clock_gettime(CLOCK_MONOTONIC, ts));
  return Number(ts[0]) * 1000 + Number(ts[1]) / 1e6;
}

/** A time the monitor gave (CLOCK_MONOTONIC, µs) on `performance.now()`'s clock. */
export function monitorTimeToPerf(monoUs: number): number {
  return monoUs / 1000 + (performance.now() - monotonicMs());
}

/** Decodes a wait status word (the W* macros of <sys/wait.h>). */
export function decodeWaitStatus(pid: number, status: number): ExitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { pid, code: (status >> 8) & 0xff, signal: null, coreDumped: false };
  return { pid, code: null, signal: sig, coreDumped: (status & 0x80) !== 0 };
}

/**
 * Reaps `pid` if it has ended: its status, or null while it still runs. Throws for a pid that
 * is not this process's child (ECHILD), e.g. one already reaped.
 */
export function waitpidNoHang(pid: number): ExitStatus | null {
  if (pid <= 0) throw new RangeError(`waitpidNoHang wants one pid, got ${pid}`);
  const status = new Int32Array(1);
  const r = check(`waitpid(${pid})`, libc().waitpid(pid, status, WNOHANG));
  return r === 0 ? null : decodeWaitStatus(pid, status[0]);
}

/**
 * Waits for `pid` to end and reaps it, without polling: waitpid(pid, 0) on one of Deno's
 * blocking-pool threads (any thread of a process may wait for the process's children). The
 * thread stays blocked until the process ends: keep it for processes that are expected to end.
 * Throws (ECHILD) when `pid` is not, or no longer, this process's child. errno is per thread
 * and waitpid ran on another one, so after a failure the cause is found again here with
 * `waitpidNoHang`, whose error is thrown.
 */
export async function waitpidBlocking(pid: number): Promise<ExitStatus> {
  if (pid <= 0) throw new RangeError(`waitpidBlocking wants one pid, got ${pid}`);
  for (;;) {
    const status = new Int32Array(1);
    const r = await libc().waitpid_blocking(pid, status, 0);
    if (r === pid) return decodeWaitStatus(pid, status[0]);
    // Failed (r < 0): ECHILD, or EINTR if a signal handler without SA_RESTART ran on that
    // thread. waitpidNoHang throws for the first, and the loop retries the second.
    const st = waitpidNoHang(pid);
    if (st) return st;
  }
}

/** Polls `waitpidNoHang` until `pid` ends; null if it still runs after `timeoutMs`. */
export async function waitExit(
  pid: number,
  timeoutMs: number,
  pollMs = 5,
): Promise<ExitStatus | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = waitpidNoHang(pid);
    if (st || Date.now() >= deadline) return st;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** kill(2). A pid <= 0 would signal a whole group or every process: refused here. */
export function kill(pid: number, signal: number): void {
  if (pid <= 0) throw new RangeError(`kill wants one pid, got ${pid}`);
  check(`kill(${pid}, ${signal})`, libc().kill(pid, signal));
}

/** kill(2) of a whole process group (kill(-pgid)); never of the caller's own or init's. */
export function killGroup(pgid: number, signal: number): void {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`bad process group ${pgid}`);
  check(`kill(-${pgid}, ${signal})`, libc().kill(-pgid, signal));
}

/** sigqueue(3): a signal with an int for the receiver's siginfo (si_value.sival_int). */
export function sigqueue(pid: number, signal: number, value: number): void {
  if (pid <= 0) throw new RangeError(`sigqueue wants one pid, got ${pid}`);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new RangeError(`sigqueue value ${value} is not a positive int`);
  }
  check(`sigqueue(${pid}, ${signal}, ${value})`, libc().sigqueue(pid, signal, BigInt(value)));
}

/** Whether `pid` exists (a zombie counts): kill(pid, 0). */
export function processExists(pid: number): boolean {
  if (pid <= 0) throw new RangeError(`processExists wants one pid, got ${pid}`);
  if (libc().kill(pid, 0) === 0) return true;
  const e = errno();
  if (e === 3 /* ESRCH */) return false;
  if (e === 1 /* EPERM: exists, owned by someone else */) return true;
  throw new LibcError(`kill(${pid}, 0)`, e);
}

const O_RDONLY = 0;
// arm64 has its own O_DIRECTORY (asm/fcntl.h); O_CLOEXEC is the same on both.
const O_DIRECTORY = Deno.build.arch === "aarch64" ? 0o40000 : 0o200000;
const O_CLOEXEC = 0o2000000;

/**
 * Opens a directory as a raw fd, for APIs that take a directory fd (libcriu's images and work
 * directories). Deno's own files expose no fd number. Close it with `closeFd`.
 */
export function openDirectory(path: string): number {
  return check(`open(${path})`, libc().open(cString(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
}

// O_NOFOLLOW differs on arm64 too; O_RDWR, O_NONBLOCK and O_NOCTTY are the same on both.
const O_NOFOLLOW = Deno.build.arch === "aarch64" ? 0o100000 : 0o400000;
const O_RDWR = 2;
const O_NONBLOCK = 0o4000;
const O_NOCTTY = 0o400;

/**
 * open(2) that never follows a symbolic link at the end of `path` (ELOOP) and never waits (a
 * FIFO) nor takes a terminal: the raw fd, to look at before use. Close it with `closeFd`.
 */
export function openNoFollow(path: string, write: boolean): number {
  const flags = (write ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  return check(`open(${path})`, libc().open(cString(path), flags, 0));
}

export function closeFd(fd: number): void {
  check(`close(${fd})`, libc().close(fd));
}

// Syscalls added since Linux 5.1 have one number on every architecture.
const SYS_PIDFD_OPEN = 434n;
const SYS_PIDFD_GETFD = 438n;

/** pidfd_open(2) (Linux 5.3): an fd that names `pid` for as long as it is open. */
export function pidfdOpen(pid: number): number {
  if (pid <= 0) throw new RangeError(`pidfdOpen wants one pid, got ${pid}`);
  return Number(
    checkBig(`pidfd_open(${pid})`, libc().syscall(SYS_PIDFD_OPEN, BigInt(pid), 0n, 0n)),
  );
}

/**
 * pidfd_getfd(2) (Linux 5.6): a duplicate, in this process, of another process's fd `fd`
 * (needs ptrace rights over it: root, or the same user without Yama's restrictions). The
 * duplicate refers to the same open file: a socket option set on it is set on the socket.
 */
export function pidfdGetfd(pidfd: number, fd: number): number {
  return Number(
    checkBig(`pidfd_getfd(${fd})`, libc().syscall(SYS_PIDFD_GETFD, BigInt(pidfd), BigInt(fd), 0n)),
  );
}

function checkBig(call: string, r: number | bigint): bigint {
  const v = BigInt(r);
  if (v < 0n) throw new LibcError(call, errno());
  return v;
}

/** Socket constants with the same values on x86_64 and aarch64 (asm-generic). */
export const SOCKET = {
  SOL_SOCKET: 1,
  SO_TYPE: 3,
  SO_LINGER: 13,
  SO_REUSEPORT: 15,
  SO_ACCEPTCONN: 30,
  SO_PROTOCOL: 38,
  SO_DOMAIN: 39,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  IPPROTO_TCP: 6,
} as const;

/** getsockopt(2) of an int option. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  check(`getsockopt(${fd}, ${level}, ${name})`, libc().getsockopt(fd, level, name, value, len));
  return value[0];
}

/**
 * SO_LINGER: with `on` and 0 seconds, closing a TCP socket aborts the connection: the peer
 * gets a RST, and the socket is gone at once (no FIN_WAIT, no TIME_WAIT holding its port).
 */
export function setLinger(fd: number, on: boolean, seconds: number): void {
  const linger = new Int32Array([on ? 1 : 0, seconds]);
  check(
    `setsockopt(${fd}, SO_LINGER)`,
    libc().setsockopt(fd, SOCKET.SOL_SOCKET, SOCKET.SO_LINGER, linger, 8),
  );
}
