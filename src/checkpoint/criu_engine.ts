/**
 * The criu engine on one variant: checkpoints of the whole process tree (criu_rounds.ts), and
 * rollbacks. A rollback kills the tree, restores the epoch's images as the agent's child and
 * wakes every process of it with its own command, "resume MODE SEQ PORT"
 * (preload/ckpt/criu.c): the divergent stream replays up to its divergence (MODE and SEQ as the
 * coordinator says), every other stream replays all its log; each leader process listens for
 * its followers on a port of its own, each follower process connects to its stream's port.
 *
 * CRIU has the fds of the dump only, and brings its TCP connections back closed. After each
 * dump every leader process's monitor forks a keeper (criu-keeper), a child of the agent's
 * outside the tree, that holds the live connections of the dump and the fds the process makes
 * from then on; the restored process takes them back from it for its replay
 * (preload/ckpt/keeper.c), so its clients see a delay, not a reset. The agent reaps each
 * keeper, spares their connections when it kills the tree, and lets one go when a newer one
 * of its stream registers, its process drops the checkpoint, or the run ends.
 */
import { closeFd, monitorTimeToPerf } from "../../ffi/libc.ts";
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import type { Logger } from "../log.ts";
import type { Ports } from "../peer/messages.ts";
import type { CheckpointStats } from "./copies.ts";
import type { CriuDriver } from "./criu_driver.ts";
import { CriuRounds, type TreeImage } from "./criu_rounds.ts";
import { type Engine, nextEvent, resumeCommand, type Target } from "./engine.ts";
import type { LiveRoot } from "./live_root.ts";
import { endOf } from "./reaper.ts";
import { socketsOf } from "./proc_tree.ts";
import { fatalReason } from "../run/outcome.ts";
import { reusableListeners } from "./kill_tree.ts";

/**
 * Images the leader keeps (a rollback takes its newest). A follower keeps every image from
 * its leader's newest on: it may have dumped newer epochs its leader then gave up on.
 */
export const CRIU_KEEP_IMAGES = 3;
/** A follower's images wait for its leader's word (`checkpointed`), not for a count. */
export const CRIU_KEEP_IMAGES_FOLLOWER = 1_000_000;

/** The last of a tree's processes to serve again, on `performance.now()`'s clock. */
function servedAt(resumed: Map<string, MonitorEvent>): number | undefined {
  let last: number | undefined;
  for (const e of resumed.values()) {
    if (e.ev !== "resumed" || e.mono_us === undefined) return undefined;
    last = Math.max(last ?? 0, monitorTimeToPerf(e.mono_us));
  }
  return last;
}

/** " (stream S stopped: why)", for the first restored process that stopped, else "". */
export function stoppedWith(heard: Map<string, MonitorEvent>): string {
  for (const [stream, e] of heard) {
    if (e.ev === "fatal") {
      return ` (stream ${stream} stopped: ${fatalReason(e.reason)}${
        e.detail ? `: ${e.detail}` : ""
      })`;
    }
  }
  return "";
}

/** How the engine hears of its leader's checkpoints, or tells its followers of its own. */
export interface CheckpointNews {
  leader: boolean;
  tell(epoch: number): void;
  /** Follower: `cb` for each epoch the leader has; returns the unsubscribe. */
  listen(cb: (epoch: number) => void): () => void;
}
/**
 * How long every process of the tree may take to stand still for a checkpoint: the ones that
 * did wait meanwhile (the service stalls), so not the whole connect timeout.
 */
const ROUND_MS = 3000;

export class CriuEngine implements Engine {
  readonly name = "criu" as const;
  readonly wholeTree = true;
  readonly #driver: CriuDriver;
  readonly #events: EventServer;
  readonly #rounds: CriuRounds;
  #root?: LiveRoot;
  readonly #attached = Promise.withResolvers<LiveRoot>();
  readonly #connectMs: number;
  readonly #log: Logger;
  /** The leader's restored processes resuming: null once all did, else why not. */
  #pending?: Promise<string | null>;
  servedAt: number | undefined;
  /** Each leader process's keeper of the fds made since the newest dump, by stream. */
  readonly #keepers = new Map<string, number>();
  /** Leader: the root's listening sockets ("socket:[inode]") at each kept dump (#noteSockets). */
  readonly #dumpSockets = new Map<number, ReadonlySet<string>>();
  readonly #off: () => void;

