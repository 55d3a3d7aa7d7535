/**
 * Tree checkpoint rounds (criu_rounds.ts) against a scripted tree: which processes are asked,
 * when the tree is dumped, what each process is told, what an image holds. The monitors'
 * side is played by `FakeTree`: a process asked for epoch E reports criu-dump (or skip) and
 * closes its connection; woken, it says criu-awake. The real protocol runs end to end in
 * tests/e2e/servers_test.ts (nginx, master and workers) and survival_test.ts.
 */
import assert from "node:assert/strict";
import type { MonitorEvent } from "../launch/events.ts";
import { createLogger } from "../log.ts";
import { CriuRounds, CUT, WAKE } from "./criu_rounds.ts";

const ROOT = 100;

/** A variant's tree of monitored processes, as the agent sees it through its events. */
class FakeTree {
  readonly listeners = new Set<(e: MonitorEvent) => void>();
  readonly told: [number, string][] = [];
  readonly asked: [number, number][] = [];
  readonly dumps: [number, number][] = [];
  readonly dumped: number[] = [];
  /** Processes that report skip instead of standing still; that never answer. */
  readonly skipping = new Set<number>();
  readonly silent = new Set<number>();
  /** Processes blocked waiting for a child (wait4). */
  readonly parents = new Set<number>();
  dumpFails = false;
  /** While set, a dump waits for it. */
  dumpGate: Promise<void> | null = null;
  /** ms after its "live" until a process's keeper registers (criu-keeper); null: never. */
  keeperMs: number | null = 1;
  /** Streams whose keeper takes this long instead. */
  readonly keeperMsOf = new Map<string, number>();
  #lastDump = 0;

  constructor(readonly streams: Map<number, string>) {}

  on = (cb: (e: MonitorEvent) => void) => {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  };

  tell = (pid: number, cmd: string) => {
    this.told.push([pid, cmd]);
    const epoch = this.#lastDump;
    const stream = this.streams.get(pid)!;
    if (cmd.startsWith("live") && this.keeperMs !== null) {
      const keeper = { stream, pid: 9000 + 10 * epoch + pid % 10, vpid: 0 };
      const ms = this.keeperMsOf.get(stream) ?? this.keeperMs;
      setTimeout(() => this.emit({ ev: "criu-keeper", ...keeper, epoch }), ms);
    }
    return Promise.resolve(true);
  };

  emit(e: MonitorEvent): void {
    for (const cb of [...this.listeners]) cb(e);
  }

  base(pid: number) {
    return { stream: this.streams.get(pid)!, pid, vpid: pid };
  }

  /** A process reaches its checkpoint position for `epoch`. */
  stands(pid: number, epoch: number): void {
    const skip = this.skipping.has(pid) ? 1 : 0;
    this.emit({ ev: "criu-dump", ...this.base(pid), epoch, seq: 7, skip });
    if (!skip) queueMicrotask(() => this.emit({ ev: "gone", ...this.base(pid) }));
  }

  signal = (pid: number, sig: number, value?: number) => {
    if (sig === CUT) {
      this.asked.push([pid, value!]);
      if (!this.silent.has(pid)) setTimeout(() => this.stands(pid, value!), 1);
    } else if (sig === WAKE) {
      setTimeout(() => this.emit({ ev: "criu-awake", ...this.base(pid), epoch: 0 }), 1);
    }
  };

  driver = {
    dump: (root: number, epoch: number) => {
      this.dumps.push([root, epoch]);
      this.#lastDump = epoch;
      if (this.dumpFails) return Promise.reject(new Error("CRIU said no"));
      const done = { ms: 5, dir: `/images/${epoch}` };
      return this.dumpGate ? this.dumpGate.then(() => done) : Promise.resolve(done);
    },
  };

  rounds(leader: boolean, timeoutMs = 2000): CriuRounds {
    return new CriuRounds({
      driver: this.driver,
      events: this,
      log: createLogger({ level: "error", sink: () => {} }),
      leader,
      root: () => Promise.resolve(ROOT),
      timeoutMs,
      keep: 3,
      tree: () => [...this.streams.keys()],
      signal: this.signal,
      waitsForChild: (pid) => this.parents.has(pid),
      dumped: (epoch) => this.dumped.push(epoch),
    });
  }

