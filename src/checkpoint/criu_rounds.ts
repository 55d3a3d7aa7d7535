/**
 * Checkpoints of a whole process tree with CRIU, on one variant. CRIU dumps a tree at once, so
 * every process of it must stand still at a position of its own stream first:
 *
 * - leader: a process's monitor says a checkpoint is due (criu-due); the agent picks the epoch
 *   and asks every process of the tree for it (sigqueue A8_SIG_CUT with the epoch: a process
 *   waiting for events is interrupted, see preload/ckpt/criu.c); each places a checkpoint
 *   record in its stream at its next call;
 * - follower: each process meets that record in its stream;
 * - everywhere: each process tells the agent (criu-dump), closes its connection and waits with
 *   interposition off. Once every process of the tree waits, the agent dumps the tree, notes
 *   which process had which stream, and wakes them ("live"). A follower's processes then
 *   acknowledge to the leader's, which only then stop for their own dump: an epoch the leader
 *   has exists on every follower.
 *
 * A round that cannot complete in time (a process blocked in a call that does not return), or
 * whose dump fails, or in which a process cannot take part (a follower of its could not), or
 * in which a process that does not stand still waits for a child (wait4: a child that stands
 * still would never end; such a round is not waited out), is given up: the waiting processes
 * are told "skip" and go on without it, keeping the older checkpoint (their replay logs start
 * anew only with "live"); a late one is told at once.
 */
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import type { Logger } from "../log.ts";
import { kill, sigqueue } from "../../ffi/libc.ts";
import type { CheckpointStats } from "./copies.ts";
import type { CriuDriver } from "./criu_driver.ts";
import { nextEvent } from "./engine.ts";
import { treeOf, waitsForChild } from "./proc_tree.ts";

/** The monitor's wake-up signal (criu.c): SIGSTKFLT. */
export const WAKE = 16;
/** The agent's request for a tree checkpoint (ckpt.h A8_SIG_CUT): SIGRTMAX. */
export const CUT = 64;
/** How often a round looks at the tree (processes born or gone meanwhile). */
const POLL_MS = 5;

/** The processes an image holds: pid (the same after a restore) to stream id. */
export type TreeImage = Map<number, string>;

interface Round {
  epoch: number;
  /**
   * Processes that reported for it: pid to stream, when their connection closed, and whether
   * they stand still (a process that cannot take part says so and goes on).
   */
  waiting: Map<number, { stream: string; gone: Promise<unknown>; still: boolean }>;
  /** Leader: processes asked for it. */
  asked: Set<number>;
  deadline: number;
  /** A rollback is killing the tree: nobody is woken, no dump is made. */
  halted: boolean;
  /** Something happened: look again. */
  poke: () => void;
  /** Settled when the round is over. */
  over: Promise<void>;
}

export interface RoundsOptions {
  driver: Pick<CriuDriver, "dump">;
  events: Pick<EventServer, "on" | "tell">;
  log: Logger;
  leader: boolean;
  /** The live root, once it runs. */
  root: () => Promise<number>;
  /** How long every process of the tree may take to stand still. */
  timeoutMs: number;
  /**
   * Leader: images of the last this many epochs are kept (the driver keeps as many on disk).
   * A follower keeps every image from the leader's newest on (`confirmed`).
   */
  keep: number;
  /** Leader: its tree was dumped at this epoch (the followers are told). */
  dumped?: (epoch: number) => void;
  /** The processes of the tree (root first): /proc by default. */
  tree?: (root: number) => number[];
  /** Sends a signal, with a value (sigqueue) or without: libc by default. */
  signal?: (pid: number, sig: number, value?: number) => void;
  /** Whether a process is blocked waiting for a child: /proc by default. */
  waitsForChild?: (pid: number) => boolean;
}

function sendSignal(pid: number, sig: number, value?: number): void {
  if (value === undefined) kill(pid, sig);
  else sigqueue(pid, sig, value);
}

export class CriuRounds {
  readonly stats: CheckpointStats = { taken: 0, micros: [] };
  readonly #o: RoundsOptions;
  readonly #tree: (root: number) => number[];
  readonly #signal: (pid: number, sig: number, value?: number) => void;
  readonly #waitsForChild: (pid: number) => boolean;
  readonly #images = new Map<number, TreeImage>();
  #round?: Round;
  /** The newest epoch a round was held for (done or abandoned): older ones are stale. */
  #last = 0;
  /** While a rollback replaces the tree, its events (and requests) are from the dead. */
  #halted = false;
  readonly #off: () => void;

