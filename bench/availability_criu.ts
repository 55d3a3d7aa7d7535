/**
 * CRIU alone, without a8 (bench/availability.ts, "CRIU alone"): the agent's CRIU driver dumps a
 * native lighttpd (leaving it running), kills it and restores it, some cycles, and checks after
 * each dump and restore that it answers /small.html with the file's bytes. What a criu
 * rollback cannot go below.
 */
import { freePorts, type Json, ms, text } from "../tests/e2e/harness.ts";
import { SERVERS, writeServerConfig } from "../tests/e2e/http_servers.ts";
import { CriuDriver } from "../src/checkpoint/criu_driver.ts";
import { createLogger } from "../src/log.ts";
import { projectCriuBinary } from "../ffi/criu_paths.ts";
import { round, stats } from "./availability_report.ts";

export interface CriuBenchOptions {
  cycles: number;
  log(line: string): void;
  /** Something odd, for the JSON's anomalies. */
  anomaly(what: string, details: Json): void;
  /** The lighttpd's pid as it changes (0 at the end), for the benchmark's cleanup on SIGINT. */
  onRoot(pid: number): void;
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** One HTTP/1.0 GET on a fresh connection to 127.0.0.1: status and body, or an error text. */
async function httpGet(
  port: number,
  path: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: Uint8Array } | string> {
  let conn: Deno.TcpConn | null = null;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: a8\r\n\r\n`));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    let end = -1;
    for (let i = 0; i + 3 < all.length; i++) {
      if (all[i] === 13 && all[i + 1] === 10 && all[i + 2] === 13 && all[i + 3] === 10) {
        end = i;
        break;
      }
    }
    if (end < 0) return `no complete header (${all.length} bytes)`;
    const status = Number(/^HTTP\/1\.\d (\d+)/.exec(text(all.subarray(0, end)))?.[1] ?? 0);
    return { status, body: all.subarray(end + 4) };
  } catch (e) {
    return (e as Error).message;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** Polls until GET /small.html answers 200 with the file's bytes; ms waited, or throws. */
async function answered(port: number, want: Uint8Array, what: string): Promise<number> {
  const t0 = performance.now();
  let last = "";
  while (performance.now() - t0 < ms(10000)) {
    const got = await httpGet(port, "/small.html");
    if (typeof got !== "string" && got.status === 200 && sameBytes(got.body, want)) {
      return performance.now() - t0;
    }
    last = typeof got === "string" ? got : `status ${got.status}, ${got.body.length} bytes`;
    await sleep(2);
  }
  throw new Error(`${what}: lighttpd did not answer /small.html right within 10 s (${last})`);
}

/** CRIU's own cost: dump, kill and restore cycles of a native lighttpd through the driver. */
export async function benchCriu(tmp: string, o: CriuBenchOptions): Promise<Json> {
  const server = SERVERS.find((s) => s.name === "lighttpd")!;
  const dir = `${tmp}/criu-lighttpd`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.chmod(dir, 0o755);
  const docroot = `${tmp}/docroot`;
  const [port] = freePorts(1);
  const conf = await writeServerConfig(server, dir, docroot, { address: "127.0.0.1", port });
  const want = await Deno.readFile(`${docroot}/small.html`);
  o.log(
    `\n== CRIU: ${o.cycles} cycles of dump (left running), killTree, restore of a native ` +
      `lighttpd on 127.0.0.1:${port}, through src/checkpoint/criu_driver.ts ==`,
  );
  let driver: CriuDriver;
  try {
    driver = await CriuDriver.open({
      runDir: dir,
      imagesDir: `${dir}/criu`,
      log: createLogger({ level: "warn" }),
    });
  } catch (e) {
    const msg = (e as Error).message;
    o.anomaly("CRIU: the driver cannot open", { error: msg });
    return { error: msg };
  }
  // No pipes to us: CRIU would restore them unconnected (docs/criu.md). Deno's own child.
  const child = new Deno.Command("setsid", {
    args: server.argv(conf, dir),
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let pid = child.pid;
  o.onRoot(pid);
  const cycles: Json[] = [];
  let error: string | null = null;
  try {
    await answered(port, want, "at start");
    for (let i = 1; i <= o.cycles; i++) {
      // Some requests first, so the dump is of a server that has served.
      for (let k = 0; k < 20; k++) await httpGet(port, "/small.html");
      const dump = await driver.dump(pid, i);
      const afterDump = await answered(port, want, `after dump ${i}`);
      const k0 = performance.now();
      await driver.killTree(pid);
      const killMs = performance.now() - k0;
      const r0 = performance.now();
      const restore = await driver.restore(i);
      const restoreWall = performance.now() - r0;
      pid = restore.pid;
      o.onRoot(pid);
      const firstAnswer = await answered(port, want, `after restore ${i}`);
      const c = {
        cycle: i,
        dump_ms: round(dump.ms, 2),
        answered_after_dump_ms: round(afterDump, 2),
        kill_ms: round(killMs, 2),
        restore_ms: round(restore.ms, 2),
        restore_wall_ms: round(restoreWall, 2),
        first_answer_after_restore_ms: round(firstAnswer, 2),
        kill_restore_answer_ms: round(killMs + restoreWall + firstAnswer, 2),
      };
      cycles.push(c);
      o.log(
        `  cycle ${i}: dump ${c.dump_ms} ms (answered after it), kill ${c.kill_ms} ms, restore ` +
          `${c.restore_ms} ms, first right answer ${c.first_answer_after_restore_ms} ms later`,
      );
    }
  } catch (e) {
    error = (e as Error).message;
    o.anomaly("CRIU: the measurement failed", { error });
  } finally {
    await driver.killTree(pid, 5000).catch((e) => o.log(`  (cleanup: ${(e as Error).message})`));
    o.onRoot(0);
    driver.close();
  }
  const pick = (k: string) => stats(cycles.map((c) => c[k] as number));
  return {
    what: "criu dump/restore of a native lighttpd (no a8): CRIU's own cost, not an a8 rollback",
    criu_binary: projectCriuBinary(),
    cycles_planned: o.cycles,
    dump_ms: pick("dump_ms"),
    kill_ms: pick("kill_ms"),
    restore_ms: pick("restore_ms"),
    first_answer_after_restore_ms: pick("first_answer_after_restore_ms"),
    kill_restore_answer_ms: pick("kill_restore_answer_ms"),
    cycles,
    error,
  };
}
