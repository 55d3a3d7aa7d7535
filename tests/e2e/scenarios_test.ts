/**
 * Every scenario program (tests/scenarios/*.c) natively, then under a8 with 2 and with 3
 * variants: the leader prints what the native run printed, every follower prints what the
 * leader printed, every variant exits with the native status, and the summaries show calls
 * checked and no divergence.
 *
 * The native step runs first and on its own, so a broken scenario is told apart from a broken
 * a8. A8_E2E_NATIVE_ONLY=1 runs only the native steps (the a8 steps are then reported as
 * ignored, loudly); A8_E2E_ONLY=name,name limits the scenarios.
 */
import {
  a8Missing,
  assert,
  buildScenarios,
  cleanup,
  describe,
  ms,
  type ProcResult,
  readSummary,
  runA8,
  runNative,
  scenario,
  tail,
  text,
} from "./harness.ts";
import type { Policy } from "../../src/config/types.ts";

interface Scenario {
  name: string;
  /** The seccomp interposer refuses it (execve): tested in refusals_test.ts instead. */
  noSeccomp?: boolean;
  /** Gets a fresh temp dir as its only argument. */
  tmpArg?: boolean;
  /** Expected exit status (0 unless the program exits otherwise on purpose). */
  status?: number;
  /**
   * Also run with CRIU checkpoints: "faults", with injected faults too (most scenarios end
   * before a fault can follow a dump, ~40 ms each); "checkpoints", without.
   */
  criu?: "faults" | "checkpoints";
  /**
   * The injected divergence probability under criu faults (default 0.01). A short program
   * meets only a few faults at 1 %: child_stdout met 2-5 a run, and none in 1 suite of ~12.
   */
  criuFaultP?: number;
}

const SCENARIOS: Scenario[] = [
  { name: "files", tmpArg: true },
  { name: "pipes" },
  { name: "socketpair" },
  { name: "tcp" },
  { name: "epoll" },
  { name: "poll" },
  { name: "fork_wait" },
  { name: "exec", status: 3, noSeccomp: true },
  { name: "signals" },
  { name: "clock" },
  { name: "random" },
  { name: "bigio", tmpArg: true },
  // ~2000 calls, and a file it keeps open grows after the dumps: CRIU checks its size at each
  // restore (src/checkpoint/dumped_files.ts).
  { name: "manyfds", tmpArg: true, criu: "faults" },
  { name: "monitor_fds" },
  // 120 children in a row, each waited for: a round of dumps cannot complete while the parent
  // waits (criu_rounds.ts); such rounds used to time out after 3 s each (60 s in all).
  { name: "edge_cases", criu: "checkpoints" },
  // A child prints on while its parent polls: restored by CRIU, the child goes on from the
  // dump without a replay, and must not print again what it printed since (ckpt/redo.c).
  { name: "child_stdout", criu: "faults", criuFaultP: 0.03 },
  // The child also waits for its parent's answers on a second pipe: restored by CRIU, it
  // writes and reads again what it did since the dump; the replayed parent must not read its
  // lines twice, and must write its answers again (ckpt/pipes.c).
  { name: "child_pipe", criu: "faults", criuFaultP: 0.03 },
];

/** Rollbacks the leader did per scenario in the faults step (checked at the end). */
const faultRollbacks = new Map<string, number>();

const NATIVE_ONLY = Deno.env.get("A8_E2E_NATIVE_ONLY") === "1";
const ONLY = Deno.env.get("A8_E2E_ONLY")?.split(",").filter(Boolean);

if (NATIVE_ONLY) {
  console.warn(
    "\nscenarios_test: A8_E2E_NATIVE_ONLY=1: the a8 steps are SKIPPED; only native runs are checked\n",
  );
}

async function runNativeScenario(sc: Scenario): Promise<ProcResult> {
  const tmp = await Deno.makeTempDir({ prefix: `a8-e2e-${sc.name}-native-` });
  try {
    return await runNative([scenario(sc.name), ...(sc.tmpArg ? [tmp] : [])], {
      timeoutMs: ms(20000),
    });
  } finally {
    await cleanup(tmp);
  }
}

