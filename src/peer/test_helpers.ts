/**
 * Helpers for the peer tests: configs built in code (no TOML) on free loopback ports, and a
 * logger that keeps its lines for assertions.
 */
import type { Config } from "../config/types.ts";
import { configDigest, normalizedConfig } from "../config/normalize.ts";
import { createLogger, type Logger } from "../log.ts";

/** A port nobody listens on right now (the kernel picks it; we release it at once). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export function testConfig(n: number, edit: (c: Config) => void = () => {}): Config {
  const c: Config = {
    path: "/test/a8.toml",
    leaderId: 1,
    variants: Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      address: "127.0.0.1",
      port: freePort(),
    })),
    key: "0123456789abcdef-test-key",
    policy: "lockstep",
    interposer: "auto",
    batchBytes: 65536,
    spinReads: 0,
    localPaths: ["/usr/lib"],
    timeouts: {
      connectMs: 3000,
      heartbeatMs: 100,
      peerSilenceMs: 600,
      syncMs: 1000,
      shutdownMs: 1000,
    },
    log: { level: "warn" },
    checkpoint: { engine: "none", everyCalls: 1000, everyMs: 200, retries: 1 },
    faults: { divergenceProbability: 0, seed: 0 },
    digest: "",
  };
  edit(c);
  return withDigest(c);
}

/** A copy of `c` with its digest recomputed after an edit. */
export function withDigest(c: Config): Config {
  const copy = structuredClone(c);
  copy.digest = configDigest(normalizedConfig(copy));
  return copy;
}

export function memoryLogger(variant: number): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    logger: createLogger({ level: "debug", variant, sink: (l) => lines.push(l) }),
  };
}
