/**
 * The variant's live root process. At first it is the program the agent spawned; after a
 * rollback it is a resumed checkpoint copy, which is not the agent's child: its end is known
 * from its monitor (the `exit` event, or its event connection closing and the process being
 * gone). The status of a root that a rollback killed on purpose is never reported.
 */
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import type { ProgramHandle } from "../launch/spawn.ts";
import { shellStatus } from "../run/outcome.ts";

/** Status of a process that ended without an exit event (killed by a signal we cannot see). */
const UNKNOWN_SIGNAL_STATUS = 128 + 9;

export class LiveRoot {
  #pid: number;
  #current: Promise<number>;
  #generation = 0;
  #replacing = false;
  #changed = Promise.withResolvers<void>();
  readonly #events: EventServer;
  /** Roots a rollback ended: their late events are not news. */
  readonly retired = new Set<number>();

  constructor(handle: ProgramHandle, events: EventServer) {
    this.#pid = handle.pid;
    this.#events = events;
    this.#current = handle.status.then(shellStatus);
  }

  get pid(): number {
    return this.#pid;
  }

  /** The shell status of the root, following replacements; never a retired root's. */
  async status(): Promise<number> {
    for (;;) {
      const gen = this.#generation;
      const changed = this.#changed.promise;
      const r = await Promise.race([this.#current, changed.then(() => null)]);
      if (r !== null && gen === this.#generation && !this.#replacing) return r;
      if (r !== null) await changed; // a rollback is under way: wait for its new root
    }
  }

  /** Kills the root for a rollback and waits (bounded) until it is gone. */
  async retire(waitMs: number): Promise<void> {
    this.#replacing = true;
    this.retired.add(this.#pid);
    try {
      Deno.kill(this.#pid, "SIGKILL");
    } catch {
      // already gone
    }
    const deadline = Date.now() + waitMs;
    while (alive(this.#pid) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** A resumed copy is the root now. */
  replace(pid: number): void {
    this.#pid = pid;
    this.#generation++;
    this.#replacing = false;
    this.#current = endOf(pid, this.#events);
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }
}

/** Running (a zombie is not): /proc/PID/stat's state field. */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** A resumed root's status: its exit event, or its connection closing once it is gone. */
function endOf(pid: number, events: EventServer): Promise<number> {
  return new Promise((resolve) => {
    const off = events.on(async (e: MonitorEvent) => {
      if (e.pid !== pid) return;
      if (e.ev === "exit") {
        off();
        resolve(e.status);
      } else if (e.ev === "gone") {
        // An execve closes the connection too; the new image says hello with the same pid.
        for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
        if (alive(pid)) return;
        off();
        resolve(UNKNOWN_SIGNAL_STATUS);
      }
    });
  });
}
