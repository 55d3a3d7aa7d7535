/**
 * Survival (issue 4): with checkpoints, a divergence rolls every variant back and the service
 * goes on. The deliberately vulnerable server's attack is detected, its connection closed, and
 * a benign client running at the same time gets only right answers (a request whose connection
 * closed before any answer is sent again, as HTTP clients do for GET).
 */
import * as assert from "node:assert/strict";
import {
  buildScenarios,
  describe,
  localConfig,
  ms,
  readSummary,
  runA8,
  runNative,
  scenario,
  startA8,
  text,
  waitA8,
  withRunDir,
} from "./harness.ts";
import type { Policy } from "../../src/config/types.ts";
import {
  attack,
  benignLoop,
  benignMix,
  requireVulnServer,
  vulnServerArgv,
  waitListening,
} from "./http_client.ts";

const ADDR = "127.0.0.1";

function survivalConfig(
  engine: string,
  every: { calls: number; ms: number },
  policy: Policy,
): string {
  return localConfig(2, {
    policy,
    extraTables: `[checkpoint]\nengine = "${engine}"\nevery_calls = ${every.calls}\n` +
      `every_ms = ${every.ms}\n`,
  });
}

/**
 * Checkpoints: often with fork (cheap), every second with CRIU (a dump takes ~0.2 s here).
 * Under the `code` policy the leader's write runs before the followers check it: the attacker
 * gets the leader's answer, then the connection is closed; the benign client is served alike.
 */
const ENGINES: {
  engine: string;
  policy: Policy;
  every: { calls: number; ms: number };
  count: number;
  retryDelayMs: number;
}[] = [
  { engine: "fork", policy: "outputs", every: { calls: 50, ms: 20 }, count: 300, retryDelayMs: 50 },
  { engine: "fork", policy: "code", every: { calls: 50, ms: 20 }, count: 300, retryDelayMs: 50 },
  // A restore takes a few hundred ms, with the listening socket gone meanwhile: the client
  // finds the port closed and tries again.
  {
    engine: "criu",
    policy: "outputs",
    every: { calls: 5000, ms: 1000 },
    count: 60,
    retryDelayMs: 250,
  },
];

for (const e of ENGINES) {
  const name = e.policy === "outputs" ? e.engine : `${e.engine}, policy ${e.policy}`;
  Deno.test(`survival (${name}): the attack is rolled back and closed, a benign client is served`, () =>
    survive(e.engine, e.policy, e.every, e.count, e.retryDelayMs));
}

async function survive(
  engine: string,
  policy: Policy,
  every: { calls: number; ms: number },
  count: number,
  retryDelayMs: number,
): Promise<void> {
  await requireVulnServer();
  await withRunDir("a8-e2e-survival-", async (dir) => {
    const run = await startA8({
      dir,
      config: survivalConfig(engine, every, policy),
      ids: [1, 2],
      leaderId: 1,
      program: vulnServerArgv(ADDR, 0),
    });
    const port = await waitListening(run.leader.proc);
    const benign = benignLoop({
      addr: ADDR,
      port,
      paths: benignMix,
      count,
      retryClosed: 5,
      retryDelayMs,
      concurrency: 2,
      intervalMs: 2,
    });
    const attacks = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, engine === "criu" ? 1500 : 150));
      attacks.push(await attack(ADDR, port, ms(10000)));
    }
    const counts = await benign;
    for (const v of run.variants) v.proc.signal("SIGTERM");
    const r = await waitA8(run, ms(20000));
    const why = `${JSON.stringify({ ...counts, latenciesMs: undefined })}\n${describe(r.variants)}`;

    const attacked = attacks.map((a) => a.kind === "ok" ? `answered ${a.status}` : a.kind);
    // outputs: the leak never leaves; code: it may (it is checked after it ran), and then the
    // connection is closed before the attacker's next request.
    const expected = policy === "outputs" ? ["closed"] : ["closed", "answered 200"];
    assert.ok(attacked.every((k) => expected.includes(k)), `${attacked}\n${why}`);
    assert.equal(counts.wrong, 0, why);
    assert.equal(counts.truncated, 0, why);
    assert.equal(counts.closed, 0, why);
    assert.equal(counts.ok, count, why);
    for (const v of r.variants) {
      assert.equal(v.code, r.leader.code, `every variant ends alike\n${why}`);
      const s = await readSummary(v);
      // Each attack: one replay that diverges again, then a replay without its input.
      assert.ok((s.rollbacks as number) >= 6, `rollbacks ${s.rollbacks}\n${why}`);
      assert.ok((s.checkpoints as number) > 0, why);
      const log = s.rollback_log as { mode: string; call: string }[];
      assert.ok(log.some((x) => x.mode === "drop" && x.call === "write"), why);
    }
  });
}

/**
 * Runs `native` natively, then `program` under 2 variants with the criu engine and injected
 * divergences (default 1 %): every variant ends with status 0 and prints what the native run
 * printed, to a pipe or, with `stdoutFiles`, to a file of its own. The leader's summary and the
 * variants' account for further assertions.
 */
