/**
 * A ring entry in a JSON-safe form: 64-bit values as hex strings, the canonical encoding as
 * hex and, where it is readable, as text. Agents send these to each other for the divergence
 * report, and the report stores them, so it must survive JSON.stringify (bigints do not).
 */
import { RING_LEADER_RESULT, RING_LOCAL } from "../launch/abi.ts";
import type { RingEntry } from "../launch/stats.ts";

export interface CallRecord {
  seq: number;
  call: string;
  nr: number;
  /** Raw arguments, `0x...`. */
  args: string[];
  /** Keyed digest of the canonical arguments, 16 hex digits. */
  digest: string;
  /** Result in decimal (negative: -errno). */
  ret: string;
  /** "leader-result", "local". */
  flags: string[];
  /** The kept canonical encoding, hex. */
  blob_hex: string;
  /** The text in those bytes (from the first printable run, others as `.`); null if none. */
  blob_text: string | null;
}

export function toCallRecord(e: RingEntry): CallRecord {
  const flags: string[] = [];
  if (e.flags & RING_LEADER_RESULT) flags.push("leader-result");
  if (e.flags & RING_LOCAL) flags.push("local");
  return {
    seq: e.seq,
    call: e.name,
    nr: e.nr,
    args: e.args.map((a) => `0x${a.toString(16)}`),
    digest: e.digest.toString(16).padStart(16, "0"),
    ret: e.ret.toString(),
    flags,
    blob_hex: [...e.blob].map((b) => b.toString(16).padStart(2, "0")).join(""),
    blob_text: printable(e.blob),
  };
}

/** Text when at least 3/4 of the bytes are printable ASCII (a path, a message). */
export function printable(bytes: Uint8Array): string | null {
  const isPrint = (b: number) => b >= 0x20 && b < 0x7f;
  // The canonical encoding starts with binary fields (call id, values): what people want to
  // read is the text after them, such as a path or the data written.
  const start = bytes.findIndex((_, i) =>
    i + 3 <= bytes.length && bytes.subarray(i, i + 3).every(isPrint)
  );
  if (start < 0) return null;
  const text = String.fromCharCode(...[...bytes.subarray(start)].map((b) => isPrint(b) ? b : 0x2e));
  return text.replace(/\.+$/, "");
}
