/**
 * Everyday programs under a8 with 2 variants: coreutils, a shell pipeline and python3. Each
 * runs natively and under a8 in its own fresh directory; the leader must print what the
 * native run printed and the follower what the leader printed, with the same exit status.
 */
import {
  a8Missing,
  assert,
  cleanup,
  describe,
  ms,
  REPO_ROOT,
  runA8,
  runNative,
  text,
} from "./harness.ts";

/** A command line; `@` is replaced by the run's own work directory. */
const TOOLS: { name: string; argv: string[] }[] = [
  { name: "ls", argv: ["/bin/ls", "-1a", "@"] },
  { name: "sort", argv: ["/usr/bin/sort", "@/in.txt"] },
  { name: "cp and cat", argv: ["/bin/sh", "-c", "cp @/in.txt @/copy.txt && cat @/copy.txt"] },
  {
    name: "mv and stat",
    argv: ["/bin/sh", "-c", "mv @/in.txt @/moved && stat -c '%s %F' @/moved"],
  },
  {
    name: "mkdir, find, rm",
    argv: ["/bin/sh", "-c", "mkdir -p @/d/e && find @/d | sort && rm -r @/d"],
  },
  { name: "head and wc", argv: ["/bin/sh", "-c", "head -2 @/in.txt; wc -l < @/in.txt"] },
  { name: "pipeline", argv: ["/bin/sh", "-c", "printf 'b\\na\\n' | sort | tr a-z A-Z"] },
  { name: "env", argv: ["/usr/bin/env", "-i", "A8_TOOL=1", "/usr/bin/env"] },
  {
    name: "sleep and date",
    argv: ["/bin/sh", "-c", "sleep 0.1 && date +%Y >/dev/null && echo ok"],
  },
  { name: "python3", argv: ["/usr/bin/python3", `${REPO_ROOT}/tests/e2e/tools/python_io.py`, "@"] },
];

async function workDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "a8-e2e-tool-" });
  await Deno.writeTextFile(`${dir}/in.txt`, "pear\napple\nfig\n");
  return dir;
}

const withDir = (argv: string[], dir: string) => argv.map((a) => a.replaceAll("@", dir));

for (const tool of TOOLS) {
  Deno.test(`tool ${tool.name}: native vs a8 with 2 variants`, async () => {
    const missing = await a8Missing();
    if (missing) throw new Error(`cannot run a8: ${missing}`);
    const nativeDir = await workDir();
    const a8Dir = await workDir();
    const runDir = await Deno.makeTempDir({ prefix: "a8-e2e-tool-run-" });
    let ok = false;
    try {
      const native = await runNative(withDir(tool.argv, nativeDir), { timeoutMs: ms(20000) });
      const run = await runA8({
        variants: 2,
        program: withDir(tool.argv, a8Dir),
        dir: runDir,
        timeoutMs: ms(30000),
      });
      const all = describe(run.variants);
      // Paths name each run's own directory: compare with them folded to one name.
      const fold = (s: string, dir: string) => s.replaceAll(dir, "@");
      for (const v of run.variants) {
        assert.equal(v.code, native.code, `variant ${v.id} exited ${v.code}\n${all}`);
      }
      assert.equal(
        fold(text(run.leader.stdout), a8Dir),
        fold(text(native.stdout), nativeDir),
        `the leader's output differs from native\n${all}`,
      );
      assert.equal(text(run.followers[0].stdout), text(run.leader.stdout), all);
      ok = true;
    } finally {
      await cleanup(nativeDir);
      await cleanup(a8Dir);
      if (ok) await cleanup(runDir);
      else console.log(`(a8 run files kept in ${runDir})`);
    }
  });
}
