/**
 * Builds stats files byte by byte for tests (here and in other modules' tests). It uses the
 * offsets written out in docs/monitor-abi.md as literals, not abi.ts's constants, so a wrong
 * constant in abi.ts makes the reader's tests fail instead of agreeing with itself.
 */

export interface FixtureEntry {
  seq: number;
  name: string;
  nr?: number;
  args?: bigint[];
  digest?: bigint;
  ret?: bigint;
  flags?: number;
  blob?: Uint8Array;
}

export interface FixtureStats {
  stream?: string;
  abi?: number;
  slots?: number;
  counters?: Partial<Record<"seen" | "checked" | "replicated" | "local" | "divergences", number>>;
  seq?: number;
  pid?: number;
  vpid?: number;
  signals?: number;
  bytesSent?: number;
  bytesReceived?: number;
  /** Written in order, as the monitor would: entry i goes to slot i % slots. */
  entries?: FixtureEntry[];
}

export function encodeStats(s: FixtureStats): Uint8Array {
  const slots = s.slots ?? 64;
  const bytes = new Uint8Array(136 + slots * 168);
  const v = new DataView(bytes.buffer);
  const enc = new TextEncoder();
  bytes.set(enc.encode("A8STATS1"), 0);
  v.setUint32(8, s.abi ?? 3, true);
  v.setUint32(12, slots, true);
  const c = s.counters ?? {};
  [c.seen, c.checked, c.replicated, c.local, c.divergences].forEach((n, i) =>
    v.setBigUint64(16 + 8 * i, BigInt(n ?? 0), true)
  );
  v.setBigUint64(56, BigInt(s.seq ?? 0), true);
  v.setUint32(64, s.pid ?? 0, true);
  v.setUint32(68, s.vpid ?? 0, true);
  v.setBigUint64(72, BigInt(s.signals ?? 0), true);
  v.setBigUint64(80, BigInt(s.bytesSent ?? 0), true);
  v.setBigUint64(88, BigInt(s.bytesReceived ?? 0), true);
  const entries = s.entries ?? [];
  v.setBigUint64(96, BigInt(entries.length), true);
  bytes.set(enc.encode(s.stream ?? "0").subarray(0, 31), 104);
  entries.forEach((e, i) => {
    const at = 136 + (i % slots) * 168;
    bytes.fill(0, at, at + 168);
    v.setBigUint64(at, BigInt(e.seq), true);
    bytes.set(enc.encode(e.name).subarray(0, 15), at + 8);
    v.setBigInt64(at + 24, BigInt(e.nr ?? 0), true);
    (e.args ?? []).forEach((a, j) => v.setBigUint64(at + 32 + 8 * j, a, true));
    v.setBigUint64(at + 80, e.digest ?? 0n, true);
    v.setBigInt64(at + 88, e.ret ?? 0n, true);
    const blob = (e.blob ?? new Uint8Array()).subarray(0, 64);
    v.setUint32(at + 96, blob.length, true);
    v.setUint32(at + 100, e.flags ?? 0, true);
    bytes.set(blob, at + 104);
  });
  return bytes;
}
