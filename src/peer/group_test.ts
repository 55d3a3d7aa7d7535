import assert from "node:assert/strict";
import type { Config } from "../config/types.ts";
import { randomHex } from "./auth.ts";
import { FramedConn } from "./conn.ts";
import { connectPeers } from "./connect.ts";
import { encodeFrame } from "./frame.ts";
import { handshake } from "./handshake.ts";
import { PROTOCOL_VERSION } from "./messages.ts";
import { memoryLogger, testConfig } from "./test_helpers.ts";

/**
 * Plays variant 2 by hand: accepts agent 1's dial, completes a real handshake, then hands
 * the raw socket to the test so it can misbehave.
 */
async function handshakenRawPeer(c: Config): Promise<{ tcp: Deno.TcpConn; conn: FramedConn }> {
  const v2 = c.variants[1];
  const l = Deno.listen({ hostname: v2.address, port: v2.port });
  const tcp = await l.accept();
  l.close();
  const conn = new FramedConn(tcp);
  await handshake(conn, { config: c, selfId: 2, runIdProposal: randomHex(16), timeoutMs: 3000 });
  return { tcp, conn };
}

Deno.test("a peer that handshakes and then goes silent is reported lost", async () => {
  const c = testConfig(2, (c) => {
    c.timeouts.heartbeatMs = 50;
    c.timeouts.peerSilenceMs = 300;
  });
  const { logger, lines } = memoryLogger(1);
  const [agent, raw] = await Promise.all([
    connectPeers({ config: c, selfId: 1, logger }),
    handshakenRawPeer(c),
  ]);
  const t0 = Date.now();
  const lost = await agent.group.waitFor((e) => e.kind === "peer-lost", 3000);
  assert.ok(lost && lost.kind === "peer-lost");
  assert.equal(lost.id, 2);
  assert.match(lost.reason, /^silent for \d+ ms \(limit 300 ms\)$/);
  assert.ok(Date.now() - t0 >= 250);
  assert.ok(lines.some((l) => l.includes("peer lost") && l.includes("peer=2")));
  assert.deepEqual(agent.group.live, []);
  await agent.group.close();
  raw.conn.close();
});

const garbage: [string, Uint8Array, RegExp][] = [
  ["garbage bytes", new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), /frame length \d+ exceeds/],
  ["oversized length", new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2]), /exceeds the 1048576/],
  ["bad JSON", frameOf("{oops"), /not valid JSON/],
  ["unknown type", frameOf('{"t":"nope"}'), /unknown message type "nope"/],
  ["a handshake message", frameOf('{"t":"ok"}'), /handshake message ok after the handshake/],
];

function frameOf(s: string): Uint8Array {
  const body = new TextEncoder().encode(s);
  const f = new Uint8Array(4 + body.length);
  new DataView(f.buffer).setUint32(0, body.length);
  f.set(body, 4);
  return f;
}

for (const [what, bytes, reason] of garbage) {
  Deno.test(`after the handshake, ${what} closes that peer with a logged reason`, async () => {
    const c = testConfig(2);
    const { logger, lines } = memoryLogger(1);
    const [agent, raw] = await Promise.all([
      connectPeers({ config: c, selfId: 1, logger }),
      handshakenRawPeer(c),
    ]);
    await raw.tcp.write(bytes);
    const lost = await agent.group.waitFor((e) => e.kind === "peer-lost", 3000);
    assert.ok(lost && lost.kind === "peer-lost");
    assert.match(lost.reason, /^protocol error: /);
    assert.match(lost.reason, reason);
    assert.ok(lines.some((l) => l.startsWith("a8 ERROR v1") && l.includes("protocol error")));
    // The agent itself carries on: sending to the lost peer is refused, not thrown.
    assert.equal(await agent.group.send(2, { t: "hb" }), false);
    await agent.group.close();
    raw.conn.close();
  });
}

const preAuth: [string, (conn: Deno.TcpConn) => Promise<unknown>, RegExp][] = [
  ["garbage bytes", (s) => s.write(new Uint8Array(64).fill(0x41)), /exceeds/],
  ["an oversized length", (s) => s.write(new Uint8Array([0xff, 0xff, 0xff, 0xff])), /exceeds/],
  ["bad JSON", (s) => s.write(frameOf("{}}")), /not valid JSON/],
  ["an unknown type", (s) => s.write(frameOf('{"t":"x"}')), /unknown message type/],
  [
    "a run message instead of hello",
    (s) => s.write(encodeFrame({ t: "exit", status: 0 })),
    /expected hello, got exit/,
  ],
  [
    "a run message before auth completes",
    (s) =>
      s.write(
        new Uint8Array([
          ...encodeFrame({
            t: "hello",
            v: PROTOCOL_VERSION,
            id: 1,
            isa: "x",
            nonce: randomHex(32),
          }),
          ...encodeFrame({ t: "start", address: "1.2.3.4", port: 1 }),
        ]),
      ),
    /expected auth, got start/,
  ],
];

for (const [what, misbehave, reason] of preAuth) {
  Deno.test(`before authentication, ${what} closes that socket and the agent carries on`, async () => {
    const c = testConfig(2);
    const two = memoryLogger(2);
    const agent2 = connectPeers({ config: c, selfId: 2, logger: two.logger });
    const v2 = c.variants[1];
    let stranger: Deno.TcpConn | undefined;
    for (let i = 0; i < 50 && !stranger; i++) {
      stranger = await Deno.connect({ hostname: v2.address, port: v2.port }).catch(() => undefined);
      if (!stranger) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(stranger);
    await misbehave(stranger);
    // The agent closes the stranger's socket: reads reach the end of the stream.
    const buf = new Uint8Array(4096);
    while ((await stranger.read(buf).catch(() => null)) !== null);
    stranger.close();
    assert.ok(two.lines.some((l) => reason.test(l)), two.lines.join("\n"));

    const one = memoryLogger(1);
    const [p1, p2] = await Promise.all([
      connectPeers({ config: c, selfId: 1, logger: one.logger }),
      agent2,
    ]);
    assert.equal(p1.runId, p2.runId);
    await Promise.all([p1.group.close(), p2.group.close()]);
  });
}

Deno.test("close sends bye: the other side sees peer-left, not peer-lost", async () => {
  const c = testConfig(2);
  const [a, b] = await Promise.all(
    [1, 2].map((id) => connectPeers({ config: c, selfId: id, logger: memoryLogger(id).logger })),
  );
  await a.group.close();
  const e = await b.group.waitFor((e) => e.kind !== "message", 2000);
  assert.deepEqual(e, { kind: "peer-left", id: 1 });
  await b.group.close();
});

Deno.test("events() replays the past and then follows new events until close", async () => {
  const c = testConfig(2);
  const [a, b] = await Promise.all(
    [1, 2].map((id) => connectPeers({ config: c, selfId: id, logger: memoryLogger(id).logger })),
  );
  await a.group.send(2, { t: "exit", status: 1 });
  await b.group.waitFor((e) => e.kind === "message", 2000);
  const seen: string[] = [];
  const reading = (async () => {
    for await (const e of b.group.events()) seen.push(e.kind === "message" ? e.msg.t : e.kind);
  })();
  await a.group.send(2, { t: "stop", signal: "SIGTERM" });
  await b.group.waitFor((e) => e.kind === "message" && e.msg.t === "stop", 2000);
  await b.group.close();
  await reading;
  await a.group.close();
  assert.deepEqual(seen, ["exit", "stop"]);
});
