/**
 * Programs a8 cannot follow are stopped on every variant with a message that names why,
 * never run half-monitored: a system call missing from the call table, and execve under the
 * seccomp interposer (its filter would outlive the image).
 */
import {
  a8Missing,
  assert,
  buildScenarios,
  describe,
  ms,
  readSummary,
  runA8,
  scenario,
  text,
  withRunDir,
} from "./harness.ts";

const EXIT_MONITOR_FATAL = 87;

interface Refusal {
  name: string;
  program: string[];
  interposer?: "sud" | "seccomp";
  /** What every variant's stderr must say. */
  says: RegExp;
  /** Output the program must not have reached. */
  notReached: string;
}

const REFUSALS: Refusal[] = [
  {
    name: "a call missing from the table",
    program: [scenario("unknown_call")],
    says: /system call kcmp \(\d+\) is not in a8's call table/,
    notReached: "after kcmp",
  },
  {
    name: "execve under the seccomp interposer",
    program: [scenario("exec")],
    interposer: "seccomp",
    says: /execve is not supported under the seccomp interposer/,
    notReached: "exec: done",
  },
];

for (const r of REFUSALS) {
  Deno.test(`refused: ${r.name}`, async () => {
    await buildScenarios();
    const missing = await a8Missing();
    if (missing) throw new Error(`cannot run a8: ${missing}`);
    await withRunDir("a8-e2e-refusal-", async (dir) => {
      const run = await runA8({
        variants: 2,
        program: r.program,
        dir,
        interposer: r.interposer,
        timeoutMs: ms(30000),
      });
      const all = describe(run.variants);
      for (const v of run.variants) {
        assert.equal(v.code, EXIT_MONITOR_FATAL, `variant ${v.id} exited ${v.code}\n${all}`);
        assert.match(text(v.stderr), r.says, `variant ${v.id} did not say why\n${all}`);
        assert.ok(!text(v.stdout).includes(r.notReached), `variant ${v.id} went on\n${all}`);
        const s = await readSummary(v);
        assert.equal(s.outcome, "monitor-fatal", `variant ${v.id}: outcome ${s.outcome}`);
      }
    });
  });
}
