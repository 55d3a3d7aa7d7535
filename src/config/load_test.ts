import assert from "node:assert/strict";
import { closest, DEFAULT_LOCAL_PATHS, loadConfig, parseConfig } from "./load.ts";
import { ConfigError } from "./types.ts";

const GOOD = `leader_id = 1
key = "0123456789abcdef-secret"
[[variants]]
id = 1
address = "127.0.0.1"
port = 7772
[[variants]]
id = 2
address = "127.0.0.1"
port = 7773
`;

/** Parses and returns the ConfigError, failing the test if there is none. */
function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, "cfg.toml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected a ConfigError");
}

function assertError(text: string, line: number, field: string, problem: RegExp) {
  const e = errorOf(text);
  assert.equal(e.field, field, e.message);
  assert.equal(e.line, line, e.message);
  assert.match(e.problem, problem, e.message);
  assert.ok(e.message.startsWith(`cfg.toml:${line}: ${field}: `), e.message);
}

Deno.test("a minimal config gets every default", () => {
  const c = parseConfig(GOOD, "/x/cfg.toml");
  assert.equal(c.path, "/x/cfg.toml");
  assert.equal(c.leaderId, 1);
  assert.equal(c.policy, "outputs");
  assert.equal(c.interposer, "auto");
  assert.equal(c.batchBytes, 65536);
  assert.equal(c.spinReads, 0);
  assert.deepEqual(c.localPaths, DEFAULT_LOCAL_PATHS);
  assert.deepEqual(c.timeouts, {
    connectMs: 10000,
    heartbeatMs: 500,
    peerSilenceMs: 5000,
    syncMs: 30000,
    shutdownMs: 10000,
  });
  assert.equal(c.log.level, "warn");
  assert.deepEqual(c.checkpoint, { engine: "none", everyCalls: 5000, everyMs: 200, retries: 1 });
  assert.deepEqual(c.faults, { divergenceProbability: 0, seed: 0 });
  assert.deepEqual(c.variants, [
    { id: 1, address: "127.0.0.1", port: 7772 },
    { id: 2, address: "127.0.0.1", port: 7773 },
  ]);
  assert.match(c.digest, /^[0-9a-f]{64}$/);
});

Deno.test("explicit values override the defaults", () => {
  const c = parseConfig(
    `${GOOD}[timeouts]
sync_ms = 100
[log]
level = "debug"
`,
    "cfg.toml",
  );
  assert.equal(c.timeouts.syncMs, 100);
  assert.equal(c.timeouts.connectMs, 10000);
  assert.equal(c.log.level, "debug");
  const d = parseConfig(
    `policy = "lockstep"\ninterposer = "seccomp"\nbatch_bytes = 4096\nlocal_paths = ["/opt/"]\n${GOOD}`,
    "cfg.toml",
  );
  assert.equal(d.policy, "lockstep");
  assert.equal(d.interposer, "seccomp");
  assert.equal(d.batchBytes, 4096);
  assert.deepEqual(d.localPaths, ["/opt/"]);
  assert.equal(parseConfig(`policy = "code"\n${GOOD}`, "cfg.toml").policy, "code");
});

Deno.test("[checkpoint] and [faults] take explicit values", () => {
  const c = parseConfig(
    `${GOOD}[checkpoint]
engine = "fork"
every_calls = 1
every_ms = 50
retries = 0
[faults]
divergence_probability = 0.01
seed = 7
`,
    "cfg.toml",
  );
  assert.deepEqual(c.checkpoint, { engine: "fork", everyCalls: 1, everyMs: 50, retries: 0 });
  assert.deepEqual(c.faults, { divergenceProbability: 0.01, seed: 7 });
  const edges = parseConfig(
    `${GOOD}[checkpoint]\nengine = "criu"\nretries = 10\n[faults]\ndivergence_probability = 1\n`,
    "cfg.toml",
  );
  assert.equal(edges.checkpoint.engine, "criu");
  assert.equal(edges.checkpoint.retries, 10);
  assert.equal(edges.checkpoint.everyCalls, 5000);
  assert.deepEqual(edges.faults, { divergenceProbability: 1, seed: 0 });
});

