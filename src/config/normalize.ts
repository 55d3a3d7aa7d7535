/**
 * The normalized config: what agents must agree on before a run. It uses the TOML field
 * names, so a difference can be reported to the user as the field they would edit.
 *
 * The key is left out. The normalized form and its digest cross the network (before
 * authentication has finished, in the handshake), and the mutual authentication already
 * proves both sides hold the same key; hashing the key in would only give an eavesdropper
 * something to brute-force offline.
 */
import { createHash } from "node:crypto";
import type { Config } from "./types.ts";

export function normalizedConfig(c: Config): Record<string, unknown> {
  return {
    leader_id: c.leaderId,
    policy: c.policy,
    interposer: c.interposer,
    batch_bytes: c.batchBytes,
    spin_reads: c.spinReads,
    local_paths: [...c.localPaths],
    variants: [...c.variants]
      .sort((a, b) => a.id - b.id)
      .map((v) => ({ id: v.id, address: v.address, port: v.port })),
    timeouts: {
      connect_ms: c.timeouts.connectMs,
      heartbeat_ms: c.timeouts.heartbeatMs,
      peer_silence_ms: c.timeouts.peerSilenceMs,
      sync_ms: c.timeouts.syncMs,
      shutdown_ms: c.timeouts.shutdownMs,
    },
    log: { level: c.log.level },
    checkpoint: {
      engine: c.checkpoint.engine,
      every_calls: c.checkpoint.everyCalls,
      every_ms: c.checkpoint.everyMs,
      retries: c.checkpoint.retries,
    },
    faults: {
      divergence_probability: c.faults.divergenceProbability,
      seed: c.faults.seed,
    },
  };
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

/** sha256 hex of the canonical JSON of the normalized config (or of any normalized view). */
export function configDigest(normalized: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(normalized)).digest("hex");
}

/**
 * Field paths at which two normalized configs differ, e.g. `policy`, `timeouts.sync_ms`,
 * `variants[id=2].port`. Variants are matched by id rather than position, so a file that lists
 * them in another order is not reported as different. Either side may come off the wire, so
 * nothing about its shape is assumed.
 */
export function configDifferences(a: unknown, b: unknown, path = ""): string[] {
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => configDifferences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (isIdList(a) && isIdList(b)) {
    const byId = (list: Record<string, unknown>[]) => new Map(list.map((v) => [v.id, v]));
    const ma = byId(a);
    const mb = byId(b);
    const ids = [...new Set([...ma.keys(), ...mb.keys()])].sort((x, y) => Number(x) - Number(y));
    return ids.flatMap((id) => {
      const p = `${path}[id=${id}]`;
      const va = ma.get(id);
      const vb = mb.get(id);
      return va && vb ? configDifferences(va, vb, p) : [p];
    });
  }
  return canonicalJson(a) === canonicalJson(b) ? [] : [path || "(root)"];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isIdList(v: unknown): v is Record<string, unknown>[] {
  return Array.isArray(v) && v.length > 0 &&
    v.every((x) => isRecord(x) && typeof x.id === "number");
}
