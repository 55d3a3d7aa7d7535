import assert from "node:assert/strict";
import { encodeFrame, FrameDecoder, MAX_FRAME } from "./frame.ts";
import type { PeerMsg } from "./messages.ts";

function rawFrame(body: Uint8Array, len = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, len);
  out.set(body, 4);
  return out;
}
const text = (s: string) => new TextEncoder().encode(s);

function decodeAll(bytes: Uint8Array) {
  const d = new FrameDecoder();
  d.push(bytes);
  const out = [];
  for (let r = d.next(); r; r = d.next()) {
    out.push(r);
    if (!r.ok) break;
  }
  return out;
}

Deno.test("frames round-trip, also when fed one byte at a time", () => {
  const msgs: PeerMsg[] = [
    { t: "start", address: "10.0.0.1", port: 4000 },
    { t: "exit", status: 3 },
    { t: "hb" },
  ];
  const bytes = new Uint8Array(msgs.flatMap((m) => [...encodeFrame(m)]));
  const d = new FrameDecoder();
  const got: PeerMsg[] = [];
  for (const b of bytes) {
    d.push(new Uint8Array([b]));
    for (let r = d.next(); r; r = d.next()) {
      assert.ok(r.ok);
      got.push(r.msg);
    }
  }
  assert.deepEqual(got, msgs);
  assert.equal(d.pending, 0);
});

Deno.test("an oversized length is rejected before the body arrives", () => {
  const d = new FrameDecoder();
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, MAX_FRAME + 1);
  d.push(head);
  const r = d.next();
  assert.ok(r && !r.ok);
  assert.equal(r.error.code, "oversized");
  // Sticky: the stream has lost its framing.
  d.push(encodeFrame({ t: "hb" }));
  assert.equal(d.next()?.ok, false);
});

Deno.test("each kind of bad frame gives its own typed error", () => {
  const cases: [Uint8Array, string, RegExp][] = [
    [rawFrame(new Uint8Array([0xff, 0xfe, 0x22])), "utf8", /UTF-8/],
    [rawFrame(text("{not json")), "json", /JSON/],
    [rawFrame(text("[1,2]")), "message", /not a JSON object/],
    [rawFrame(text("null")), "message", /not a JSON object/],
    [rawFrame(text('{"x":1}')), "message", /no string field t/],
    [rawFrame(text('{"t":"launch-missiles"}')), "message", /unknown message type/],
    [rawFrame(text('{"t":"exit"}')), "message", /exit: field status/],
    [rawFrame(text('{"t":"exit","status":"0"}')), "message", /exit: field status/],
    [rawFrame(text('{"t":"start","address":"a","port":70000}')), "message", /port/],
    [rawFrame(text('{"t":"auth","mac":"XYZ"}')), "message", /auth: field mac/],
    [rawFrame(text('{"t":"toString"}')), "message", /unknown message type/],
  ];
  for (const [bytes, code, problem] of cases) {
    const [r] = decodeAll(bytes);
    assert.ok(r && !r.ok, `expected an error for ${new TextDecoder().decode(bytes)}`);
    assert.equal(r.error.code, code);
    assert.match(r.error.message, problem);
  }
});

Deno.test("a partial frame waits for more bytes", () => {
  const f = encodeFrame({ t: "exit", status: 0 });
  const d = new FrameDecoder();
  d.push(f.subarray(0, f.length - 1));
  assert.equal(d.next(), undefined);
  d.push(f.subarray(f.length - 1));
  assert.deepEqual(d.next(), { ok: true, msg: { t: "exit", status: 0 } });
});

/** Deterministic pseudo-random bytes (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("random bytes, mutated frames and random lengths never make the decoder throw", () => {
  const rand = rng(0xa8);
  const valid = encodeFrame({
    t: "divergence",
    variant: 2,
    stream: "0.1",
    reason: "args",
    call: "write",
    seq: 9,
    detail: "x",
    round: 0,
  });
  for (let i = 0; i < 3000; i++) {
    let bytes: Uint8Array;
    if (i % 3 === 0) {
      bytes = new Uint8Array(Math.floor(rand() * 64)).map(() => Math.floor(rand() * 256));
    } else {
      bytes = valid.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips; k++) {
        // Keep the length field small so the body is really parsed most of the time.
        const at = 2 + Math.floor(rand() * (bytes.length - 2));
        bytes[at] = Math.floor(rand() * 256);
      }
    }
    const d = new FrameDecoder();
    let off = 0;
    while (off < bytes.length) {
      const n = 1 + Math.floor(rand() * 16);
      d.push(bytes.subarray(off, off + n));
      off += n;
      for (let r = d.next(); r; r = d.next()) if (!r.ok) break;
    }
  }
});