Deno.test("[checkpoint] and [faults] errors name the field", () => {
  assertError(
    `${GOOD}[checkpoint]\nengine = "forc"\n`,
    12,
    "checkpoint.engine",
    /must be one of none \| fork \| criu, got "forc" \(did you mean "fork"\?\)/,
  );
  assertError(`${GOOD}[checkpoint]\nengine = 1\n`, 12, "checkpoint.engine", /got 1$/);
  assertError(
    `${GOOD}[checkpoint]\nevery_calls = -5\n`,
    12,
    "checkpoint.every_calls",
    /must be an integer >= 1, got -5/,
  );
  assertError(`${GOOD}[checkpoint]\nevery_ms = 0\n`, 12, "checkpoint.every_ms", />= 1, got 0/);
  assertError(`${GOOD}[checkpoint]\nevery_ms = 2.5\n`, 12, "checkpoint.every_ms", /got 2\.5/);
  assertError(`${GOOD}[checkpoint]\nretries = 11\n`, 12, "checkpoint.retries", /0\.\.10, got 11/);
  assertError(`${GOOD}[checkpoint]\nretries = -1\n`, 12, "checkpoint.retries", /0\.\.10/);
  for (const p of ["1.5", "-0.1", "nan", "inf", '"0.1"']) {
    assertError(
      `${GOOD}[faults]\ndivergence_probability = ${p}\n`,
      12,
      "faults.divergence_probability",
      /must be a number 0\.\.1, got /,
    );
  }
  assertError(`${GOOD}[faults]\nseed = -1\n`, 12, "faults.seed", /integer >= 0, got -1/);
  assertError(`${GOOD}[faults]\nseed = 0.5\n`, 12, "faults.seed", /integer >= 0/);
  assertError(`checkpoint = "fork"\n${GOOD}`, 1, "checkpoint", /must be a table/);
});

Deno.test("TOML syntax errors carry the parser's line", () => {
  assertError(`leader_id = 1\nkey = "abc\n`, 2, "(syntax)", /invalid TOML/);
  assertError(`${GOOD}[[variants]\n`, 11, "(syntax)", /invalid TOML/);
});

Deno.test("type and range errors point at the key's line", () => {
  assertError(
    GOOD.replace("port = 7773", 'port = "x"'),
    10,
    "variants[1].port",
    /1\.\.65535, got "x"/,
  );
  assertError(GOOD.replace("port = 7772", "port = 70000"), 6, "variants[0].port", /got 70000/);
  assertError(
    GOOD.replace("id = 2", "id = 0"),
    8,
    "variants[1].id",
    /integer 1\.\.2147483647, got 0/,
  );
  assertError(GOOD.replace("leader_id = 1", "leader_id = 1.5"), 1, "leader_id", /integer/);
  assertError(`batch_bytes = 100\n${GOOD}`, 1, "batch_bytes", /4096\.\.16777216, got 100/);
  assertError(`spin_reads = -1\n${GOOD}`, 1, "spin_reads", /0\.\.1000000, got -1/);
  assertError(`${GOOD}[timeouts]\nsync_ms = -1\n`, 12, "timeouts.sync_ms", /integer 1\.\./);
  assertError(`${GOOD}[log]\nlevel = "verbose"\n`, 12, "log.level", /one of error/);
  assertError(`policy = "lockstp"\n${GOOD}`, 1, "policy", /did you mean "lockstep"/);
  assertError(
    `policy = "codes"\n${GOOD}`,
    1,
    "policy",
    /lockstep \| outputs \| code, got "codes" \(did you mean "code"\?\)/,
  );
  assertError(`interposer = 3\n${GOOD}`, 1, "interposer", /got 3/);
  assertError(`local_paths = ["lib/"]\n${GOOD}`, 1, "local_paths[0]", /absolute path/);
  assertError(`local_paths = [\n  "/a/",\n  "b",\n]\n${GOOD}`, 1, "local_paths[1]", /absolute/);
  assertError(`timeouts = 5\n${GOOD}`, 1, "timeouts", /must be a table/);
});

