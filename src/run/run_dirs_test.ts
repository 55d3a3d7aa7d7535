import assert from "node:assert/strict";
import { findProgramDir, makeRunDirs, openToProgram } from "./run_dirs.ts";

const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o7777;

Deno.test("makeRunDirs: the agent's is root's and passable, the program's sticky and open", async () => {
  const id = `test-${crypto.randomUUID()}`;
  const dirs = await makeRunDirs(id, 3);
  try {
    assert.equal(dirs.agent, `/tmp/a8-${id}-3`);
    assert.equal(await mode(dirs.agent), 0o711);
    assert.equal(dirs.program, await findProgramDir(dirs.agent));
    // Not a name another user could guess: they cannot list the agent's directory.
    assert.match(dirs.program, new RegExp(`^${dirs.agent}/program-[0-9a-f]{16}$`));
    assert.equal(await mode(dirs.program), 0o1733);
    assert.equal(await mode(`${dirs.program}/stats`), 0o1733);
    assert.equal(dirs.keepers, `${dirs.agent}/keepers`);
    assert.equal(await mode(dirs.keepers), 0o1733);
    assert.equal(dirs.socket, `${dirs.agent}/agent.sock`);
    const l = Deno.listen({ transport: "unix", path: dirs.socket });
    await openToProgram(dirs.socket);
    assert.equal(await mode(dirs.socket) & 0o777, 0o666);
    l.close();
    await assert.rejects(() => makeRunDirs(id, 3), Deno.errors.AlreadyExists);
    const other = await makeRunDirs(`${id}-b`, 3);
    await Deno.remove(other.agent, { recursive: true });
    assert.notEqual(other.program.slice(other.agent.length), dirs.program.slice(dirs.agent.length));
  } finally {
    await Deno.remove(dirs.agent, { recursive: true });
  }
});
