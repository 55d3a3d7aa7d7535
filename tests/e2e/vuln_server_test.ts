/**
 * tests/servers/vuln_server.c natively (no a8), on loopback, and the client helpers of
 * http_client.ts: benign routes on new and kept-alive connections, 404 and other errors, a
 * request split over several writes, pipelining, Connection: close, the request size limit;
 * the client's view of closed, truncated and silent connections; and the attack. The attack
 * leaks pointers natively, and two runs answer it differently (ASLR) while answering every
 * benign request the same: that difference is what makes a8's variants diverge.
 *
 * Needs `make build` (the test fails, saying so, when the binary is missing).
 */
import { assert, freePorts, ms, Proc, text } from "./harness.ts";
import {
  attack,
  benignLoop,
  benignMix,
  bigBody,
  expectedResponse,
  getRequest,
  HttpConn,
  LEAK_BODY,
  MalformedResponse,
  request,
  type RequestResult,
  requireVulnServer,
  vulnServerArgv,
  waitListening,
} from "./http_client.ts";

const ADDR = "127.0.0.1";
const TIMEOUT = ms(5000);

interface Server {
  proc: Proc;
  port: number;
}

async function startServer(port = 0): Promise<Server> {
  await requireVulnServer();
  const proc = new Proc("vuln_server", vulnServerArgv(ADDR, port));
  try {
    return { proc, port: await waitListening(proc) };
  } catch (e) {
    await proc.kill();
    throw e;
  }
}

/** Stops the server; it must still be running (nothing may have crashed it). */
async function stopServer(s: Server): Promise<void> {
  const crashed = s.proc.exited;
  s.proc.signal("SIGTERM");
  const r = await s.proc.wait(ms(5000));
  assert.ok(!crashed, `vuln_server exited during the test: exit ${r.code}\n${text(r.stderr)}`);
  assert.ok(!r.timedOut, "vuln_server did not stop on SIGTERM");
  assert.equal(text(r.stderr), "", "vuln_server wrote to stderr");
}

async function withServer(fn: (port: number) => Promise<void>): Promise<void> {
  const s = await startServer();
  try {
    await fn(s.port);
  } finally {
    await stopServer(s);
  }
}

function get(port: number, path: string): Promise<RequestResult> {
  return request(ADDR, port, path, { timeoutMs: TIMEOUT });
}

/** Asserts an "ok" result with this status and body; returns it. */
function assertOk(r: RequestResult, status: number, body: string, what: string) {
  assert.equal(r.kind, "ok", `${what}: ${JSON.stringify(r)}`);
  if (r.kind !== "ok") throw new Error("unreachable");
  assert.equal(r.status, status, `${what}: status`);
  assert.equal(r.body.length, body.length, `${what}: body length`);
  assert.equal(r.body, body, `${what}: body`);
  assert.equal(r.headers["content-length"], String(new TextEncoder().encode(body).length));
  return r;
}

