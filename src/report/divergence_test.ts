import assert from "node:assert/strict";
import { callAt, callsBefore, writeDivergenceReport } from "./divergence.ts";
import { printable, toCallRecord } from "./call_record.ts";
import { parseStats } from "../launch/stats.ts";
import { encodeStats } from "../launch/stats_fixture.ts";

const enc = new TextEncoder();

function ring(path: string) {
  return parseStats(encodeStats({
    slots: 16,
    entries: [
      ...Array.from(
        { length: 20 },
        (_, i) => ({ seq: i, name: "read", args: [3n, 0x1000n, 64n], ret: 5n }),
      ),
      {
        seq: 20,
        name: "openat",
        nr: 257,
        args: [0xffffff9cn, 0x7ffc0000n, 0n],
        digest: path === "/etc/passwd" ? 0x1111n : 0x2222n,
        ret: -38n,
        blob: enc.encode(path),
      },
    ],
  }));
}

Deno.test("callAt and callsBefore read the detecting variant's ring", () => {
  const s = ring("/etc/passwd");
  assert.equal(callAt(s, 20)?.call, "openat");
  assert.equal(callAt(s, 2), null, "seq 2 has left a 16-slot ring");
  const before = callsBefore(s, 20);
  assert.deepEqual(before.map((c) => c.seq), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assert.equal(callsBefore(s, 20, 3).length, 3);
});

Deno.test("the report names detector, call, position, each variant's arguments and the diff", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mine = ring("/etc/shadow");
    const text = await writeDivergenceReport(`${dir}/r`, {
      runId: "ab".repeat(16),
      detectedBy: 2,
      stream: "0",
      seq: 20,
      call: "openat",
      reason: "args",
      detail: "path differs",
      variants: [
        { variant: 2, leader: false, isa: "aarch64", call: callAt(mine, 20) },
        { variant: 1, leader: true, isa: "x86_64", call: callAt(ring("/etc/passwd"), 20) },
        { variant: 3, leader: false, call: null },
      ],
      recent: callsBefore(mine, 20),
    });
    const json = JSON.parse(await Deno.readTextFile(`${dir}/r/divergence.json`));
    assert.equal(json.detected_by, 2);
    assert.equal(json.seq, 20);
    assert.equal(json.reason, "args");
    assert.deepEqual(json.differs, ["digest", "blob"]);
    assert.deepEqual(json.variants.map((v: { variant: number }) => v.variant), [1, 2, 3]);
    assert.equal(json.variants[0].call.blob_text, "/etc/passwd");
    assert.equal(json.variants[0].call.blob_hex, "2f6574632f706173737764");
    assert.equal(json.variants[0].call.args[0], "0xffffff9c");
    assert.equal(json.recent.length, 10);

    assert.match(text, /variant 2 found a mismatch \(args\) at openat, stream 0, call #20/);
    assert.match(text, /variant 1 \(leader, x86_64\): #20 openat\(0xffffff9c, 0x7ffc0000, 0x0/);
    assert.match(text, /canonical text: "\/etc\/shadow"/);
    assert.match(text, /variant 3 \(follower\): no record of call #20/);
    assert.match(text, /differs: digest, blob/);
    assert.match(text, /#19 read\(0x3, 0x1000, 0x40, 0x0, 0x0, 0x0\) = 5/);
    assert.ok(!text.includes("#9 read"), "only the last 10 calls are listed");
    assert.match(text, new RegExp(`report: ${dir}/r/divergence.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("call records are JSON-safe and mark leader results", () => {
  const e = parseStats(encodeStats({
    entries: [{
      seq: 1,
      name: "getpid",
      digest: 0xabn,
      ret: -1n,
      flags: 1,
      args: [2n ** 64n - 1n],
    }],
  })).ring[0];
  const r = toCallRecord(e);
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  assert.equal(r.digest, "00000000000000ab");
  assert.equal(r.args[0], "0xffffffffffffffff");
  assert.deepEqual(r.flags, ["leader-result"]);
  assert.equal(r.blob_text, null);
});

Deno.test("printable shows the text after the binary header, refuses pure binary", () => {
  assert.equal(printable(enc.encode("/tmp/x\0")), "/tmp/x");
  assert.equal(
    printable(new Uint8Array([1, 0, 9, 0, ...enc.encode("tag: v1\n"), 15, 0])),
    "tag: v1",
  );
  assert.equal(printable(new Uint8Array([1, 2, 3, 0x41])), null);
});
