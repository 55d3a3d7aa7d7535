/**
 * The handshake on one fresh peer connection. Both ends run the same steps, so neither needs
 * to know who dialled:
 *
 *   hello  {v, id, isa, nonce}   version and identity; a fresh 32-byte nonce
 *   auth   {mac}                 proof of the key over both nonces, both ids, the version
 *   agree  {digest, runId}       config digest and run-id proposal (only after auth)
 *   config {config}              only if digests differ: the normalized configs, to name fields
 *   ok                           both ends accept; anything else is a `refuse {reason}`
 *
 * Every refusal is sent to the peer before it is thrown here, so both agents tell their
 * users the same story.
 */
import type { Config } from "../config/types.ts";
import { configDifferences, normalizedConfig } from "../config/normalize.ts";
import { authProof, randomHex, sameHex } from "./auth.ts";
import type { FramedConn } from "./conn.ts";
import { type MsgType, type PeerMsg, PROTOCOL_VERSION } from "./messages.ts";

export interface HandshakeParams {
  config: Config;
  selfId: number;
  /** The id we dialled; undefined on the accepting side. */
  expectedId?: number;
  /** On the accepting side: whether an id may connect now ("unexpected" or "duplicate"). */
  admit?: (id: number) => string | undefined;
  /** Our run-id proposal (16 random bytes, hex); the leader's wins. */
  runIdProposal: string;
  timeoutMs: number;
  /** Tests only: claim another protocol version. */
  version?: number;
}

export interface HandshakeResult {
  peerId: number;
  isa: string;
  /** The peer's run-id proposal. */
  runId: string;
}

/**
 * `fatal` failures end the run (the peer refused us, wrong key, different config or version);
 * the others lose only this connection (garbage, timeout, a stranger), and the agent keeps
 * waiting for the real peer.
 */
export class HandshakeError extends Error {
  constructor(message: string, readonly fatal: boolean, readonly peerId?: number) {
    super(message);
    this.name = "HandshakeError";
  }
}

const NONCE_BYTES = 32;

export async function handshake(conn: FramedConn, p: HandshakeParams): Promise<HandshakeResult> {
  const version = p.version ?? PROTOCOL_VERSION;
  const deadline = Date.now() + p.timeoutMs;
  let who = p.expectedId === undefined ? `peer at ${conn.remote}` : `peer ${p.expectedId}`;

  const expect = async <T extends MsgType>(t: T): Promise<Extract<PeerMsg, { t: T }>> => {
    const r = await conn.read(Math.max(0, deadline - Date.now()));
    if (r.kind === "timeout") throw new HandshakeError(`${who}: handshake timed out`, false);
    if (r.kind === "closed") throw new HandshakeError(`${who}: ${r.reason} in handshake`, false);
    if (r.kind === "error") {
      throw new HandshakeError(`${who}: protocol error: ${r.error.message}`, false);
    }
    if (r.msg.t === "refuse") {
      throw new HandshakeError(`${who} refused the handshake: ${r.msg.reason}`, true);
    }
    if (r.msg.t !== t) {
      throw new HandshakeError(`${who}: protocol error: expected ${t}, got ${r.msg.t}`, false);
    }
    return r.msg as Extract<PeerMsg, { t: T }>;
  };
  const refuse = async (reason: string, message: string, fatal = true): Promise<never> => {
    await conn.send({ t: "refuse", reason });
    throw new HandshakeError(message, fatal);
  };

  const nonce = randomHex(NONCE_BYTES);
  await conn.send({ t: "hello", v: version, id: p.selfId, isa: Deno.build.arch, nonce });
  const hello = await expect("hello");
  if (hello.v !== version) {
    await refuse(
      `protocol version ${hello.v} is not ours (${version})`,
      `protocol version mismatch with ${who}: ours is ${version}, theirs is ${hello.v}`,
    );
  }
  const idProblem = p.expectedId !== undefined
    ? (hello.id === p.expectedId ? undefined : `expected variant ${p.expectedId}`)
    : p.admit?.(hello.id);
  if (idProblem) {
    await refuse(
      `variant id ${hello.id} refused: ${idProblem}`,
      `${who} claims variant id ${hello.id}: ${idProblem}`,
      p.expectedId !== undefined,
    );
  }
  who = `peer ${hello.id}`;
  if (hello.nonce.length !== NONCE_BYTES * 2) {
    throw new HandshakeError(`${who}: protocol error: nonce is not ${NONCE_BYTES} bytes`, false);
  }

  const ctx = { version, senderId: p.selfId, senderNonce: nonce };
  const proof = await authProof(p.config.key, {
    ...ctx,
    receiverId: hello.id,
    receiverNonce: hello.nonce,
  });
  await conn.send({ t: "auth", mac: proof });
  const auth = await expect("auth");
  const expected = await authProof(p.config.key, {
    version,
    senderId: hello.id,
    senderNonce: hello.nonce,
    receiverId: p.selfId,
    receiverNonce: nonce,
  });
  if (!sameHex(auth.mac, expected)) {
    await refuse("authentication failed", `authentication failed with ${who} (wrong key?)`);
  }

  await conn.send({ t: "agree", digest: p.config.digest, runId: p.runIdProposal });
  const agree = await expect("agree");
  if (agree.digest !== p.config.digest) {
    const ours = normalizedConfig(p.config);
    await conn.send({ t: "config", config: ours });
    const theirs = await expect("config");
    const fields = configDifferences(ours, theirs.config);
    const named = fields.length ? fields.join(", ") : "(digest only)";
    await refuse("config differs", `config differs from ${who} in: ${named}`);
  }
  if (agree.runId.length !== 32) {
    await refuse("run id is not 16 bytes", `${who}: protocol error: run id is not 16 bytes`);
  }

  await conn.send({ t: "ok" });
  await expect("ok");
  return { peerId: hello.id, isa: hello.isa, runId: agree.runId };
}