  constructor(o: RoundsOptions) {
    this.#o = o;
    this.#tree = o.tree ?? treeOf;
    this.#signal = o.signal ?? sendSignal;
    this.#waitsForChild = o.waitsForChild ?? waitsForChild;
    this.#off = o.events.on((e) => {
      if (e.ev === "criu-due" && o.leader) this.#due(e.epoch);
      else if (e.ev === "criu-dump") this.#waits(e);
    });
  }

  /** The newest epoch with a complete image (0: none). */
  newest(): number {
    return this.#images.size ? Math.max(...this.#images.keys()) : 0;
  }

  image(epoch: number): TreeImage | undefined {
    return this.#images.get(epoch);
  }

  /** Follower: the leader has `epoch`; no rollback goes back further. */
  confirmed(epoch: number): void {
    for (const ep of this.#images.keys()) if (ep < epoch) this.#images.delete(ep);
  }

  /** The tree changed in a way no image can stand for (a process forked): forget them all. */
  forget(): void {
    this.#images.clear();
  }

  close(): void {
    this.#off();
    this.halt();
  }

  /**
   * A rollback is about to kill the tree: the round under way is abandoned (its dump, if
   * CRIU is at it, finishes first) and none starts until `resume`.
   */
  async halt(): Promise<void> {
    this.#halted = true;
    const r = this.#round;
    if (!r) return;
    r.halted = true;
    r.poke();
    await r.over;
  }

  /** The restored tree runs: rounds may start again. */
  resume(): void {
    this.#halted = false;
  }

  #due(asked: number): void {
    if (this.#round || this.#halted) return;
    this.#start(Math.max(asked, this.#last + 1));
  }

  #waits(e: MonitorEvent & { ev: "criu-dump" }): void {
    // Registered now, before the connection's next event (its close) is seen.
    const gone = this.#next((g) => g.ev === "gone" && g.pid === e.pid);
    if (this.#halted) return; // a process of the tree being killed
    const r = this.#round;
    const still = e.skip === 0;
    if (e.epoch <= this.#last && (!r || r.epoch !== e.epoch)) {
      this.#o.log.debug("criu: late for an epoch that is over", { pid: e.pid, epoch: e.epoch });
      if (still) gone.then(() => this.#wake([e.pid], "skip"));
      return;
    }
    const round = r && r.epoch === e.epoch ? r : this.#start(e.epoch);
    round.waiting.set(e.pid, { stream: e.stream, gone: still ? gone : Promise.resolve(), still });
    round.poke();
  }

  #start(epoch: number): Round {
    if (this.#round) this.#round.deadline = 0; // a newer round: the older one is abandoned
    let poke = () => {};
    const over = Promise.withResolvers<void>();
    const round: Round = {
      epoch,
      waiting: new Map(),
      asked: new Set(),
      deadline: performance.now() + this.#o.timeoutMs,
      halted: false,
      poke: () => poke(),
      over: over.promise,
    };
    this.#round = round;
    this.#last = Math.max(this.#last, epoch);
    const next = () => new Promise<void>((r) => poke = r);
    this.#run(round, next).catch((err) =>
      this.#o.log.warn("checkpoint round failed", { epoch, error: (err as Error).message })
    ).finally(() => {
      if (this.#round === round) this.#round = undefined;
      over.resolve();
    });
    return round;
  }

  async #run(round: Round, next: () => Promise<void>): Promise<void> {
    const root = await this.#o.root();
    let tree: number[];
    for (;;) {
      if (round.halted) return;
      tree = this.#tree(root);
      const missing = tree.filter((pid) => !round.waiting.has(pid));
      if (tree.length && !missing.length) break;
      // A process waiting for a child cannot stand still until the child ends, and a child
      // that stands still for this round does not end: the round could only time out, with
      // the whole tree stalled meanwhile.
      const parent = missing.find((pid) => this.#waitsForChild(pid));
      if (parent !== undefined) {
        this.#o.log.info("checkpoint given up: a process waits for a child", {
          epoch: round.epoch,
          pid: parent,
        });
        await this.#wake(this.#still(round), "skip");
        return;
      }
      if (this.#o.leader) this.#ask(round, tree);
      if (performance.now() > round.deadline) {
        this.#o.log.warn("checkpoint abandoned: not every process of the tree stopped", {
          epoch: round.epoch,
          root,
          tree: tree.join(","),
          waiting: [...round.waiting.keys()].join(","),
          missing: missing.join(","),
        });
        await this.#wake(this.#still(round), "skip");
        return;
      }
      await Promise.race([next(), new Promise((r) => setTimeout(r, POLL_MS))]);
    }
    if ([...round.waiting.values()].some((w) => !w.still)) {
      this.#o.log.info("checkpoint given up: a process could not take part", {
        epoch: round.epoch,
      });
      await this.#wake(this.#still(round), "skip");
      return;
    }
    await Promise.all([...round.waiting.values()].map((w) => w.gone));
    if (round.halted) return;
    let done = false;
    try {
      // The tree as the round last saw it: every process of it stands still.
      const r = await this.#o.driver.dump(root, round.epoch, () => tree);
      // A rollback came meanwhile: it goes back to an older image, which this one must not
      // replace (followers told of it would discard theirs while they restore it).
      if (round.halted) return;
      // What the dump holds: a process that stood still and then ended is not in it.
      const dumped = [...round.waiting].filter(([pid]) => tree.includes(pid));
      this.#images.set(round.epoch, new Map(dumped.map(([p, w]) => [p, w.stream])));
      if (this.#o.leader) {
        for (const ep of this.#images.keys()) {
          if (ep <= round.epoch - this.#o.keep) this.#images.delete(ep);
        }
        this.#o.dumped?.(round.epoch);
      }
      done = true;
      this.stats.taken++;
      this.stats.micros.push(Math.round(r.ms * 1000));
      if (this.stats.micros.length > 1000) this.stats.micros.shift();
    } catch (err) {
      this.#o.log.warn("checkpoint not taken: the dump failed", {
        epoch: round.epoch,
        error: (err as Error).message.split("\n")[0],
      });
    }
    // "solo": the root was dumped alone, so its listening sockets are its own (keeper.c).
    const live = tree.length === 1 ? "live solo" : "live";
    if (round.halted) return;
    const image = this.#images.get(round.epoch);
    const keepers = done && this.#o.leader && image
      ? this.#keepersUp(round.epoch, new Set(image.values()))
      : null;
    const woke = await this.#wake(this.#still(round), done ? live : "skip");
    // The round is over once every keeper stands on its own (halt waits for it): until one
    // leaves the tree's session, killing the tree would kill it too. A process whose keeper
    // did not come could not replay after a rollback: no image stands then.
    const late = keepers ? await keepers : [];
    if (late.length) {
      this.#o.log.warn("a keeper did not start: no checkpoint until the next one", {
        epoch: round.epoch,
        streams: late.join(" "),
        woke,
      });
      this.forget();
    }
  }

  /**
   * Leader, after a dump: resolves when the keeper of `epoch` of each of `streams` registered
   * (it has left the tree's session by then: preload/ckpt/keeper.c), or its process dropped the
   * checkpoint or stopped; with the streams still without a word after the round's time-out.
   */
  async #keepersUp(epoch: number, streams: ReadonlySet<string>): Promise<string[]> {
    const heard = await Promise.all(
      [...streams].map((s) =>
        this.#next((e) =>
          e.stream === s &&
          (e.ev === "checkpoint-drop" || e.ev === "fatal" ||
            (e.ev === "criu-keeper" && e.epoch === epoch))
        )
      ),
    );
    return [...streams].filter((_, i) => heard[i] === undefined);
  }

  /** The processes of the round that stand still, waiting for a word. */
  #still(round: Round): number[] {
    return [...round.waiting].filter(([, w]) => w.still).map(([pid]) => pid);
  }

  /** Leader: every process of the tree not asked yet is asked for the round's epoch. */
  #ask(round: Round, tree: number[]): void {
    for (const pid of tree) {
      if (round.asked.has(pid)) continue;
      round.asked.add(pid);
      try {
        this.#signal(pid, CUT, round.epoch);
      } catch {
        // Gone meanwhile: the next look at the tree no longer has it.
      }
    }
  }

  /** Wake processes that wait for the agent (after a dump or a restore) and tell them `cmd`. */
  async #wake(pids: number[], cmd: string | ((pid: number) => string)): Promise<boolean> {
    const ok = await Promise.all(pids.map(async (pid) => {
      const awake = this.#next((a) => a.ev === "criu-awake" && a.pid === pid);
      try {
        this.#signal(pid, WAKE);
      } catch {
        return false;
      }
      if (!await awake) return false;
      return await this.#o.events.tell(pid, typeof cmd === "string" ? cmd : cmd(pid));
    }));
    return ok.every(Boolean);
  }

  /** Wake a restored tree: each process is told its own command. */
  wakeRestored(image: TreeImage, cmd: (pid: number, stream: string) => string): Promise<boolean> {
    return this.#wake([...image.keys()], (pid) => cmd(pid, image.get(pid)!));
  }

  #next(pred: (e: MonitorEvent) => boolean): Promise<MonitorEvent | undefined> {
    return nextEvent((cb) => this.#o.events.on(cb), pred, this.#o.timeoutMs);
  }
}
