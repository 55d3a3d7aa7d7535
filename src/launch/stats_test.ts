import assert from "node:assert/strict";
import { compareStreamKeys, parseStats, readRunStats, readStats, StatsError } from "./stats.ts";
import { encodeStats } from "./stats_fixture.ts";
import { RING, STATS } from "./abi.ts";

Deno.test("abi.ts offsets match the C layout (struct sizes add up)", () => {
  assert.equal(RING.size, 8 + 16 + 8 + 6 * 8 + 8 + 8 + 4 + 4 + 64);
  assert.equal(STATS.ring, 8 + 4 + 4 + 6 * 8 + 4 + 4 + 4 * 8 + 32);
});

Deno.test("parseStats reads every header field", () => {
  const s = parseStats(encodeStats({
    stream: "0.1.2",
    counters: { seen: 100, checked: 40, replicated: 30, local: 70, divergences: 1 },
    seq: 101,
    pid: 4242,
    vpid: 2,
    signals: 3,
    bytesSent: 2 ** 40,
    bytesReceived: 9,
  }));
  assert.equal(s.stream, "0.1.2");
  assert.deepEqual(
    [s.callsSeen, s.callsChecked, s.callsReplicated, s.callsLocal, s.divergences],
    [100, 40, 30, 70, 1],
  );
  assert.deepEqual([s.seq, s.pid, s.vpid, s.signals], [101, 4242, 2, 3]);
  assert.equal(s.bytesSent, 2 ** 40);
  assert.equal(s.bytesReceived, 9);
  assert.equal(s.ringSlots, 64);
  assert.equal(s.ringHead, 0);
  assert.deepEqual(s.ring, []);
});

Deno.test("ring entries decode with all their fields", () => {
  const blob = new TextEncoder().encode("/etc/passwd\0");
  const s = parseStats(encodeStats({
    entries: [{
      seq: 7,
      name: "openat",
      nr: 257,
      args: [0xffffff9cn, 0x7ffd12345678n, 0n, 0o644n, 0n, 0xffffffffffffffffn],
      digest: 0xdeadbeefcafef00dn,
      ret: -2n,
      flags: 3,
      blob,
    }],
  }));
  assert.equal(s.ring.length, 1);
  const e = s.ring[0];
  assert.equal(e.seq, 7);
  assert.equal(e.name, "openat");
  assert.equal(e.nr, 257);
  assert.deepEqual(e.args, [0xffffff9cn, 0x7ffd12345678n, 0n, 0o644n, 0n, 0xffffffffffffffffn]);
  assert.equal(e.digest, 0xdeadbeefcafef00dn);
  assert.equal(e.ret, -2n);
  assert.equal(e.flags, 3);
  assert.deepEqual(e.blob, blob);
});

Deno.test("the ring is returned oldest first, before and after it wraps", () => {
  const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ seq: i, name: `c${i}` }));
  const partial = parseStats(encodeStats({ slots: 4, entries: entries(3) }));
  assert.deepEqual(partial.ring.map((e) => e.seq), [0, 1, 2]);
  const wrapped = parseStats(encodeStats({ slots: 4, entries: entries(10) }));
  assert.equal(wrapped.ringHead, 10);
  assert.deepEqual(wrapped.ring.map((e) => e.seq), [6, 7, 8, 9]);
  assert.deepEqual(wrapped.ring.map((e) => e.name), ["c6", "c7", "c8", "c9"]);
  const exact = parseStats(encodeStats({ slots: 4, entries: entries(8) }));
  assert.deepEqual(exact.ring.map((e) => e.seq), [4, 5, 6, 7]);
});

Deno.test("bad files are refused with the reason", () => {
  const good = encodeStats({});
  assert.throws(() => parseStats(good.subarray(0, 100), "f"), /f: too short/);
  assert.throws(() => parseStats(good.subarray(0, 500), "f"), /truncated/);
  const bad = good.slice();
  bad[0] = 0x42;
  assert.throws(() => parseStats(bad, "f"), StatsError);
  assert.throws(() => parseStats(encodeStats({ abi: 1 }), "f"), /monitor ABI 1.*rebuild/);
});

Deno.test("readRunStats reads every stream, in stream order, and sums the counters", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual((await readRunStats(dir)).streams, []);
    await Deno.mkdir(`${dir}/stats`);
    const put = (name: string, stream: string, seen: number) =>
      Deno.writeFile(
        `${dir}/stats/${name}`,
        encodeStats({ stream, counters: { seen }, signals: 1 }),
      );
    await put("0.10.bin", "0.10", 5);
    await put("0.bin", "0", 10);
    await put("0.2.bin", "0.2", 20);
    await Deno.writeTextFile(`${dir}/stats/notes.txt`, "ignored");
    const run = await readRunStats(dir);
    assert.deepEqual(run.streams.map((s) => s.stream), ["0", "0.2", "0.10"]);
    assert.equal(run.totals.callsSeen, 35);
    assert.equal(run.totals.signals, 3);
    assert.equal((await readStats(`${dir}/stats/0.bin`)).callsSeen, 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRunStats skips a file whose pid is not of the run (anyone may put one there)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a8-stats-" });
  try {
    await Deno.mkdir(`${dir}/stats`);
    await Deno.writeFile(`${dir}/stats/0.bin`, encodeStats({ stream: "0", pid: 10 }));
    await Deno.writeFile(`${dir}/stats/0.1.bin`, encodeStats({ stream: "0.1", pid: 666 }));
    const run = await readRunStats(dir, (pid) => pid === 10);
    assert.deepEqual(run.streams.map((s) => s.stream), ["0"]);
    assert.match(run.skipped.join(), /0\.1\.bin: pid 666 is not a process of this run/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream keys sort numerically, parents first", () => {
  assert.deepEqual(["0.10", "0.2", "0", "0.2.1"].sort(compareStreamKeys), [
    "0",
    "0.2",
    "0.2.1",
    "0.10",
  ]);
});
