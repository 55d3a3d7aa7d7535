/**
 * HTTP/1.1 client helpers for the survivability tests and the demo, written by hand over raw
 * TCP (Deno.connect, no fetch) so that what happens to a connection is seen exactly: a
 * connection closed before any response byte, one closed mid-response, and one that never
 * answers are three different results.
 *
 * - `request`: one GET, on a new connection or a kept-alive `HttpConn`.
 * - `benignLoop`: many GETs whose answers are known; counts what went right and wrong, retries
 *   a connection closed before the response (as HTTP clients retry idempotent requests).
 * - `attack`: the format-string attack on tests/servers/vuln_server.c (ATTACK_PATH).
 * - `expectedResponse`: what vuln_server answers to a benign path.
 *
 * Run as a program it does the same from inside a network namespace and prints one JSON line
 * (`requestInNetns`, `benignInNetns` and `attackInNetns` start it with `ip netns exec`):
 *
 *   deno run -A tests/e2e/http_client.ts request ADDR PORT PATH [--timeout MS]
 *   deno run -A tests/e2e/http_client.ts attack ADDR PORT [--timeout MS]
 *   deno run -A tests/e2e/http_client.ts benign ADDR PORT [--count N] [--retry R]
 *       [--concurrency C] [--keep-alive] [--interval MS] [--timeout MS] [PATH...]
 */
import { ISA, ms, type Proc, REPO_ROOT, runNative, tail, text } from "./harness.ts";

// ---------------------------------------------------------------------------------------------
// vuln_server

/** The vulnerable test server (built by `make build`), relative to REPO_ROOT. */
export const VULN_SERVER = `build/${ISA}/vuln_server`;

/** argv for vuln_server listening on addr:port (port 0: any; it prints the one it got). */
export function vulnServerArgv(addr: string, port: number): string[] {
  return [`${REPO_ROOT}/${VULN_SERVER}`, "-a", addr, "-p", String(port)];
}

/** Throws, saying to run `make build`, unless the vuln_server binary exists. */
export async function requireVulnServer(): Promise<void> {
  try {
    await Deno.stat(`${REPO_ROOT}/${VULN_SERVER}`);
  } catch {
    throw new Error(`${VULN_SERVER} is missing: run \`make build\` (or \`make servers\`) first`);
  }
}

/**
 * Waits until vuln_server (started as `proc`, natively or under a8) prints "listening on
 * ADDR:PORT" and returns the port. Throws if it exits first or stays silent.
 */