Deno.test("unknown keys are named, with a suggestion when one is close", () => {
  assertError(`leader = 1\n${GOOD}`, 1, "leader", /unknown key \(did you mean "leader_id"\?\)/);
  assertError(GOOD.replace("port = 7773", "prot = 7773"), 10, "variants[1].prot", /"port"/);
  assertError(`${GOOD}[timeouts]\nsync = 5\n`, 12, "timeouts.sync", /did you mean "sync_ms"/);
  assertError(`zzzzzzzzz = 1\n${GOOD}`, 1, "zzzzzzzzz", /unknown key \(known: leader_id/);
  assertError(
    `${GOOD}[faults]\ndivergence_probabilty = 0.1\n`,
    12,
    "faults.divergence_probabilty",
    /unknown key \(did you mean "divergence_probability"\?\)/,
  );
  assertError(
    `${GOOD}[faults]\nqqqqqqq = 1\n`,
    12,
    "faults.qqqqqqq",
    /known: divergence_probability, seed/,
  );
  assertError(
    `${GOOD}[checkpoint]\nevery_call = 5\n`,
    12,
    "checkpoint.every_call",
    /"every_calls"/,
  );
  assertError(
    `${GOOD}[chekpoint]\nengine = "fork"\n`,
    11,
    "chekpoint",
    /did you mean "checkpoint"/,
  );
});

Deno.test("missing required fields point at the enclosing table's header", () => {
  assertError(
    GOOD.replace('address = "127.0.0.1"\nport = 7773\n', ""),
    7,
    "variants[1].address",
    /missing/,
  );
  assertError(GOOD.replace("port = 7773\n", ""), 7, "variants[1].port", /missing/);
  assertError(GOOD.replace(/key = .*\n/, ""), 0, "key", /missing/);
  assertError(GOOD.replace("leader_id = 1\n", ""), 0, "leader_id", /missing/);
});

Deno.test("cross-field rules", () => {
  const one = GOOD.slice(0, GOOD.lastIndexOf("[[variants]]"));
  assertError(one, 3, "variants", /at least 2 variants/);
  assertError(
    GOOD.replace("id = 2", "id = 1"),
    8,
    "variants[1].id",
    /already used by variants\[0\]/,
  );
  assertError(GOOD.replace("7773", "7772"), 10, "variants[1].port", /127\.0\.0\.1:7772 is already/);
  assertError(GOOD.replace("leader_id = 1", "leader_id = 3"), 1, "leader_id", /\(1, 2\), got 3/);
  assertError(GOOD.replace(/key = .*/, 'key = "short"'), 2, "key", /at least 16 characters, got 5/);
  assertError(`${GOOD}[timeouts]\nheartbeat_ms = 6000\n`, 12, "timeouts.heartbeat_ms", /less than/);
});

Deno.test("addresses must be IPv4 literals", () => {
  for (const bad of ["localhost", "1.2.3", "1.2.3.256", "01.2.3.4", "::1", " 1.2.3.4"]) {
    assertError(GOOD.replace('"127.0.0.1"', JSON.stringify(bad)), 5, "variants[0].address", /IPv4/);
  }
  const ok = parseConfig(GOOD.replace('"127.0.0.1"', '"10.0.0.255"'), "cfg.toml");
  assert.equal(ok.variants[0].address, "10.0.0.255");
});

Deno.test("a second [[variants]] table of the same shape is located by its index", () => {
  const three = `${GOOD}[[variants]]\nid = 3\naddress = "10.0.0.3"\nport = "p"\n`;
  assertError(three, 14, "variants[2].port", /got "p"/);
});

Deno.test("the digest ignores layout and key order, and the path", () => {
  const a = parseConfig(GOOD, "/a.toml");
  const reordered = `# comment
key   =   "0123456789abcdef-secret"
[[variants]]
port = 7773
address = "127.0.0.1"
id = 2

[[variants]]
address = "127.0.0.1"
id = 1
port = 7772
`;
  const b = parseConfig(`leader_id = 1\n${reordered}`, "/b.toml");
  assert.equal(a.digest, b.digest);
  const withDefaultsSpelled = parseConfig(
    `policy = "outputs"\n${GOOD}[log]\nlevel = "warn"\n[checkpoint]\nengine = "none"\n` +
      `[faults]\ndivergence_probability = 0.0\nseed = 0\n`,
    "c",
  );
  assert.equal(a.digest, withDefaultsSpelled.digest);
});

Deno.test("the digest changes when any agreed field changes", () => {
  const base = parseConfig(GOOD, "cfg.toml").digest;
  const variantsOf = [
    GOOD.replace("7773", "7774"),
    GOOD.replace("leader_id = 1", "leader_id = 2"),
    `policy = "lockstep"\n${GOOD}`,
    `batch_bytes = 4096\n${GOOD}`,
    `local_paths = ["/usr/lib/"]\n${GOOD}`,
    `${GOOD}[timeouts]\nsync_ms = 1000\n`,
    `${GOOD}[checkpoint]\nengine = "fork"\n`,
    `${GOOD}[checkpoint]\nengine = "criu"\n`,
    `${GOOD}[checkpoint]\nevery_calls = 10\n`,
    `${GOOD}[checkpoint]\nretries = 2\n`,
    `${GOOD}[faults]\ndivergence_probability = 0.5\n`,
    `${GOOD}[faults]\nseed = 3\n`,
  ];
  const digests = variantsOf.map((t) => parseConfig(t, "cfg.toml").digest);
  for (const d of digests) assert.notEqual(d, base);
  assert.equal(new Set(digests).size, digests.length);
});

Deno.test("loadConfig reads a file and reports a missing one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.toml`, GOOD.replace("port = 7772", "port = 0"));
    await assert.rejects(loadConfig(`${dir}/a.toml`), (e: ConfigError) => {
      assert.equal(
        e.message,
        `${dir}/a.toml:6: variants[0].port: must be an integer 1..65535, got 0`,
      );
      return true;
    });
    await Deno.writeTextFile(`${dir}/b.toml`, GOOD);
    assert.equal((await loadConfig(`${dir}/b.toml`)).path, `${dir}/b.toml`);
    await assert.rejects(loadConfig(`${dir}/none.toml`), /none\.toml:0: \(file\): .*no such file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closest suggests only near names", () => {
  assert.equal(closest("polcy", ["policy", "port"]), "policy");
  assert.equal(closest("xyz", ["policy", "port"]), null);
});
