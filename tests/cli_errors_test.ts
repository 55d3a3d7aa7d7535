/**
 * `a8 run` refusing to start, end to end: real `./a8` processes, real configs, real sockets.
 * Each case checks the exit status and that the message tells the user what to fix. The peer
 * cases need a host that can run a8 (built monitor, working interposer); elsewhere the
 * up-front host refusal is what is checked instead.
 */
import assert from "node:assert/strict";
import { EXIT } from "../src/cli/exit_codes.ts";
import { checkHost } from "../src/cli/host_checks.ts";
import { freePort } from "../src/peer/test_helpers.ts";

const root = new URL("..", import.meta.url).pathname;
const hostOk = (await checkHost({ quick: true })).canRun;

/** These tests need a host that can run a8: say so loudly instead of skipping. */
function requireHost() {
  if (!hostOk) throw new Error("this host cannot run a8 (run `make build` first; see `a8 doctor`)");
}

interface Opts {
  key?: string;
  policy?: string;
  connectMs?: number;
  ports: number[];
}

function toml(o: Opts): string {
  const variants = o.ports.map((port, i) =>
    `[[variants]]\nid = ${i + 1}\naddress = "127.0.0.1"\nport = ${port}\n`
  );
  return [
    "leader_id = 1",
    `key = "${o.key ?? "test-key-0123456789abcdef"}"`,
    `policy = "${o.policy ?? "outputs"}"`,
    ...variants,
    "[timeouts]",
    `connect_ms = ${o.connectMs ?? 3000}`,
    "heartbeat_ms = 100",
    "peer_silence_ms = 1000",
    "sync_ms = 1000",
    "shutdown_ms = 1000",
  ].join("\n") + "\n";
}

async function writeConfig(dir: string, name: string, o: Opts): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, toml(o));
  return path;
}

async function a8(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(`${root}/a8`, {
    args,
    env,
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

const run = (id: number, config: string, extra: string[] = [], env: Record<string, string> = {}) =>
  a8(["run", "--id", String(id), ...extra, config, "--", "/bin/true"], env);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "a8-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a config error exits with EXIT.config and names file, line and field", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/bad.toml`;
    await Deno.writeTextFile(path, toml({ ports: [freePort(), freePort()] }) + 'policy2 = "x"\n');
    const r = await run(1, path);
    assert.equal(r.code, EXIT.config, r.stderr);
    assert.match(r.stderr, new RegExp(`${path}:20: timeouts.policy2: unknown key`));
  });
});

Deno.test("a missing config file exits with EXIT.config", async () => {
  const r = await run(1, "/no/such/a8.toml");
  assert.equal(r.code, EXIT.config);
  assert.match(r.stderr, /\/no\/such\/a8.toml:0: .*no such file/);
});

Deno.test("an id that is not in the config is a usage error", async () => {
  await withDir(async (dir) => {
    const path = await writeConfig(dir, "a.toml", { ports: [freePort(), freePort()] });
    const r = await run(7, path);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /--id 7 is not a variant of .* \(ids: 1, 2\)/);
  });
});

Deno.test({
  name: "a host that cannot run a8 is refused up front with the reason",
  fn: async () => {
    await withDir(async (dir) => {
      const path = await writeConfig(dir, "a.toml", { ports: [freePort(), freePort()] });
      // An a8 tree without a build: the monitor library is missing on this "host".
      const r = await run(1, path, ["--report-dir", `${dir}/report`], { A8_HOME: dir });
      assert.equal(r.code, EXIT.unsupported, r.stderr);
      assert.match(r.stderr, /this host cannot run a8: .*monitor library/);
      const summary = JSON.parse(await Deno.readTextFile(`${dir}/report/summary.json`));
      assert.equal(summary.outcome, "refused");
    });
  },
});

Deno.test({
  name: "a missing peer is named with its address after connect_ms",
  fn: async () => {
    requireHost();
    await withDir(async (dir) => {
      const ports = [freePort(), freePort()];
      const path = await writeConfig(dir, "a.toml", { ports, connectMs: 500 });
      const r = await run(1, path, ["--report-dir", `${dir}/report`]);
      assert.equal(r.code, EXIT.peer, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`peer 2 at 127.0.0.1:${ports[1]} did not connect within 500 ms`),
      );
      const summary = JSON.parse(await Deno.readTextFile(`${dir}/report/summary.json`));
      assert.equal(summary.outcome, "peer-failure");
    });
  },
});

Deno.test({
  name: "a wrong key is refused by both agents",
  fn: async () => {
    requireHost();
    await withDir(async (dir) => {
      const ports = [freePort(), freePort()];
      const a = await writeConfig(dir, "a.toml", { ports });
      const b = await writeConfig(dir, "b.toml", { ports, key: "another-key-0123456789" });
      const [r1, r2] = await Promise.all([run(1, a), run(2, b)]);
      assert.equal(r1.code, EXIT.peer, r1.stderr);
      assert.equal(r2.code, EXIT.peer, r2.stderr);
      assert.match(r1.stderr, /authentication failed with peer 2 \(wrong key\?\)/);
      assert.match(r2.stderr, /authentication failed with peer 1 \(wrong key\?\)/);
    });
  },
});

Deno.test({
  name: "a different config is refused by both agents, naming the field",
  fn: async () => {
    requireHost();
    await withDir(async (dir) => {
      const ports = [freePort(), freePort()];
      const a = await writeConfig(dir, "a.toml", { ports });
      const b = await writeConfig(dir, "b.toml", { ports, policy: "lockstep" });
      const [r1, r2] = await Promise.all([run(1, a), run(2, b)]);
      assert.equal(r1.code, EXIT.peer, r1.stderr);
      assert.equal(r2.code, EXIT.peer, r2.stderr);
      assert.match(r1.stderr, /config differs from peer 2 in: policy/);
      assert.match(r2.stderr, /config differs from peer 1 in: policy/);
    });
  },
});