async function likeNativeUnderCriu(dir: string, o: {
  native: string[];
  program: string[];
  every: { calls: number; ms: number };
  seed: number;
  timeoutMs: number;
  faultP?: number;
  stdoutFiles?: boolean;
}): Promise<{ s: Record<string, unknown>; why: string }> {
  const native = await runNative(o.native, { timeoutMs: ms(20000) });
  assert.equal(native.code, 0, text(native.stderr));
  const outFile = (id: number) => `${dir}/stdout-${id}`;
  const r = await runA8({
    variants: 2,
    dir,
    program: o.program,
    timeoutMs: ms(o.timeoutMs),
    extraTables: `[checkpoint]\nengine = "criu"\nevery_calls = ${o.every.calls}\n` +
      `every_ms = ${o.every.ms}\nretries = 3\n\n` +
      `[faults]\ndivergence_probability = ${o.faultP ?? 0.01}\nseed = ${o.seed}\n`,
    stdoutFile: o.stdoutFiles ? outFile : undefined,
  });
  const why = describe(r.variants);
  for (const v of r.variants) {
    assert.equal(v.code, 0, why);
    const out = o.stdoutFiles ? await Deno.readTextFile(outFile(v.id)) : text(v.stdout);
    assert.equal(out, text(native.stdout), `variant ${v.id}'s stdout\n${why}`);
  }
  return { s: await readSummary(r.leader), why };
}

/**
 * CRIU gives back the process as it was at the dump, not the kernel state the monitor set up
 * around it since: the restored vDSO is the kernel's (the monitor's patch that makes time calls
 * trap is gone), the fds made since the dump are not in the image, and shared memory comes back
 * as it was (the fault injector's state with it). tests/scenarios/rollback.c reads the clock and
 * a file it opened after the first checkpoint at every step; injected divergences roll it back
 * to that checkpoint again and again, and every replay must go through.
 */
Deno.test("survival (criu): after a restore the clock still traps, files opened since the dump are open, faults are new", async () => {
  await buildScenarios();
  await withRunDir("a8-e2e-survival-restore-", async (dir) => {
    await Deno.mkdir(`${dir}/native`);
    await Deno.mkdir(`${dir}/work`);
    // One checkpoint, at the first wait: every rollback replays from there.
    const { s, why } = await likeNativeUnderCriu(dir, {
      native: [scenario("rollback"), `${dir}/native`],
      program: [scenario("rollback"), `${dir}/work`],
      every: { calls: 100000, ms: 100000 },
      seed: 3,
      timeoutMs: 60000,
    });
    assert.equal(s.outcome, "ok", why);
    const seqs = (s.rollback_log as { seq: number }[]).map((x) => x.seq);
    assert.ok(seqs.length >= 3, `rollbacks at ${seqs}\n${why}`);
    // A replay draws new numbers: with the injector's state rolled back too, each fault came
    // the same number of calls after the one before.
    const gaps = seqs.slice(1).map((q, i) => q - seqs[i]);
    assert.ok(gaps.some((g) => g !== gaps[0]), `rollbacks at ${seqs}`);
  });
});

/**
 * CRIU restores the dump's TCP connections closed; the root's keeper holds the live ones and
 * the restored server takes them back (preload/ckpt/keeper.c), as a fork copy shares them. So
 * a client that keeps its connection alive across rollbacks needs no new one: before, every
 * rollback after the first dump closed it, and each request that met a restore connected
 * again (refused while the listening socket was gone).
 */
Deno.test("survival (criu): kept-alive connections live through rollbacks", async () => {
  await requireVulnServer();
  await withRunDir("a8-e2e-survival-keepalive-", async (dir) => {
    const run = await startA8({
      dir,
      config: localConfig(2, {
        extraTables: `[checkpoint]\nengine = "criu"\nevery_calls = 5000\nevery_ms = 300\n` +
          `retries = 3\n\n[faults]\ndivergence_probability = 0.01\nseed = 5\n`,
      }),
      ids: [1, 2],
      leaderId: 1,
      program: vulnServerArgv(ADDR, 0),
    });
    const port = await waitListening(run.leader.proc);
    const workers = 2;
    const counts = await benignLoop({
      addr: ADDR,
      port,
      paths: benignMix,
      count: 160,
      retryClosed: 5,
      retryDelayMs: 250,
      concurrency: workers,
      keepAlive: true,
      intervalMs: 60,
      timeoutMs: ms(10000),
    });
    const bound = await boundSocketPaths();
    for (const v of run.variants) v.proc.signal("SIGTERM");
    const r = await waitA8(run, ms(20000));
    const why = `${JSON.stringify({ ...counts, latenciesMs: undefined })}\n${describe(r.variants)}`;
    // Every user can read the keepers' socket paths: they must not give away the monitors'
    // directory, nor a name that could be taken before the next keeper binds it.
    const keepers = bound.filter((p) => /^\/tmp\/a8-[^/]+\/keepers\/k-[0-9a-f]{16}$/.test(p));
    assert.ok(keepers.length > 0, `no keeper socket among ${bound.join(" ")}\n${why}`);
    assert.deepEqual(bound.filter((p) => p.includes("/program-")), [], why);
    assert.equal(counts.wrong, 0, why);
    assert.equal(counts.ok, 160, why);
    const s = await readSummary(r.leader);
    const rollbacks = s.rollbacks as number;
    console.log(`${rollbacks} rollbacks; ${counts.connects} connections for ${workers} workers`);
    assert.ok(rollbacks >= 3, `too few rollbacks to tell: ${rollbacks}\n${why}`);
    // A connection the leader was killed in the middle of using is closed (README, "What a
    // client may see"): now and then, not at every rollback.
    assert.ok(counts.connects - workers <= rollbacks / 3, `${rollbacks} rollbacks\n${why}`);
  });
});

