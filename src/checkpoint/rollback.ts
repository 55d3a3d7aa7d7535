/**
 * Coordinated rollback, whatever the engine (engine.ts). The leader's agent decides: on a
 * divergence it picks the newest checkpoint epoch (every follower has it before the leader:
 * the monitors agree on checkpoints in the stream), brings its variant back far enough to
 * know the port its monitor takes the followers on, tells the peers, and finishes. Followers
 * do the same with the leader's port. A divergence that comes back at the same position is replayed
 * `retries` times, then replayed without the input read before it (its connection is shut
 * down), and if it still comes back the run stops with the report.
 */
import type { Config } from "../config/types.ts";
import type { RunEnd } from "../run/outcome.ts";
import type { Logger } from "../log.ts";
import type { PeerEvent, PeerGroup } from "../peer/mod.ts";
import type { Ports, RollbackMsg } from "../peer/messages.ts";
import type { Engine } from "./engine.ts";

/** A divergence, as the run's outcome names it. */
export type Divergence = Omit<Extract<RunEnd, { kind: "divergence" }>, "kind">;

export interface RollbackRecord {
  epoch: number;
  /** "retry": replayed up to the divergence; "drop": without the input read before it. */
  mode: "retry" | "drop";
  divergence: Divergence;
  /** From the divergence reaching this agent (or a follower's: the leader's verdict) to its
   * resumed monitor serving again. */
  ms: number;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/**
 * Where the run's stop is: "asked" once a stop signal came (restored variants inject no more
 * faults, so the replay that brings the stop to the program gets through); "killing" once the
 * program was killed for not stopping in `shutdown_ms` (nothing is rolled back any more).
 */
export type StopState = "running" | "asked" | "killing";

export interface RollbackContext {
  config: Config;
  selfId: number;
  leader: boolean;
  group: PeerGroup;
  engine: Engine;
  log: Logger;
  stop: () => StopState;
}

export class Rollbacks {
  readonly done: RollbackRecord[] = [];
  /** Why the divergence that ends the run could not be rolled back (for the summary). */
  refused?: string;
  readonly #c: RollbackContext;
  /**
   * Rollbacks to the newest epoch so far, by divergent position ("stream/seq"): a tree's
   * processes may take turns diverging, each position has its own count.
   */
  #repeats = { epoch: 0, at: new Map<string, number>() };
  /** Verdict and port messages from the leader, in arrival order (followers consume them). */
  readonly #fromLeader: PeerEvent[] = [];
  #consumed = 0;
  #t0 = 0;
  #wake = Promise.withResolvers<void>();
  readonly #off: () => void;

