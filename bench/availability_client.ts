/**
 * The availability bench's clients (bench/availability.ts): wrk for throughput, and the
 * verified loop that compares every answer byte for byte with the docroot's file (wrk cannot
 * tell a wrong body from a right one).
 */
import { ms, Proc, tail, text } from "../tests/e2e/harness.ts";
import { wrk, type WrkResult } from "../tests/e2e/http_servers.ts";

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Where the clients run and what they ask. */
export interface ClientSetup {
  /** e.g. http://10.88.0.1:8080 */
  urlBase: string;
  /** The client host's network namespace. */
  netns: string;
  connections: number;
  /** Processes to kill if the bench is interrupted: the loop's curl is added while it runs. */
  live: Set<Proc>;
}

export interface WrkFigures {
  requests: number;
  requests_per_s: number;
  socket_errors: number;
  /** wrk's breakdown of the socket errors. */
  connect: number;
  read: number;
  write: number;
  timeout: number;
  non2xx: number;
  /** wrk runs that ended at once because their first connect was refused (see load). */
  refused_starts?: number;
}

export function wrkFigures(w: WrkResult): WrkFigures {
  const m = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(w.output);
  const [connect, read, write, timeout] = m ? m.slice(1).map(Number) : [0, 0, 0, 0];
  return {
    requests: w.requests,
    requests_per_s: round(w.requestsPerSec, 1),
    socket_errors: w.socketErrors,
    connect,
    read,
    write,
    timeout,
    non2xx: w.non2xx,
  };
}

/**
 * wrk for `seconds`. wrk gives up at once when its first connection is refused, which is what
 * a client sees while CRIU restores the server (no listening socket meanwhile): then it is
 * started again, for up to 10 s, and `refusedStarts` counts the attempts that failed so.
 */
export async function load(
  c: ClientSetup,
  seconds: number,
): Promise<WrkResult & { refusedStarts: number }> {
  const t0 = performance.now();
  for (let refusedStarts = 0;; refusedStarts++) {
    try {
      const w = await wrk(`${c.urlBase}/small.html`, {
        netns: c.netns,
        seconds,
        connections: c.connections,
      });
      return { ...w, refusedStarts };
    } catch (e) {
      const refused = /unable to connect.*Connection refused/.test((e as Error).message);
      if (!refused || performance.now() - t0 > 10000) throw e;
      await sleep(50);
    }
  }
}

/** What the verified client loop fetches, and the docroot file each must equal. */
export const VERIFY_PATHS: [string, string][] = [
  ["/small.html", "small.html"],
  ["/index.html", "index.html"],
  ["/dir/a.txt", "dir/a.txt"],
  ["/files/100k.bin", "files/100k.bin"],
];

export interface Verified {
  requests: number;
  /** Status 200 and every byte equal to the file. */
  ok: number;
  /** Connection refused, reset or closed before or during the response (curl 7, 18, 52, 56). */
  closed: number;
  /** No answer within the curl time limit (curl 28). */
  timeouts: number;
  /** A complete answer that is not the file (another status, other bytes), or garbage. */
  wrong: number;
  /** Requests not made: a8 stopped, or the loop's deadline passed. */
  not_made: number;
  seconds: number;
  /** Why the loop stopped early, or null. */
  cut: string | null;
  wrong_lines: string[];
}

/** How many requests the loop makes, each one's time limit, and the whole loop's. */
export interface VerifyPlan {
  count: number;
  curlMaxS: number;
  deadlineS: number;
}

/**
 * `plan.count` requests by one curl process from the client host, cycling over VERIFY_PATHS
 * (curl keeps a connection alive between them and opens another when one closes); each body
 * is then compared byte for byte with the docroot's file. Stops early, counting the requests
 * not made, when `alive` names a dead process or after the loop's deadline.
 */
export async function verifyLoop(
  c: ClientSetup,
  plan: VerifyPlan,
  docroot: string,
  dir: string,
  alive: () => string | null,
): Promise<Verified> {
  const out = `${dir}/verify`;
  await Deno.mkdir(out, { recursive: true });
  const paths = Array.from({ length: plan.count }, (_, i) => VERIFY_PATHS[i % VERIFY_PATHS.length]);
  await Deno.writeTextFile(
    `${out}/curl.cfg`,
    paths.map(([path], i) => `url = "${c.urlBase}${path}"\noutput = "${out}/${i}"\n`).join(""),
  );
  const t0 = performance.now();
  // stdbuf: one line per request as it ends, so a loop cut short still tells what it did.
  const p = new Proc("verify loop", [
    "stdbuf",
    "-oL",
    "curl",
    "-s",
    "--max-time",
    String(plan.curlMaxS),
    "-K",
    `${out}/curl.cfg`,
    "-w",
    "%{exitcode} %{http_code}\n",
  ], { netns: c.netns });
  c.live.add(p);
  let cut: string | null = null;
  while (!p.exited) {
    await sleep(50);
    if (p.exited) break;
    const dead = alive();
    if (dead) cut = `stopped early: ${dead}`;
    else if (performance.now() - t0 > plan.deadlineS * 1000) {
      cut = `stopped at its ${plan.deadlineS} s deadline`;
    }
    if (cut) {
      await p.kill();
      break;
    }
  }
  const r = await p.wait(ms(10000));
  c.live.delete(p);
  const v: Verified = {
    requests: 0,
    ok: 0,
    closed: 0,
    timeouts: 0,
    wrong: 0,
    not_made: 0,
    seconds: round((performance.now() - t0) / 1000, 1),
    cut,
    wrong_lines: [],
  };
  const files = new Map<string, Uint8Array>();
  for (const [, f] of VERIFY_PATHS) files.set(f, await Deno.readFile(`${docroot}/${f}`));
  // A line the kill cut short is left out (counted as not made).
  const lines = text(r.stdout).split("\n").filter((l) => /^\d+ \d+$/.test(l));
  for (const [i, line] of lines.slice(0, plan.count).entries()) {
    const [rc, code] = line.split(" ");
    const [path, file] = paths[i];
    const body = await Deno.readFile(`${out}/${i}`).catch(() => null);
    v.requests++;
    if (rc === "0" && code === "200" && body && sameBytes(body, files.get(file)!)) v.ok++;
    else if (["7", "18", "52", "56"].includes(rc)) v.closed++;
    else if (rc === "28") v.timeouts++;
    else {
      v.wrong++;
      if (v.wrong_lines.length < 20) {
        v.wrong_lines.push(
          `#${i} GET ${path}: curl exit ${rc}, status ${code}, ${body?.length ?? "no"} bytes ` +
            `(the file has ${files.get(file)!.length})`,
        );
      }
    }
  }
  v.not_made = plan.count - v.requests;
  if (!cut && v.requests !== plan.count) {
    throw new Error(
      `the verified client loop made ${v.requests} of ${plan.count} requests (exit ${r.code}):\n` +
        tail(text(r.stderr)),
    );
  }
  await Deno.remove(out, { recursive: true }).catch(() => {});
  return v;
}
