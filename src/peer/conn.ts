/**
 * A TCP connection that carries frames: reads come back as typed results (a message, the end
 * of the stream, a protocol error, a timeout), never as exceptions, so one bad peer can only
 * ever close its own connection. Writes are serialized so frames never interleave.
 */
import { encodeFrame, FrameDecoder, type FrameError } from "./frame.ts";
import type { PeerMsg } from "./messages.ts";
import { TIMEOUT, withTimeout } from "../util/event_log.ts";

export type ReadResult =
  | { kind: "msg"; msg: PeerMsg }
  | { kind: "closed"; reason: string }
  | { kind: "error"; error: FrameError }
  | { kind: "timeout" };

const CHUNK = 64 * 1024;

export class FramedConn {
  readonly #conn: Deno.Conn;
  readonly #decoder = new FrameDecoder();
  readonly #chunk = new Uint8Array(CHUNK);
  /** A socket read still running after a timed-out `read`; the next `read` picks it up. */
  #pending: Promise<number | null | Error> | undefined;
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly remote: string;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remote = `${addr.hostname}:${addr.port}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next message; `timeoutMs` bounds the wait (undefined waits for ever). */
  async read(timeoutMs?: number): Promise<ReadResult> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const d = this.#decoder.next();
      if (d) return d.ok ? { kind: "msg", msg: d.msg } : { kind: "error", error: d.error };
      if (this.#closed) return { kind: "closed", reason: "connection closed" };
      this.#pending ??= this.#conn.read(this.#chunk).catch((e: Error) => e);
      const n = await withTimeout(this.#pending, deadline - Date.now());
      if (n === TIMEOUT) return { kind: "timeout" };
      this.#pending = undefined;
      if (n instanceof Error) {
        this.close();
        return { kind: "closed", reason: `connection failed: ${n.message}` };
      }
      if (n === null) {
        this.close();
        const tail = this.#decoder.pending ? ` (mid-frame, ${this.#decoder.pending} bytes)` : "";
        return { kind: "closed", reason: `connection closed by peer${tail}` };
      }
      this.#decoder.push(this.#chunk.slice(0, n));
    }
  }

  /** Queues one frame; resolves false if the connection is (or becomes) unusable. */
  send(msg: PeerMsg): Promise<boolean> {
    const frame = encodeFrame(msg);
    const done = this.#writes.then(() => this.#writeAll(frame));
    this.#writes = done;
    return done;
  }

  async #writeAll(frame: Uint8Array): Promise<boolean> {
    if (this.#closed) return false;
    try {
      for (let off = 0; off < frame.length;) off += await this.#conn.write(frame.subarray(off));
      return true;
    } catch {
      this.close();
      return false;
    }
  }

  /** Waits for queued frames to be written (bounded), then closes. */
  async flushAndClose(timeoutMs = 1000): Promise<void> {
    await withTimeout(this.#writes, timeoutMs);
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime: nothing left to release.
    }
  }
}
