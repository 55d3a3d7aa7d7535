/**
 * Reads a8's TOML config and turns it into a validated `Config`. Every problem becomes a
 * `ConfigError` naming file, line and field, because a config is usually copied between hosts
 * and edited by hand, and "invalid config" alone sends the user hunting.
 */
import { parse, TomlError } from "smol-toml";
import {
  type Checkpoint,
  type CheckpointEngine,
  type Config,
  ConfigError,
  type Faults,
  type InterposerChoice,
  type LogLevel,
  type Policy,
  type Timeouts,
  type VariantConfig,
} from "./types.ts";
import { indexLines, type LineIndex } from "./locate.ts";
import { configDigest, normalizedConfig } from "./normalize.ts";

export const DEFAULT_LOCAL_PATHS: readonly string[] = [
  "/usr/lib/",
  "/lib/",
  "/lib64/",
  "/usr/lib64/",
  "/usr/libexec/",
  "/etc/ld.so.cache",
  "/dev/null",
  "/proc/self/maps",
];

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = {
  connectMs: 10_000,
  heartbeatMs: 500,
  peerSilenceMs: 5_000,
  syncMs: 30_000,
  shutdownMs: 10_000,
};

export const DEFAULT_CHECKPOINT: Readonly<Checkpoint> = {
  engine: "none",
  everyCalls: 5000,
  everyMs: 200,
  retries: 1,
};

export const DEFAULT_FAULTS: Readonly<Faults> = { divergenceProbability: 0, seed: 0 };

export const BATCH_BYTES_MIN = 4096;
export const BATCH_BYTES_MAX = 16 * 1024 * 1024;
export const KEY_MIN_LENGTH = 16;
/** An hour: anything longer is a typo (seconds where milliseconds were meant, or worse). */
const TIMEOUT_MAX_MS = 3_600_000;
/** More rollbacks than this for one divergence only delay dropping the connection behind it. */
const CHECKPOINT_RETRIES_MAX = 10;

const POLICIES: readonly Policy[] = ["lockstep", "outputs", "code"];
const INTERPOSERS: readonly InterposerChoice[] = ["auto", "sud", "seccomp"];
const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];
const CHECKPOINT_ENGINES: readonly CheckpointEngine[] = ["none", "fork", "criu"];