  /** Until `n` commands were told (or a second passed). */
  async toldCount(n: number): Promise<void> {
    for (let i = 0; i < 200 && this.told.length < n; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const nginx = () => new Map([[ROOT, "0"], [101, "0.1"], [102, "0.2"]]);
const due = (t: FakeTree, epoch: number) => t.emit({ ev: "criu-due", ...t.base(101), epoch });

/**
 * Leader: checkpoint 1 is taken and its round over (the keepers registered): a due
 * before that is not taken.
 */
async function firstCheckpoint(t: FakeTree): Promise<void> {
  due(t, 1);
  await t.toldCount(3);
  await new Promise((r) => setTimeout(r, 20));
}

Deno.test("leader: every process of the tree is asked, the tree dumped once, each told live", async () => {
  const t = new FakeTree(nginx());
  const r = t.rounds(true);
  due(t, 1);
  due(t, 1); // asked again meanwhile: one round only
  await t.toldCount(3);
  assert.deepEqual(t.asked.sort(), [[100, 1], [101, 1], [102, 1]]);
  assert.deepEqual(t.dumps, [[ROOT, 1]]);
  assert.deepEqual(t.told.map(([, c]) => c), ["live", "live", "live"]);
  assert.equal(r.newest(), 1);
  assert.deepEqual([...r.image(1)!].sort(), [[100, "0"], [101, "0.1"], [102, "0.2"]]);
  assert.equal(r.stats.taken, 1);
  assert.deepEqual(t.dumped, [1], "the followers are told");
  r.close();
});

Deno.test("follower: a round starts with the first process that stands still, none is asked", async () => {
  const t = new FakeTree(nginx());
  const r = t.rounds(false);
  for (const pid of [101, 100, 102]) t.stands(pid, 4);
  await t.toldCount(3);
  assert.deepEqual(t.asked, []);
  assert.deepEqual(t.dumps, [[ROOT, 4]]);
  assert.equal(r.newest(), 4);
  r.close();
});

Deno.test("a process that cannot take part: no dump, the others go on without it", async () => {
  const t = new FakeTree(nginx());
  t.skipping.add(102);
  const r = t.rounds(true);
  due(t, 1);
  await t.toldCount(2);
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(t.dumps, []);
  assert.deepEqual(t.told.map(([pid, c]) => [pid, c]).sort(), [[100, "skip"], [101, "skip"]]);
  assert.equal(r.newest(), 0);
  r.close();
});

Deno.test("leader: a round is over once every process's keeper registered (a rollback waits)", async () => {
  const t = new FakeTree(nginx());
  t.keeperMs = 150;
  t.keeperMsOf.set("0", 1);
  const r = t.rounds(true);
  const keepers: string[] = [];
  t.on((e) => e.ev === "criu-keeper" && keepers.push(`${e.stream}@${e.epoch}`));
  due(t, 1);
  await t.toldCount(3);
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(keepers, ["0@1"], "the workers' keepers registered at once");
  // Until a keeper left the tree's session, killing the tree would kill it too.
  await r.halt();
  assert.deepEqual(keepers.sort(), ["0.1@1", "0.2@1", "0@1"], "the halt did not wait for them");
  r.close();
});

Deno.test("leader: a keeper that never registers holds a rollback up for the round's time only, and its image is forgotten", async () => {
  const t = new FakeTree(nginx());
  t.keeperMs = null;
  const r = t.rounds(true, 80);
  due(t, 1);
  await t.toldCount(3);
  const t0 = performance.now();
  await r.halt();
  assert.ok(performance.now() - t0 < 1000, "the halt waited past the round's time-out");
  // Its process could not replay after a rollback to it (no keeper, no fds made since).
  assert.equal(r.newest(), 0, "the image of a process without a keeper still stands");
  r.close();
});

Deno.test("a rollback during a dump: the new image is not announced, the older one stands", async () => {
  const t = new FakeTree(nginx());
  const r = t.rounds(true);
  await firstCheckpoint(t);
  const gate = Promise.withResolvers<void>();
  t.dumpGate = gate.promise;
  due(t, 2);
  for (let i = 0; i < 200 && t.dumps.length < 2; i++) {
    await new Promise((res) => setTimeout(res, 5));
  }
  assert.deepEqual(t.dumps.at(-1), [ROOT, 2], "the second dump did not start");
  const halted = r.halt(); // the rollback picked epoch 1 already
  gate.resolve();
  await halted;
  assert.equal(r.newest(), 1, "the halted round's image replaced the one being restored");
  assert.deepEqual(t.dumped, [1], "followers were told of the halted round's image");
  assert.equal(t.told.length, 3, "a process of the halted round was woken");
  r.close();
});

Deno.test("a failed dump keeps the older image and tells skip", async () => {
  const t = new FakeTree(nginx());
  const r = t.rounds(true);
  await firstCheckpoint(t);
  t.dumpFails = true;
  due(t, 2);
  await t.toldCount(6);
  assert.deepEqual(t.dumps, [[ROOT, 1], [ROOT, 2]]);
  assert.deepEqual(t.told.slice(3).map(([, c]) => c), ["skip", "skip", "skip"]);
  assert.equal(r.newest(), 1, "the older checkpoint still stands");
  r.close();
});

Deno.test("a process that never stands still: the round is given up in time, a late one told skip", async () => {
  const t = new FakeTree(nginx());
  t.silent.add(102);
  const r = t.rounds(true, 60);
  due(t, 1);
  await t.toldCount(2);
  assert.deepEqual(t.dumps, []);
  assert.deepEqual(t.told.map(([, c]) => c), ["skip", "skip"]);
  t.stands(102, 1); // it gets there after all
  await t.toldCount(3);
  assert.deepEqual(t.told[2], [102, "skip"]);
  due(t, 1); // the next round takes a newer epoch
  t.silent.clear();
  await t.toldCount(6);
  assert.deepEqual(t.dumps, [[ROOT, 2]]);
  r.close();
});

Deno.test("a rollback halts the round under way: nobody is woken, nothing dumped", async () => {
  const t = new FakeTree(nginx());
  t.silent.add(102);
  const r = t.rounds(true);
  due(t, 1);
  await new Promise((res) => setTimeout(res, 20));
  await r.halt();
  due(t, 2); // requests from a dying tree start nothing
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(t.dumps, []);
  assert.deepEqual(t.told, []);
  r.resume();
  t.silent.clear();
  due(t, 3);
  await t.toldCount(3);
  assert.deepEqual(t.dumps, [[ROOT, 3]]);
  r.close();
});

Deno.test("follower: images stay until the leader has a newer one, however many it dumped", async () => {
  const t = new FakeTree(nginx());
  const r = t.rounds(false);
  for (const epoch of [1, 2, 3, 4, 5]) {
    for (const pid of [100, 101, 102]) t.stands(pid, epoch);
    await t.toldCount(3 * epoch);
  }
  assert.deepEqual(t.dumped, [], "a follower tells nobody");
  assert.ok(r.image(1), "the leader may still roll back to 1");
  r.confirmed(4);
  assert.equal(r.image(3), undefined);
  assert.ok(r.image(4) && r.image(5));
  r.close();
});

Deno.test("a process that ended after it stood still is not in the image", async () => {
  const t = new FakeTree(nginx());
  const r = t.rounds(true);
  t.silent.add(102);
  due(t, 1);
  await new Promise((res) => setTimeout(res, 20));
  t.stands(102, 1);
  t.streams.delete(102); // it stood still, then the worker died before the dump
  await t.toldCount(2);
  assert.deepEqual(t.dumps, [[ROOT, 1]]);
  assert.deepEqual([...r.image(1)!.keys()].sort(), [100, 101]);
  r.close();
});

Deno.test("a process waiting for a child: the round is given up at once, not waited out", async () => {
  const t = new FakeTree(nginx());
  t.parents.add(ROOT);
  const r = t.rounds(true, 5000);
  const t0 = performance.now();
  due(t, 1);
  await new Promise((res) => setTimeout(res, 30));
  assert.deepEqual(t.asked, [], "nobody is asked into a round that cannot complete");
  assert.deepEqual(t.dumps, []);
  // Follower: a process stood still for the leader's round; its parent waits for a child.
  const f = new FakeTree(nginx());
  f.parents.add(ROOT);
  const fr = f.rounds(false, 5000);
  f.stands(101, 1);
  await f.toldCount(1);
  assert.deepEqual(f.told, [[101, "skip"]]);
  assert.ok(performance.now() - t0 < 1000, "well before the round's time limit");
  // Once the child ended, the next request makes a checkpoint.
  t.parents.clear();
  due(t, 1);
  await t.toldCount(3);
  assert.deepEqual(t.dumps, [[ROOT, 2]]);
  r.close();
  fr.close();
});