  constructor(c: RollbackContext) {
    this.#c = c;
    this.#off = c.group.on((e) => {
      if (e.kind !== "message" || e.from !== c.config.leaderId) return;
      const t = e.msg.t;
      // exit and bye: the leader's run is over; a follower waiting for its verdict stops.
      if (
        t === "rollback" || t === "rollback-ports" || t === "no-rollback" || t === "exit" ||
        t === "bye"
      ) {
        this.#fromLeader.push(e);
        const w = this.#wake;
        this.#wake = Promise.withResolvers<void>();
        w.resolve();
      }
    });
  }

  get enabled(): boolean {
    return this.#c.config.checkpoint.engine !== "none";
  }

  /** Rollbacks this agent completed: a peer's message from an earlier round is stale. */
  get round(): number {
    return this.done.length;
  }

  close(): void {
    this.#off();
  }

  /** Survive the divergence if possible; false when the run must stop with its report. */
  async handle(d: Divergence): Promise<Verdict> {
    this.#t0 = performance.now();
    const v = this.#c.leader ? await this.#lead(d) : await this.#follow();
    if (!v.ok) {
      this.refused = v.reason;
      return v;
    }
    const rec = this.done.at(-1)!;
    this.#c.log.warn("rolled back", {
      epoch: rec.epoch,
      mode: rec.mode,
      seq: d.seq,
      call: d.call,
      ms: Math.round(rec.ms * 10) / 10,
    });
    return v;
  }

  async #lead(d: Divergence): Promise<Verdict> {
    const c = this.#c;
    const refuse = async (reason: string): Promise<Verdict> => {
      await c.group.broadcast({ t: "no-rollback", reason });
      return { ok: false, reason };
    };
    if (d.stream !== "0" && !c.engine.wholeTree) {
      return refuse(
        `the divergence is in process stream ${d.stream}; the ${c.engine.name} engine ` +
          "checkpoints the root process only (the criu engine takes the whole tree)",
      );
    }
    // A program that ended while a peer's runs on (session.ts, outlived) has no stream
    // position to go back to, and its agent is already agreeing on the run's end.
    if (d.seq < 0) return refuse(`the variants ended differently (${d.detail})`);
    const stop = c.stop();
    if (stop === "killing") return refuse("the program is being killed: it did not stop in time");
    const epoch = c.engine.newestEpoch();
    if (!epoch) return refuse("no checkpoint was taken before the divergence");
    if (this.#repeats.epoch !== epoch) this.#repeats = { epoch, at: new Map() };
    const key = `${d.stream}/${d.seq}`;
    const seen = this.#repeats.at.get(key);
    const repeats = seen === undefined ? 0 : seen + 1;
    const retries = c.config.checkpoint.retries;
    if (repeats > retries) {
      return refuse(`the divergence came back at position ${d.seq} after ${repeats} rollbacks`);
    }
    this.#repeats.at.set(key, repeats);
    const target = {
      epoch,
      mode: repeats < retries ? 0 : 1,
      stream: d.stream,
      seq: d.seq,
      ...stop === "asked" && { quiet: true },
    };
    const ahead = c.engine.portsAhead(epoch);
    const msg: RollbackMsg = {
      t: "rollback",
      ...target,
      call: d.call,
      ...ahead && { ports: ahead },
    };
    // The followers bring their variants back while the leader does (a CRIU restore is slow),
    // then wait for its ports if they did not come with the message; they connect while the
    // leader finishes.
    await c.group.broadcast(msg);
    const ready = await c.engine.prepareLeader(target);
    if ("reason" in ready) return refuse(ready.reason);
    if (!ahead) await c.group.broadcast({ t: "rollback-ports", ports: ready.ports });
    const r = await c.engine.finishLeader();
    if (r) return refuse(r);
    this.#record(msg, d);
    const followers = c.config.variants.filter((v) => v.id !== c.selfId).map((v) => v.id);
    const round = this.round;
    const acks = await Promise.all(followers.map((id) =>
      c.group.waitFor(
        (e) =>
          e.kind === "message" && e.from === id && e.msg.t === "rolled-back" &&
          e.msg.round === round,
        c.config.timeouts.connectMs,
      )
    ));
    const missing = followers.filter((_, i) => !acks[i]);
    if (missing.length) return { ok: false, reason: `variant ${missing[0]} did not roll back` };
    return { ok: true };
  }

  async #follow(): Promise<Verdict> {
    const c = this.#c;
    const limit = c.config.timeouts.connectMs + c.config.timeouts.syncMs;
    const verdict = await this.#next(limit);
    if (!verdict || verdict.kind !== "message") {
      return { ok: false, reason: "the leader's agent decided nothing about the divergence" };
    }
    const m = verdict.msg;
    if (m.t === "no-rollback") return { ok: false, reason: m.reason };
    if (m.t === "exit" || m.t === "bye") {
      return { ok: false, reason: "the leader's run ended before it decided" };
    }
    if (m.t !== "rollback") return { ok: false, reason: `unexpected ${m.t} from the leader` };
    const ports = async (): Promise<Ports | null> => {
      if (m.ports) return m.ports;
      const e = await this.#next(limit);
      return e?.kind === "message" && e.msg.t === "rollback-ports" ? e.msg.ports : null;
    };
    // With the ports in hand a follower does not read the leader's messages until it is
    // back: a refusal meanwhile (the leader could not come back) must still stop it.
    const watch = m.ports ? this.#watchRefusal() : null;
    const r =
      await (watch
        ? Promise.race([c.engine.rollBackFollower(m, ports), watch.refused])
        : c.engine.rollBackFollower(m, ports)).finally(() => watch?.stop());
    if (r) return { ok: false, reason: r };
    const d: Divergence = {
      by: -1,
      stream: m.stream,
      seq: m.seq,
      call: m.call,
      reason: "",
      detail: "",
    };
    this.#record(m, d);
    await c.group.broadcast({ t: "rolled-back", variant: c.selfId, round: this.round });
    return { ok: true };
  }

  /** Resolves with the reason of a no-rollback from the leader (taking it), until stopped. */
  #watchRefusal(): { refused: Promise<string>; stop: () => void } {
    let stopped = false;
    const refused = (async () => {
      for (let i = this.#consumed;; i++) {
        while (!stopped && i >= this.#fromLeader.length) await this.#wake.promise;
        if (stopped) return new Promise<string>(() => {});
        const e = this.#fromLeader[i];
        if (e.kind === "message" && e.msg.t === "no-rollback") {
          this.#consumed = i + 1;
          return `the leader could not roll back: ${e.msg.reason}`;
        }
        if (e.kind === "message" && (e.msg.t === "exit" || e.msg.t === "bye")) {
          this.#consumed = i + 1;
          return "the leader's run ended during the rollback";
        }
      }
    })();
    const stop = () => {
      stopped = true;
      const w = this.#wake;
      this.#wake = Promise.withResolvers<void>();
      w.resolve();
    };
    return { refused, stop };
  }

  /** The next message from the leader this follower has not acted on yet. */
  async #next(ms: number): Promise<PeerEvent | undefined> {
    const deadline = Date.now() + ms;
    while (this.#consumed >= this.#fromLeader.length) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#wake.promise,
        new Promise((r) => timer = setTimeout(r, left)),
      ]).finally(() => clearTimeout(timer));
    }
    return this.#fromLeader[this.#consumed++];
  }

  /**
   * Called once this variant's resumed monitors serve again: the rollback's time ends when
   * they say they did, or now if they did not say.
   */
  #record(m: RollbackMsg, d: Divergence): void {
    const ms = (this.#c.engine.servedAt ?? performance.now()) - this.#t0;
    this.done.push({ epoch: m.epoch, mode: m.mode ? "drop" : "retry", divergence: d, ms });
  }
}
