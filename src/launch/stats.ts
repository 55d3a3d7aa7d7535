/**
 * Reads the monitor's per-process stats files (docs/monitor-abi.md section 3). They are the
 * agent's only view of what happened inside a variant, and they outlive the process, so the
 * summary and the divergence report are built from them even after a crash.
 */
import { NotRegularFile, readRegularFile } from "../util/open_regular.ts";
import {
  ABI_VERSION,
  CALL_NAME_BYTES,
  RING,
  RING_BLOB,
  STATS,
  STATS_MAGIC,
  STREAM_KEY_BYTES,
} from "./abi.ts";

export interface RingEntry {
  seq: number;
  /** Canonical call name. */
  name: string;
  /** Raw call number on the variant's ISA. */
  nr: number;
  /** Raw arguments (may be pointers: kept as 64-bit unsigned). */
  args: bigint[];
  /** Keyed digest of the canonical arguments. */
  digest: bigint;
  /** Result (signed; -ENOSYS when the call did not return). */
  ret: bigint;
  flags: number;
  /** The first bytes of the canonical argument encoding. */
  blob: Uint8Array;
}

export interface StreamCounters {
  callsSeen: number;
  callsChecked: number;
  callsReplicated: number;
  callsLocal: number;
  divergences: number;
  signals: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface StreamStats extends StreamCounters {
  /** Stream key: "0", "0.1", ... */
  stream: string;
  abi: number;
  /** Next stream position. */
  seq: number;
  pid: number;
  vpid: number;
  /** Entries ever written into the ring (the ring keeps the last `ringSlots`). */
  ringHead: number;
  ringSlots: number;
  /** The calls the ring still holds, oldest first. */
  ring: RingEntry[];
}

export interface RunStats {
  streams: StreamStats[];
  totals: StreamCounters;
  /** Files that could not be read (name: why), e.g. of a process killed as it started. */
  skipped: string[];
}

export class StatsError extends Error {
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "StatsError";
  }
}

/** More slots than this means a corrupt header, not a bigger ring. */
const MAX_RING_SLOTS = 1 << 16;

export function readStats(path: string): Promise<StreamStats> {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path); // in a directory every user of the program may write to
  } catch (e) {
    if (e instanceof NotRegularFile) return Promise.reject(new StatsError(path, e.message));
    return Promise.reject(e);
  }
  return Promise.resolve(parseStats(bytes, path));
}

export function parseStats(bytes: Uint8Array, path = "(stats)"): StreamStats {
  if (bytes.length < STATS.ring) {
    throw new StatsError(path, `too short for a stats header (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = cString(bytes.subarray(STATS.magic, STATS.magic + 8));
  if (magic !== STATS_MAGIC) throw new StatsError(path, `not a stats file (magic ${magic})`);
  const abi = view.getUint32(STATS.abi, true);
  if (abi !== ABI_VERSION) {
    throw new StatsError(path, `monitor ABI ${abi}, this agent speaks ${ABI_VERSION}: rebuild`);
  }
  const ringSlots = view.getUint32(STATS.ringSlots, true);
  if (ringSlots > MAX_RING_SLOTS) throw new StatsError(path, `ring_slots ${ringSlots} too large`);
  const need = STATS.ring + ringSlots * RING.size;
  if (bytes.length < need) {
    throw new StatsError(path, `truncated: ${bytes.length} bytes, the ring needs ${need}`);
  }
  const u64 = (off: number) => Number(view.getBigUint64(off, true));
  const ringHead = u64(STATS.ringHead);

  // Oldest first: before the ring wraps that is slot 0; after, the slot the next write takes.
  const count = Math.min(ringHead, ringSlots);
  const first = ringHead > ringSlots ? ringHead % ringSlots : 0;
  const ring: RingEntry[] = [];
  for (let i = 0; i < count; i++) {
    const slot = (first + i) % ringSlots;
    ring.push(parseEntry(bytes, view, STATS.ring + slot * RING.size));
  }

  return {
    stream: cString(bytes.subarray(STATS.stream, STATS.stream + STREAM_KEY_BYTES)),
    abi,
    callsSeen: u64(STATS.callsSeen),
    callsChecked: u64(STATS.callsChecked),
    callsReplicated: u64(STATS.callsReplicated),
    callsLocal: u64(STATS.callsLocal),
    divergences: u64(STATS.divergences),
    seq: u64(STATS.seq),
    pid: view.getUint32(STATS.pid, true),
    vpid: view.getUint32(STATS.vpid, true),
    signals: u64(STATS.signals),
    bytesSent: u64(STATS.bytesSent),
    bytesReceived: u64(STATS.bytesReceived),
    ringHead,
    ringSlots,
    ring,
  };
}

function parseEntry(bytes: Uint8Array, view: DataView, at: number): RingEntry {
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(view.getBigUint64(at + RING.args + 8 * i, true));
  // The monitor writes entries with plain stores while we may be reading: clamp a torn length.
  const blobLen = Math.min(view.getUint32(at + RING.blobLen, true), RING_BLOB);
  const blobAt = at + RING.blob;
  return {
    seq: Number(view.getBigUint64(at + RING.seq, true)),
    name: cString(bytes.subarray(at + RING.name, at + RING.name + CALL_NAME_BYTES)),
    nr: Number(view.getBigInt64(at + RING.nr, true)),
    args,
    digest: view.getBigUint64(at + RING.digest, true),
    ret: view.getBigInt64(at + RING.ret, true),
    flags: view.getUint32(at + RING.flags, true),
    blob: bytes.slice(blobAt, blobAt + blobLen),
  };
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}

export function emptyCounters(): StreamCounters {
  return {
    callsSeen: 0,
    callsChecked: 0,
    callsReplicated: 0,
    callsLocal: 0,
    divergences: 0,
    signals: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
}

/**
 * Every `runDir/stats/*.bin` of a process `ours` knows (default: all), sorted by stream key,
 * and their summed counters.
 */
export async function readRunStats(
  runDir: string,
  ours: (pid: number) => boolean = () => true,
): Promise<RunStats> {
  const dir = `${runDir}/stats`;
  const streams: StreamStats[] = [];
  const skipped: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".bin")) continue;
      try {
        const st = await readStats(`${dir}/${e.name}`);
        // Any local user may put a file there (src/run/run_dirs.ts): a monitor said hello.
        if (ours(st.pid)) streams.push(st);
        else skipped.push(`${e.name}: pid ${st.pid} is not a process of this run`);
      } catch (err) {
        // A process killed while it was creating its file leaves it short: count the rest.
        if (!(err instanceof StatsError)) throw err;
        skipped.push(`${e.name}: ${err.message}`);
      }
    }
  } catch (e) {
    // No stats directory: the program never got as far as the monitor's constructor.
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  streams.sort((a, b) => compareStreamKeys(a.stream, b.stream));
  const totals = emptyCounters();
  for (const s of streams) {
    for (const k of Object.keys(totals) as (keyof StreamCounters)[]) totals[k] += s[k];
  }
  return { streams, totals, skipped };
}

/** "0" < "0.1" < "0.2" < "0.10": numeric per component, parents first. */
export function compareStreamKeys(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] - pb[i];
  }
  return pa.length - pb.length;
}
