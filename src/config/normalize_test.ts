import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import { canonicalJson, configDifferences, normalizedConfig } from "./normalize.ts";

const BASE = `leader_id = 1
key = "0123456789abcdef-secret"
[[variants]]
id = 1
address = "10.0.0.1"
port = 7772
[[variants]]
id = 2
address = "10.0.0.2"
port = 7772
`;

const norm = (text: string) => normalizedConfig(parseConfig(text, "cfg.toml"));

Deno.test("the normalized config leaves out the key and the path, and sorts variants", () => {
  const n = norm(BASE.replace("\nid = 1", "\nid = 9").replace("leader_id = 1", "leader_id = 9"));
  const text = JSON.stringify(n);
  assert.ok(!text.includes("secret"), text);
  assert.ok(!text.includes("cfg.toml"), text);
  assert.deepEqual((n.variants as { id: number }[]).map((v) => v.id), [2, 9]);
  assert.equal(n.leader_id, 9);
});

Deno.test("identical configs, even with another key or layout, have no differences", () => {
  const other = BASE.replace("0123456789abcdef-secret", "another-secret-of-length");
  assert.deepEqual(configDifferences(norm(BASE), norm(other)), []);
  assert.deepEqual(configDifferences(norm(BASE), JSON.parse(JSON.stringify(norm(BASE)))), []);
});

Deno.test("differences name the TOML field, variants by id", () => {
  const a = norm(BASE);
  const b = norm(
    `policy = "lockstep"\n${BASE.replace("10.0.0.2", "10.0.0.3")}[timeouts]\nsync_ms = 5\n`,
  );
  assert.deepEqual(configDifferences(a, b), [
    "policy",
    "timeouts.sync_ms",
    "variants[id=2].address",
  ]);
  const three = norm(`${BASE}[[variants]]\nid = 3\naddress = "10.0.0.3"\nport = 1\n`);
  assert.deepEqual(configDifferences(a, three), ["variants[id=3]"]);
  assert.deepEqual(configDifferences(a, norm(`local_paths = ["/opt/"]\n${BASE}`)), ["local_paths"]);
  assert.deepEqual(
    configDifferences(
      a,
      norm(`${BASE}[checkpoint]\nengine = "fork"\n[faults]\ndivergence_probability = 0.1\n`),
    ),
    ["checkpoint.engine", "faults.divergence_probability"],
  );
});

Deno.test("differences survive a hostile or malformed peer view", () => {
  const a = norm(BASE);
  assert.deepEqual(configDifferences(a, { ...a, variants: "x", extra: 1 }), ["extra", "variants"]);
  assert.deepEqual(configDifferences(a, null), ["(root)"]);
});

Deno.test("canonical JSON sorts keys at every level", () => {
  assert.equal(canonicalJson({ b: [{ d: 1, c: 2 }], a: "x" }), '{"a":"x","b":[{"c":2,"d":1}]}');
});
