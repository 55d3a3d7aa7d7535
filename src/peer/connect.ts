/**
 * Connection topology: every agent listens on its own `address:port` and dials every peer
 * with a higher id; it accepts the peers with lower ids. One connection per pair, no
 * election. Dialling retries until `timeouts.connectMs`; a peer still missing then is named
 * with its address. Failures that mean "this run cannot work" (wrong key, other config or
 * version, refused) end the attempt at once; garbage from a stranger only loses that socket.
 */
import type { Config, VariantConfig } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { randomHex } from "./auth.ts";
import { FramedConn } from "./conn.ts";
import { withTimeout } from "../util/event_log.ts";
import { handshake, HandshakeError } from "./handshake.ts";
import { PeerGroup } from "./group.ts";

/** The run cannot go on with its peers; the message is for the user as it stands. */
export class PeerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PeerError";
  }
}

export interface ConnectOptions {
  config: Config;
  selfId: number;
  logger: Logger;
  /** Tests only: claim another protocol version. */
  version?: number;
}

export interface ConnectedPeers {
  group: PeerGroup;
  /** The leader's run-id proposal: 16 bytes, hex. */
  runId: string;
  /** Each peer's ISA as it told us (Deno.build.arch names). */
  isas: Map<number, string>;
}

const RETRY_MS = 100;

export async function connectPeers(opts: ConnectOptions): Promise<ConnectedPeers> {
  const { config, selfId, logger } = opts;
  const self = config.variants.find((v) => v.id === selfId);
  if (!self) {
    const ids = config.variants.map((v) => v.id).join(", ");
    throw new PeerError(`variant ${selfId} is not in ${config.path} (ids: ${ids})`);
  }
  const proposal = randomHex(16);
  const peers = config.variants.filter((v) => v.id !== selfId);
  const timeouts = config.timeouts;
  const done = new Map<number, { conn: FramedConn; isa: string; runId: string }>();
  if (peers.length === 0) return finish(opts, done, proposal);

  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: self.address, port: self.port });
  } catch (e) {
    throw new PeerError(
      `cannot listen on ${self.address}:${self.port}: ${(e as Error).message}`,
    );
  }

  const deadline = Date.now() + timeouts.connectMs;
  const inFlight = new Set<number>();
  const open = new Set<FramedConn>();
  let failure: PeerError | undefined;
  /** Set once the attempt is over (all in, failed, or out of time): dialling stops. */
  let stopped = false;
  const settled = Promise.withResolvers<void>();
  const check = () => {
    if (failure || done.size === peers.length) settled.resolve();
  };

  const shake = async (conn: FramedConn, expectedId?: number): Promise<boolean> => {
    open.add(conn);
    let claimed: number | undefined;
    try {
      const r = await handshake(conn, {
        config,
        selfId,
        expectedId,
        admit: (id) => {
          const why = admit(id, selfId, config, done, inFlight);
          if (!why) claimed = id;
          return why;
        },
        runIdProposal: proposal,
        timeoutMs: Math.max(0, deadline - Date.now()),
        version: opts.version,
      });
      if (failure || stopped) return true;
      done.set(r.peerId, { conn, isa: r.isa, runId: r.runId });
      open.delete(conn);
      logger.info("peer connected", { peer: r.peerId, isa: r.isa, remote: conn.remote });
      check();
      return true;
    } catch (e) {
      conn.close();
      open.delete(conn);
      if (!(e instanceof HandshakeError)) throw e;
      if (e.fatal) {
        failure ??= new PeerError(e.message);
        check();
        return true;
      }
      logger.warn("peer handshake failed", { reason: e.message });
      return false;
    } finally {
      if (claimed !== undefined) inFlight.delete(claimed);
    }
  };

  const dial = async (peer: VariantConfig) => {
    while (!stopped && !done.has(peer.id) && Date.now() < deadline) {
      let tcp: Deno.TcpConn | undefined;
      try {
        tcp = await Deno.connect({ hostname: peer.address, port: peer.port });
      } catch {
        await sleep(RETRY_MS);
        continue;
      }
      if (stopped) {
        tcp.close();
        return;
      }
      // Control messages are small and come in bursts (a rollback): never wait on Nagle.
      tcp.setNoDelay(true);
      if (await shake(new FramedConn(tcp), peer.id)) return;
      await sleep(RETRY_MS);
    }
  };

  const accept = async () => {
    for (;;) {
      let tcp: Deno.TcpConn;
      try {
        tcp = await listener.accept();
      } catch {
        return; // listener closed: we are done
      }
      tcp.setNoDelay(true);
      // Concurrent, so one slow or silent stranger cannot hold up the real peer.
      shake(new FramedConn(tcp));
    }
  };

  const accepting = accept();
  const dialling = peers.filter((p) => p.id > selfId).map(dial);
  const timer = setTimeout(() => settled.resolve(), Math.max(0, deadline - Date.now()));
  await settled.promise;
  stopped = true;
  clearTimeout(timer);
  listener.close();
  for (const conn of open) conn.close();
  await accepting;
  // A connect to an unreachable host may hang for minutes; do not wait for it.
  await withTimeout(Promise.all(dialling), 2 * RETRY_MS);

  if (!failure && done.size < peers.length) {
    const missing = peers.filter((p) => !done.has(p.id)).map((p) =>
      `peer ${p.id} at ${p.address}:${p.port} did not connect within ${timeouts.connectMs} ms`
    );
    failure = new PeerError(missing.join("; "));
  }
  if (failure) {
    for (const { conn } of done.values()) conn.close();
    throw failure;
  }
  return finish(opts, done, proposal);
}

/** Why a lower-id peer that dialled us may not join now, or undefined if it may. */
function admit(
  id: number,
  selfId: number,
  config: Config,
  done: Map<number, unknown>,
  inFlight: Set<number>,
): string | undefined {
  if (id === selfId) return "duplicate id (it is this agent's own id)";
  if (!config.variants.some((v) => v.id === id)) return "unexpected id (not in the config)";
  if (id > selfId) return `unexpected id (this agent dials variant ${id})`;
  if (done.has(id) || inFlight.has(id)) return "duplicate id (already connected)";
  inFlight.add(id);
  return undefined;
}

function finish(
  opts: ConnectOptions,
  done: Map<number, { conn: FramedConn; isa: string; runId: string }>,
  proposal: string,
): ConnectedPeers {
  const { config, selfId } = opts;
  const leader = done.get(config.leaderId);
  const group = new PeerGroup(new Map([...done].map(([id, d]) => [id, d.conn])), {
    selfId,
    heartbeatMs: config.timeouts.heartbeatMs,
    peerSilenceMs: config.timeouts.peerSilenceMs,
    logger: opts.logger,
  });
  return {
    group,
    runId: selfId === config.leaderId || !leader ? proposal : leader.runId,
    isas: new Map([...done].map(([id, d]) => [id, d.isa])),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
