/**
 * Starting the user's program: with the monitor preloaded and its environment set
 * (docs/monitor-abi.md section 1), or natively for benchmarks. The program's stdio is the
 * agent's, so a variant behaves on its terminal as the program would alone.
 */
import { monitorLibraryPath } from "./paths.ts";
import type { Checkpoint, Faults, LogLevel, Policy } from "../config/types.ts";

export type Interposer = "sud" | "seccomp";

/** What the monitor of one variant is told; each field is one A8_* variable. */
export interface MonitorSettings {
  id: number;
  leader: boolean;
  /** Number of followers (the leader's monitor waits for each). */
  followers: number;
  runId: string;
  /** The per-run monitor key (peer/auth.ts monitorKey), not the config key. */
  key: string;
  agentSock: string;
  /** What a monitor shows the agent socket first (events.ts). */
  agentToken: string;
  runDir: string;
  /** The criu engine keepers' sockets. */
  keepDir: string;
  /** Leader: address its data listeners bind to. */
  dataAddr?: string;
  /** Follower: ADDR:PORT of the leader's root data listener. */
  leaderData?: string;
  policy: Policy;
  interposer: Interposer;
  batchBytes: number;
  spinReads: number;
  syncMs: number;
  logLevel: LogLevel;
  localPaths: string[];
  /** When to checkpoint (config `[checkpoint]`); rollback retries are the agents' business. */
  checkpoint: Pick<Checkpoint, "engine" | "everyCalls" | "everyMs">;
  /** Deliberate divergences (config `[faults]`). */
  faults: Faults;
}

/** `Deno.build.arch` is already the ISA name the build tree uses (x86_64, aarch64). */
export function monitorLibrary(isa: string = Deno.build.arch): string {
  return monitorLibraryPath(isa);
}

export function monitorEnv(m: MonitorSettings, library = monitorLibrary()): Record<string, string> {
  const env: Record<string, string> = {
    LD_PRELOAD: library,
    A8_ID: String(m.id),
    A8_LEADER: m.leader ? "1" : "0",
    A8_FOLLOWERS: String(m.leader ? m.followers : 1),
    A8_RUN_ID: m.runId,
    A8_KEY: m.key,
    A8_AGENT_SOCK: m.agentSock,
    A8_AGENT_TOKEN: m.agentToken,
    A8_RUN_DIR: m.runDir,
    A8_KEEP_DIR: m.keepDir,
    A8_POLICY: m.policy,
    A8_INTERPOSER: m.interposer,
    A8_BATCH: String(m.batchBytes),
    A8_SPIN: String(m.spinReads),
    A8_TIMEOUT_MS: String(m.syncMs),
    A8_LOG: m.logLevel,
    A8_LOCAL_PATHS: m.localPaths.join(":"),
    A8_CKPT: m.checkpoint.engine,
    A8_CKPT_CALLS: String(m.checkpoint.everyCalls),
    A8_CKPT_MS: String(m.checkpoint.everyMs),
    A8_FAULT_P: probability(m.faults.divergenceProbability),
    A8_FAULT_SEED: String(m.faults.seed),
  };
  if (m.leader && m.dataAddr) env.A8_DATA_ADDR = m.dataAddr;
  if (!m.leader && m.leaderData) env.A8_LEADER_DATA = m.leaderData;
  return env;
}

/**
 * `p` (0..1) as text C's strtod reads back to the same double: JavaScript's shortest
 * round-trip form, which is plain decimal ("0.01") or, below 1e-6, exponent form ("1e-7"),
 * never "NaN" or "Infinity" (the config allows neither).
 */
export function probability(p: number): string {
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new RangeError(`not a probability: ${p}`);
  return String(p);
}

export class SpawnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpawnError";
  }
}

export interface SpawnOptions {
  program: string;
  args: string[];
  /** Undefined runs the program natively: no LD_PRELOAD, no A8_* variables. */
  monitor?: MonitorSettings;
  /** Overrides the monitor library path (tests). */
  library?: string;
  /** Pids whose monitor is connected (events.ts `live`): `killTree` signals them too. */
  pids?: () => Iterable<number>;
  /** Inherited by default; tests capture. */
  stdout?: "inherit" | "piped" | "null";
  stderr?: "inherit" | "piped" | "null";
}

export interface ProgramHandle {
  pid: number;
  status: Promise<Deno.CommandStatus>;
  child: Deno.ChildProcess;
  /** Signals every process of the variant we know of; ones already gone are skipped. */
  killTree(signal: Deno.Signal): void;
}

export function spawnProgram(o: SpawnOptions): ProgramHandle {
  const env: Record<string, string> = {};
  if (o.monitor) {
    const library = o.library ?? monitorLibrary();
    try {
      Deno.statSync(library);
    } catch {
      throw new SpawnError(`monitor library ${library} is missing: run \`make build\` first`);
    }
    Object.assign(env, monitorEnv(o.monitor, library));
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(o.program, {
      args: o.args,
      env,
      stdin: "inherit",
      stdout: o.stdout ?? "inherit",
      stderr: o.stderr ?? "inherit",
    }).spawn();
  } catch (e) {
    throw new SpawnError(`cannot start ${o.program}: ${(e as Error).message}`);
  }
  const pid = child.pid;
  const killTree = (signal: Deno.Signal) => {
    // Children first, so none is re-parented and keeps running after the root is gone.
    const all = [...(o.pids?.() ?? [])].filter((p) => p !== pid);
    // The monitored root leads its own process group (the monitor makes it so): a child
    // forked after the last event we saw is in it too.
    const group = o.monitor ? [-pid] : [];
    for (const p of [...group, ...all, pid]) {
      try {
        Deno.kill(p, signal);
      } catch {
        // Already exited: nothing to stop.
      }
    }
  };
  return { pid, status: child.status, child, killTree };
}
