/**
 * Messages over a raw fd (one end of a SOCK_SEQPACKET pair from ffi/spawn.ts), for the tests
 * that talk to a spawned child: Deno's own APIs take no fd number.
 */
import { assert } from "./e2e/harness.ts";

const io = Deno.dlopen("libc.so.6", {
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
});

/** One message, up to 256 bytes ("" at end of file). */
export async function recv(fd: number): Promise<string> {
  const buf = new Uint8Array(256);
  const n = Number(await io.symbols.read(fd, buf, 256n));
  return new TextDecoder().decode(buf.subarray(0, Math.max(n, 0)));
}

/** One message, written whole. */
export function send(fd: number, s: string): void {
  const b = new TextEncoder().encode(s);
  assert.equal(Number(io.symbols.write(fd, b, BigInt(b.length))), b.length);
}
