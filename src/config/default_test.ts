import assert from "node:assert/strict";
import { DEFAULT_CONFIG_TOML } from "./default.ts";
import { parseConfig } from "./load.ts";

Deno.test("the embedded default config is config/default.toml", async () => {
  const file = await Deno.readTextFile(new URL("../../config/default.toml", import.meta.url));
  assert.equal(DEFAULT_CONFIG_TOML, file);
});

Deno.test("the default config parses: two local variants, leader 1", () => {
  const c = parseConfig(DEFAULT_CONFIG_TOML, "default.toml");
  assert.equal(c.leaderId, 1);
  assert.deepEqual(c.variants.map((v) => `${v.id}@${v.address}:${v.port}`), [
    "1@127.0.0.1:7772",
    "2@127.0.0.1:7773",
  ]);
  assert.equal(c.policy, "outputs");
  assert.deepEqual(c.checkpoint, { engine: "none", everyCalls: 5000, everyMs: 200, retries: 1 });
  assert.deepEqual(c.faults, { divergenceProbability: 0, seed: 0 });
});
