/**
 * ffi/spawn.ts: a program started with one end of a socket pair, as CRIU's spare workers are
 * (ffi/criu_spare.ts), checked on a real child: what it inherits, and that the pair carries
 * messages both ways.
 */
import { spawnWithSocket } from "../ffi/spawn.ts";
import { closeFd, waitExit } from "../ffi/libc.ts";
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

Deno.test("spawnWithSocket: the child talks over the pair, with its own fd, clean signals, none of the agent's fds", async () => {
  // The child reports what it was given, then echoes one message and ends at end of file.
  const script = 'n=$0; ls /proc/$$/fd | sort -n | tr "\\n" " " >&$n; ' +
    'grep -E "^Sig(Blk|Ign)" /proc/$$/status | tr "\\n" " " >&$n; exec cat <&$n >&$n';
  let given = -1;
  const child = spawnWithSocket("/bin/sh", (fd) => {
    given = fd;
    return ["-c", script, String(fd)];
  });
  try {
    assert.ok(given === 3 || given === 4, `child fd ${given}`);
    // Its fds: the socket, and what this process has open without close-on-exec (stdio, and
    // whatever its own parent passed down): not the agent's end, nor any other of its fds.
    const fds = (await recv(child.fd)).trim().split(" ").map(Number);
    assert.deepEqual(fds, [...inheritable(), given].sort((a, b) => a - b));
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
