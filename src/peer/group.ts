/**
 * The authenticated peers of one run, as the run orchestrator sees them: send, broadcast, a
 * stream of incoming messages, and liveness. A peer that goes silent, closes its socket or
 * sends a malformed frame becomes one `peer-lost` event with the reason; it never throws
 * into the orchestrator and never hangs it.
 */
import type { Logger } from "../log.ts";
import { EventLog } from "../util/event_log.ts";
import type { FramedConn } from "./conn.ts";
import { isHandshakeType, type PeerMsg, type RunMsg } from "./messages.ts";

export type PeerEvent =
  | { kind: "message"; from: number; msg: RunMsg }
  | { kind: "peer-lost"; id: number; reason: string }
  /** The peer said `bye` and closed: an orderly end, not a fault. */
  | { kind: "peer-left"; id: number };

export interface PeerGroupOptions {
  selfId: number;
  heartbeatMs: number;
  peerSilenceMs: number;
  logger: Logger;
}

interface Peer {
  conn: FramedConn;
  lastHeard: number;
  loop?: Promise<void>;
}

export class PeerGroup {
  readonly #peers = new Map<number, Peer>();
  readonly #opts: PeerGroupOptions;
  readonly #log: Logger;
  /** Every event so far (heartbeats excluded; a run has few), so late waiters miss nothing. */
  readonly #events = new EventLog<PeerEvent>();
  #timers: ReturnType<typeof setInterval>[] = [];
  #closing = false;

  constructor(conns: Map<number, FramedConn>, opts: PeerGroupOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    const now = Date.now();
    for (const [id, conn] of conns) this.#peers.set(id, { conn, lastHeard: now });
    for (const [id, peer] of this.#peers) peer.loop = this.#readLoop(id, peer);
    if (this.#peers.size > 0) {
      this.#timers.push(setInterval(() => this.broadcast({ t: "hb" }), opts.heartbeatMs));
      const check = Math.max(10, Math.min(opts.heartbeatMs, opts.peerSilenceMs / 4));
      this.#timers.push(setInterval(() => this.#checkSilence(), check));
    }
  }

  /** Ids of peers still connected. */
  get live(): number[] {
    return [...this.#peers.keys()].sort((a, b) => a - b);
  }

  /** Sends to one peer; false if it is gone or the write failed. */
  send(id: number, msg: PeerMsg): Promise<boolean> {
    const peer = this.#peers.get(id);
    return peer ? peer.conn.send(msg) : Promise.resolve(false);
  }

  async broadcast(msg: PeerMsg): Promise<void> {
    await Promise.all([...this.#peers.keys()].map((id) => this.send(id, msg)));
  }

  /** Calls `cb` for every future event; returns the unsubscribe function. */
  on(cb: (e: PeerEvent) => void): () => void {
    return this.#events.on(cb);
  }

  /** Every event since the group was made, then new ones as they come, until `close`. */
  events(): AsyncGenerator<PeerEvent> {
    return this.#events.events();
  }

  /** The first event (past or future) matching `pred`, or undefined after `timeoutMs`. */
  waitFor(pred: (e: PeerEvent) => boolean, timeoutMs: number): Promise<PeerEvent | undefined> {
    return this.#events.waitFor(pred, timeoutMs);
  }

  /** Orderly shutdown: `bye` to every peer, flush, close. Idempotent. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    const peers = [...this.#peers.values()];
    await Promise.all(peers.map((p) => p.conn.send({ t: "bye" })));
    await Promise.all(peers.map((p) => p.conn.flushAndClose()));
    await Promise.all(peers.map((p) => p.loop));
    this.#peers.clear();
    this.#events.end();
  }

  #emit(e: PeerEvent): void {
    this.#events.push(e);
  }

  /** Ends a peer once: closes its socket and reports why (if it is still ours to report). */
  #drop(id: number, event: PeerEvent): void {
    const peer = this.#peers.get(id);
    if (!peer) return;
    this.#peers.delete(id);
    peer.conn.close();
    if (!this.#closing) this.#emit(event);
  }

  async #readLoop(id: number, peer: Peer): Promise<void> {
    const log = this.#log.with({ peer: id });
    while (this.#peers.get(id) === peer) {
      const r = await peer.conn.read();
      if (r.kind === "timeout") continue;
      if (r.kind === "closed") {
        if (!this.#closing) log.warn("peer connection ended", { reason: r.reason });
        this.#drop(id, { kind: "peer-lost", id, reason: r.reason });
        return;
      }
      if (r.kind === "error") {
        const reason = `protocol error: ${r.error.message}`;
        log.error("closing peer after a malformed frame", { reason });
        this.#drop(id, { kind: "peer-lost", id, reason });
        return;
      }
      peer.lastHeard = Date.now();
      const msg = r.msg;
      if (isHandshakeType(msg.t)) {
        const reason = `protocol error: handshake message ${msg.t} after the handshake`;
        log.error("closing peer after an out-of-place message", { reason });
        this.#drop(id, { kind: "peer-lost", id, reason });
        return;
      }
      if (msg.t === "hb") continue;
      if (msg.t === "bye") {
        log.debug("peer said bye");
        this.#drop(id, { kind: "peer-left", id });
        return;
      }
      log.debug("message", { t: msg.t });
      this.#emit({ kind: "message", from: id, msg: msg as RunMsg });
    }
  }

  #checkSilence(): void {
    const now = Date.now();
    for (const [id, peer] of this.#peers) {
      const quiet = now - peer.lastHeard;
      if (quiet <= this.#opts.peerSilenceMs) continue;
      const reason = `silent for ${quiet} ms (limit ${this.#opts.peerSilenceMs} ms)`;
      this.#log.error("peer lost", { peer: id, reason });
      this.#drop(id, { kind: "peer-lost", id, reason });
    }
  }
}