const TOP_KEYS = [
  "leader_id",
  "key",
  "policy",
  "interposer",
  "batch_bytes",
  "spin_reads",
  "local_paths",
  "variants",
  "timeouts",
  "log",
  "checkpoint",
  "faults",
];
const VARIANT_KEYS = ["id", "address", "port"];
const TIMEOUT_KEYS: Record<string, keyof Timeouts> = {
  connect_ms: "connectMs",
  heartbeat_ms: "heartbeatMs",
  peer_silence_ms: "peerSilenceMs",
  sync_ms: "syncMs",
  shutdown_ms: "shutdownMs",
};
const LOG_KEYS = ["level"];
const CHECKPOINT_KEYS = ["engine", "every_calls", "every_ms", "retries"];
const FAULT_KEYS = ["divergence_probability", "seed"];

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new ConfigError(path, 0, "(file)", `cannot read the config: ${why}`);
  }
  return parseConfig(text, absolute(path));
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`.replace(/\/\.\//g, "/");
}

/** Validates `text` as the config found at `path` (used in messages and kept as `path`). */
export function parseConfig(text: string, path: string): Config {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const summary = e.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new ConfigError(path, e.line, "(syntax)", `invalid TOML: ${summary}`);
    }
    throw e;
  }
  const v = new Validator(path, indexLines(text));

  v.knownKeys(doc, "", TOP_KEYS);
  const key = v.string(doc, "key", null);
  if (key.length < KEY_MIN_LENGTH) {
    v.fail("key", `must be at least ${KEY_MIN_LENGTH} characters, got ${key.length}`);
  }
  const policy = v.oneOf(doc, "policy", POLICIES, "outputs");
  const interposer = v.oneOf(doc, "interposer", INTERPOSERS, "auto");
  const batchBytes = v.integer(doc, "batch_bytes", BATCH_BYTES_MIN, BATCH_BYTES_MAX, 65536);
  const spinReads = v.integer(doc, "spin_reads", 0, 1_000_000, 0);
  const localPaths = v.localPaths(doc);
  const variants = v.variants(doc);
  const leaderId = v.integer(doc, "leader_id", 1, Number.MAX_SAFE_INTEGER, null);
  if (!variants.some((x) => x.id === leaderId)) {
    const ids = variants.map((x) => x.id).join(", ");
    v.fail("leader_id", `must be the id of a variant (${ids}), got ${leaderId}`);
  }
  const timeouts = v.timeouts(doc);
  const log = v.table(doc, "log");
  v.knownKeys(log, "log", LOG_KEYS);
  const level = v.oneOf(log, "log.level", LOG_LEVELS, "warn");
  const checkpoint = v.checkpoint(doc);
  const faults = v.faults(doc);

  const config: Config = {
    path,
    leaderId,
    variants,
    key,
    policy,
    interposer,
    batchBytes,
    spinReads,
    localPaths,
    timeouts,
    log: { level },
    checkpoint,
    faults,
    digest: "",
  };
  config.digest = configDigest(normalizedConfig(config));
  return config;
}

/** Typed accessors that throw a `ConfigError` pointing at the field's line. */
class Validator {
  constructor(private readonly file: string, private readonly lines: LineIndex) {}

  fail(field: string, problem: string): never {
    throw new ConfigError(this.file, this.lines.lineOf(field), field, problem);
  }

  knownKeys(obj: Record<string, unknown>, prefix: string, known: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      const near = closest(k, known);
      const hint = near ? ` (did you mean "${near}"?)` : ` (known: ${known.join(", ")})`;
      this.fail(prefix ? `${prefix}.${k}` : k, `unknown key${hint}`);
    }
  }

  /** `name` is the last segment of `field`; `fallback` null means required. */
  private get(obj: Record<string, unknown>, field: string): unknown {
    return obj[field.slice(field.lastIndexOf(".") + 1)];
  }

  string(obj: Record<string, unknown>, field: string, fallback: string | null): string {
    const x = this.get(obj, field);
    if (x === undefined) return fallback ?? this.fail(field, "missing (required)");
    if (typeof x !== "string") this.fail(field, `must be a string, got ${show(x)}`);
    return x;
  }

  oneOf<T extends string>(
    obj: Record<string, unknown>,
    field: string,
    allowed: readonly T[],
    fallback: T,
  ): T {
    const x = this.get(obj, field);
    if (x === undefined) return fallback;
    if (typeof x === "string" && (allowed as readonly string[]).includes(x)) return x as T;
    const near = typeof x === "string" ? closest(x, allowed) : null;
    const hint = near ? ` (did you mean "${near}"?)` : "";
    return this.fail(field, `must be one of ${allowed.join(" | ")}, got ${show(x)}${hint}`);
  }

  integer(
    obj: Record<string, unknown>,
    field: string,
    min: number,
    max: number,
    fallback: number | null,
  ): number {
    const x = this.get(obj, field);
    if (x === undefined) return fallback ?? this.fail(field, "missing (required)");
    if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`;
      this.fail(field, `must be an integer ${range}, got ${show(x)}`);
    }
    return x;
  }

  /** A finite number in `min..max` (a TOML integer or float). */
  number(
    obj: Record<string, unknown>,
    field: string,
    min: number,
    max: number,
    fallback: number,
  ): number {
    const x = this.get(obj, field);
    if (x === undefined) return fallback;
    if (typeof x !== "number" || !Number.isFinite(x) || x < min || x > max) {
      this.fail(field, `must be a number ${min}..${max}, got ${show(x)}`);
    }
    return x;
  }

  table(obj: Record<string, unknown>, field: string): Record<string, unknown> {
    const x = this.get(obj, field);
    if (x === undefined) return {};
    if (!isTable(x)) this.fail(field, `must be a table ([${field}]), got ${show(x)}`);
    return x;
  }

  localPaths(doc: Record<string, unknown>): string[] {
    const x = doc.local_paths;
    if (x === undefined) return [...DEFAULT_LOCAL_PATHS];
    if (!Array.isArray(x)) this.fail("local_paths", `must be an array of paths, got ${show(x)}`);
    return x.map((p, i) => {
      if (typeof p !== "string" || !p.startsWith("/")) {
        this.fail(`local_paths[${i}]`, `must be an absolute path, got ${show(p)}`);
      }
      // The monitor passes the list as one `:`-separated variable (A8_LOCAL_PATHS).
      if (p.includes(":")) this.fail(`local_paths[${i}]`, `must not contain ":", got ${show(p)}`);
      return p;
    });
  }

  variants(doc: Record<string, unknown>): VariantConfig[] {
    const x = doc.variants;
    if (x === undefined) this.fail("variants", "missing: add at least two [[variants]] tables");
    if (!Array.isArray(x) || !x.every(isTable)) {
      this.fail("variants", `must be an array of tables ([[variants]]), got ${show(x)}`);
    }
    if (x.length < 2) {
      this.fail("variants", `at least 2 variants are needed to compare, got ${x.length}`);
    }
    const seenIds = new Map<number, number>();
    const seenEndpoints = new Map<string, number>();
    return x.map((t, i) => {
      const at = `variants[${i}]`;
      this.knownKeys(t, at, VARIANT_KEYS);
      const id = this.integer(t, `${at}.id`, 1, 2 ** 31 - 1, null);
      const address = this.string(t, `${at}.address`, null);
      if (!isIPv4(address)) {
        this.fail(`${at}.address`, `must be an IPv4 address like 10.0.0.2, got ${show(address)}`);
      }
      const port = this.integer(t, `${at}.port`, 1, 65535, null);
      const dupId = seenIds.get(id);
      if (dupId !== undefined) this.fail(`${at}.id`, `${id} is already used by variants[${dupId}]`);
      seenIds.set(id, i);
      const endpoint = `${address}:${port}`;
      const dupEp = seenEndpoints.get(endpoint);
      if (dupEp !== undefined) {
        this.fail(`${at}.port`, `${endpoint} is already used by variants[${dupEp}]`);
      }
      seenEndpoints.set(endpoint, i);
      return { id, address, port };
    });
  }

  timeouts(doc: Record<string, unknown>): Timeouts {
    const t = this.table(doc, "timeouts");
    this.knownKeys(t, "timeouts", Object.keys(TIMEOUT_KEYS));
    const out = { ...DEFAULT_TIMEOUTS };
    for (const [name, prop] of Object.entries(TIMEOUT_KEYS)) {
      out[prop] = this.integer(t, `timeouts.${name}`, 1, TIMEOUT_MAX_MS, DEFAULT_TIMEOUTS[prop]);
    }
    // A heartbeat slower than the silence limit would make every healthy peer look lost.
    if (out.heartbeatMs >= out.peerSilenceMs) {
      const field = t.heartbeat_ms !== undefined
        ? "timeouts.heartbeat_ms"
        : "timeouts.peer_silence_ms";
      this.fail(
        field,
        `heartbeat_ms (${out.heartbeatMs}) must be less than peer_silence_ms (${out.peerSilenceMs})`,
      );
    }
    return out;
  }

  checkpoint(doc: Record<string, unknown>): Checkpoint {
    const t = this.table(doc, "checkpoint");
    this.knownKeys(t, "checkpoint", CHECKPOINT_KEYS);
    const d = DEFAULT_CHECKPOINT;
    const most = Number.MAX_SAFE_INTEGER;
    return {
      engine: this.oneOf(t, "checkpoint.engine", CHECKPOINT_ENGINES, d.engine),
      everyCalls: this.integer(t, "checkpoint.every_calls", 1, most, d.everyCalls),
      everyMs: this.integer(t, "checkpoint.every_ms", 1, most, d.everyMs),
      retries: this.integer(t, "checkpoint.retries", 0, CHECKPOINT_RETRIES_MAX, d.retries),
    };
  }

  faults(doc: Record<string, unknown>): Faults {
    const t = this.table(doc, "faults");
    this.knownKeys(t, "faults", FAULT_KEYS);
    const d = DEFAULT_FAULTS;
    return {
      divergenceProbability: this.number(
        t,
        "faults.divergence_probability",
        0,
        1,
        d.divergenceProbability,
      ),
      seed: this.integer(t, "faults.seed", 0, Number.MAX_SAFE_INTEGER, d.seed),
    };
  }
}

function isTable(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x) && !(x instanceof Date);
}

function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

function show(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x);
  if (Array.isArray(x)) return "an array";
  if (isTable(x)) return "a table";
  return String(x);
}

/** The known name closest to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDist = Infinity;
  const w = word.toLowerCase();
  // A prefix is the commonest slip (`leader` for `leader_id`), however many letters it drops.
  const prefixed = known.filter((k) => w.length >= 3 && k.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  for (const k of known) {
    const d = editDistance(w, k);
    if (d < bestDist) [best, bestDist] = [k, d];
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
