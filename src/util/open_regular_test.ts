import assert from "node:assert/strict";
import { NotRegularFile, openRegularSync, readRegularFile } from "./open_regular.ts";

Deno.test("openRegularSync: a plain file opens; a symbolic or hard link, a FIFO are refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "a8-open-regular-" });
  try {
    await Deno.writeTextFile(`${dir}/victim`, "not yours");
    await Deno.writeTextFile(`${dir}/own`, "mine");
    await Deno.symlink(`${dir}/victim`, `${dir}/sym`);
    await Deno.link(`${dir}/victim`, `${dir}/hard`);
    assert.equal(new TextDecoder().decode(readRegularFile(`${dir}/own`)), "mine");
    assert.throws(() => openRegularSync(`${dir}/sym`, { read: true, write: true }), NotRegularFile);
    assert.throws(() => openRegularSync(`${dir}/hard`, { read: true }), NotRegularFile);
    assert.throws(() => openRegularSync(dir, { read: true }), NotRegularFile);
    assert.throws(() => openRegularSync(`${dir}/none`, { read: true }), NotRegularFile);
    const fifo = new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).outputSync();
    assert.ok(fifo.success);
    assert.throws(() => openRegularSync(`${dir}/fifo`, { read: true }), NotRegularFile);
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "not yours");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
