/** The agent's faults-off word: one byte, made zero, set in place (never cut short). */
import assert from "node:assert/strict";
import { createFaultsOff, faultsOff, RUN_ENDING } from "./faults_off.ts";

Deno.test("faults-off is one zero byte, set to RUN_ENDING in place; a missing one is ignored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a8-faults-off-" });
  try {
    await createFaultsOff(dir);
    assert.deepEqual(await Deno.readFile(`${dir}/faults-off`), new Uint8Array([0]));
    const before = (await Deno.stat(`${dir}/faults-off`)).ino;
    faultsOff(dir);
    assert.deepEqual(await Deno.readFile(`${dir}/faults-off`), new Uint8Array([RUN_ENDING]));
    assert.equal((await Deno.stat(`${dir}/faults-off`)).ino, before, "replaced, not written");
    faultsOff(`${dir}/gone`); // no run directory any more: nothing to tell
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
