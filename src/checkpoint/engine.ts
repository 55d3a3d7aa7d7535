/**
 * What a checkpoint engine does for a rollback, on one variant. The coordinator
 * (rollback.ts) decides; an engine brings its variant back to an epoch. Two phases on the
 * leader, so that the followers can start as soon as the leader knows where its monitor will
 * take their data connections.
 */
import type { Ports } from "../peer/messages.ts";
import type { CheckpointStats } from "./copies.ts";
import type { LiveRoot } from "./live_root.ts";

/** What a rollback carries to each variant's engine. */
export interface Target {
  epoch: number;
  /** 0: replay all the log holds; 1: drop the input read before the divergence. */
  mode: number;
  /** The divergent stream and position. */
  stream: string;
  seq: number;
  /** The run is stopping: the resumed processes inject no more faults. */
  quiet?: boolean;
}

export interface Engine {
  readonly name: "fork" | "criu";
  /** Whether it brings back the whole process tree (else the root process only). */
  readonly wholeTree: boolean;
  /** The program's root, once it runs (the engine listens to its monitors from before). */
  attach(root: LiveRoot): void;
  readonly stats: CheckpointStats;
  /** The newest epoch this variant can go back to (0: none). */
  newestEpoch(): number;
  /** Leader: the ports its variant will listen on at `epoch`, if known before it is back. */
  portsAhead(epoch: number): Ports | null;
  /** Leader, first phase: where its restored monitors take the followers, or why not. */
  prepareLeader(t: Target): Promise<{ ports: Ports } | { reason: string }>;
  /** Leader, second phase: its monitor serves again (null), or why not. */
  finishLeader(): Promise<string | null>;
  /**
   * Follower: back to the epoch and connected to the leader's ports (null), or why not. The
   * ports come when the leader is back (null: it is not); the engine starts before.
   */
  rollBackFollower(t: Target, ports: () => Promise<Ports | null>): Promise<string | null>;
  /**
   * When the variant served again after the rollback that just completed, on
   * `performance.now()`'s clock, as its monitors' own clocks say (the agent hears of it
   * later, by ~1 ms on a loaded machine); undefined when they did not say.
   */
  readonly servedAt: number | undefined;
  close(): void;
}

/** The next event matching `pred` that happens from now on (not one from the past). */
export function nextEvent<T>(
  on: (cb: (e: T) => void) => () => void,
  pred: (e: T) => boolean,
  timeoutMs: number,
): Promise<T | undefined> {
  let off = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<T | undefined>((resolve) => {
    off = on((e) => {
      if (pred(e)) resolve(e);
    });
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  }).finally(() => {
    off();
    clearTimeout(timer);
  });
}

/**
 * The command that wakes a frozen copy or a restored process (docs/monitor-abi.md section 4):
 * replay MODE up to SEQ, data connection on PORT; QUIET 1: no injected faults from now on.
 */
export function resumeCommand(mode: number, seq: number, port: number, quiet = false): string {
  return `resume ${mode} ${seq} ${port} ${quiet ? 1 : 0}`;
}
