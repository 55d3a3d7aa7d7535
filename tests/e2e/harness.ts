/**
 * The end-to-end harness: builds configs, runs programs natively and under `a8 run` with
 * several variants, and reads the reports. Every process runs in its own process group (via
 * `setsid`) so that a timeout kills it together with whatever it started; nothing is left
 * behind to hold a pipe open or a port bound.
 */
import assert from "node:assert/strict";
import type { Policy } from "../../src/config/types.ts";

/** The repository root (no trailing slash). */
export const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** `uname -m` of this host: x86_64 or aarch64. */
export const ISA: string = Deno.build.arch;
/** Scenario binaries, relative to REPO_ROOT (the top-level Makefile builds them there). */
export const SCENARIO_DIR = `build/${ISA}/scenarios`;
export const A8 = `${REPO_ROOT}/a8`;

/** Timeouts, scaled by A8_E2E_TIME_SCALE (e.g. 20 in a slow emulated VM). */
export const TIME_SCALE = Number(Deno.env.get("A8_E2E_TIME_SCALE") ?? "1") || 1;
export function ms(n: number): number {
  return Math.round(n * TIME_SCALE);
}

/** Keep temp dirs and reports for inspection (A8_E2E_KEEP=1). */
export const KEEP = Deno.env.get("A8_E2E_KEEP") === "1";

const dec = new TextDecoder();
export function text(b: Uint8Array): string {
  return dec.decode(b);
}

/** The last `n` lines of a text, for error messages. */
export function tail(s: string, n = 15): string {
  const lines = s.trimEnd().split("\n");
  return (lines.length > n ? ["...", ...lines.slice(-n)] : lines).join("\n");
}

// ---------------------------------------------------------------------------------------------
// Building

let built: Promise<void> | null = null;

