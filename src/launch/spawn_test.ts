import assert from "node:assert/strict";
import {
  monitorEnv,
  monitorLibrary,
  type MonitorSettings,
  probability,
  SpawnError,
  spawnProgram,
} from "./spawn.ts";

const settings: MonitorSettings = {
  id: 2,
  leader: false,
  followers: 2,
  runId: "ab".repeat(16),
  key: "cd".repeat(16),
  agentSock: "/tmp/a8-x-2/agent.sock",
  agentToken: "00ff",
  runDir: "/tmp/a8-x-2",
  keepDir: "/tmp/a8-x-2/keepers",
  leaderData: "10.0.0.1:4000",
  dataAddr: "10.0.0.2",
  policy: "lockstep",
  interposer: "seccomp",
  batchBytes: 65536,
  spinReads: 0,
  syncMs: 5000,
  logLevel: "warn",
  localPaths: ["/usr/lib", "/lib"],
  checkpoint: { engine: "fork", everyCalls: 1000, everyMs: 200 },
  faults: { divergenceProbability: 0.01, seed: 42 },
};

Deno.test("the monitor library path is absolute and per ISA", () => {
  const lib = monitorLibrary("aarch64");
  assert.ok(lib.startsWith("/"));
  assert.ok(lib.endsWith("/build/aarch64/liba8.so"));
  assert.ok(!lib.includes("/src/"));
});

Deno.test("a follower's environment follows the ABI table", () => {
  assert.deepEqual(monitorEnv(settings, "/x/liba8.so"), {
    LD_PRELOAD: "/x/liba8.so",
    A8_ID: "2",
    A8_LEADER: "0",
    A8_FOLLOWERS: "1",
    A8_RUN_ID: "ab".repeat(16),
    A8_KEY: "cd".repeat(16),
    A8_AGENT_SOCK: "/tmp/a8-x-2/agent.sock",
    A8_AGENT_TOKEN: "00ff",
    A8_RUN_DIR: "/tmp/a8-x-2",
    A8_KEEP_DIR: "/tmp/a8-x-2/keepers",
    A8_LEADER_DATA: "10.0.0.1:4000",
    A8_POLICY: "lockstep",
    A8_INTERPOSER: "seccomp",
    A8_BATCH: "65536",
    A8_SPIN: "0",
    A8_TIMEOUT_MS: "5000",
    A8_LOG: "warn",
    A8_LOCAL_PATHS: "/usr/lib:/lib",
    A8_CKPT: "fork",
    A8_CKPT_CALLS: "1000",
    A8_CKPT_MS: "200",
    A8_FAULT_P: "0.01",
    A8_FAULT_SEED: "42",
  });
});

Deno.test("the fault probability is text strtod reads back exactly", () => {
  assert.equal(probability(0), "0");
  assert.equal(probability(-0), "0");
  assert.equal(probability(1), "1");
  assert.equal(probability(0.25), "0.25");
  assert.equal(probability(1e-7), "1e-7");
  for (const p of [0.1, 1 / 3, 1e-7, 5e-324]) {
    // strtod's grammar: optional sign, digits with one ".", optional exponent; no NaN or inf.
    assert.match(probability(p), /^[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$/);
    assert.equal(Number(probability(p)), p);
  }
  for (const bad of [NaN, Infinity, -0.5, 1.5]) assert.throws(() => probability(bad), RangeError);
});

Deno.test("a leader gets its follower count and data address, not A8_LEADER_DATA", () => {
  const env = monitorEnv({ ...settings, id: 1, leader: true }, "/x/liba8.so");
  assert.equal(env.A8_LEADER, "1");
  assert.equal(env.A8_FOLLOWERS, "2");
  assert.equal(env.A8_DATA_ADDR, "10.0.0.2");
  assert.equal(env.A8_LEADER_DATA, undefined);
});

Deno.test("native runs carry no A8_ variables and report the exit status", async () => {
  const h = spawnProgram({
    program: "/bin/sh",
    args: ["-c", "env; exit 3"],
    stdout: "piped",
  });
  const out = await h.child.output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 3);
  assert.ok(!/^(A8_|LD_PRELOAD=)/m.test(text));
});

Deno.test("a monitored spawn with the library missing says how to build it", () => {
  assert.throws(
    () =>
      spawnProgram({
        program: "/bin/true",
        args: [],
        monitor: settings,
        library: "/nope/liba8.so",
      }),
    (e) =>
      e instanceof SpawnError && /\/nope\/liba8.so is missing: run `make build`/.test(e.message),
  );
});

Deno.test("a program that does not exist is a SpawnError", () => {
  assert.throws(
    () => spawnProgram({ program: "/no/such/program", args: [] }),
    (e) => e instanceof SpawnError && e.message.startsWith("cannot start /no/such/program"),
  );
});

Deno.test("killTree signals the reported pids and the root", async () => {
  // The root waits on a child; the child's pid stands in for one a monitor reported.
  const child = new Deno.Command("/bin/sleep", { args: ["30"] }).spawn();
  const h = spawnProgram({ program: "/bin/sleep", args: ["30"], pids: () => [child.pid] });
  h.killTree("SIGKILL");
  const [a, b] = await Promise.all([h.status, child.status]);
  assert.equal(a.signal, "SIGKILL");
  assert.equal(b.signal, "SIGKILL");
});