/** The paths of the unix sockets bound under /tmp/a8-*, as /proc/net/unix shows every user. */
async function boundSocketPaths(): Promise<string[]> {
  const lines = (await Deno.readTextFile("/proc/net/unix")).split("\n").slice(1);
  return lines.map((l) => l.trim().split(/\s+/)[7] ?? "").filter((p) => p.startsWith("/tmp/a8-"));
}

/**
 * A child prints into a pipe its parent reads, and waits for the parent's answers on another
 * (tests/scenarios/child_pipe.c). CRIU restores the pipes as they were at the dump, and both
 * processes replay their logs: each writes again what it wrote since and drops from its next
 * reads what its replay read (preload/ckpt/pipes.c). Before that, with only the parent
 * replayed: 150 lines were read as 160-190, and with the answers the run stalled at the first
 * rollback after one.
 */
Deno.test("survival (criu): pipes between parent and child after a rollback", async () => {
  await buildScenarios();
  await withRunDir("a8-e2e-survival-pipe-", async (dir) => {
    const { s, why } = await likeNativeUnderCriu(dir, {
      native: [scenario("child_pipe")],
      program: [scenario("child_pipe")],
      every: { calls: 5000, ms: 100 },
      seed: 1,
      timeoutMs: 30000,
    });
    assert.ok((s.rollbacks as number) >= 1, `no rollback\n${why}`);
  });
});

/**
 * The same with one checkpoint, taken at the first wait, where the child has not yet put its
 * pipe on its stdout (dup2): every rollback replays that dup2. The replay used to take the fd
 * the dead child's dup2 had made from its keeper, a copy of the dead tree's pipe, which nobody
 * read after the restore: the child died of SIGPIPE at its next line, in every run (1 run in
 * ~15 of the test above, where a checkpoint fell there only now and then). Made again from the
 * restored pipe, the copy must count as the dump's pipe (preload/ckpt/pipes.c): else its
 * replayed lines are not written again, and parent and child wait for each other for ever.
 */
Deno.test("survival (criu): a child's dup2 of its pipe, replayed", async () => {
  await buildScenarios();
  await withRunDir("a8-e2e-survival-dup-", async (dir) => {
    const { s, why } = await likeNativeUnderCriu(dir, {
      native: [scenario("child_pipe")],
      program: [scenario("child_pipe")],
      every: { calls: 100000, ms: 100000 },
      seed: 1,
      timeoutMs: 30000,
    });
    assert.ok((s.rollbacks as number) >= 1, `no rollback\n${why}`);
    assert.equal(s.checkpoints, 1, `one checkpoint, before the dup2\n${why}`);
  });
});

/**
 * The variant's stdout a file (`a8 run ... > out`): it stays outside CRIU's image, so a rollback
 * does not put its offset back. A replay wrote the root's lines since the dump again, after
 * the ones already there: in ~1 run of 8 of child_pipe (3 %) its last lines came twice. Now the
 * replay takes the recorded result of such a write (preload/ckpt/redo.c). After an execve too
 * (`sh -c 'exec ...'`): the next image learns which files are the variant's stdio.
 */
Deno.test("survival (criu): the variant's stdout a file, no line printed twice", async (t) => {
  await buildScenarios();
  const programs: [string, string[]][] = [
    ["the program itself", [scenario("lines")]],
    ["after an execve", ["/bin/sh", "-c", `exec ${scenario("lines")}`]],
  ];
  for (const [name, program] of programs) {
    await t.step(name, async () => {
      await withRunDir("a8-e2e-survival-stdout-file-", async (dir) => {
        const { s, why } = await likeNativeUnderCriu(dir, {
          native: [scenario("lines")],
          program,
          every: { calls: 40, ms: 50 },
          seed: 3,
          timeoutMs: 30000,
          faultP: 0.03,
          stdoutFiles: true,
        });
        assert.ok((s.rollbacks as number) >= 3, `too few rollbacks to tell\n${why}`);
      });
    });
  }
});
