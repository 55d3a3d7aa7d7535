/**
 * A run is its first process's: when it ends, a8 ends what it left running and says so. A server
 * that puts itself in the background (nginx's default `daemon on`) looked as if it had started
 * and was quietly gone.
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

/** Pids of processes whose command line is exactly `argv`. */
function processesOf(argv: string[]): number[] {
  const want = argv.join("\0");
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replace(/\0$/, "");
      if (cmd === want) found.push(+e.name);
    } catch { /* gone meanwhile */ }
  }
  return found;
}

Deno.test("the first process ends with a child still running: a8 ends the child and says so", async () => {
  const missing = await a8Missing();
  if (missing) throw new Error(`cannot run a8: ${missing}`);
  // A duration no other process here sleeps for, so its leftovers can be told.
  const sleeper = ["sleep", `${37 + Math.floor(Math.random() * 1000) / 1000}`];
  await withRunDir("a8-e2e-left-behind-", async (dir) => {
    const run = await runA8({
      variants: 2,
      program: ["/bin/sh", "-c", `${sleeper.join(" ")} & echo started`],
      dir,
      timeoutMs: ms(30000),
    });
    const all = describe(run.variants);
    for (const v of run.variants) {
      assert.equal(v.code, 0, `variant ${v.id} exited ${v.code}\n${all}`);
      assert.equal((await readSummary(v)).outcome, "ok");
    }
    // A follower's child may have ended already: its leader's did, and it follows its leader.
    assert.match(
      text(run.leader.stderr),
      /first process ended while others of it still ran: a8 ends them.* pids=\d+/,
      `the leader did not say what it ended\n${all}`,
    );
    assert.equal(text(run.leader.stdout), "started\n");
    assert.deepEqual(processesOf(sleeper), [], `${sleeper.join(" ")} outlived the run`);
  });
});
