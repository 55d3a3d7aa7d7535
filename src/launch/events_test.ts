import assert from "node:assert/strict";
import { AUTH, EventServer, parseEventLine } from "./events.ts";
import { memoryLogger } from "../peer/test_helpers.ts";

const enc = new TextEncoder();
/** The token of the server under test (fakeMonitor shows it first). */
let currentToken = "";

async function withServer(fn: (s: EventServer, dir: string, lines: string[]) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "a8-events-" });
  const { logger, lines } = memoryLogger(1);
  const s = EventServer.listen(`${dir}/agent.sock`, logger);
  currentToken = s.token;
  try {
    await fn(s, dir, lines);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A fake monitor: connects and writes `text` in pieces of `step` bytes. */
async function fakeMonitor(path: string, text: string, step = 7, token?: string): Promise<void> {
  const c = await Deno.connect({ transport: "unix", path });
  const bytes = enc.encode(`${AUTH} ${token ?? currentToken}\n${text}`);
  for (let off = 0; off < bytes.length; off += step) {
    await c.write(bytes.subarray(off, off + step));
  }
  c.close();
}

const hello = (stream: string, pid: number) =>
  JSON.stringify({
    ev: "hello",
    stream,
    pid,
    vpid: 1,
    abi: 1,
    isa: "x86_64",
    interposer: "sud",
    policy: "lockstep",
  }) + "\n";

/** Processes of this test's own (the agent's descendants, as a program's are), for `fn`. */
async function withChildren(n: number, fn: (pids: number[]) => Promise<void>): Promise<void> {
  const kids = Array.from(
    { length: n },
    () => new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" }).spawn(),
  );
  try {
    await fn(kids.map((k) => k.pid));
  } finally {
    for (const k of kids) {
      k.kill("SIGKILL");
      await k.status;
    }
  }
}

Deno.test("events from several monitors arrive, split lines are joined, pids are kept", async () => {
  await withChildren(2, (pids) => severalMonitors(pids[0], pids[1]));
});

Deno.test("a pid that is not of the run is not kept (the agent would signal it)", async () => {
  await withServer(async (s, _dir, lines) => {
    await fakeMonitor(s.path, hello("0", 1));
    await s.waitFor((e) => e.ev === "hello" && e.pid === 1, 2000);
    assert.deepEqual([...s.pids], []);
    assert.ok(lines.some((l) => l.includes("not of this run")), lines.join("\n"));
  });
});

async function severalMonitors(a: number, b: number): Promise<void> {
  await withServer(async (s) => {
    const ready = JSON.stringify({ ev: "ready", stream: "0", pid: 100, vpid: 1, port: 4321 });
    await Promise.all([
      fakeMonitor(s.path, hello("0", a) + ready + "\n"),
      fakeMonitor(s.path, hello("0.1", b), 3),
    ]);
    const r = await s.waitFor((e) => e.ev === "ready", 2000);
    assert.ok(r && r.ev === "ready");
    assert.equal(r.port, 4321);
    await s.waitFor((e) => e.ev === "hello" && e.stream === "0.1", 2000);
    assert.deepEqual([...s.pids].sort(), [a, b].sort());
  });
}

Deno.test("malformed lines are logged and skipped; later lines still count", async () => {
  await withServer(async (s, _dir, lines) => {
    const exit = JSON.stringify({ ev: "exit", stream: "0", pid: 5, vpid: 1, status: 3, calls: 9 });
    await fakeMonitor(
      s.path,
      [
        "not json",
        "[1]",
        '{"ev":"explode","stream":"0","pid":1,"vpid":1}',
        '{"ev":"exit","stream":"0","pid":"5","vpid":1,"status":0,"calls":1}',
        "",
        exit,
      ].join("\n") + "\n",
    );
    const e = await s.waitFor((e) => e.ev === "exit", 2000);
    assert.ok(e && e.ev === "exit");
    assert.equal(e.status, 3);
    const skipped = lines.filter((l) => l.includes("skipping a malformed monitor event"));
    assert.equal(skipped.length, 4, lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("field pid missing or not int")));
  });
});

Deno.test("monitor log events are relayed through the agent's logger", async () => {
  await withServer(async (s, _dir, lines) => {
    await fakeMonitor(
      s.path,
      JSON.stringify({
        ev: "log",
        stream: "0.1",
        pid: 7,
        vpid: 2,
        level: "warn",
        msg: "hi",
        nr: 0,
      }) +
        "\n",
    );
    await s.waitFor((e) => e.ev === "log", 2000);
    assert.ok(lines.some((l) => l.startsWith("a8 WARN v1 hi") && l.includes("stream=0.1")));
  });
});

Deno.test("parseEventLine checks each event's fields", () => {
  const fatal = {
    ev: "fatal",
    stream: "0",
    pid: 1,
    vpid: 1,
    reason: "threads",
    call: "",
    nr: 56,
    detail: "threads are not supported yet",
  };
  assert.deepEqual(parseEventLine(JSON.stringify(fatal)), { ok: true, event: fatal });
  const r = parseEventLine(JSON.stringify({ ...fatal, nr: undefined }));
  assert.deepEqual(r, { ok: false, problem: "event fatal: field nr missing or not int" });
});

Deno.test("a connection without the run's token is closed and its events are not taken", async () => {
  await withServer(async (s, _dir, lines) => {
    await fakeMonitor(s.path, hello("0", Deno.pid), 7, "not-the-token");
    assert.deepEqual([...s.pids], []);
    await fakeMonitor(s.path, hello("0.1", Deno.pid));
    await s.waitFor((e) => e.ev === "hello" && e.stream === "0.1", 2000);
    assert.deepEqual([...s.pids], [Deno.pid], "only the monitor with the token counts");
    assert.ok(lines.some((l) => l.includes("without the run's token")), lines.join("\n"));
  });
});

Deno.test("a connection that shows no token is closed within seconds", async () => {
  await withServer(async (s, _dir, lines) => {
    const c = await Deno.connect({ transport: "unix", path: s.path });
    try {
      // The server closes it: the read ends (null) instead of waiting for ever.
      const got = await c.read(new Uint8Array(8)).catch(() => null);
      assert.equal(got, null);
      assert.ok(lines.some((l) => l.includes("showed no token in time")), lines.join("\n"));
    } finally {
      c.close();
    }
  });
});
