/**
 * Starting a helper program that talks to the agent over a socket pair, without fork(2).
 *
 * Deno.Command cannot hand a child an fd beyond its stdio, and fork(2) of the agent copies the
 * page tables of ~100 MB of Deno: 1-6 ms on these VMs, more under load. posix_spawn(3) in
 * glibc runs the child on the agent's memory until it execs (CLONE_VM | CLONE_VFORK), so
 * nothing is copied. The child gets one end of an AF_UNIX SOCK_SEQPACKET pair as a numbered
 * fd, default signal handlers and an empty signal mask; it inherits the agent's stdio and
 * environment, and no other fd (Deno opens every fd close-on-exec).
 */

const SYMBOLS = {
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // posix_spawnp (PATH search, as libcriu's execlp) returns an error number instead of setting
  // errno. The calling thread waits until the child has exec'd (well under a ms when idle).
  posix_spawnp: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

// The same on x86_64 and aarch64 (asm-generic, glibc's spawn.h).
const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
// glibc's opaque types, with room to spare: posix_spawn_file_actions_t is 80 bytes,
// posix_spawnattr_t 336 and sigset_t 128 on both ISAs.
const FILE_ACTIONS_BYTES = 256;
const ATTR_BYTES = 512;
const SIGSET_BYTES = 128;

/** A program started with `spawnWithSocket`: its pid and the agent's end of the pair. */
export interface SocketChild {
  pid: number;
  /** The agent's end (close-on-exec); closing it is the child's end of file. */
  fd: number;
}

function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${s}\0`);
}

/** The strings a posix_spawnp call points to, reachable until it has returned. */
const pinned = new Set<Uint8Array[]>();

/** A NULL-terminated array of pointers to `strings`, which the caller keeps alive. */
function pointerArray(strings: Uint8Array<ArrayBuffer>[]): BigUint64Array<ArrayBuffer> {
  const arr = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => arr[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
  return arr;
}

function lastErrno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

function fail(call: string, err: number): never {
  throw new Error(`${call} failed (errno ${err})`);
}

/**
 * Starts `path` with `args(n)` as its arguments after argv[0], where n is the fd number the
 * child's end of the socket pair has in the child. The agent reaps the child (waitpid: Deno
 * does not know it).
 */
export function spawnWithSocket(path: string, args: (fd: number) => string[]): SocketChild {
  const s = libc();
  const pair = new Int32Array(2);
  if (s.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    fail("socketpair", lastErrno());
  }
  const [ours, theirs] = pair;
  // dup2 onto another number clears close-on-exec there; onto itself it would not.
  const childFd = theirs === 3 ? 4 : 3;
  const actions = new Uint8Array(FILE_ACTIONS_BYTES);
  const attr = new Uint8Array(ATTR_BYTES);
  const none = new Uint8Array(SIGSET_BYTES);
  const all = new Uint8Array(SIGSET_BYTES);
  let strings: Uint8Array[] = [];
  let actionsReady = false;
  let attrReady = false;
  try {
    if (s.posix_spawn_file_actions_init(actions) !== 0) fail("posix_spawn_file_actions_init", 0);
    actionsReady = true;
    const r = s.posix_spawn_file_actions_adddup2(actions, theirs, childFd);
    if (r !== 0) fail("posix_spawn_file_actions_adddup2", r);
    if (s.posix_spawnattr_init(attr) !== 0) fail("posix_spawnattr_init", 0);
    attrReady = true;
    s.sigemptyset(none);
    s.sigfillset(all);
    if (
      s.posix_spawnattr_setsigmask(attr, none) !== 0 ||
      s.posix_spawnattr_setsigdefault(attr, all) !== 0 ||
      s.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) !== 0
    ) fail("posix_spawnattr_set*", 0);
    const argvStrings = [path, ...args(childFd)].map(cString);
    const envStrings = Object.entries(Deno.env.toObject()).map(([k, v]) => cString(`${k}=${v}`));
    // The arrays hold bare addresses of the strings: nothing else keeps them from the GC.
    strings = [...argvStrings, ...envStrings];
    pinned.add(strings);
    const argv = pointerArray(argvStrings);
    const envp = pointerArray(envStrings);
    const pid = new Int32Array(1);
    const err = s.posix_spawnp(pid, argvStrings[0], actions, attr, argv, envp);
    if (err !== 0) fail(`posix_spawnp(${path})`, err);
    return { pid: pid[0], fd: ours };
  } catch (e) {
    s.close(ours);
    throw e;
  } finally {
    pinned.delete(strings);
    if (actionsReady) s.posix_spawn_file_actions_destroy(actions);
    if (attrReady) s.posix_spawnattr_destroy(attr);
    s.close(theirs);
  }
}