function explain(r: ProcResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}${r.timedOut ? ", TIMED OUT" : ""}\n` +
    `stdout:\n${tail(text(r.stdout), 30)}\nstderr:\n${tail(text(r.stderr))}`;
}

interface RunShape {
  variants: number;
  policy?: Policy;
  interposer?: "sud" | "seccomp";
  /** Checkpoints (of this engine) and divergences injected after them. */
  faults?: "fork" | "criu";
  /** CRIU checkpoints without faults. */
  criu?: boolean;
}

/**
 * Checkpoints every few calls and a 1 % chance per checked call that the follower diverges:
 * the monitor injects only where a checkpoint stands by, so each is rolled back and replayed.
 * Injected faults are transient: `retries` makes the same position failing again by chance
 * (more likely the closer the checkpoints) a retry, not the end of the run.
 */
const FAULTS = `[checkpoint]
engine = "fork"
every_calls = 4
every_ms = 1
retries = 4

[faults]
divergence_probability = 0.01
seed = 42
`;
/** The same with CRIU: a dump takes ~40 ms, so fewer of them. */
const CRIU_FAULTS = FAULTS.replace('engine = "fork"', 'engine = "criu"')
  .replace("every_calls = 4", "every_calls = 40")
  .replace("every_ms = 1", "every_ms = 50");
const CRIU_CHECKPOINTS = CRIU_FAULTS.replace(
  "divergence_probability = 0.01",
  "divergence_probability = 0",
);

async function checkA8(sc: Scenario, shape: RunShape, native: ProcResult | null) {
  const variants = shape.variants;
  if (!native) throw new Error("the native run failed, so there is nothing to compare with");
  const missing = await a8Missing();
  if (missing) throw new Error(`cannot run a8: ${missing}`);
  const tmp = await Deno.makeTempDir({ prefix: `a8-e2e-${sc.name}-a8x${variants}-` });
  let ok = false;
  try {
    // All variants get the same argv: one temp dir (only the leader touches it unless the
    // policy makes it local; either way the paths the calls name must be equal).
    const work = `${tmp}/work`;
    await Deno.mkdir(work);
    const run = await runA8({
      variants,
      program: [scenario(sc.name), ...(sc.tmpArg ? [work] : [])],
      dir: tmp,
      timeoutMs: ms(30000),
      policy: shape.policy,
      interposer: shape.interposer,
      extraTables: shape.faults === "fork" ? FAULTS : shape.faults === "criu"
        ? CRIU_FAULTS.replace(
          "divergence_probability = 0.01",
          `divergence_probability = ${sc.criuFaultP ?? 0.01}`,
        )
        : shape.criu
        ? CRIU_CHECKPOINTS
        : undefined,
    });
    const all = describe(run.variants);
    const nativeOut = text(native.stdout);
    for (const v of run.variants) {
      assert.equal(
        v.code,
        native.code,
        `variant ${v.id} exited ${v.code}, native ${native.code}\n${all}`,
      );
    }
    assert.equal(
      text(run.leader.stdout),
      nativeOut,
      `the leader's stdout differs from native\n${all}`,
    );
    for (const f of run.followers) {
      assert.equal(
        text(f.stdout),
        text(run.leader.stdout),
        `follower ${f.id}'s stdout differs from the leader's\n${all}`,
      );
    }
    for (const v of run.variants) {
      const s = await readSummary(v);
      if (shape.faults) {
        if (v.leader && shape.faults === "criu") {
          assert.ok((s.rollbacks as number) > 0, `no rollback under criu: nothing tested\n${all}`);
        } else if (v.leader) faultRollbacks.set(sc.name, s.rollbacks as number);
      } else {
        assert.equal(s.divergences, 0, `variant ${v.id}: summary counts divergences\n${all}`);
      }
      assert.equal(s.outcome, "ok", `variant ${v.id}: summary outcome ${s.outcome}: ${s.detail}`);
      assert.equal(s.exit_status, native.code, `variant ${v.id}: summary exit_status`);
      if (!v.leader) {
        assert.ok(
          s.calls_checked > 0,
          `follower ${v.id}: summary calls_checked is ${s.calls_checked}`,
        );
      }
      assert.ok(s.calls_seen > 0, `variant ${v.id}: summary calls_seen is ${s.calls_seen}`);
    }
    ok = true;
  } finally {
    if (ok) await cleanup(tmp);
    else console.log(`(a8 run files kept in ${tmp})`);
  }
}

