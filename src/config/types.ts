/**
 * The validated configuration every part of the agent works from. `loadConfig` (load.ts) is
 * the only producer; everything else takes a `Config` and never re-reads the TOML.
 */

export type Policy = "lockstep" | "outputs" | "code";
export type InterposerChoice = "auto" | "sud" | "seccomp";
export type LogLevel = "error" | "warn" | "info" | "debug";
/** How a monitor saves the state it may roll back to: not at all, a forked copy, or CRIU. */
export type CheckpointEngine = "none" | "fork" | "criu";

export interface VariantConfig {
  /** Unique positive id; the leader is the variant whose id is `leaderId`. */
  id: number;
  /** Address the agent listens on for the control plane, and the monitor for data. */
  address: string;
  /** Control-plane TCP port of this variant's agent. */
  port: number;
}

export interface Timeouts {
  /** How long `a8 run` waits for every peer agent to connect and finish the handshake. */
  connectMs: number;
  /** Interval between control-plane heartbeats. */
  heartbeatMs: number;
  /** A peer silent for this long is reported as lost. */
  peerSilenceMs: number;
  /** How long a leader monitor waits for a follower at a synchronous call. */
  syncMs: number;
  /** How long agents wait for each other's exit status at shutdown. */
  shutdownMs: number;
}

/**
 * Checkpoints let a8 roll every variant back to a common earlier state after a divergence and
 * keep serving (dropping the connection whose input diverged) instead of stopping the run.
 */
export interface Checkpoint {
  /** `none` keeps the old behaviour: a divergence ends the run. */
  engine: CheckpointEngine;
  /**
   * A checkpoint is taken at a quiescent point (the program about to block in epoll, poll,
   * select or sigsuspend, so no call of its own is half done) once this many checked calls or
   * `everyMs` have passed since the last one; after 4x this many calls without a quiescent
   * point, one is forced. The interval trades the cost of copying against the replay after a
   * rollback.
   */
  everyCalls: number;
  /** The time half of that rule, in milliseconds. */
  everyMs: number;
  /**
   * Rollbacks that replay a divergence that repeats, before the connection whose input caused
   * it is dropped: one retry tells a transient divergence from one the input provokes.
   */
  retries: number;
}

/**
 * Deliberate divergences, to measure the cost of recovery and to test it without an exploit:
 * a follower's monitor diverges on purpose at a checked call with this probability.
 */
export interface Faults {
  /** Probability per checked call, 0..1; 0 (the default) injects nothing. */
  divergenceProbability: number;
  /** Seed of the draw, so a measurement or a test can be repeated. */
  seed: number;
}

export interface Config {
  /** Absolute path of the file it came from (for messages). */
  path: string;
  leaderId: number;
  variants: VariantConfig[];
  /** Shared secret for mutual authentication of agents (and, derived, monitors). */
  key: string;
  policy: Policy;
  interposer: InterposerChoice;
  /** Bytes of leader results a monitor batches before sending. */
  batchBytes: number;
  /**
   * Non-blocking retries a monitor makes before it sleeps waiting for its peer. Spinning saves
   * a wake-up per round trip when every variant has a core of its own; with more processes
   * than cores it costs throughput (bench/README.md).
   */
  spinReads: number;
  /** Path prefixes whose files each variant opens locally (libraries and the like). */
  localPaths: string[];
  timeouts: Timeouts;
  log: { level: LogLevel };
  checkpoint: Checkpoint;
  faults: Faults;
  /**
   * sha256 (hex) of the normalized config (normalize.ts): every field above except `path` and
   * `key`, in a fixed order. Agents compare it at the handshake; the key is proven equal by
   * the mutual authentication instead, so it never feeds a hash that crosses the network.
   */
  digest: string;
}

/** A config error always names the file, the line (1-based, 0 if unknown) and the field. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${field}: ${problem}`);
    this.name = "ConfigError";
  }
}
