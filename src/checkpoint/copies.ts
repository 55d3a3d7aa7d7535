/**
 * The frozen checkpoint copies of this variant's root process (fork engine), by epoch. The
 * monitor forks a copy at each checkpoint; the copy registers on a connection of its own and
 * sleeps until told to resume. Two epochs are kept: the newest may still be registering when
 * a divergence comes. Older copies are let go (their connection closed: they end).
 */
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import { withTimeout } from "../util/event_log.ts";
import { endOf } from "./reaper.ts";

export interface CheckpointStats {
  /** Checkpoints the live process took. */
  taken: number;
  /** Fork time of each, in µs (the newest 1000). */
  micros: number[];
}

const KEEP_EPOCHS = 2;

/** A frozen copy: its pid, and (leader) the port its monitor listens on for followers. */
export interface Copy {
  pid: number;
  port: number;
}

export class CopyRegistry {
  readonly #events: EventServer;
  readonly #byEpoch = new Map<number, Copy>();
  readonly stats: CheckpointStats = { taken: 0, micros: [] };
  /** Newest epoch the live process took (from checkpoint-taken). */
  newestTaken = 0;
  readonly #off: () => void;

  constructor(events: EventServer) {
    this.#events = events;
    this.#off = events.on((e) => this.#onEvent(e));
  }

  #onEvent(e: MonitorEvent): void {
    if (e.stream !== "0") return;
    if (e.ev === "checkpoint") {
      endOf(e.pid); // reaped when it ends, whatever it becomes
      this.#add(e.epoch, { pid: e.pid, port: e.port });
    } else if (e.ev === "checkpoint-drop") this.dropAll();
    else if (e.ev === "checkpoint-taken") {
      this.stats.taken++;
      this.stats.micros.push(e.us);
      if (this.stats.micros.length > 1000) this.stats.micros.shift();
      this.newestTaken = Math.max(this.newestTaken, e.epoch);
    }
  }

  #add(epoch: number, copy: Copy): void {
    const old = this.#byEpoch.get(epoch);
    if (old !== undefined && old.pid !== copy.pid) this.#events.dropCopy(old.pid);
    this.#byEpoch.set(epoch, copy);
    for (const ep of [...this.#byEpoch.keys()]) {
      if (ep <= epoch - KEEP_EPOCHS) this.#drop(ep);
    }
  }

  #drop(epoch: number): void {
    const copy = this.#byEpoch.get(epoch);
    this.#byEpoch.delete(epoch);
    if (copy !== undefined) this.#events.dropCopy(copy.pid);
  }

  dropAll(): void {
    for (const ep of [...this.#byEpoch.keys()]) this.#drop(ep);
    this.newestTaken = 0;
  }

  newest(): number | undefined {
    const all = [...this.#byEpoch.keys()];
    return all.length ? Math.max(...all) : undefined;
  }

  /** The copy of `epoch` if it registered, left in the registry. */
  peek(epoch: number): Copy | undefined {
    return this.#byEpoch.get(epoch);
  }

  /**
   * The copy of `epoch`, waiting up to `ms` for it to register; it leaves the registry (it
   * becomes the live process, and its own successor registers under the same epoch).
   */
  async take(epoch: number, ms: number): Promise<Copy | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const copy = this.#byEpoch.get(epoch);
      if (copy !== undefined) {
        this.#byEpoch.delete(epoch);
        return copy;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      let off = () => {};
      const next = new Promise<void>((resolve) => {
        off = this.#events.on((e) => {
          if (e.ev === "checkpoint") resolve();
        });
      });
      await withTimeout(next, left).finally(off);
    }
  }

  close(): void {
    this.#off();
    this.dropAll();
  }
}
