import assert from "node:assert/strict";
import { makeRunDirs, openToProgram, programDirOf } from "./run_dirs.ts";

Deno.test("makeRunDirs: the agent's is passable only, the program's writable, unlisted", async () => {
  const id = `test-${crypto.randomUUID()}`;
  const dirs = await makeRunDirs(id, 3);
  try {
    assert.equal(dirs.agent, `/tmp/a8-${id}-3`);
    assert.equal((await Deno.stat(dirs.agent)).mode! & 0o7777, 0o711);
    assert.match(dirs.program, new RegExp(`^${dirs.agent}/p-[0-9a-f]{24}$`));
    assert.equal((await Deno.stat(dirs.program)).mode! & 0o7777, 0o733);
    assert.equal((await Deno.stat(`${dirs.program}/stats`)).mode! & 0o7777, 0o733);
    assert.equal(programDirOf(dirs.agent), dirs.program);
    assert.equal(programDirOf(`${dirs.agent}-none`), null);
    const sock = `${dirs.program}/agent.sock`;
    const l = Deno.listen({ transport: "unix", path: sock });
    await openToProgram(sock);
    assert.equal((await Deno.stat(sock)).mode! & 0o777, 0o666);
    l.close();
    // Another run's program directory has another name: it cannot be guessed from the run id.
    const again = await makeRunDirs(`${id}-b`, 3);
    assert.notEqual(again.program.slice(-24), dirs.program.slice(-24));
    await Deno.remove(again.agent, { recursive: true });
    await assert.rejects(() => makeRunDirs(id, 3), Deno.errors.AlreadyExists);
  } finally {
    await Deno.remove(dirs.agent, { recursive: true });
  }
});
