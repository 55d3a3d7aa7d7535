import assert from "node:assert/strict";
import type { Config } from "../config/types.ts";
import { monitorKey } from "./auth.ts";
import { type ConnectedPeers, connectPeers, PeerError } from "./connect.ts";
import { memoryLogger, testConfig, withDigest } from "./test_helpers.ts";

type Outcome = { ok: true; peers: ConnectedPeers } | { ok: false; error: Error };

/** Runs one agent per config (id i+1 with configs[i]) at once, as separate hosts would. */
function runAgents(configs: Config[], versions: number[] = []): Promise<Outcome[]> {
  return Promise.all(configs.map(async (config, i) => {
    const { logger } = memoryLogger(i + 1);
    try {
      const peers = await connectPeers({ config, selfId: i + 1, logger, version: versions[i] });
      return { ok: true as const, peers };
    } catch (error) {
      return { ok: false as const, error: error as Error };
    }
  }));
}

async function closeAll(outcomes: Outcome[]) {
  await Promise.all(outcomes.map((o) => o.ok && o.peers.group.close()));
}

Deno.test("two agents handshake and agree on the leader's run id", async () => {
  const c = testConfig(2);
  const out = await runAgents([c, c]);
  try {
    assert.ok(out.every((o) => o.ok), JSON.stringify(out));
    const [a, b] = out.map((o) => (o as { peers: ConnectedPeers }).peers);
    assert.match(a.runId, /^[0-9a-f]{32}$/);
    assert.equal(a.runId, b.runId);
    assert.deepEqual(a.group.live, [2]);
    assert.deepEqual(b.group.live, [1]);
    assert.equal(a.isas.get(2), Deno.build.arch);
    // Both ends derive the same monitor key, and it is not the config key.
    const ka = await monitorKey(c.key, a.runId);
    assert.equal(ka, await monitorKey(c.key, b.runId));
    assert.match(ka, /^[0-9a-f]{32}$/);
  } finally {
    await closeAll(out);
  }
});

Deno.test("three agents form a full mesh and messages flow both ways", async () => {
  const c = testConfig(3);
  const out = await runAgents([c, c, c]);
  try {
    assert.ok(out.every((o) => o.ok), JSON.stringify(out.map((o) => !o.ok && o.error.message)));
    const groups = out.map((o) => (o as { peers: ConnectedPeers }).peers);
    assert.equal(new Set(groups.map((g) => g.runId)).size, 1);
    assert.deepEqual(groups[2].group.live, [1, 2]);
    await groups[0].group.broadcast({ t: "start", address: "127.0.0.1", port: 1234 });
    await groups[2].group.send(2, { t: "exit", status: 7 });
    const s3 = await groups[2].group.waitFor((e) => e.kind === "message", 2000);
    assert.deepEqual(s3, {
      kind: "message",
      from: 1,
      msg: { t: "start", address: "127.0.0.1", port: 1234 },
    });
    const e2 = await groups[1].group.waitFor(
      (e) => e.kind === "message" && e.msg.t === "exit",
      2000,
    );
    assert.deepEqual(e2, { kind: "message", from: 3, msg: { t: "exit", status: 7 } });
  } finally {
    await closeAll(out);
  }
});

Deno.test("a wrong key is refused on both sides, naming the peer", async () => {
  const c = testConfig(2);
  const wrong = withDigest({ ...c, key: "another-key-entirely-123" });
  const out = await runAgents([c, wrong]);
  await closeAll(out);
  assert.ok(!out[0].ok && !out[1].ok);
  assert.ok(out[0].error instanceof PeerError);
  assert.equal(out[0].error.message, "authentication failed with peer 2 (wrong key?)");
  assert.equal(out[1].error.message, "authentication failed with peer 1 (wrong key?)");
});

Deno.test("a different config is refused, naming the differing fields", async () => {
  const c = testConfig(2);
  const other = withDigest({
    ...structuredClone(c),
    policy: "outputs",
    variants: c.variants.map((v) => v.id === 2 ? { ...v, address: "127.0.0.1" } : v),
  });
  other.timeouts.syncMs = 5;
  const fixed = withDigest(other);
  const out = await runAgents([c, fixed]);
  await closeAll(out);
  assert.ok(!out[0].ok && !out[1].ok);
  assert.equal(out[0].error.message, "config differs from peer 2 in: policy, timeouts.sync_ms");
  assert.equal(out[1].error.message, "config differs from peer 1 in: policy, timeouts.sync_ms");
});

Deno.test("a protocol version mismatch names both versions", async () => {
  const c = testConfig(2);
  const out = await runAgents([c, c], [1, 2]);
  await closeAll(out);
  assert.ok(!out[0].ok && !out[1].ok);
  assert.equal(
    out[0].error.message,
    "protocol version mismatch with peer 2: ours is 1, theirs is 2",
  );
  // The accepting side does not know the id yet: it names the address.
  assert.match(
    out[1].error.message,
    /^protocol version mismatch with peer at 127\.0\.0\.1:\d+: ours is 2, theirs is 1$/,
  );
});

Deno.test("a missing peer is reported by id and address after connectMs", async () => {
  const c = testConfig(3, (c) => (c.timeouts.connectMs = 400));
  const start = Date.now();
  const out = await runAgents([c, c]); // variant 3 never starts
  await closeAll(out);
  assert.ok(Date.now() - start < 2000);
  const p3 = c.variants[2];
  for (const o of out) {
    assert.ok(!o.ok);
    assert.equal(
      o.error.message,
      `peer 3 at 127.0.0.1:${p3.port} did not connect within 400 ms`,
    );
  }
});

Deno.test("a single-variant config needs no peers", async () => {
  const c = testConfig(1);
  const [o] = await runAgents([c]);
  assert.ok(o.ok);
  assert.deepEqual(o.peers.group.live, []);
  await o.peers.group.close();
});

Deno.test("an id missing from the config is refused", async () => {
  const c = testConfig(2);
  const { logger } = memoryLogger(5);
  await assert.rejects(
    connectPeers({ config: c, selfId: 5, logger }),
    /variant 5 is not in \/test\/a8.toml \(ids: 1, 2\)/,
  );
});