/** Builds the scenario programs once per test process (`make -C tests/scenarios`). */
export function buildScenarios(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command("make", {
      args: ["-s", "-C", `${REPO_ROOT}/tests/scenarios`, `BUILD=${REPO_ROOT}/${SCENARIO_DIR}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`building the scenarios failed:\n${text(out.stdout)}${text(out.stderr)}`);
    }
  })();
  return built;
}

/** The scenario binary's path relative to REPO_ROOT (the runs use REPO_ROOT as cwd). */
export function scenario(name: string): string {
  return `${SCENARIO_DIR}/${name}`;
}

/** Whether the a8 agent can be started at all (main.ts exists); the message says why not. */
export async function a8Missing(): Promise<string | null> {
  try {
    await Deno.stat(`${REPO_ROOT}/main.ts`);
  } catch {
    return "main.ts does not exist yet: the a8 agent is not written";
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Configs

export interface VariantAddress {
  id: number;
  address: string;
  port: number;
}

export interface ConfigOptions {
  variants: VariantAddress[];
  leaderId?: number;
  key?: string;
  policy?: Policy;
  interposer?: "auto" | "sud" | "seccomp";
  /** Extra top-level `key = value` lines (they go before the tables). */
  extraTop?: string;
  /** Extra tables, e.g. "[timeouts]\nconnect_ms = 5000" (they go at the end). */
  extraTables?: string;
}

export const TEST_KEY = "a8 e2e test key 0123456789abcdef";

export function configToml(o: ConfigOptions): string {
  const lines = [
    `leader_id = ${o.leaderId ?? o.variants[0].id}`,
    `key = ${JSON.stringify(o.key ?? TEST_KEY)}`,
    `policy = ${JSON.stringify(o.policy ?? "outputs")}`,
    `interposer = ${JSON.stringify(o.interposer ?? "auto")}`,
  ];
  if (o.extraTop) lines.push(o.extraTop.trim());
  for (const v of o.variants) {
    lines.push(
      "",
      "[[variants]]",
      `id = ${v.id}`,
      `address = ${JSON.stringify(v.address)}`,
      `port = ${v.port}`,
    );
  }
  if (o.extraTables) lines.push("", o.extraTables.trim());
  return lines.join("\n") + "\n";
}

/** `n` TCP ports that were free a moment ago (all held open together so they differ). */
export function freePorts(n: number, hostname = "127.0.0.1"): number[] {
  const listeners = Array.from({ length: n }, () => Deno.listen({ hostname, port: 0 }));
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/** A config for `n` variants on 127.0.0.1 with free ports, ids 1..n, leader 1. */
export function localConfig(n: number, extra: Partial<ConfigOptions> = {}): string {
  const ports = freePorts(n);
  return configToml({
    ...extra,
    variants: ports.map((port, i) => ({ id: i + 1, address: "127.0.0.1", port })),
  });
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface ProcResult {
  /** Exit code (128+N when killed by signal N). */
  code: number;
  signal: Deno.Signal | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** It was still running at its deadline and was killed. */
  timedOut: boolean;
  elapsedMs: number;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Run inside this network namespace (`nsenter --net`, not `ip netns exec`: that one also
   * gives the process a mount namespace of its own, where every CRIU dump fails).
   */
  netns?: string;
  stdin?: "null" | "piped";
  /** Its stdout goes to this file (opened by a shell, truncated), not to a pipe of ours. */
  stdoutFile?: string;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/**
 * A process started in its own process group (so signals and kills reach what it started),
 * with stdout and stderr collected while it runs.
 */
export class Proc {
  readonly pid: number;
  readonly started = performance.now();
  readonly #child: Deno.ChildProcess;
  readonly #out: Uint8Array[] = [];
  readonly #err: Uint8Array[] = [];
  readonly #readers: Promise<void>[];
  readonly #cancels: (() => Promise<void>)[] = [];
  #status: Deno.CommandStatus | null = null;
  readonly #exited: Promise<Deno.CommandStatus>;
  #timedOut = false;

  constructor(readonly label: string, readonly argv: string[], opts: SpawnOptions = {}) {
    const netns = opts.netns ? ["nsenter", `--net=/run/netns/${opts.netns}`, ...argv] : argv;
    const inner = opts.stdoutFile
      ? ["sh", "-c", 'f=$1; shift; exec "$@" > "$f"', "sh", opts.stdoutFile, ...netns]
      : netns;
    // `setsid` execs in place (the child is not a group leader): pid == process group id.
    this.#child = new Deno.Command("setsid", {
      args: inner,
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env,
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#readers = [
      this.#collect(this.#child.stdout, this.#out),
      this.#collect(this.#child.stderr, this.#err),
    ];
    this.#exited = this.#child.status.then((s) => (this.#status = s));
  }

  async #collect(stream: ReadableStream<Uint8Array>, into: Uint8Array[]) {
    const reader = stream.getReader();
    this.#cancels.push(() => reader.cancel().catch(() => {}));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        into.push(value);
      }
    } catch {
      // Cancelled after a kill.
    }
  }

  get stdin(): WritableStream<Uint8Array> {
    return this.#child.stdin;
  }

  /** What it wrote so far. */
  stdoutText(): string {
    return text(concat(this.#out));
  }
  stderrText(): string {
    return text(concat(this.#err));
  }

  get exited(): boolean {
    return this.#status !== null;
  }

  /** Sends a signal to the process itself (not its group). */
  signal(sig: Deno.Signal): void {
    if (this.#status) return;
    try {
      Deno.kill(this.pid, sig);
    } catch { /* already gone */ }
  }

  /** Sends a signal to its whole process group. */
  signalGroup(sig: Deno.Signal): void {
    try {
      Deno.kill(-this.pid, sig);
    } catch { /* group empty */ }
  }

  /**
   * Waits until it exits and its output is closed, at most `timeoutMs`; then SIGTERM to the
   * group, 2 s later SIGKILL, and the result says `timedOut`.
   */
  async wait(timeoutMs: number): Promise<ProcResult> {
    const all = Promise.all([this.#exited, ...this.#readers]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((
      r,
    ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    const first = await Promise.race([all, deadline]);
    clearTimeout(timer);
    if (first === "timeout") {
      this.#timedOut = true;
      await this.kill();
    }
    const s = this.#status ?? (await this.#exited);
    return {
      code: s.code,
      signal: s.signal,
      stdout: concat(this.#out),
      stderr: concat(this.#err),
      timedOut: this.#timedOut,
      elapsedMs: Math.round(performance.now() - this.started),
    };
  }

  /** SIGTERM to the group, SIGKILL 2 s later; then stops reading its output. */
  async kill(): Promise<void> {
    this.signalGroup("SIGTERM");
    const exited = await Promise.race([
      this.#exited.then(() => true),
      sleep(2000).then(() => false),
    ]);
    this.signalGroup("SIGKILL");
    if (!exited) await this.#exited;
    // Anything that left the group and still holds our pipes: stop waiting for it.
    const drained = await Promise.race([
      Promise.all(this.#readers).then(() => true),
      sleep(1000).then(() => false),
    ]);
    if (!drained) {
      await Promise.all(this.#cancels.map((c) => c()));
      await Promise.all(this.#readers);
    }
  }
}

/** Runs a program natively (cwd REPO_ROOT) and returns what it did. */
export async function runNative(
  argv: string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<ProcResult> {
  const p = new Proc(`native ${argv[0]}`, argv, opts);
  return await p.wait(opts.timeoutMs ?? ms(15000));
}

// ---------------------------------------------------------------------------------------------
// a8 runs

export interface A8Options {
  /** Number of variants (ids 1..n, leader 1) unless `config` is given. */
  variants?: number;
  /** A config text to use instead of a generated one on 127.0.0.1. */
  config?: string;
  /** Variant ids and which is the leader, when `config` is given. */
  ids?: number[];
  leaderId?: number;
  program: string[];
  /** Extra environment per variant (on top of this process's environment). */
  env?: (id: number) => Record<string, string>;
  /** Network namespace per variant. */
  netns?: (id: number) => string | undefined;
  /** Directory for the config and the report dirs (default: a fresh temp dir). */
  dir?: string;
  extraArgs?: string[];
  policy?: Policy;
  interposer?: "auto" | "sud" | "seccomp";
  /** Extra config tables for the generated config (see ConfigOptions). */
  extraTables?: string;
  /** Each variant's stdout to this file instead of a pipe (then `stdout` is empty). */
  stdoutFile?: (id: number) => string;
}

export interface VariantRun {
  id: number;
  leader: boolean;
  reportDir: string;
  proc: Proc;
}

export interface A8Started {
  dir: string;
  configPath: string;
  variants: VariantRun[];
  leader: VariantRun;
}

export interface VariantResult extends ProcResult {
  id: number;
  leader: boolean;
  reportDir: string;
  /** The whole stderr, kept with the run's files (`describe` shows its tail). */
  stderrPath?: string;
}

export interface A8Result {
  dir: string;
  configPath: string;
  variants: VariantResult[];
  leader: VariantResult;
  followers: VariantResult[];
}

/** Starts `a8 run --id i` for every variant, the leader first; does not wait. */
export async function startA8(o: A8Options): Promise<A8Started> {
  const dir = o.dir ?? (await Deno.makeTempDir({ prefix: "a8-e2e-run-" }));
  let ids: number[];
  let leaderId: number;
  let config: string;
  if (o.config) {
    if (!o.ids || o.leaderId === undefined) {
      throw new Error("startA8: config needs ids and leaderId");
    }
    ids = o.ids;
    leaderId = o.leaderId;
    config = o.config;
  } else {
    const n = o.variants ?? 2;
    ids = Array.from({ length: n }, (_, i) => i + 1);
    leaderId = 1;
    config = localConfig(n, {
      policy: o.policy,
      interposer: o.interposer,
      extraTables: o.extraTables,
    });
  }
  const configPath = `${dir}/a8.toml`;
  await Deno.writeTextFile(configPath, config);
  const order = [leaderId, ...ids.filter((i) => i !== leaderId)];
  const variants: VariantRun[] = [];
  for (const id of order) {
    const reportDir = `${dir}/report-${id}`;
    const argv = [
      A8,
      "run",
      "--id",
      String(id),
      "--report-dir",
      reportDir,
      ...(o.extraArgs ?? []),
      configPath,
      "--",
      ...o.program,
    ];
    const env = o.env?.(id);
    const proc = new Proc(`variant ${id}`, argv, {
      env: env ? { ...Deno.env.toObject(), ...env } : undefined,
      netns: o.netns?.(id),
      stdoutFile: o.stdoutFile?.(id),
    });
    variants.push({ id, leader: id === leaderId, reportDir, proc });
  }
  return { dir, configPath, variants, leader: variants[0] };
}

/**
 * Waits for every variant of a started run, at most `timeoutMs` in all. If any is still
 * running then, all are killed and this throws, naming which hung and what they printed.
 */
export async function waitA8(
  run: A8Started,
  timeoutMs: number,
  { throwOnTimeout = true } = {},
): Promise<A8Result> {
  const deadline = performance.now() + timeoutMs;
  const results = await Promise.all(
    run.variants.map((v) => v.proc.wait(Math.max(1, deadline - performance.now()))),
  );
  const variants: VariantResult[] = results.map((r, i) => ({
    ...r,
    id: run.variants[i].id,
    leader: run.variants[i].leader,
    reportDir: run.variants[i].reportDir,
    stderrPath: `${run.dir}/variant-${run.variants[i].id}.stderr`,
  }));
  await Promise.all(variants.map((v) => Deno.writeFile(v.stderrPath!, v.stderr).catch(() => {})));
  const hung = variants.filter((v) => v.timedOut);
  if (hung.length && throwOnTimeout) {
    throw new Error(
      `a8 run did not finish within ${timeoutMs} ms: variant(s) ${
        hung.map((v) => v.id).join(", ")
      } killed (run dir ${run.dir})\n` + describe(variants),
    );
  }
  return {
    dir: run.dir,
    configPath: run.configPath,
    variants,
    leader: variants.find((v) => v.leader)!,
    followers: variants.filter((v) => !v.leader),
  };
}

/** Starts and waits for an a8 run (see startA8 and waitA8). */
export async function runA8(o: A8Options & { timeoutMs?: number }): Promise<A8Result> {
  const started = await startA8(o);
  return await waitA8(started, o.timeoutMs ?? ms(30000));
}

/** Every variant's status and the end of its output, for assertion messages. */
export function describe(variants: VariantResult[]): string {
  return variants.map((v) =>
    `--- variant ${v.id} (${v.leader ? "leader" : "follower"}): exit ${v.code}${
      v.signal ? ` (${v.signal})` : ""
    }${v.timedOut ? ", TIMED OUT" : ""}, ${v.elapsedMs} ms\n` +
    `stdout:\n${tail(text(v.stdout))}\nstderr${
      v.stderrPath ? ` (whole: ${v.stderrPath})` : ""
    }:\n` +
    tail(text(v.stderr))
  ).join("\n");
}

// ---------------------------------------------------------------------------------------------
// Reports

// deno-lint-ignore no-explicit-any
export type Json = any;

async function readJson(path: string, what: string): Promise<Json> {
  let body: string;
  try {
    body = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new Error(`${what}: ${path} is not JSON: ${(e as Error).message}`);
  }
}

/** `summary.json` of one variant (src/report/summary.ts). */
export function readSummary(v: { reportDir: string; id: number }): Promise<Json> {
  return readJson(`${v.reportDir}/summary.json`, `variant ${v.id}'s summary`);
}

/** `divergence.json` of one variant, or null if it wrote none. */
export async function readDivergence(v: { reportDir: string; id: number }): Promise<Json | null> {
  try {
    await Deno.stat(`${v.reportDir}/divergence.json`);
  } catch {
    return null;
  }
  return await readJson(`${v.reportDir}/divergence.json`, `variant ${v.id}'s divergence report`);
}

/** Removes a temp dir unless A8_E2E_KEEP=1 (then says where it is). */
export async function cleanup(dir: string): Promise<void> {
  if (KEEP) {
    console.log(`(kept ${dir})`);
    return;
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Runs fn in a fresh temp dir: removed when fn succeeds, kept (and named) when it fails. */
export async function withRunDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  let ok = false;
  try {
    const result = await fn(dir);
    ok = true;
    return result;
  } finally {
    if (ok) await cleanup(dir);
    else console.log(`(a8 run files kept in ${dir})`);
  }
}

export { assert };
