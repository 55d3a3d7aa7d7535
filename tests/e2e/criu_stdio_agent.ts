/**
 * A stand-in agent for criu_driver_test.ts: `deno run -A criu_stdio_agent.ts DIR`. Like a8's
 * launcher it starts a variant that inherits its stdio (here: a shell loop, a session leader,
 * printing "out <n>" to stdout), then dumps it, lets it run on, kills it and restores it. The
 * test runs this with its stdout on a pipe, or on a terminal (under script(1)), and checks that
 * the restored variant writes on to the same pipe or terminal. Its findings go to
 * DIR/report.json (stdout and stderr are the variant's).
 */
import { CriuDriver } from "../../src/checkpoint/criu_driver.ts";
import { createLogger } from "../../src/log.ts";

const dir = Deno.args[0];
const count = `${dir}/count`;
const stop = `${dir}/stop`;

async function counted(): Promise<number> {
  const s = await Deno.readTextFile(count).catch(() => "");
  return s.split("\n").filter(Boolean).length;
}

async function waitCount(n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await counted()) < n) {
    if (Date.now() > deadline) throw new Error(`the variant did not count to ${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const report: Record<string, unknown> = {};
const driver = await CriuDriver.open({
  runDir: dir,
  imagesDir: `${dir}/criu`,
  log: createLogger({ level: "warn" }),
});
let pid = 0;
try {
  const loop = `i=0; while [ ! -e ${stop} ]; do i=$((i+1)); echo "out $i"; echo $i >> ${count}; ` +
    "sleep 0.01; done; exit 42";
  const proc = new Deno.Command("setsid", {
    args: ["sh", "-c", loop],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  pid = proc.pid;
  await waitCount(10);
  report.dumpMs = (await driver.dump(pid, 1)).ms;
  const atDump = await counted();
  await waitCount(atDump + 10);
  await driver.killTree(pid);
  report.killed = (await proc.status).signal;
  const atKill = await counted();
  const restored = await driver.restore(1);
  report.restoreMs = restored.ms;
  const exit = driver.waitExit(restored.pid);
  // It runs on (its first write to stdout did not kill it) and counts 10 more, and 2 beyond:
  // on a terminal, script(1) may lose the last line it had not relayed yet when the variant
  // ends (the test once saw 9 of 10).
  await waitCount(atKill + 12);
  await Deno.writeTextFile(stop, "");
  report.end = await exit;
  pid = 0;
} catch (e) {
  report.error = (e as Error).message;
} finally {
  if (pid) await driver.killTree(pid).catch(() => {});
  driver.close();
  await Deno.writeTextFile(`${dir}/report.json`, JSON.stringify(report));
}
