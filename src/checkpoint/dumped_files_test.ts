/**
 * The files a dumped tree had open: which ones CRIU checks, and how a file that changed size
 * since the dump is made as CRIU expects it and then put back byte for byte. A real process
 * holds the files open, as a variant would.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../peer/test_helpers.ts";
import { fitFiles, type NotedFile, noteOpenFiles } from "./dumped_files.ts";

const log = memoryLogger(1).logger;

async function withHolder(
  body: (pid: number, dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "a8-dumped-files-" });
  Deno.writeTextFileSync(`${dir}/data`, "0123456789");
  Deno.writeTextFileSync(`${dir}/ro`, "read only");
  // fd 3: read-write (checked), fd 4: write-only appending (a log: not checked), fd 5: a
  // character device, fd 6: read-only (changed only from outside: not the agent's to cut).
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec 3<>"$D/data" 4>>"$D/log" 5</dev/null 6<"$D/ro"; echo ready; exec sleep 30'],
    env: { D: dir },
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    await reader.read(); // "ready": the fds are open
    reader.releaseLock();
    await body(child.pid, dir);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stdin.close().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the files noted: regular files the tree may write, not an appending log", async () => {
  await withHolder((pid, dir) => {
    const noted = noteOpenFiles([pid, pid]);
    assert.deepEqual(noted.map((f) => f.path), [`${dir}/data`]);
    assert.equal(noted[0].size, 10);
    assert.equal(noted[0].ino, Deno.statSync(`${dir}/data`).ino);
  });
});

Deno.test("a file grown since the dump has its dump-time size during the restore, then all its bytes", async () => {
  await withHolder((pid, dir) => {
    const [f] = noteOpenFiles([pid]);
    Deno.writeTextFileSync(`${dir}/data`, "abcdef", { append: true });
    const { unfit, fitted } = fitFiles([f], log);
    assert.deepEqual(fitted, [`${dir}/data`]);
    assert.equal(Deno.readTextFileSync(`${dir}/data`), "0123456789");
    unfit();
    assert.equal(Deno.readTextFileSync(`${dir}/data`), "0123456789abcdef");
  });
});

Deno.test("a file cut short since the dump is padded during the restore, then cut again", async () => {
  await withHolder((pid, dir) => {
    const [f] = noteOpenFiles([pid]);
    Deno.truncateSync(`${dir}/data`, 4);
    const { unfit } = fitFiles([f], log);
    assert.equal(Deno.statSync(`${dir}/data`).size, 10);
    unfit();
    assert.equal(Deno.readTextFileSync(`${dir}/data`), "0123");
  });
});

Deno.test("a file unchanged, gone, or replaced by another is left alone", async () => {
  await withHolder((pid, dir) => {
    const [f] = noteOpenFiles([pid]);
    assert.deepEqual(fitFiles([f], log).fitted, []);
    const gone: NotedFile = { ...f, path: `${dir}/nothing` };
    assert.deepEqual(fitFiles([gone], log).fitted, []);
    Deno.writeTextFileSync(`${dir}/other`, "x");
    Deno.renameSync(`${dir}/other`, `${dir}/data`); // a new inode at the path
    assert.deepEqual(fitFiles([f], log).fitted, []);
    assert.equal(Deno.readTextFileSync(`${dir}/data`), "x");
  });
});
