/**
 * ffi/criu_spare.ts with stand-ins for CRIU's worker (the real one is exercised by
 * tests/e2e/criu_driver_test.ts): a worker started ahead is handed out connected, one that died
 * meanwhile is not, and close() leaves no process and no zombie behind.
 */
import { CriuSpare } from "../ffi/criu_spare.ts";
import { closeFd, processExists } from "../ffi/libc.ts";
import { scanProc } from "../src/checkpoint/proc_tree.ts";
import { assert } from "./e2e/harness.ts";
import { recv, send } from "./socket_io.ts";

/** A stand-in for `criu swrk FD`: echoes each message on FD (its second argument). */
async function fakeWorker(dir: string, body: string): Promise<string> {
  const path = `${dir}/fake-criu`;
  await Deno.writeTextFile(path, `#!/bin/sh\n[ "$1" = swrk ] || exit 64\nfd=$2\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

/** This process's children (zombies too): the workers, as no other test here runs at once. */
function children(): number[] {
  return [...scanProc().values()].filter((p) => p.ppid === Deno.pid).map((p) => p.pid);
}

function gone(pid: number): boolean {
  return !processExists(pid); // a zombie still exists: gone means reaped
}

Deno.test("CriuSpare: a worker started ahead is handed out connected; close leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a8-spare-" });
  try {
    const spare = new CriuSpare(await fakeWorker(dir, 'exec cat <&"$fd" >&"$fd"'));
    spare.refill();
    const w = spare.take();
    assert.ok(w, "no worker ready");
    assert.equal(spare.take(), null, "a second take without a refill");
    send(w.fd, "req");
    assert.equal(await recv(w.fd), "req");
    closeFd(w.fd); // as libcriu does after the request: the worker ends
    spare.refill(); // the next one
    const next = children().filter((pid) => pid !== w.pid);
    assert.equal(next.length, 1, "no next worker started");
    spare.close(); // kills the ready one, reaps both
    assert.ok(gone(w.pid), `the spent worker ${w.pid} was not reaped`);
    assert.deepEqual(children(), [], "a worker outlived close()");
    spare.refill();
    assert.equal(spare.take(), null, "a closed spare starts no worker");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CriuSpare: a worker that died before it was needed is not handed out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a8-spare-" });
  try {
    const spare = new CriuSpare(await fakeWorker(dir, "exit 3"));
    spare.refill();
    await new Promise((r) => setTimeout(r, 200)); // it has exited by now
    const fds = [...Deno.readDirSync("/proc/self/fd")].length;
    assert.equal(spare.take(), null);
    assert.equal([...Deno.readDirSync("/proc/self/fd")].length, fds - 1, "its fd was not closed");
    spare.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CriuSpare: a binary that cannot start means no spare, not an error", () => {
  const spare = new CriuSpare("/nonexistent/criu");
  spare.refill();
  assert.equal(spare.take(), null);
  spare.close();
});
