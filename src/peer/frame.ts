/**
 * Control-plane framing: a u32 big-endian length, then that many bytes of UTF-8 JSON holding
 * one message object (messages.ts). The decoder takes bytes as they arrive from a socket and
 * never throws: anything wrong becomes a `FrameError`, after which the stream is unusable
 * (framing is lost) and the caller closes the connection.
 */
import { type PeerMsg, validateMessage } from "./messages.ts";

/** Largest frame body accepted; a larger length is rejected before any allocation. */
export const MAX_FRAME = 1024 * 1024;

export type FrameErrorCode = "oversized" | "utf8" | "json" | "message";

export class FrameError extends Error {
  constructor(readonly code: FrameErrorCode, problem: string) {
    super(problem);
    this.name = "FrameError";
  }
}

const encoder = new TextEncoder();

/** One frame for `msg`. Throws only for our own bug (a message larger than MAX_FRAME). */
export function encodeFrame(msg: PeerMsg): Uint8Array {
  const body = encoder.encode(JSON.stringify(msg));
  if (body.length > MAX_FRAME) throw new RangeError(`frame of ${body.length} bytes is too large`);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

export type Decoded = { ok: true; msg: PeerMsg } | { ok: false; error: FrameError };

/** Incremental decoder: `push` bytes, then call `next` until it returns undefined. */
export class FrameDecoder {
  #buf = new Uint8Array(0);
  #failed: FrameError | undefined;
  readonly #utf8 = new TextDecoder("utf-8", { fatal: true });

  push(bytes: Uint8Array): void {
    if (this.#failed || bytes.length === 0) return;
    const joined = new Uint8Array(this.#buf.length + bytes.length);
    joined.set(this.#buf);
    joined.set(bytes, this.#buf.length);
    this.#buf = joined;
  }

  /** Bytes held that do not yet form a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }

  /** The next whole frame, an error (sticky), or undefined when more bytes are needed. */
  next(): Decoded | undefined {
    if (this.#failed) return { ok: false, error: this.#failed };
    if (this.#buf.length < 4) return undefined;
    const len = new DataView(this.#buf.buffer, this.#buf.byteOffset).getUint32(0);
    if (len > MAX_FRAME) {
      return this.#fail("oversized", `frame length ${len} exceeds the ${MAX_FRAME}-byte limit`);
    }
    if (this.#buf.length < 4 + len) return undefined;
    const body = this.#buf.subarray(4, 4 + len);
    this.#buf = this.#buf.slice(4 + len);
    let text: string;
    try {
      text = this.#utf8.decode(body);
    } catch {
      return this.#fail("utf8", "frame is not valid UTF-8");
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.#fail("json", "frame is not valid JSON");
    }
    const checked = validateMessage(value);
    if (!checked.ok) return this.#fail("message", checked.problem);
    return { ok: true, msg: checked.msg };
  }

  #fail(code: FrameErrorCode, problem: string): Decoded {
    this.#failed = new FrameError(code, problem);
    this.#buf = new Uint8Array(0);
    return { ok: false, error: this.#failed };
  }
}
