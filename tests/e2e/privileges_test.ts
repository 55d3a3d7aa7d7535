/**
 * A program that gives up root before it starts the real work, as container entrypoints do
 * (`setpriv`, `su-exec`): it reads and sets its capabilities, changes user, and calls execve.
 * Each broke under a8: libcap-ng's probe of the capability version (the kernel writes the
 * version back into the header, which the follower never got), capset naming the process by the
 * pid the program sees (the leader's pid: on a follower another process, EPERM), and the new
 * image's monitor, which could no longer open its root-owned stats file and then crashed
 * (SIGSEGV) on its first call; then it counted in memory of its own, so that the reports missed
 * every call after the execve. With the criu engine its replay log and fault injector's page are
 * files like it: the fault injector could not be had, and the new image stopped the run.
 */
import {
  a8Missing,
  assert,
  describe,
  ms,
  readSummary,
  runA8,
  text,
  withRunDir,
} from "./harness.ts";

async function setprivRun(extraTables?: string): Promise<void> {
  const missing = await a8Missing();
  if (missing) throw new Error(`cannot run a8: ${missing}`);
  if (Deno.uid() !== 0) throw new Error("this test changes user: it needs root");
  const setpriv = "/usr/bin/setpriv"; // util-linux, always on Debian
  await Deno.stat(setpriv);
  await withRunDir("a8-e2e-privileges-", async (dir) => {
    const run = await runA8({
      variants: 2,
      program: [
        setpriv,
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "/bin/sh",
        "-c",
        "id -u; echo dropped",
      ],
      dir,
      timeoutMs: ms(30000),
      extraTables,
    });
    const all = describe(run.variants);
    for (const v of run.variants) {
      assert.equal(v.code, 0, `variant ${v.id} exited ${v.code}\n${all}`);
      assert.equal((await readSummary(v)).outcome, "ok", all);
      // The new image maps the files its predecessor kept open for it.
      assert.doesNotMatch(text(v.stderr), /no stats file|fatal/, all);
    }
    assert.equal(text(run.leader.stdout), "65534\ndropped\n", all);
  });
}

Deno.test("setpriv to nobody, then execve: runs as natively on every variant", async () => {
  await setprivRun();
});

Deno.test("setpriv to nobody, then execve, criu engine and fault injection: runs as natively", async () => {
  // A fault this rare never comes: the point is the injector's page, made before the change.
  await setprivRun(
    `[checkpoint]\nengine = "criu"\nevery_calls = 50\nevery_ms = 20\n\n` +
      `[faults]\ndivergence_probability = 0.000001\nseed = 1\n`,
  );
});
