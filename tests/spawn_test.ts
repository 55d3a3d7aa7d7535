/**
 * ffi/spawn.ts: a program started with one end of a socket pair, as CRIU's spare workers are
 * (ffi/criu_spare.ts), checked on a real child: what it inherits, and that the pair carries
 * messages both ways.
 */
import { spawnWithSocket } from "../ffi/spawn.ts";
import { closeFd, kill, SIGNALS, waitExit } from "../ffi/libc.ts";
import { assert } from "./e2e/harness.ts";
import { recv, send } from "./socket_io.ts";

const O_CLOEXEC = 0o2000000;

/** This process's fds that a child inherits across exec. */
function inheritable(): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc/self/fdinfo")) {
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/self/fdinfo/${e.name}`);
    } catch {
      continue; // the directory's own fd, closed by now
    }
    const flags = parseInt(/flags:\s+(\d+)/.exec(info)![1], 8);
    if ((flags & O_CLOEXEC) === 0) out.push(+e.name);
  }
  return out;
}

Deno.test("spawnWithSocket: the child has its own fd and none of the agent's", async () => {
  // sleep holds exactly what it was given, and does not touch its fds.
  let given = -1;
  const child = spawnWithSocket("/bin/sleep", (fd) => {
    given = fd;
    return ["10"];
  });
  try {
    assert.ok(given === 3 || given === 4, `child fd ${given}`);
    // Its fds: the socket, and what this process has open without close-on-exec (stdio, and
    // whatever its own parent passed down): not the agent's end, nor any other of its fds.
    // posix_spawnp returns once the child's exec let go of our memory, a moment before the
    // exec closes its close-on-exec fds: look until the table settles (bounded).
    const want = [...inheritable(), given].sort((a, b) => a - b);
    const fdsOf = () =>
      [...Deno.readDirSync(`/proc/${child.pid}/fd`)].map((e) => +e.name).sort((a, b) => a - b);
    let fds = fdsOf();
    for (let i = 0; i < 100 && JSON.stringify(fds) !== JSON.stringify(want); i++) {
      await new Promise((r) => setTimeout(r, 10));
      fds = fdsOf();
    }
    assert.deepEqual(fds, want);
  } finally {
    closeFd(child.fd);
    kill(child.pid, SIGNALS.SIGKILL);
  }
  const end = await waitExit(child.pid, 5000);
  assert.equal(end?.signal, SIGNALS.SIGKILL);
});

Deno.test("spawnWithSocket: the child talks over the pair, with clean signals", async () => {
  // The child reports its signal state, then echoes each message and ends at end of file.
  const script = 'n=$0; grep -E "^Sig(Blk|Ign)" /proc/$$/status | tr "\\n" " " >&$n; ' +
    "exec cat <&$n >&$n";
  const child = spawnWithSocket("/bin/sh", (fd) => ["-c", script, String(fd)]);
  try {
    // Nothing blocked, and none of signals 1-31 ignored (Deno ignores SIGPIPE); 32 and 33
    // are glibc's own, left alone by posix_spawn.
    const sigs = await recv(child.fd);
    const mask = (name: string) => BigInt(`0x${new RegExp(`${name}:\\s+(\\w+)`).exec(sigs)![1]}`);
    assert.equal(mask("SigBlk") & 0x7fffffffn, 0n, sigs);
    assert.equal(mask("SigIgn") & 0x7fffffffn, 0n, sigs);
    // SOCK_SEQPACKET: one write is one message.
    send(child.fd, "first");
    assert.equal(await recv(child.fd), "first");
    send(child.fd, "second message");
    assert.equal(await recv(child.fd), "second message");
  } finally {
    closeFd(child.fd);
  }
  const end = await waitExit(child.pid, 5000);
  assert.deepEqual(end && { code: end.code, signal: end.signal }, { code: 0, signal: null });
});

Deno.test("spawnWithSocket: a program that cannot run is an error, and leaves no fd behind", () => {
  const before = [...Deno.readDirSync("/proc/self/fd")].length;
  assert.throws(
    () => spawnWithSocket("/nonexistent/criu", (fd) => ["swrk", String(fd)]),
    Error,
    "posix_spawnp(/nonexistent/criu) failed",
  );
  assert.equal([...Deno.readDirSync("/proc/self/fd")].length, before);
});
