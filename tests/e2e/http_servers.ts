/**
 * Real HTTP servers (lighttpd, nginx) on network-namespace "hosts" (scripts/netns.sh): how to
 * start them, the docroot they serve, waiting until one answers, and loading one with wrk.
 * Shared by tests/e2e/servers_test.ts and bench/run.ts.
 */
import { ms, type Proc, type ProcResult, REPO_ROOT, runNative, tail, text } from "./harness.ts";

export interface Server {
  name: string;
  binary: string;
  /** Config template in tests/e2e/servers/. */
  template: string;
  argv(conf: string, tmp: string): string[];
}

export const SERVERS: Server[] = [
  {
    name: "lighttpd",
    binary: "/usr/sbin/lighttpd",
    template: "lighttpd.conf",
    argv: (conf) => ["/usr/sbin/lighttpd", "-D", "-f", conf],
  },
  {
    name: "nginx",
    binary: "/usr/sbin/nginx",
    template: "nginx.conf",
    argv: (conf, tmp) => ["/usr/sbin/nginx", "-p", `${tmp}/`, "-c", conf],
  },
];

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/**
 * The docroot: index.html, small.html (~500 bytes), files/100k.bin, files/2m.bin, dir/a.txt,
 * dir/b.txt, all with fixed contents and times.
 */
export async function makeDocroot(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/files`, { recursive: true });
  await Deno.mkdir(`${dir}/dir`);
  await Deno.writeTextFile(`${dir}/index.html`, "<html><body><h1>a8 e2e</h1></body></html>\n");
  await Deno.writeTextFile(
    `${dir}/small.html`,
    "<html><head><title>small</title></head><body>" + "hello a8 ".repeat(50) + "</body></html>\n",
  );
  await Deno.writeFile(`${dir}/files/100k.bin`, pattern(100 * 1024, 1));
  await Deno.writeFile(`${dir}/files/2m.bin`, pattern(2 * 1024 * 1024, 2));
  await Deno.writeTextFile(`${dir}/dir/a.txt`, "file a\n");
  await Deno.writeTextFile(`${dir}/dir/b.txt`, "file b\n");
  // Fixed times, so directory listings are the same whenever the docroot is made.
  const t = new Date("2026-01-02T03:04:05Z");
  for (
    const f of [
      "index.html",
      "small.html",
      "files/100k.bin",
      "files/2m.bin",
      "dir/a.txt",
      "dir/b.txt",
      "dir",
      "files",
    ]
  ) {
    await Deno.utime(`${dir}/${f}`, t, t);
  }
}

/** Fills in the server's config template and writes it to `tmp`; returns its path. */
export async function writeServerConfig(
  server: Server,
  tmp: string,
  docroot: string,
  listen: { address: string; port: number },
): Promise<string> {
  const template = await Deno.readTextFile(`${REPO_ROOT}/tests/e2e/servers/${server.template}`);
  const values: Record<string, string> = {
    DOCROOT: docroot,
    TMP: tmp,
    ADDR: listen.address,
    PORT: String(listen.port),
    USER: "root",
  };
  const conf = template.replace(/\{\{(\w+)\}\}/g, (_, k) => {
    if (!(k in values)) throw new Error(`${server.template}: unknown placeholder {{${k}}}`);
    return values[k];
  });
  const path = `${tmp}/${server.name}.conf`;
  await Deno.writeTextFile(path, conf);
  return path;
}

/** Runs scripts/netns.sh with these arguments (up N PREFIX, down PREFIX); throws on failure. */
export async function netns(...args: string[]): Promise<void> {
  const r = await runNative([`${REPO_ROOT}/scripts/netns.sh`, ...args], { timeoutMs: 30000 });
  if (r.code !== 0) {
    throw new Error(`netns.sh ${args.join(" ")}: ${text(r.stdout)}${text(r.stderr)}`);
  }
}

/** Waits until `url` answers HTTP (curl run in namespace `ns`), or a watched process exits. */
export async function waitHttp(
  url: string,
  ns: string,
  procs: Proc[],
  what: string,
): Promise<void> {
  const deadline = performance.now() + ms(20000);
  while (performance.now() < deadline) {
    const r = await runNative(
      ["curl", "-s", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", url],
      { netns: ns, timeoutMs: ms(5000) },
    );
    if (r.code === 0 && text(r.stdout).trim() !== "000") return;
    const dead = procs.find((p) => p.exited);
    if (dead) {
      throw new Error(`${what}: ${dead.label} exited before serving:\n${tail(dead.stderrText())}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${what}: nothing answered at ${url} within 20 s`);
}

export interface WrkOptions {
  /** Namespace wrk runs in. */
  netns: string;
  seconds: number;
  connections: number;
  threads?: number;
  /** wrk's --timeout (default "2s"). */
  timeout?: string;
}

export interface WrkResult {
  requests: number;
  /** wrk's own "Requests/sec" figure. */
  requestsPerSec: number;
  socketErrors: number;
  non2xx: number;
  output: string;
}

/** Runs `wrk -tT -cC -dSs` against `url`; throws if wrk itself fails. */
export async function wrk(url: string, o: WrkOptions): Promise<WrkResult> {
  const r: ProcResult = await runNative(
    [
      "wrk",
      `-t${o.threads ?? 1}`,
      `-c${o.connections}`,
      `-d${o.seconds}s`,
      "--timeout",
      o.timeout ?? "2s",
      url,
    ],
    { netns: o.netns, timeoutMs: ms(Math.max(20000, o.seconds * 1000 + 15000)) },
  );
  const output = text(r.stdout) + text(r.stderr);
  if (r.code !== 0) throw new Error(`wrk failed (exit ${r.code}):\n${output}`);
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? "0");
  const requestsPerSec = Number(/Requests\/sec:\s*([\d.]+)/.exec(output)?.[1] ?? "0");
  const m = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = m ? m.slice(1).reduce((s, x) => s + Number(x), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? "0");
  return { requests, requestsPerSec, socketErrors, non2xx, output };
}
