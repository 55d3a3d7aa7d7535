import assert from "node:assert/strict";
import { checkProgram, hostMachine } from "./program_check.ts";

async function withDir(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function gcc(dir: string, flags: string[]): Promise<string> {
  await Deno.writeTextFile(`${dir}/p.c`, "int main(void) { return 0; }\n");
  const out = `${dir}/p${flags.join("")}`;
  // No gcc is a broken test machine (setup.sh installs build-essential), not a skip.
  const r = await new Deno.Command("gcc", { args: [...flags, "-o", out, `${dir}/p.c`] }).output();
  assert.equal(r.code, 0, `gcc ${flags.join(" ")} failed: ${new TextDecoder().decode(r.stderr)}`);
  return out;
}

Deno.test("a dynamically linked program is accepted, by path and by PATH lookup", async () => {
  const byPath = await checkProgram("/bin/ls");
  assert.equal(byPath.ok, true, byPath.reason);
  const byName = await checkProgram("ls");
  assert.equal(byName.ok, true, byName.reason);
  assert.match(byName.path ?? "", /\/ls$/);
});

Deno.test("missing, non-executable and non-ELF files are refused", async () => {
  assert.match((await checkProgram("/nonexistent/x")).reason, /no such file/);
  assert.match((await checkProgram("no-such-program-a8")).reason, /not found on PATH/);
  assert.match((await checkProgram("/tmp")).reason, /not a regular file/);
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/data`, "hello");
    assert.match((await checkProgram(`${dir}/data`)).reason, /not executable/);
    await Deno.chmod(`${dir}/data`, 0o755);
    assert.match((await checkProgram(`${dir}/data`)).reason, /not an ELF executable/);
  });
});

Deno.test("a statically linked program is refused", async () => {
  await withDir(async (dir) => {
    const r = await checkProgram(await gcc(dir, ["-static"]));
    assert.equal(r.ok, false);
    assert.match(r.reason, /statically linked: LD_PRELOAD/);
    const pie = await checkProgram(await gcc(dir, ["-static-pie"]));
    assert.match(pie.reason, /statically linked/);
    assert.equal((await checkProgram(await gcc(dir, []))).ok, true);
  });
});

Deno.test("setuid programs and other ISAs are refused", async () => {
  await withDir(async (dir) => {
    const p = await gcc(dir, []);
    await Deno.chmod(p, 0o4755);
    assert.match((await checkProgram(p)).reason, /setuid\/setgid: the loader ignores LD_PRELOAD/);
    await Deno.chmod(p, 0o755);
    const other = hostMachine() === 62 ? 183 : 62;
    assert.match(
      (await checkProgram(p, { machine: other })).reason,
      /this host is (aarch64|x86_64)/,
    );
  });
});

Deno.test("scripts are judged by their interpreter", async () => {
  await withDir(async (dir) => {
    const script = async (name: string, text: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      await Deno.chmod(`${dir}/${name}`, 0o755);
      return await checkProgram(`${dir}/${name}`);
    };
    assert.equal((await script("a.sh", "#!/bin/sh\necho hi\n")).ok, true);
    assert.equal((await script("b.sh", "#!/usr/bin/env -S sh -e\necho hi\n")).ok, true);
    const st = await gcc(dir, ["-static"]);
    const bad = await script("c.sh", `#!${st}\n`);
    assert.equal(bad.ok, false);
    assert.match(bad.reason, /#! interpreter is refused: .*statically linked/);
    assert.match((await script("d.sh", "#!/nonexistent/sh\n")).reason, /no such file/);
    assert.match((await script("e.sh", `#!${dir}/e.sh\n`)).reason, /too many nested/);
  });
});
