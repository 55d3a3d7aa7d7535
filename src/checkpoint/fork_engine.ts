/**
 * The fork engine's rollback on one variant: stop the live root (killed once the copy serves),
 * resume the frozen copy the monitor forked at the epoch's checkpoint. The leader's copy listens
 * for the followers' data connections already (its port came with its registration), so the
 * followers' copies connect while the leader's resumes.
 */
import { monitorTimeToPerf } from "../../ffi/libc.ts";
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import type { Logger } from "../log.ts";
import type { Ports } from "../peer/messages.ts";
import type { CheckpointStats, CopyRegistry } from "./copies.ts";
import { type Engine, resumeCommand, type Target } from "./engine.ts";
import type { LiveRoot } from "./live_root.ts";

/** How long a copy may take to register after the live process forked it. */
const COPY_WAIT_MS = 3000;

export class ForkEngine implements Engine {
  readonly name = "fork" as const;
  readonly wholeTree = false;
  readonly #copies: CopyRegistry;
  readonly #events: EventServer;
  #root?: LiveRoot;
  readonly #connectMs: number;
  readonly #log: Logger;
  #pending?: Promise<string | null>;
  servedAt: number | undefined;

  constructor(copies: CopyRegistry, events: EventServer, log: Logger, connectMs: number) {
    this.#copies = copies;
    this.#log = log;
    this.#events = events;
    this.#connectMs = connectMs;
  }

  attach(root: LiveRoot): void {
    this.#root = root;
  }

  get stats(): CheckpointStats {
    return this.#copies.stats;
  }

  newestEpoch(): number {
    return Math.max(this.#copies.newest() ?? 0, this.#copies.newestTaken);
  }

  portsAhead(epoch: number): Ports | null {
    const copy = this.#copies.peek(epoch);
    return copy ? { "0": copy.port } : null;
  }

  /** The copy resumes at once: it forks its successor while the followers are on their way. */
  async prepareLeader(t: Target): Promise<{ ports: Ports } | { reason: string }> {
    this.servedAt = undefined;
    this.#root!.retire();
    const copy = await this.#copies.take(t.epoch, COPY_WAIT_MS);
    if (!copy) return { reason: this.#givenUp(`no copy of checkpoint ${t.epoch} on the leader`) };
    this.#pending = this.#resume(copy.pid, t, 0).then((r) => r && this.#givenUp(r));
    return { ports: { "0": copy.port } };
  }

  finishLeader(): Promise<string | null> {
    const p = this.#pending;
    this.#pending = undefined;
    return p ?? Promise.resolve("no rollback prepared");
  }

  async rollBackFollower(
    t: Target,
    ports: () => Promise<Ports | null>,
  ): Promise<string | null> {
    this.servedAt = undefined;
    this.#root!.retire();
    const r = await this.#follow(t, ports);
    return r && this.#givenUp(r);
  }

  async #follow(t: Target, ports: () => Promise<Ports | null>): Promise<string | null> {
    const copy = await this.#copies.take(t.epoch, COPY_WAIT_MS);
    if (!copy) return `no copy of checkpoint ${t.epoch} on this variant`;
    const port = (await ports())?.["0"];
    if (port === undefined) return "the leader sent no port for the root process";
    return await this.#resume(copy.pid, t, port);
  }

  /** A rollback that cannot be completed: the root it stopped is killed now. */
  #givenUp(reason: string): string {
    this.#root!.killRetired();
    return reason;
  }

  /** Resume the copy; it reports back once its data connections are up. */
  async #resume(pid: number, t: Target, port: number): Promise<string | null> {
    const t0 = performance.now();
    if (!await this.#events.tell(pid, resumeCommand(t.mode, t.seq, port, t.quiet))) {
      return `the copy of checkpoint ${t.epoch} is gone`;
    }
    const e = await this.#events.waitFor(
      (e) => e.ev === "resumed" && e.pid === pid,
      this.#connectMs,
    );
    if (!e) return "the resumed copy did not report back";
    const r = e as Extract<MonitorEvent, { ev: "resumed" }>;
    this.#log.debug("copy resumed", {
      epoch: t.epoch,
      ms: Math.round((performance.now() - t0) * 100) / 100,
      ready_us: r.us_ready,
      fork_us: r.us_fork,
      connect_us: r.us_connect,
    });
    this.#root!.replace(pid);
    if (r.mono_us !== undefined) this.servedAt = monitorTimeToPerf(r.mono_us);
    return null;
  }

  close(): void {
    this.#root?.killRetired();
    this.#copies.close();
  }
}