export async function waitListening(proc: Proc, timeoutMs = ms(10000)): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const m = /^listening on [\d.]+:(\d+)$/m.exec(proc.stdoutText());
    if (m) return Number(m[1]);
    if (proc.exited) {
      throw new Error(`${proc.label} exited before listening:\n${tail(proc.stderrText())}`);
    }
    if (performance.now() > deadline) {
      throw new Error(`${proc.label} printed no "listening on" within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The attack: the name `%p.%p.%p`, URL-encoded, becomes vuln_server's printf format. */
export const ATTACK_PATH = "/greet?name=%25p.%25p.%25p";

/** What a leaked-pointer answer to ATTACK_PATH looks like ("(nil)" is glibc's null %p). */
export const LEAK_BODY =
  /^Hello, (0x[0-9a-f]+|\(nil\))\.(0x[0-9a-f]+|\(nil\))\.(0x[0-9a-f]+|\(nil\))\n$/;

/** /big's body pattern (BIG_PATTERN in vuln_server.c): byte i is BIG_PATTERN[i % 64]. */
export const BIG_PATTERN = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+\n";

/** The body of /big?n=N. */
export function bigBody(n: number): string {
  const whole = BIG_PATTERN.repeat(Math.floor(n / BIG_PATTERN.length));
  return whole + BIG_PATTERN.slice(0, n % BIG_PATTERN.length);
}

export interface Expected {
  path: string;
  expectedStatus: number;
  expectedBody: string;
}

/**
 * What vuln_server answers to a benign GET of `path`: /hello, /greet?name=X (X without '%'
 * once decoded, else it is a format), /big?n=N, anything else 404.
 */
export function expectedResponse(path: string): Expected {
  const [route, query = ""] = path.split(/\?(.*)/s, 2);
  const params = new URLSearchParams(query);
  if (route === "/hello") return { path, expectedStatus: 200, expectedBody: "hello\n" };
  if (route === "/greet" && params.has("name")) {
    const name = params.get("name")!;
    if (name.includes("%")) throw new Error(`${path}: a name with '%' is a format, not benign`);
    return { path, expectedStatus: 200, expectedBody: `Hello, ${name}\n` };
  }
  if (route === "/big" && /^\d+$/.test(params.get("n") ?? "")) {
    return { path, expectedStatus: 200, expectedBody: bigBody(Number(params.get("n"))) };
  }
  return { path, expectedStatus: 404, expectedBody: "not found\n" };
}

/** A mix of vuln_server's benign routes: request i of a benign loop. */
export function benignMix(i: number): Expected {
  const paths = ["/hello", `/greet?name=client${i}`, `/big?n=${1000 + (i % 7) * 3001}`];
  return expectedResponse(paths[i % paths.length]);
}

// ---------------------------------------------------------------------------------------------
// Requests

export type RequestResult =
  | { kind: "ok"; status: number; headers: Record<string, string>; body: string }
  /**
   * The connection closed (EOF or reset) or could not be made. `beforeResponse`: no byte of
   * the response came (a client may retry); false: it broke off mid-response.
   */
  | { kind: "closed"; beforeResponse: boolean; reason: string }
  | { kind: "timeout" };

export interface RequestOptions {
  /** The whole exchange, connecting included. */
  timeoutMs: number;
  /**
   * Send on this open connection and leave it open if the server keeps it alive. Without
   * it a new connection is made (with `Connection: close`) and closed afterwards.
   */
  keepAliveConn?: HttpConn;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Where the response head ends ("\r\n\r\n" included), or -1. */
function headEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i + 4;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

interface Head {
  status: number;
  headers: Record<string, string>;
  /** -1: no Content-Length, the body runs to EOF. */
  contentLength: number;
}

function parseHead(raw: string): Head | string {
  const [statusLine, ...lines] = raw.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})( .*)?$/.exec(statusLine);
  if (!m) return `bad status line ${JSON.stringify(statusLine)}`;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `bad header line ${JSON.stringify(line)}`;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const cl = headers["content-length"];
  if (cl !== undefined && !/^\d+$/.test(cl)) return `bad Content-Length ${cl}`;
  return { status: Number(m[1]), headers, contentLength: cl === undefined ? -1 : Number(cl) };
}

/** The server sent something that is not an HTTP/1.x response. */
export class MalformedResponse extends Error {
  override name = "MalformedResponse";
}

/** Why a socket call failed, in a few words. */
function reasonOf(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * One TCP connection to an HTTP server, with the bytes read past the last response kept for
 * the next (pipelined or kept-alive) one.
 */
export class HttpConn {
  #buf: Uint8Array = new Uint8Array(0);
  #closed = false;
  /** The server said it closes after the last response (or sent no Content-Length). */
  #ending = false;

  private constructor(readonly conn: Deno.TcpConn) {}

  /** Connects; throws like Deno.connect (e.g. ConnectionRefused). */
  static async open(addr: string, port: number): Promise<HttpConn> {
    const conn = await Deno.connect({ hostname: addr, port, transport: "tcp" });
    conn.setNoDelay(true);
    return new HttpConn(conn);
  }

  /** Closed by us, or the server announced it closes: no further request may be sent. */
  get closed(): boolean {
    return this.#closed || this.#ending;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** Writes all of `data` (a string is sent as UTF-8). */
  async write(data: Uint8Array | string): Promise<void> {
    let b = typeof data === "string" ? enc.encode(data) : data;
    while (b.length) b = b.subarray(await this.conn.write(b));
  }

  /** Reads more bytes into the buffer; false at EOF. */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    this.#buf = concat(this.#buf, chunk.subarray(0, n));
    return true;
  }

  /**
   * Reads one response. "closed" when EOF or a reset comes first. The caller bounds the
   * time (closing the connection ends a pending read).
   */
  async readResponse(): Promise<RequestResult> {
    const got = () => this.#buf.length > 0;
    try {
      let end: number;
      while ((end = headEnd(this.#buf)) < 0) {
        if (!(await this.#fill())) {
          return { kind: "closed", beforeResponse: !got(), reason: "EOF in the head" };
        }
      }
      const head = parseHead(dec.decode(this.#buf.subarray(0, end - 4)));
      if (typeof head === "string") throw new MalformedResponse(head);
      const want = head.contentLength;
      while (want < 0 || this.#buf.length < end + want) {
        if (!(await this.#fill())) {
          if (want < 0) break;
          return { kind: "closed", beforeResponse: false, reason: "EOF in the body" };
        }
      }
      const bodyEnd = want < 0 ? this.#buf.length : end + want;
      const body = dec.decode(this.#buf.subarray(end, bodyEnd));
      this.#buf = this.#buf.slice(bodyEnd);
      // The server closes after this response: nothing more may be sent on it.
      if (want < 0 || /\bclose\b/i.test(head.headers["connection"] ?? "")) this.#ending = true;
      return { kind: "ok", status: head.status, headers: head.headers, body };
    } catch (e) {
      if (e instanceof MalformedResponse) throw e;
      // A reset, or any other socket error: the connection is gone.
      return { kind: "closed", beforeResponse: !got(), reason: reasonOf(e) };
    }
  }

  /** Reads until EOF (or a reset) and returns everything not yet consumed. */
  async readToEnd(): Promise<Uint8Array> {
    try {
      while (await this.#fill()) { /* more */ }
    } catch (e) {
      if (!(e instanceof Deno.errors.ConnectionReset)) throw e;
    }
    const all = this.#buf;
    this.#buf = new Uint8Array(0);
    return all;
  }
}

/** The request text for GET `path`. */
export function getRequest(addr: string, port: number, path: string, keepAlive: boolean): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${addr}:${port}\r\nUser-Agent: a8-e2e\r\n` +
    `Connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`;
}

/**
 * Runs `fn` with a deadline: when it passes, `onTimeout` runs (it should close the connection
 * so that pending reads end) and the result is "timeout" whatever fn then returns or throws.
 */
async function withDeadline(
  timeoutMs: number,
  onTimeout: () => void,
  fn: () => Promise<RequestResult>,
): Promise<RequestResult> {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    onTimeout();
  }, timeoutMs);
  try {
    const r = await fn();
    return fired ? { kind: "timeout" } : r;
  } catch (e) {
    if (fired) return { kind: "timeout" };
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects within `timeoutMs`. A refused or failed connect is "closed" before the response
 * (the server is not accepting: retrying may help).
 */
export async function connectWithin(
  addr: string,
  port: number,
  timeoutMs: number,
): Promise<HttpConn | RequestResult> {
  const connecting = HttpConn.open(addr, port);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((
    r,
  ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
  try {
    const first = await Promise.race([connecting, deadline]);
    if (first !== "timeout") return first;
    connecting.then((c) => c.close(), () => {});
    return { kind: "timeout" };
  } catch (e) {
    return { kind: "closed", beforeResponse: true, reason: `connect: ${reasonOf(e)}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GET `path` from addr:port, all within `o.timeoutMs`. Throws MalformedResponse when the
 * answer is not HTTP; everything that happens to the connection is a result.
 */
export async function request(
  addr: string,
  port: number,
  path: string,
  o: RequestOptions,
): Promise<RequestResult> {
  const t0 = performance.now();
  let conn: HttpConn | undefined = o.keepAliveConn;
  const owned = !conn;
  if (!conn) {
    const c = await connectWithin(addr, port, o.timeoutMs);
    if (!(c instanceof HttpConn)) return c;
    conn = c;
  }
  const open = conn;
  try {
    const left = Math.max(1, o.timeoutMs - (performance.now() - t0));
    return await withDeadline(left, () => open.close(), async () => {
      if (open.closed) return { kind: "closed", beforeResponse: true, reason: "already closed" };
      try {
        await open.write(getRequest(addr, port, path, !owned));
      } catch (e) {
        open.close();
        return { kind: "closed", beforeResponse: true, reason: `write: ${reasonOf(e)}` };
      }
      const r = await open.readResponse();
      if (r.kind !== "ok" || open.closed) open.close();
      return r;
    });
  } finally {
    if (owned) open.close();
  }
}

/** The attack on vuln_server: what came back for ATTACK_PATH. */
export function attack(addr: string, port: number, timeoutMs = ms(5000)): Promise<RequestResult> {
  return request(addr, port, ATTACK_PATH, { timeoutMs });
}

// ---------------------------------------------------------------------------------------------
// Benign load

export interface BenignOptions {
  addr: string;
  port: number;
  /** Paths to cycle through (expected answers from `expectedResponse`), or request i. */
  paths?: string[] | ((i: number) => Expected);
  /** Requests in all (over all workers). */
  count: number;
  /** How often a request closed before its response is tried again before it counts closed. */
  retryClosed: number;
  /** Parallel workers, each with its own connections (default 1). */
  concurrency?: number;
  /** Per attempt (default 5 s, scaled). */
  timeoutMs?: number;
  /** Each worker keeps one connection alive (default: a new connection per request). */
  keepAlive?: boolean;
  /** Pause after each request of a worker, so that a loop spans a while (default 0). */
  intervalMs?: number;
  /** Wait between retries (default 50 ms). */
  retryDelayMs?: number;
}

export interface BenignCounts {
  /** Right status and body. */
  ok: number;
  /** A response, but not the expected status or body, or a malformed one. */
  wrong: number;
  /** Closed before any response byte, on every try (retryClosed + 1 of them). */
  closed: number;
  /** Closed mid-response (not retried: part of an answer came). */
  truncated: number;
  /** Retries made, over all requests. */
  retried: number;
  /** keepAlive: connections made (one per worker while none is closed). */
  connects: number;
  timeouts: number;
  /** Of the ok requests, from the first try to the answer (retries included), in order. */
  latenciesMs: number[];
  /** The first few failures, for assertion messages. */
  samples: string[];
}

const MAX_SAMPLES = 8;

function emptyCounts(): BenignCounts {
  return {
    ok: 0,
    wrong: 0,
    closed: 0,
    truncated: 0,
    retried: 0,
    connects: 0,
    timeouts: 0,
    latenciesMs: [],
    samples: [],
  };
}

function expectation(o: BenignOptions, i: number): Expected {
  const p = o.paths ?? ["/hello"];
  return typeof p === "function" ? p(i) : expectedResponse(p[i % p.length]);
}

function sample(c: BenignCounts, what: string): void {
  if (c.samples.length < MAX_SAMPLES) c.samples.push(what);
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** One try of a benign request: on a new connection, or on the worker's kept-alive one. */
async function tryOnce(
  o: BenignOptions,
  path: string,
  timeoutMs: number,
  keep: { conn: HttpConn | null },
  c: BenignCounts,
): Promise<RequestResult> {
  if (!o.keepAlive) return await request(o.addr, o.port, path, { timeoutMs });
  let conn: HttpConn | RequestResult | null = keep.conn;
  if (!conn || conn.closed) {
    conn = await connectWithin(o.addr, o.port, timeoutMs);
    if (conn instanceof HttpConn) c.connects++;
  }
  if (!(conn instanceof HttpConn)) return conn;
  keep.conn = conn;
  return await request(o.addr, o.port, path, { timeoutMs, keepAliveConn: conn });
}

/** One benign request with its retries, counted into `c`. */
async function benignOne(
  o: BenignOptions,
  e: Expected,
  c: BenignCounts,
  keep: { conn: HttpConn | null },
): Promise<void> {
  const t0 = performance.now();
  const timeoutMs = o.timeoutMs ?? ms(5000);
  for (let attempt = 0;; attempt++) {
    let r: RequestResult;
    try {
      r = await tryOnce(o, e.path, timeoutMs, keep, c);
    } catch (err) {
      if (!(err instanceof MalformedResponse)) throw err;
      // The server answered, but not in HTTP.
      keep.conn?.close();
      c.wrong++;
      sample(c, `${e.path}: ${reasonOf(err)}`);
      return;
    }
    if (r.kind === "closed" && r.beforeResponse && attempt < o.retryClosed) {
      c.retried++;
      await sleep(o.retryDelayMs ?? 50);
      continue;
    }
    if (r.kind === "ok") {
      if (r.status === e.expectedStatus && r.body === e.expectedBody) {
        c.ok++;
        c.latenciesMs.push(Math.round((performance.now() - t0) * 1000) / 1000);
      } else {
        c.wrong++;
        sample(c, `${e.path}: got ${r.status} ${JSON.stringify(r.body.slice(0, 80))}`);
      }
    } else if (r.kind === "timeout") {
      c.timeouts++;
      sample(c, `${e.path}: timeout`);
    } else if (r.beforeResponse) {
      c.closed++;
      sample(c, `${e.path}: closed before the response (${r.reason}), ${attempt + 1} tries`);
    } else {
      c.truncated++;
      sample(c, `${e.path}: closed mid-response (${r.reason})`);
    }
    return;
  }
}

/**
 * Sends `count` benign requests with `concurrency` workers and counts the outcomes. Never
 * throws for what the server does.
 */
export async function benignLoop(o: BenignOptions): Promise<BenignCounts> {
  const c = emptyCounts();
  let next = 0;
  const worker = async () => {
    const keep = { conn: null as HttpConn | null };
    try {
      while (next < o.count) {
        await benignOne(o, expectation(o, next++), c, keep);
        if (o.intervalMs) await sleep(o.intervalMs);
      }
    } finally {
      keep.conn?.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 1) }, worker));
  return c;
}

// ---------------------------------------------------------------------------------------------
// Inside a network namespace: this file run as a program by `ip netns exec`

const DENO = `${REPO_ROOT}/.tools/deno`;
const SELF = `${REPO_ROOT}/tests/e2e/http_client.ts`;

/** Runs this file as a program in namespace `ns` and returns the JSON it printed. */
async function inNetns<T>(ns: string, args: string[], timeoutMs: number): Promise<T> {
  const r = await runNative([DENO, "run", "-A", "--quiet", SELF, ...args], {
    netns: ns,
    timeoutMs,
  });
  const out = text(r.stdout).trim().split("\n").pop() ?? "";
  if (r.code !== 0 || r.timedOut || !out.startsWith("{")) {
    throw new Error(
      `http_client ${args.join(" ")} in ${ns}: exit ${r.code}${r.timedOut ? " (timed out)" : ""}` +
        `\nstdout:\n${tail(text(r.stdout))}\nstderr:\n${tail(text(r.stderr))}`,
    );
  }
  return JSON.parse(out) as T;
}

/** `request` from inside namespace `ns`. */
export function requestInNetns(
  ns: string,
  addr: string,
  port: number,
  path: string,
  timeoutMs = ms(5000),
): Promise<RequestResult> {
  const args = ["request", addr, String(port), path, "--timeout", String(timeoutMs)];
  return inNetns(ns, args, timeoutMs + ms(15000));
}

/** `attack` from inside namespace `ns`. */
export function attackInNetns(
  ns: string,
  addr: string,
  port: number,
  timeoutMs = ms(5000),
): Promise<RequestResult> {
  const args = ["attack", addr, String(port), "--timeout", String(timeoutMs)];
  return inNetns(ns, args, timeoutMs + ms(15000));
}

/**
 * `benignLoop` from inside namespace `ns`. `paths` must be a list here (default: benignMix);
 * `overallTimeoutMs` bounds the whole run (default: generous for `count` requests).
 */
export function benignInNetns(
  ns: string,
  o: BenignOptions & { overallTimeoutMs?: number },
): Promise<BenignCounts> {
  if (typeof o.paths === "function") throw new Error("benignInNetns: paths must be a list");
  const perTry = o.timeoutMs ?? ms(5000);
  const args = [
    "benign",
    o.addr,
    String(o.port),
    "--count",
    String(o.count),
    "--retry",
    String(o.retryClosed),
    "--concurrency",
    String(o.concurrency ?? 1),
    "--timeout",
    String(perTry),
    "--interval",
    String(o.intervalMs ?? 0),
    ...(o.keepAlive ? ["--keep-alive"] : []),
    ...(o.paths ?? []),
  ];
  const overall = o.overallTimeoutMs ??
    ms(20000) + o.count * ((o.intervalMs ?? 0) + 200) + perTry * (o.retryClosed + 1);
  return inNetns(ns, args, overall);
}

function usage(): never {
  console.error(
    "usage: http_client.ts request ADDR PORT PATH [--timeout MS]\n" +
      "       http_client.ts attack ADDR PORT [--timeout MS]\n" +
      "       http_client.ts benign ADDR PORT [--count N] [--retry R] [--concurrency C]\n" +
      "                      [--keep-alive] [--interval MS] [--timeout MS] [PATH...]",
  );
  Deno.exit(64);
}

function intArg(v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v)) usage();
  return Number(v);
}

async function main(argv: string[]): Promise<unknown> {
  const [cmd, addr, portText, ...rest] = argv;
  if (!cmd || !addr) usage();
  const port = intArg(portText);
  const flags: Record<string, number> = {};
  const positional: string[] = [];
  let keepAlive = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--keep-alive") keepAlive = true;
    else if (["--timeout", "--count", "--retry", "--concurrency", "--interval"].includes(a)) {
      flags[a.slice(2)] = intArg(rest[++i]);
    } else if (a.startsWith("--")) usage();
    else positional.push(a);
  }
  const timeoutMs = flags.timeout ?? 5000;
  if (cmd === "request" && positional.length === 1) {
    return await request(addr, port, positional[0], { timeoutMs });
  }
  if (cmd === "attack" && positional.length === 0) return await attack(addr, port, timeoutMs);
  if (cmd === "benign") {
    return await benignLoop({
      addr,
      port,
      paths: positional.length ? positional : benignMix,
      count: flags.count ?? 100,
      retryClosed: flags.retry ?? 3,
      concurrency: flags.concurrency ?? 1,
      timeoutMs,
      keepAlive,
      intervalMs: flags.interval ?? 0,
    });
  }
  usage();
}

if (import.meta.main) {
  console.log(JSON.stringify(await main(Deno.args)));
}
