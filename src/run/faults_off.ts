/**
 * The variant's word to its monitors' fault injectors (preload/ckpt/faults.c): the file
 * A8_RUN_DIR/faults-off, one byte the monitors map, set once the agent hears of a stop (or the
 * root process's monitor sees a stop signal).
 * A follower's monitor learns of the stop signal only when its stream reaches it, up to a batch
 * of calls behind the leader; a fault in between came after the leader's shutdown had changed
 * files, and the rollback could not restore the tree. Written in place, never truncated: a
 * mapped file cut short would fault the readers.
 */

const NAME = "faults-off";

/** Made with the run directory, before the program starts (its monitors map it at start). */
export async function createFaultsOff(runDir: string): Promise<void> {
  await Deno.writeFile(`${runDir}/${NAME}`, new Uint8Array(1), { mode: 0o600 });
}

/** No more injected faults in this variant's processes. Quietly nothing if it is gone. */
export function faultsOff(runDir: string): void {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(`${runDir}/${NAME}`, { write: true });
  } catch {
    return;
  }
  try {
    f.writeSync(new Uint8Array([1]));
  } finally {
    f.close();
  }
}
