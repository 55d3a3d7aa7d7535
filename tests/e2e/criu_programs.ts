/**
 * The CRIU tests' programs (tests/criu/*.c) and how to read what they report: shared by
 * criu_test.ts (libcriu itself) and criu_driver_test.ts (the agent's driver).
 */
import { assert, ISA, ms, REPO_ROOT, tail, text } from "./harness.ts";

export const CRIU_BUILD = `${REPO_ROOT}/build/${ISA}/criu`;
/** tests/criu/tree.c: a session leader and its child, counting in memory. */
export const TREE = `${CRIU_BUILD}/tree`;
/** tests/criu/tcp_client.c: sends numbers over one connection, each after an answer. */
export const TCP_CLIENT = `${CRIU_BUILD}/tcp_client`;
/** tests/criu/tcp_server.c: answers each line with the next number of one counter. */
export const TCP_SERVER = `${CRIU_BUILD}/tcp_server`;
/** tests/criu/*.c's status after a clean stop. */
export const EXIT_DONE = 42;

let built: Promise<void> | null = null;
/** Builds tests/criu once per test process. */
export function buildCriuPrograms(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command("make", {
      args: ["-s", "-C", `${REPO_ROOT}/tests/criu`, `BUILD=${CRIU_BUILD}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`building tests/criu failed:\n${text(out.stdout)}${text(out.stderr)}`);
    }
  })();
  return built;
}

export interface Line {
  role: "root" | "child";
  pid: number;
  ppid: number;
  n: number;
}

export interface TreeLog {
  lines: Line[];
  /** Lines that are neither counts nor "done": tree.c's errors. */
  errors: string[];
  done: boolean;
}

/** tree.c's log: count lines, plus "error" and "done" lines kept verbatim. */
export function parseTreeLog(s: string): TreeLog {
  const lines: Line[] = [];
  const errors: string[] = [];
  let done = false;
  for (const l of s.split("\n").filter(Boolean)) {
    const m = /^(root|child) (\d+) (\d+) (\d+)$/.exec(l);
    if (m) {
      lines.push({ role: m[1] as Line["role"], pid: +m[2], ppid: +m[3], n: +m[4] });
    } else if (l.startsWith("done ")) done = true;
    else errors.push(l);
  }
  return { lines, errors, done };
}

export async function readTreeLog(path: string): Promise<TreeLog> {
  return parseTreeLog(await Deno.readTextFile(path).catch(() => ""));
}

/** The last count of `role`, 0 if none. */
export function last(lines: Line[], role: Line["role"]): number {
  return lines.filter((l) => l.role === role).at(-1)?.n ?? 0;
}

/** Polls tree.c's log until `pred` holds; fails with the log's tail after `timeoutMs`. */
export async function waitTreeLog(
  path: string,
  what: string,
  pred: (lines: Line[]) => boolean,
  timeoutMs = ms(5000),
): Promise<TreeLog> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await readTreeLog(path);
    if (pred(log.lines)) return log;
    if (Date.now() > deadline) {
      const raw = await Deno.readTextFile(path).catch(() => "(no log)");
      throw new Error(`timed out waiting for ${what}; log:\n${tail(raw)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Each role's counts run 1, 2, 3, ... with no restart and no gap, from one pid. */
export function assertContinuous(
  lines: Line[],
  role: Line["role"],
  pid: number,
  ppid?: number,
): void {
  const mine = lines.filter((l) => l.role === role);
  mine.forEach((l, i) => {
    assert.equal(l.n, i + 1, `${role}'s count ${i + 1} is ${l.n}: state lost or repeated`);
    assert.equal(l.pid, pid, `${role}'s pid changed from ${pid} to ${l.pid}`);
    if (ppid !== undefined) assert.equal(l.ppid, ppid, `${role}'s parent is ${l.ppid}`);
  });
}

export function fmtMs(d: number): string {
  return `${d.toFixed(1)} ms`;
}
