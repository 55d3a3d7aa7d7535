/**
 * The variant's word to its monitors (preload/ckpt/faults.c): the file A8_RUN_DIR/faults-off,
 * one byte the monitors map: 0 while the run goes on, 1 once the root process's monitor sees a
 * stop signal, `RUN_ENDING` once the agent hears of a stop (it then kills the program after
 * `shutdown_ms`). Either ends the injected faults; the agent's also ends the asking for new
 * checkpoints (a criu round of a tree whose processes are exiting could not complete).
 * A follower's monitor learns of the stop signal only when its stream reaches it, up to a batch
 * of calls behind the leader; a fault in between came after the leader's shutdown had changed
 * files, and the rollback could not restore the tree. Written in place, never truncated: a
 * mapped file cut short would fault the readers.
 */

const NAME = "faults-off";
/** ckpt.h A8_RUN_ENDING. */
export const RUN_ENDING = 2;

/** Made with the run directory, before the program starts (its monitors map it at start). */
export async function createFaultsOff(runDir: string): Promise<void> {
  await Deno.writeFile(`${runDir}/${NAME}`, new Uint8Array(1), { mode: 0o600, createNew: true });
}

/**
 * No more injected faults, nor new checkpoints, in this variant's processes. Quietly nothing if
 * it is gone.
 */
export function faultsOff(runDir: string): void {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(`${runDir}/${NAME}`, { write: true });
  } catch {
    return;
  }
  try {
    f.writeSync(new Uint8Array([RUN_ENDING]));
  } finally {
    f.close();
  }
}