/** Reads the responses of a hand-written exchange up to EOF and splits them. */
function splitResponses(raw: string): { status: number; body: string }[] {
  const out = [];
  let rest = raw;
  while (rest.length) {
    const end = rest.indexOf("\r\n\r\n");
    assert.ok(end > 0, `no response head in ${JSON.stringify(rest.slice(0, 200))}`);
    const head = rest.slice(0, end);
    const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? NaN);
    out.push({ status: Number(head.split(" ")[1]), body: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

/** Sends `parts` on one connection with a pause between them; returns all read until EOF. */
async function exchange(port: number, parts: string[], gapMs = 30): Promise<string> {
  const c = await HttpConn.open(ADDR, port);
  try {
    for (const [i, p] of parts.entries()) {
      if (i) await new Promise((r) => setTimeout(r, gapMs));
      await c.write(p);
    }
    return text(await c.readToEnd());
  } finally {
    c.close();
  }
}

const BENIGN: [string, number, string][] = [
  ["/hello", 200, "hello\n"],
  ["/greet?name=alice", 200, "Hello, alice\n"],
  ["/greet?name=J%C3%B6rg+M%C3%BCller%21", 200, "Hello, Jörg Müller!\n"],
  ["/big?n=0", 200, ""],
  ["/big?n=1", 200, "0"],
  ["/big?n=100000", 200, bigBody(100000)],
  ["/big?n=3000000", 200, bigBody(3000000)],
  ["/nope", 404, "not found\n"],
  ["/hello/", 404, "not found\n"],
  ["/greet", 400, "missing name\n"],
  ["/greet?name=%zz", 400, "bad name\n"],
  ["/greet?name=a%00b", 400, "bad name\n"],
  ["/big?n=-1", 400, "bad n\n"],
  ["/big?n=99999999999", 400, "bad n\n"],
];

Deno.test("vuln_server: benign routes and errors on new connections", async () => {
  await withServer(async (port) => {
    for (const [path, status, body] of BENIGN) {
      const r = assertOk(await get(port, path), status, body, `GET ${path}`);
      assert.equal(r.headers["connection"], "close", `GET ${path}: we sent Connection: close`);
    }
    // expectedResponse (what benign loops check against) agrees with the server.
    for (const path of ["/hello", "/greet?name=x+y", "/big?n=777", "/other"]) {
      const e = expectedResponse(path);
      assertOk(await get(port, path), e.expectedStatus, e.expectedBody, `GET ${path}`);
    }
  });
});

Deno.test("vuln_server: keep-alive, then Connection: close is honoured", async () => {
  await withServer(async (port) => {
    const c = await HttpConn.open(ADDR, port);
    try {
      for (let i = 0; i < 30; i++) {
        const e = benignMix(i);
        const r = await request(ADDR, port, e.path, { timeoutMs: TIMEOUT, keepAliveConn: c });
        assertOk(r, e.expectedStatus, e.expectedBody, `kept-alive request ${i} ${e.path}`);
        assert.equal(r.kind === "ok" && r.headers["connection"], "keep-alive");
        assert.ok(!c.closed, `request ${i} closed the kept-alive connection`);
      }
      await c.write(getRequest(ADDR, port, "/hello", false));
      const r = await c.readResponse();
      assertOk(r, 200, "hello\n", "Connection: close on a kept-alive connection");
      assert.equal(text(await c.readToEnd()), "", "the server must close after it");
    } finally {
      c.close();
    }
  });
});

Deno.test("vuln_server: a request split over several writes", async () => {
  await withServer(async (port) => {
    const raw = await exchange(port, [
      "GE",
      "T /greet?na",
      "me=split HTTP/1.1\r\nHost: x\r",
      "\nConnection: cl",
      "ose\r\n\r",
      "\n",
    ]);
    assert.deepEqual(splitResponses(raw), [{ status: 200, body: "Hello, split\n" }]);
  });
});

Deno.test("vuln_server: pipelined requests are answered in order", async () => {
  await withServer(async (port) => {
    const reqs = getRequest(ADDR, port, "/hello", true) +
      getRequest(ADDR, port, "/big?n=200000", true) +
      getRequest(ADDR, port, "/nope", true) +
      getRequest(ADDR, port, "/greet?name=last", false);
    assert.deepEqual(splitResponses(await exchange(port, [reqs])), [
      { status: 200, body: "hello\n" },
      { status: 200, body: bigBody(200000) },
      { status: 404, body: "not found\n" },
      { status: 200, body: "Hello, last\n" },
    ]);
  });
});

Deno.test("vuln_server: HTTP/1.0, bad requests, other methods, too-long requests", async () => {
  await withServer(async (port) => {
    const one = async (req: string | string[]) =>
      splitResponses(await exchange(port, typeof req === "string" ? [req] : req));
    // HTTP/1.0 closes unless asked to keep alive; the EOF after the answer shows it did.
    assert.deepEqual(await one("GET /hello HTTP/1.0\r\n\r\n"), [{ status: 200, body: "hello\n" }]);
    assert.deepEqual(
      await one(
        "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
          "GET /nope HTTP/1.0\r\n\r\n",
      ),
      [
        { status: 200, body: "hello\n" },
        { status: 404, body: "not found\n" },
      ],
    );
    for (const bad of ["GARBAGE\r\n\r\n", "GET /hello HTTP/2.0\r\n\r\n", "GET /hello\r\n\r\n"]) {
      assert.deepEqual(await one(bad), [{ status: 400, body: "bad request\n" }], bad);
    }
    assert.deepEqual(await one("POST /hello HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), [
      { status: 405, body: "method not allowed\n" },
    ]);
    // A head longer than the server's 8 KiB buffer: 431, then the connection is closed.
    const long = `GET /hello HTTP/1.1\r\nX-Pad: ${"a".repeat(9000)}\r\n\r\n`;
    assert.deepEqual(await one(long), [{ status: 431, body: "request too long\n" }]);
    // Much longer: the server answers, then drops the rest until we stop sending and close.
    const huge = `GET /hello HTTP/1.1\r\nX-Pad: ${"b".repeat(500000)}\r\n\r\n`;
    assert.deepEqual(await one(huge), [{ status: 431, body: "request too long\n" }]);
    // The server is still fine.
    assertOk(await get(port, "/hello"), 200, "hello\n", "after the errors");
  });
});

Deno.test("vuln_server: explicit -p PORT", async () => {
  const [free] = freePorts(1);
  const s = await startServer(free);
  try {
    assert.equal(s.port, free);
    assertOk(await get(s.port, "/hello"), 200, "hello\n", "GET /hello");
  } finally {
    await stopServer(s);
  }
});

Deno.test("vuln_server: benignLoop with concurrent clients, new and kept-alive connections", async () => {
  await withServer(async (port) => {
    for (const keepAlive of [false, true]) {
      const c = await benignLoop({
        addr: ADDR,
        port,
        paths: benignMix,
        count: 300,
        retryClosed: 2,
        concurrency: 8,
        keepAlive,
        timeoutMs: TIMEOUT,
      });
      const what = `keepAlive ${keepAlive}: ${JSON.stringify({ ...c, latenciesMs: [] })}`;
      assert.equal(c.ok, 300, what);
      assert.equal(c.wrong + c.closed + c.truncated + c.timeouts + c.retried, 0, what);
      assert.equal(c.latenciesMs.length, 300, what);
    }
    const wrong = await benignLoop({
      addr: ADDR,
      port,
      paths: (i) => ({ path: "/hello", expectedStatus: 200, expectedBody: i ? "hello\n" : "no" }),
      count: 3,
      retryClosed: 0,
    });
    assert.equal(wrong.ok, 2);
    assert.equal(wrong.wrong, 1);
  });
});

/** A fake server on loopback: `onConn` gets each accepted connection. */
async function withFake(
  onConn: (c: Deno.TcpConn) => Promise<void>,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const l = Deno.listen({ hostname: ADDR, port: 0 });
  const conns: Deno.TcpConn[] = [];
  const loop = (async () => {
    for await (const c of l) {
      conns.push(c);
      await onConn(c);
    }
  })().catch(() => {});
  try {
    await fn((l.addr as Deno.NetAddr).port);
  } finally {
    l.close();
    await loop;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed by onConn */ }
    }
  }
}

/** Reads one request head (so closing afterwards is not a reset before we read it). */
async function readHead(c: Deno.TcpConn): Promise<void> {
  let got = "";
  const b = new Uint8Array(4096);
  while (!got.includes("\r\n\r\n")) {
    const n = await c.read(b);
    if (n === null) return;
    got += text(b.subarray(0, n));
  }
}

Deno.test("client: closed, truncated, silent and refused connections", async (t) => {
  await t.step("closed before the response: retried, then counted closed", async () => {
    await withFake(async (c) => {
      await readHead(c);
      c.close();
    }, async (port) => {
      const r = await get(port, "/hello");
      assert.equal(r.kind, "closed");
      assert.ok(r.kind === "closed" && r.beforeResponse, JSON.stringify(r));
      const n = await benignLoop({
        addr: ADDR,
        port,
        paths: ["/hello"],
        count: 2,
        retryClosed: 3,
        retryDelayMs: 1,
      });
      assert.equal(n.closed, 2, JSON.stringify(n));
      assert.equal(n.retried, 6, JSON.stringify(n));
      assert.equal(n.ok + n.wrong + n.truncated + n.timeouts, 0, JSON.stringify(n));
    });
  });
  await t.step("closed mid-response: truncated, not retried", async () => {
    await withFake(async (c) => {
      await readHead(c);
      await c.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
      c.close();
    }, async (port) => {
      const r = await get(port, "/hello");
      assert.ok(r.kind === "closed" && !r.beforeResponse, JSON.stringify(r));
      const n = await benignLoop({ addr: ADDR, port, paths: ["/hello"], count: 1, retryClosed: 3 });
      assert.equal(n.truncated, 1, JSON.stringify(n));
      assert.equal(n.retried, 0, JSON.stringify(n));
    });
  });
  await t.step("not HTTP: MalformedResponse, counted wrong", async () => {
    await withFake(async (c) => {
      await readHead(c);
      await c.write(new TextEncoder().encode("SSH-2.0-x\r\n\r\n"));
      c.close();
    }, async (port) => {
      await assert.rejects(() => get(port, "/hello"), MalformedResponse);
      const n = await benignLoop({ addr: ADDR, port, paths: ["/hello"], count: 1, retryClosed: 3 });
      assert.equal(n.wrong, 1, JSON.stringify(n));
    });
  });
  await t.step("no answer: timeout", async () => {
    await withFake(readHead, async (port) => {
      const t0 = performance.now();
      const r = await request(ADDR, port, "/hello", { timeoutMs: 300 });
      assert.equal(r.kind, "timeout");
      assert.ok(performance.now() - t0 < ms(3000), "the timeout took too long");
    });
  });
  await t.step("refused: closed before the response", async () => {
    const [port] = freePorts(1);
    const r = await get(port, "/hello");
    assert.ok(r.kind === "closed" && r.beforeResponse, JSON.stringify(r));
  });
});

/** One native run: the attack's answer and every benign answer. */
async function oneRun(): Promise<{ attack: string; benign: string[] }> {
  const s = await startServer();
  try {
    const a = await attack(ADDR, s.port, TIMEOUT);
    assert.equal(a.kind, "ok", `the attack: ${JSON.stringify(a)}`);
    if (a.kind !== "ok") throw new Error("unreachable");
    assert.equal(a.status, 200);
    assert.match(a.body, LEAK_BODY, "the attack must leak %p values natively");
    assert.ok(/0x[0-9a-f]{6,}/.test(a.body), `no pointer-like value leaked: ${a.body}`);
    const benign = [];
    for (const [path] of BENIGN) {
      const r = await get(s.port, path);
      assert.equal(r.kind, "ok", `GET ${path}: ${JSON.stringify(r)}`);
      benign.push(r.kind === "ok" ? `${r.status} ${r.body}` : "");
    }
    // Natively the attack crashes nothing: the server still answers.
    assertOk(await get(s.port, "/hello"), 200, "hello\n", "after the attack");
    return { attack: a.body, benign };
  } finally {
    await stopServer(s);
  }
}

Deno.test("vuln_server: the attack leaks pointers that differ between runs (ASLR)", async () => {
  const aslr = (await Deno.readTextFile("/proc/sys/kernel/randomize_va_space")).trim();
  assert.notEqual(aslr, "0", "ASLR is off (kernel.randomize_va_space=0): variants would agree");
  const first = await oneRun();
  const second = await oneRun();
  console.log(`attack, run 1: ${first.attack.trim()}\nattack, run 2: ${second.attack.trim()}`);
  assert.notEqual(first.attack, second.attack, "two runs leaked the same values");
  assert.deepEqual(first.benign, second.benign, "benign answers differ between runs");
});
