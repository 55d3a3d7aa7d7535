/**
 * The leader's rollback decision while the run stops: once a stop was asked, the variants it
 * brings back inject no more faults (the replay that carries the stop to the program must get
 * through); once the program is being killed for not stopping, nothing is rolled back.
 */
import assert from "node:assert/strict";
import { memoryLogger, testConfig } from "../peer/test_helpers.ts";
import type { PeerEvent, PeerGroup } from "../peer/mod.ts";
import type { PeerMsg } from "../peer/messages.ts";
import type { Engine, Target } from "./engine.ts";
import { type Divergence, Rollbacks, type StopState } from "./rollback.ts";

/** A group of one follower (id 2) that acknowledges every rollback at once. */
function fakeGroup(sent: PeerMsg[]): PeerGroup {
  return {
    broadcast: (msg: PeerMsg) => {
      sent.push(msg);
      return Promise.resolve();
    },
    on: () => () => {},
    waitFor: (pred: (e: PeerEvent) => boolean) => {
      const round = sent.filter((m) => m.t === "rollback").length;
      const e: PeerEvent = {
        kind: "message",
        from: 2,
        msg: { t: "rolled-back", variant: 2, round },
      };
      return Promise.resolve(pred(e) ? e : undefined);
    },
  } as unknown as PeerGroup;
}

/** An engine with checkpoint 4 whose rollbacks always work; it keeps the targets it got. */
function fakeEngine(targets: Target[]): Engine {
  return {
    name: "fork",
    wholeTree: false,
    attach: () => {},
    stats: { taken: 0, us: [] },
    newestEpoch: () => 4,
    portsAhead: () => ({ "0": 40000 }),
    prepareLeader: (t: Target) => {
      targets.push(t);
      return Promise.resolve({ ports: { "0": 40000 } });
    },
    finishLeader: () => Promise.resolve(null),
    rollBackFollower: () => Promise.resolve(null),
    close: () => {},
  } as unknown as Engine;
}

const DIVERGENCE: Divergence = {
  by: 2,
  stream: "0",
  seq: 120,
  call: "read",
  reason: "args",
  detail: "",
};

async function leaderRollsBack(stop: StopState, d: Divergence = DIVERGENCE) {
  const sent: PeerMsg[] = [];
  const targets: Target[] = [];
  const r = new Rollbacks({
    config: testConfig(2, (c) => c.checkpoint.engine = "fork"),
    selfId: 1,
    leader: true,
    group: fakeGroup(sent),
    engine: fakeEngine(targets),
    log: memoryLogger(1).logger,
    stop: () => stop,
  });
  const verdict = await r.handle(d);
  r.close();
  return { verdict, sent, targets, refused: r.refused };
}

Deno.test("a rollback while the run stops turns injected faults off", async () => {
  const running = await leaderRollsBack("running");
  assert.deepEqual(running.verdict, { ok: true });
  assert.equal(running.refused, undefined);
  assert.equal(running.targets[0].quiet, undefined);
  assert.equal((running.sent[0] as { quiet?: boolean }).quiet, undefined);

  const asked = await leaderRollsBack("asked");
  assert.deepEqual(asked.verdict, { ok: true });
  assert.equal(asked.targets[0].quiet, true);
  assert.deepEqual(asked.sent[0], {
    t: "rollback",
    epoch: 4,
    mode: 0,
    stream: "0",
    seq: 120,
    call: "read",
    ports: { "0": 40000 },
    quiet: true,
  });
});

Deno.test("a rollback's time ends when the variant's monitors say it served again", async () => {
  const sent: PeerMsg[] = [];
  const engine = fakeEngine([]) as Engine & { servedAt: number | undefined };
  // The monitors served 250 ms after the engine was done: the agent heard of it late.
  engine.finishLeader = () => {
    engine.servedAt = performance.now() + 250;
    return Promise.resolve(null);
  };
  const r = new Rollbacks({
    config: testConfig(2, (c) => c.checkpoint.engine = "fork"),
    selfId: 1,
    leader: true,
    group: fakeGroup(sent),
    engine,
    log: memoryLogger(1).logger,
    stop: () => "running",
  });
  const t0 = performance.now();
  assert.deepEqual(await r.handle(DIVERGENCE), { ok: true });
  const took = performance.now() - t0;
  r.close();
  assert.ok(r.done[0].ms >= 250 && r.done[0].ms <= 250 + took, `ms ${r.done[0].ms}`);
});

Deno.test("nothing is rolled back once the program is being killed", async () => {
  const killing = await leaderRollsBack("killing");
  assert.equal(killing.verdict.ok, false);
  assert.match((killing.verdict as { reason: string }).reason, /being killed/);
  // summary.json's rollback_refused says why.
  assert.equal(killing.refused, (killing.verdict as { reason: string }).reason);
  assert.deepEqual(killing.targets, []);
  assert.equal(killing.sent[0].t, "no-rollback");
});

Deno.test("a program that ended while its peer's runs on is not rolled back", async () => {
  const ended = await leaderRollsBack("running", {
    ...DIVERGENCE,
    seq: -1,
    call: "exit",
    reason: "exit-status",
    detail: "variant 2's program ended (status 0)",
  });
  assert.equal(ended.verdict.ok, false);
  assert.match((ended.verdict as { reason: string }).reason, /ended differently/);
  assert.deepEqual(ended.targets, []);
  assert.equal(ended.sent[0].t, "no-rollback");
});