for (const sc of SCENARIOS) {
  if (ONLY && !ONLY.includes(sc.name)) continue;
  Deno.test(`scenario ${sc.name}: native, then under a8`, async (t) => {
    await buildScenarios();
    let native = null as ProcResult | null;
    await t.step("native", async () => {
      const first = await runNativeScenario(sc);
      assert.equal(first.code, sc.status ?? 0, `native ${sc.name}: ${explain(first)}`);
      assert.ok(
        text(first.stdout).endsWith(
          `${sc.name}: done${sc.name === "exec" ? ", exiting with 3" : ""}\n`,
        ),
        `native ${sc.name} did not print its last line: ${explain(first)}`,
      );
      // The comparison with a8 is only meaningful if the program is deterministic itself.
      const second = await runNativeScenario(sc);
      assert.equal(second.code, first.code, `second native run: ${explain(second)}`);
      assert.equal(
        text(second.stdout),
        text(first.stdout),
        `${sc.name}'s output is not deterministic`,
      );
      native = first;
    });
    await t.step({
      name: "a8 with 2 variants",
      ignore: NATIVE_ONLY,
      fn: () => checkA8(sc, { variants: 2 }, native),
    });
    await t.step({
      name: "a8 with 3 variants",
      ignore: NATIVE_ONLY,
      fn: () => checkA8(sc, { variants: 3 }, native),
    });
    await t.step({
      name: "a8 with 2 variants, lockstep policy",
      ignore: NATIVE_ONLY,
      fn: () => checkA8(sc, { variants: 2, policy: "lockstep" }, native),
    });
    if (!sc.noSeccomp) {
      await t.step({
        name: "a8 with 2 variants, seccomp interposer",
        ignore: NATIVE_ONLY,
        fn: () => checkA8(sc, { variants: 2, interposer: "seccomp" }, native),
      });
    }
    await t.step({
      name: "a8 with 2 variants, divergences injected after checkpoints",
      ignore: NATIVE_ONLY,
      fn: () => checkA8(sc, { variants: 2, faults: "fork" }, native),
    });
    // CRIU restores the process as it was at the dump, its files as they are now (the
    // replay writes the same bytes again).
    if (sc.criu === "faults") {
      await t.step({
        name: "a8 with 2 variants, criu engine, divergences injected after checkpoints",
        ignore: NATIVE_ONLY,
        fn: () => checkA8(sc, { variants: 2, faults: "criu" }, native),
      });
    }
    if (sc.criu === "checkpoints") {
      await t.step({
        name: "a8 with 2 variants, criu engine checkpoints",
        ignore: NATIVE_ONLY,
        fn: () => checkA8(sc, { variants: 2, criu: true }, native),
      });
    }
    // The code policy lets the follower lag: a rollback may take it back from behind the
    // leader, and the replay must make the outputs it had not made yet (its stdout too).
    await t.step({
      name: "a8 with 2 variants, code policy, divergences injected after checkpoints",
      ignore: NATIVE_ONLY,
      fn: () => checkA8(sc, { variants: 2, policy: "code", faults: "fork" }, native),
    });
  });
}

Deno.test({
  name: "scenarios with injected divergences: they were rolled back, not just absent",
  ignore: NATIVE_ONLY || faultRollbacks === undefined,
  fn() {
    const total = [...faultRollbacks.values()].reduce((a, b) => a + b, 0);
    console.log("rollbacks per scenario:", Object.fromEntries(faultRollbacks));
    if (faultRollbacks.size >= 5) assert.ok(total >= 5, `only ${total} rollbacks in all`);
  },
});
