/**
 * The variant's live root process. At first it is the program the agent spawned; after a
 * rollback it is a resumed checkpoint copy, a child of the agent that Deno did not spawn
 * (reaper.ts). The status of a root that a rollback killed on purpose is never reported.
 */
import type { ProgramHandle } from "../launch/spawn.ts";
import { shellStatus } from "../run/outcome.ts";
import { readStat } from "./proc_tree.ts";
import { endOf, shellStatusOf } from "./reaper.ts";

export class LiveRoot {
  #pid: number;
  #current: Promise<number>;
  #generation = 0;
  #replacing = false;
  #changed = Promise.withResolvers<void>();
  /** Roots a rollback ended: their late events are not news. */
  readonly retired = new Set<number>();
  /** Retired roots stopped but not killed yet, with their start times (pids are reused). */
  readonly #stopped: { pid: number; start: number }[] = [];

  constructor(handle: ProgramHandle) {
    this.#pid = handle.pid;
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

  /**
   * Ends the root for a rollback. It is stopped at once (SIGSTOP: like SIGKILL, it runs no
   * instruction of its own once the kernel next looks at it, microseconds, while the copy
   * needs longer than that to be told to resume) and killed once the new root serves
   * (`replace`) or the rollback is given up (`killRetired`): its exit, freeing its memory and
   * closing its files, then takes CPU after the rollback instead of from it (on 2 cores the
   * fork engine's rollback was ~1 ms shorter). `kill: false`: the caller kills it (the criu
   * engine's killTree, which must find its connections open to abort them).
   */
  retire(kill = true): void {
    this.#replacing = true;
    this.retired.add(this.#pid);
    if (!kill) return;
    const start = readStat(this.#pid)?.start;
    try {
      Deno.kill(this.#pid, "SIGSTOP");
      if (start !== undefined) this.#stopped.push({ pid: this.#pid, start });
    } catch {
      // already gone
    }
  }

  /** Kills the roots `retire` stopped, unless they are gone already (killed by a stop). */
  killRetired(): void {
    for (const { pid, start } of this.#stopped.splice(0)) {
      if (readStat(pid)?.start !== start) continue;
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /**
   * A resumed copy (or a restored tree, whose root has the old pid again: `status` says how
   * it ends then) is the root now.
   */
  replace(pid: number, status?: Promise<number>): void {
    this.killRetired();
    this.#pid = pid;
    this.#generation++;
    this.#replacing = false;
    this.retired.delete(pid);
    this.#current = status ?? endOf(pid).then(shellStatusOf);
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }
}
