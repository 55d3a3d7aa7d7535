/**
 * The cryptography of the control plane, all HMAC-SHA256 with the config key (WebCrypto).
 * The key itself never crosses the wire: a peer proves it holds the key by a MAC over fresh
 * nonces from both sides, bound to who sends it to whom, so a recorded proof cannot be
 * replayed later or reflected back at its sender.
 */

const encoder = new TextEncoder();

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `n` fresh random bytes as hex: nonces and run ids. */
export function randomHex(n: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(n)));
}

function importKey(key: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

async function hmac(key: string, text: string): Promise<Uint8Array> {
  const k = await importKey(key);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(text)));
}

export interface AuthContext {
  version: number;
  /** Id and nonce of the side that sends this proof. */
  senderId: number;
  senderNonce: string;
  /** Id and nonce of the side that checks it. */
  receiverId: number;
  receiverNonce: string;
}

/** The proof one side sends; both nonces and both ids are in it, in sender/receiver order. */
export async function authProof(key: string, c: AuthContext): Promise<string> {
  const text = [
    "a8 peer auth",
    `v=${c.version}`,
    `from=${c.senderId}`,
    `to=${c.receiverId}`,
    `from-nonce=${c.senderNonce}`,
    `to-nonce=${c.receiverNonce}`,
  ].join("\n");
  return toHex(await hmac(key, text));
}

/** Constant-time comparison of two hex strings, so timing does not leak a prefix match. */
export function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The per-run monitor key (A8_KEY): 16 bytes of HMAC(config key, label + run id), hex. */
export async function monitorKey(key: string, runId: string): Promise<string> {
  return toHex((await hmac(key, "a8 monitor key" + runId)).subarray(0, 16));
}