  constructor(
    driver: CriuDriver,
    events: EventServer,
    log: Logger,
    connectMs: number,
    news: CheckpointNews,
  ) {
    this.#driver = driver;
    this.#events = events;
    this.#connectMs = connectMs;
    this.#log = log;
    this.#rounds = new CriuRounds({
      driver,
      events,
      log,
      leader: news.leader,
      root: async () => (await this.#attached.promise).pid,
      timeoutMs: Math.min(connectMs, ROUND_MS),
      keep: CRIU_KEEP_IMAGES,
      dumped: (epoch) => {
        this.#noteSockets(epoch);
        this.#dropKeepersOutside(epoch);
        news.tell(epoch);
      },
    });
    const offNews = news.listen((epoch) => {
      this.#rounds.confirmed(epoch);
      driver.discardBelow(epoch).catch((e) =>
        log.warn("cannot remove old images", { error: (e as Error).message })
      );
    });
    const offEvents = events.on((e) => {
      if (e.ev === "criu-keeper") this.#newKeeper(e.stream, e.pid);
      else if (e.ev === "checkpoint-drop") {
        // A process forked since the newest dump (no image has it, and a replay cannot make
        // it), or a keeper could not be made.
        this.#rounds.forget();
        this.#dropKeeper(e.stream);
      }
    });
    this.#off = () => {
      offNews();
      offEvents();
    };
  }

  get stats(): CheckpointStats {
    return this.#rounds.stats;
  }

  #newKeeper(stream: string, pid: number): void {
    endOf(pid); // reaped when it ends
    if (this.#keepers.get(stream) !== pid) this.#dropKeeper(stream);
    this.#keepers.set(stream, pid);
  }

  #dropKeeper(stream: string): void {
    const pid = this.#keepers.get(stream);
    if (pid !== undefined) this.#events.dropCopy(pid);
    this.#keepers.delete(stream);
  }

  /**
   * A process that ended before the dump of `epoch` is in no image a rollback goes back to:
   * its keeper would hold its connections open (its clients would wait for an end) and wait
   * for a restore until the run ends.
   */
  #dropKeepersOutside(epoch: number): void {
    const streams = new Set(this.#rounds.image(epoch)?.values() ?? []);
    for (const stream of [...this.#keepers.keys()]) {
      if (!streams.has(stream)) this.#dropKeeper(stream);
    }
  }

  /** The keepers' sockets ("socket:[inode]"): killing the tree must not abort those. */
  #keeperSockets(): Set<string> {
    // A process without a keeper (any more) has none; restored, it will say so.
    const all = new Set<string>();
    for (const pid of this.#keepers.values()) {
      for (const [, target] of socketsOf(pid)) all.add(target);
    }
    return all;
  }

  /**
   * Leader, right after the dump of `epoch` (the tree still stands still): the root's listening
   * sockets with SO_REUSEPORT, which the image has so (the root sets it before each dump,
   * preload/ckpt/ckpt.c). A rollback to the epoch holds them open while the tree is restored
   * (killTree's `hold`): clients connecting meanwhile wait in their queue instead of being
   * refused, and once the restored tree listens, closing them hands that queue over to it (with
   * net.ipv4.tcp_migrate_req = 1; without it those clients are reset, as they would have been
   * refused). No other listener is held: its port may be in the image without SO_REUSEPORT (a
   * socket made, or made to listen, since the dump), and the restore could not bind it.
   */
  #noteSockets(epoch: number): void {
    const root = this.#root?.pid;
    if (root === undefined) return;
    this.#dumpSockets.set(epoch, reusableListeners(root));
    // Kept as long as the rounds keep the epoch's image.
    for (const ep of this.#dumpSockets.keys()) {
      if (!this.#rounds.image(ep)) this.#dumpSockets.delete(ep);
    }
  }

  attach(root: LiveRoot): void {
    this.#root = root;
    this.#attached.resolve(root);
  }

  newestEpoch(): number {
    return this.#rounds.newest();
  }

  #next(pred: (e: MonitorEvent) => boolean): Promise<MonitorEvent | undefined> {
    return nextEvent((cb) => this.#events.on(cb), pred, this.#connectMs);
  }

  /**
   * Every process of the image, each with the event `ev` it sends next, or the `fatal` it
   * stopped with instead (a process that sent neither in time is missing).
   */
  #each(image: TreeImage, ev: MonitorEvent["ev"]): Promise<Map<string, MonitorEvent>> {
    return Promise.all(
      [...image].map(async ([pid, stream]) => {
        const e = await this.#next((x) => x.pid === pid && (x.ev === ev || x.ev === "fatal"));
        return [stream, e] as const;
      }),
    ).then((all) => new Map(all.filter((x): x is [string, MonitorEvent] => x[1] !== undefined)));
  }

  /**
   * Kill the tree, restore the epoch and wake each process with its command (a follower's
   * needs the leader's ports: `ports`, asked for once the restore is done; the leader's none).
   * Resolves with the events each process sends once woken: criu-listening (leader) and
   * resumed.
   */
  async #restore(t: Target, ports: (() => Promise<Ports | null>) | null): Promise<
    {
      image: TreeImage;
      listening: Promise<Map<string, MonitorEvent>>;
      resumed: Promise<Map<string, MonitorEvent>>;
    } | string
  > {
    this.servedAt = undefined;
    const image = this.#rounds.image(t.epoch);
    if (!image) return `no image of checkpoint ${t.epoch} on this variant`;
    const root = this.#root!;
    const old = root.pid;
    const ms: Record<string, number> = {};
    let t0 = performance.now();
    const lap = (what: string) => {
      const now = performance.now();
      ms[what] = Math.round(now - t0);
      t0 = now;
    };
    await this.#rounds.halt();
    lap("halt");
    // The round the halt waited for may have given its image up (a keeper that never came).
    if (!this.#rounds.image(t.epoch)) return `checkpoint ${t.epoch} was given up`;
    // killTree kills it: a SIGKILL first would close its connections before they are aborted.
    root.retire(false);
    // The keeper holds the dump's connections and those accepted since: they live on. So do
    // the dump's listening sockets, until the restored tree listens (#noteSockets).
    const held = await this.#driver.killTree(
      old,
      undefined,
      this.#keeperSockets(),
      this.#dumpSockets.get(t.epoch),
    );
    lap("kill");
    let pid: number;
    try {
      pid = (await this.#driver.restore(t.epoch)).pid;
    } catch (err) {
      return `restore of checkpoint ${t.epoch} failed: ${(err as Error).message.split("\n")[0]}`;
    } finally {
      for (const fd of held) closeFd(fd);
    }
    lap("restore");
    // A retry restores this epoch again: the restored tree's listeners are the image's.
    if (this.#dumpSockets.has(t.epoch)) this.#dumpSockets.set(t.epoch, reusableListeners(pid));
    root.replace(pid, this.#driver.waitExit(pid).then((x) => x.code));
    // Events from here on are the restored tree's: it may ask for a checkpoint at once.
    this.#rounds.resume();
    const theirs = ports ? await ports() : {};
    lap("ports");
    if (!theirs) return "the leader did not roll back";
    const lost = [...image.values()].filter((s) => ports && theirs[s] === undefined);
    if (lost.length) return `the leader sent no port for stream ${lost[0]}`;
    const listening = this.#each(image, "criu-listening");
    const resumed = this.#each(image, "resumed");
    const woke = await this.#rounds.wakeRestored(image, (_pid, stream) => {
      const here = stream === t.stream;
      return resumeCommand(here ? t.mode : 0, here ? t.seq : 0, theirs[stream] ?? 0, t.quiet);
    });
    if (!woke) return "a restored process did not wake up";
    lap("wake");
    resumed.then(() => {
      lap("resumed");
      this.#log.debug("criu rollback", { epoch: t.epoch, ...ms });
    });
    return { image, listening, resumed };
  }

  /** Each restored leader process listens on a port of its own: known once it is back. */
  portsAhead(): Ports | null {
    return null;
  }

  async prepareLeader(t: Target): Promise<{ ports: Ports } | { reason: string }> {
    const r = await this.#restore(t, null);
    if (typeof r === "string") return { reason: r };
    const heard = await r.listening;
    const ports: Ports = {};
    for (const [stream, e] of heard) if (e.ev === "criu-listening") ports[stream] = e.port;
    if (Object.keys(ports).length !== r.image.size) {
      return { reason: `a restored leader process did not listen${stoppedWith(heard)}` };
    }
    this.#pending = r.resumed.then((m) =>
      this.#served(m, r.image)
        ? null
        : `a restored leader process did not take its followers${stoppedWith(m)}`
    );
    return { ports };
  }

  async finishLeader(): Promise<string | null> {
    const p = this.#pending;
    this.#pending = undefined;
    if (!p) return "no rollback prepared";
    return await p;
  }

  async rollBackFollower(
    t: Target,
    ports: () => Promise<Ports | null>,
  ): Promise<string | null> {
    const r = await this.#restore(t, ports);
    if (typeof r === "string") return r;
    const resumed = await r.resumed;
    return this.#served(resumed, r.image)
      ? null
      : `a restored process did not connect to the leader${stoppedWith(resumed)}`;
  }

  /** Whether every process of the image resumed; when so, the time the last one did. */
  #served(resumed: Map<string, MonitorEvent>, image: TreeImage): boolean {
    if ([...resumed.values()].filter((e) => e.ev === "resumed").length !== image.size) {
      return false;
    }
    this.servedAt = servedAt(resumed);
    return true;
  }

  close(): void {
    this.#off();
    this.#rounds.close();
    for (const stream of [...this.#keepers.keys()]) this.#dropKeeper(stream);
    this.#driver.close();
  }
}
