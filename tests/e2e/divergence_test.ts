/**
 * Runs that must not end in agreement:
 * - `diverge` writes a different line on each variant (DIVERGE_TAG differs per agent): every
 *   agent exits 86, the report names `write`, and nothing hangs.
 * - `threads` starts a pthread: a8 refuses with exit 87 and "threads are not supported yet".
 */
import {
  a8Missing,
  assert,
  buildScenarios,
  describe,
  ms,
  readDivergence,
  readSummary,
  runA8,
  runNative,
  scenario,
  text,
  withRunDir,
} from "./harness.ts";

const EXIT_DIVERGENCE = 86;
const EXIT_MONITOR_FATAL = 87;

async function requireA8() {
  const missing = await a8Missing();
  if (missing) throw new Error(`cannot run a8: ${missing}`);
}

for (const variants of [2, 3]) {
  Deno.test(`diverge: a different write per variant stops all ${variants} variants`, async (t) => {
    await buildScenarios();
    await t.step("native", async () => {
      const r = await runNative([scenario("diverge")], { env: { DIVERGE_TAG: "native" } });
      assert.equal(r.code, 0, text(r.stderr));
      assert.equal(text(r.stdout), "same on every variant\ntag: native\ndiverge: done\n");
    });
    await t.step(`a8 with ${variants} variants`, async () => {
      await requireA8();
      await withRunDir("a8-e2e-diverge-", async (dir) => {
        // runA8 throws (after killing everything) if any agent is still running at the end.
        const run = await runA8({
          variants,
          program: [scenario("diverge")],
          env: (id) => ({ DIVERGE_TAG: `variant-${id}` }),
          dir,
          timeoutMs: ms(30000),
        });
        const all = describe(run.variants);
        for (const v of run.variants) {
          assert.equal(
            v.code,
            EXIT_DIVERGENCE,
            `variant ${v.id} exited ${v.code}, want 86\n${all}`,
          );
          assert.ok(
            !text(v.stdout).includes("diverge: done"),
            `variant ${v.id} ran past the divergent write\n${all}`,
          );
        }
        const reports = [];
        for (const v of run.variants) {
          const d = await readDivergence(v);
          if (d) reports.push({ id: v.id, d });
          const s = await readSummary(v);
          assert.equal(s.outcome, "divergence", `variant ${v.id}: summary outcome ${s.outcome}`);
        }
        assert.ok(reports.length > 0, `no variant wrote divergence.json\n${all}`);
        for (const { id, d } of reports) {
          assert.equal(d.call, "write", `variant ${id}'s report names ${d.call}, want write`);
          assert.ok(
            ["args", "result", "order"].includes(d.reason),
            `variant ${id}'s report gives reason ${d.reason}`,
          );
          assert.ok(d.stream === "0", `variant ${id}'s report names stream ${d.stream}, want "0"`);
        }
      });
    });
  });
}

Deno.test("threads: a8 refuses a program that starts a thread", async (t) => {
  await buildScenarios();
  await t.step("native", async () => {
    const r = await runNative([scenario("threads")]);
    assert.equal(r.code, 0, text(r.stderr));
    assert.match(text(r.stdout), /thread ran: yes, value 42\n/);
  });
  await t.step("a8 with 2 variants", async () => {
    await requireA8();
    await withRunDir("a8-e2e-threads-", async (dir) => {
      const run = await runA8({
        variants: 2,
        program: [scenario("threads")],
        dir,
        timeoutMs: ms(30000),
      });
      const all = describe(run.variants);
      for (const v of run.variants) {
        assert.equal(
          v.code,
          EXIT_MONITOR_FATAL,
          `variant ${v.id} exited ${v.code}, want 87\n${all}`,
        );
        assert.match(
          text(v.stderr),
          /threads are not supported yet/,
          `variant ${v.id} did not say why\n${all}`,
        );
        assert.ok(!text(v.stdout).includes("thread ran"), `variant ${v.id} ran the thread\n${all}`);
      }
    });
  });
});

/*
 * A variant that crashes where the others do not (the signature of an attack that worked on
 * one memory layout) is a divergence, whether it is the leader or a follower.
 */
for (const crasher of [1, 2]) {
  Deno.test(`crash of variant ${crasher} alone is a divergence on every variant`, async () => {
    await buildScenarios();
    await requireA8();
    await withRunDir("a8-e2e-crash-", async (dir) => {
      const run = await runA8({
        variants: 2,
        program: [scenario("crash")],
        env: (id): Record<string, string> => (id === crasher ? { CRASH_HERE: "1" } : {}),
        dir,
        timeoutMs: ms(30000),
      });
      const all = describe(run.variants);
      for (const v of run.variants) {
        assert.equal(v.code, EXIT_DIVERGENCE, `variant ${v.id} exited ${v.code}\n${all}`);
        assert.ok(!text(v.stdout).includes("crash: done"), `variant ${v.id} went on\n${all}`);
        const s = await readSummary(v);
        assert.equal(s.outcome, "divergence", `variant ${v.id}: outcome ${s.outcome}\n${all}`);
      }
    });
  });
}
