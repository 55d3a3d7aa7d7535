/**
 * The criu engine on one variant. A checkpoint: the root process's monitor asks to be dumped
 * (criu-dump) and waits with interposition off; the agent dumps the whole tree, leaving it
 * running, and wakes it (signal WAKE); the monitor asks what now and is told "live". A
 * rollback: the agent kills the tree, restores the epoch's images as its child, wakes it and
 * tells it "resume MODE SEQ PORT" (preload/ckpt/criu.c). After each dump the leader's monitor
 * forks a keeper (criu-keeper) that holds the fds the process makes from then on, which CRIU
 * does not have; the restored leader takes them back from it for its replay
 * (preload/ckpt/keep.c). The agent reaps it, spares its connections when it kills the tree, and
 * lets it go when a newer one registers or the run ends.
 */
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import type { Logger } from "../log.ts";
import { kill as sendSignal } from "../../ffi/libc.ts";
import type { CheckpointStats } from "./copies.ts";
import type { CriuDriver } from "./criu_driver.ts";
import { type Engine, nextEvent, type Target } from "./engine.ts";
import type { LiveRoot } from "./live_root.ts";
import { endOf } from "./reaper.ts";

/** The monitor's wake-up signal (criu.c): SIGSTKFLT. */
const WAKE = 16;

export class CriuEngine implements Engine {
  readonly name = "criu" as const;
  readonly stats: CheckpointStats = { taken: 0, micros: [] };
  readonly #driver: CriuDriver;
  readonly #events: EventServer;
  #root?: LiveRoot;
  readonly #attached = Promise.withResolvers<LiveRoot>();
  readonly #log: Logger;
  readonly #connectMs: number;
  #newest = 0;
  #pending?: { pid: number; resumed: Promise<MonitorEvent | undefined> };
  /** The leader's keeper of the fds made since the newest dump. */
  #keeper?: number;
  readonly #off: () => void;

  constructor(driver: CriuDriver, events: EventServer, log: Logger, connectMs: number) {
    this.#driver = driver;
    this.#events = events;
    this.#log = log;
    this.#connectMs = connectMs;
    this.#off = events.on((e) => {
      if (e.stream !== "0") return;
      if (e.ev === "criu-dump") this.#dump(e);
      else if (e.ev === "criu-keeper") this.#newKeeper(e.pid);
      else if (e.ev === "checkpoint-drop") {
        // The process forked, or its keeper could not be made: no dump can stand for it.
        this.#newest = 0;
        this.#dropKeeper();
      }
    });
  }

  #newKeeper(pid: number): void {
    endOf(pid); // reaped when it ends
    if (this.#keeper !== pid) this.#dropKeeper();
    this.#keeper = pid;
  }

  #dropKeeper(): void {
    if (this.#keeper !== undefined) this.#events.dropCopy(this.#keeper);
    this.#keeper = undefined;
  }

  /** The keeper's sockets ("socket:[inode]"): killing the tree must not abort those. */
  #keeperSockets(): Set<string> {
    const out = new Set<string>();
    if (this.#keeper === undefined) return out;
    try {
      for (const e of Deno.readDirSync(`/proc/${this.#keeper}/fd`)) {
        try {
          const t = Deno.readLinkSync(`/proc/${this.#keeper}/fd/${e.name}`);
          if (t.startsWith("socket:")) out.add(t);
        } catch {
          // Closed meanwhile.
        }
      }
    } catch {
      // No keeper any more: the restored leader will say so.
    }
    return out;
  }

  attach(root: LiveRoot): void {
    this.#root = root;
    this.#attached.resolve(root);
  }

  newestEpoch(): number {
    return this.#newest;
  }

  #next(pred: (e: MonitorEvent) => boolean): Promise<MonitorEvent | undefined> {
    return nextEvent((cb) => this.#events.on(cb), pred, this.#connectMs);
  }

  /** Dump at the monitor's request; wake it whatever happened (a failed dump is no epoch). */
  async #dump(e: MonitorEvent & { ev: "criu-dump" }): Promise<void> {
    // It closes its connection once it waits with interposition off: then CRIU may come.
    const t0 = performance.now();
    const gone = this.#next((g) => g.ev === "gone" && g.pid === e.pid);
    const root = await this.#attached.promise;
    await gone;
    this.#log.debug("criu: the process waits", { pid: e.pid, ms: performance.now() - t0 });
    try {
      const r = await this.#driver.dump(root.pid, e.epoch);
      this.stats.taken++;
      this.stats.micros.push(Math.round(r.ms * 1000));
      if (this.stats.micros.length > 1000) this.stats.micros.shift();
      this.#newest = e.epoch;
    } catch (err) {
      // The monitor went on as if it had one (the leader's log and keeper start anew): an
      // older dump cannot stand for the process any more.
      this.#newest = 0;
      this.#log.warn("checkpoint not taken: the dump failed", {
        epoch: e.epoch,
        error: (err as Error).message.split("\n")[0],
      });
    }
    const awake = this.#next((a) => a.ev === "criu-awake" && a.pid === e.pid);
    sendSignal(e.pid, WAKE);
    const woke = await awake;
    this.#log.debug("criu: woken", { pid: e.pid, ok: !!woke, ms: performance.now() - t0 });
    if (woke) await this.#events.tell(e.pid, "live");
  }

  /** Kill the tree, restore the epoch and wake it with the resume command. */
  async #restore(t: Target, port: number): Promise<
    {
      pid: number;
      listening: Promise<MonitorEvent | undefined>;
      resumed: Promise<MonitorEvent | undefined>;
    } | string
  > {
    const root = this.#root!;
    const old = root.pid;
    // killTree kills it: a SIGKILL first would close its connections before they are aborted.
    root.retire(false);
    // The keeper holds connections accepted since the dump: they live on, not aborted.
    await this.#driver.killTree(old, undefined, this.#keeperSockets());
    let pid: number;
    try {
      pid = (await this.#driver.restore(t.epoch)).pid;
    } catch (err) {
      return `restore of checkpoint ${t.epoch} failed: ${(err as Error).message.split("\n")[0]}`;
    }
    const awake = this.#next((a) => a.ev === "criu-awake" && a.pid === pid);
    sendSignal(pid, WAKE);
    if (!await awake) return "the restored process did not wake up";
    const listening = this.#next((a) => a.ev === "criu-listening" && a.pid === pid);
    const resumed = this.#next((a) => a.ev === "resumed" && a.pid === pid);
    await this.#events.tell(pid, `resume ${t.mode} ${t.seq} ${port}`);
    root.replace(pid, this.#driver.waitExit(pid).then((x) => x.code));
    return { pid, listening, resumed };
  }

  async prepareLeader(t: Target): Promise<{ port: number } | { reason: string }> {
    const r = await this.#restore(t, 0);
    if (typeof r === "string") return { reason: r };
    const l = await r.listening;
    if (!l || l.ev !== "criu-listening") return { reason: "the restored leader did not listen" };
    this.#pending = { pid: r.pid, resumed: r.resumed };
    return { port: l.port };
  }

  async finishLeader(): Promise<string | null> {
    const p = this.#pending;
    this.#pending = undefined;
    if (!p) return "no rollback prepared";
    return (await p.resumed) ? null : "the restored leader did not take its followers";
  }

  async rollBackFollower(t: Target, port: number): Promise<string | null> {
    const r = await this.#restore(t, port);
    if (typeof r === "string") return r;
    return (await r.resumed) ? null : "the restored follower did not connect to the leader";
  }

  close(): void {
    this.#off();
    this.#dropKeeper();
    this.#driver.close();
  }
}
