/**
 * The signs that the run must stop, in arrival order: a local monitor's divergence or fatal
 * event, a peer's report of one, a lost peer. Queued, so nothing that comes while a rollback
 * is under way is lost; judged when taken, so what a rollback made stale (a report from a root
 * it retired, a peer's report from an earlier round) is dropped then. A local report is told
 * to the peers when it is taken.
 */
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import type { PeerEvent, PeerGroup } from "../peer/mod.ts";
import { fatalReason, type RunEnd } from "./outcome.ts";

interface Item {
  end: RunEnd;
  /** Local: the process whose monitor reported it. */
  pid?: number;
  /** Peer divergence: how many rollbacks the peer had done (-1: not about a position). */
  round?: number;
}

/** What a taker knows about staleness (see checkpoint/live_root.ts and rollback.ts). */
export interface Freshness {
  retired: ReadonlySet<number>;
  round: number;
}

export class Trouble {
  readonly #items: Item[] = [];
  #wake = Promise.withResolvers<void>();
  #pending?: Promise<RunEnd>;
  #unclaimed?: RunEnd;
  #fresh: Freshness = { retired: new Set(), round: 0 };
  readonly #offs: (() => void)[] = [];
  readonly #self: number;
  readonly #group: PeerGroup;

  constructor(self: number, events: EventServer, group: PeerGroup) {
    this.#self = self;
    this.#group = group;
    this.#offs.push(events.on((e) => this.#local(e)));
    this.#offs.push(group.on((e) => this.#remote(e)));
    // Trouble a peer reported before we listened (start-up) is in the group's history.
    group.waitFor((e) => peerTrouble(e) !== undefined, 0).then((e) => {
      if (e && !this.#items.some((i) => i.end === peerTrouble(e))) this.#remote(e);
    });
  }

  close(): void {
    for (const off of this.#offs) off();
  }

  /** What staleness is judged by from now on (read when an item is taken). */
  judgeBy(fresh: Freshness): void {
    this.#fresh = fresh;
  }

  /**
   * The next fresh item: the same one until `claim` (a race may have settled it while the
   * caller was looking elsewhere: it is not lost).
   */
  next(): Promise<RunEnd> {
    if (this.#unclaimed) return Promise.resolve(this.#unclaimed);
    this.#pending ??= this.#take().then((end) => {
      this.#unclaimed = end;
      this.#pending = undefined;
      return end;
    });
    return this.#pending;
  }

  /** The caller acts on the item `next` gave: the one after it comes next. */
  claim(): void {
    this.#unclaimed = undefined;
  }

  async #take(): Promise<RunEnd> {
    for (;;) {
      const fresh = this.#fresh;
      const item = this.#items.shift();
      if (!item) {
        await this.#wake.promise;
        continue;
      }
      if (item.pid !== undefined && fresh.retired.has(item.pid)) continue;
      if (item.round !== undefined && item.round >= 0 && item.round < fresh.round) continue;
      if (item.pid !== undefined) this.#tell(item.end, fresh.round);
      return item.end;
    }
  }

  #push(item: Item): void {
    this.#items.push(item);
    const w = this.#wake;
    this.#wake = Promise.withResolvers<void>();
    w.resolve();
  }

  #local(e: MonitorEvent): void {
    const by = this.#self;
    if (e.ev === "divergence") {
      const { stream, seq, call, reason, detail } = e;
      this.#push({
        end: { kind: "divergence", by, stream, seq, call, reason, detail },
        pid: e.pid,
      });
    } else if (e.ev === "fatal") {
      // Peers print the same sentence: the reason with the monitor's detail.
      const why = fatalReason(e.reason) + (e.detail ? `: ${e.detail}` : "");
      this.#push({ end: { kind: "fatal", by, reason: why, call: e.call }, pid: e.pid });
    }
  }

  #remote(e: PeerEvent): void {
    const end = peerTrouble(e);
    if (!end) return;
    const round = e.kind === "message" && e.msg.t === "divergence" ? e.msg.round : undefined;
    this.#push({ end, round });
  }

  #tell(end: RunEnd, round: number): void {
    if (end.kind === "divergence") {
      const { stream, seq, call, reason, detail } = end;
      this.#group.broadcast({
        t: "divergence",
        variant: this.#self,
        stream,
        seq,
        call,
        reason,
        detail,
        round,
      });
    } else if (end.kind === "fatal") {
      this.#group.broadcast({
        t: "fatal",
        variant: this.#self,
        reason: end.reason,
        call: end.call,
      });
    }
  }
}

export function peerTrouble(e: PeerEvent): RunEnd | undefined {
  if (e.kind === "peer-lost") return { kind: "peer-lost", id: e.id, reason: e.reason };
  // A peer leaves in order only after every exit status is in, or after telling why it
  // stopped (earlier in the history); leaving while ours still runs means it gave up on us.
  if (e.kind === "peer-left") {
    return { kind: "peer-lost", id: e.id, reason: "it ended its run while this one was running" };
  }
  if (e.kind !== "message") return undefined;
  const m = e.msg;
  if (m.t === "divergence") {
    const { stream, seq, call, reason, detail } = m;
    return { kind: "divergence", by: e.from, stream, seq, call, reason, detail };
  }
  if (m.t === "fatal") {
    return { kind: "fatal", by: e.from, reason: fatalReason(m.reason), call: m.call };
  }
  return undefined;
}
