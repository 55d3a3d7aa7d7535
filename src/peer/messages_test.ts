import assert from "node:assert/strict";
import { validateMessage } from "./messages.ts";

const rollback = (ports: unknown) => ({ t: "rollback-ports", ports });

Deno.test("a rollback carries a port per stream of the tree", () => {
  const ok = validateMessage(rollback({ "0": 40000, "0.1": 40001, "0.1.2": 65535 }));
  assert.ok(ok.ok);
  assert.deepEqual((ok.msg as { ports: unknown }).ports, {
    "0": 40000,
    "0.1": 40001,
    "0.1.2": 65535,
  });
});

Deno.test("a rollback's ports are refused when hostile or malformed", () => {
  const bad: unknown[] = [
    undefined,
    null,
    7000,
    [7000],
    { "0": 70000 },
    { "0": -1 },
    { "0": 1.5 },
    { "0": "7000" },
    { "x": 7000 },
    { "0.": 7000 },
    { "1.2": 7000 },
    { "0.1; rm -rf": 7000 },
    Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`0.${i}`, 1000])),
  ];
  for (const ports of bad) {
    const r = validateMessage(rollback(ports));
    assert.ok(!r.ok, `accepted ports ${JSON.stringify(ports)?.slice(0, 60)}`);
    assert.ok(r.problem.includes("ports"), r.problem);
  }
});

Deno.test("a rollback may say the run is stopping, as a boolean only", () => {
  const base = { t: "rollback", epoch: 3, mode: 0, stream: "0", seq: 7, call: "read" };
  assert.equal(validateMessage(base).ok, true);
  assert.equal(validateMessage({ ...base, quiet: true }).ok, true);
  for (const quiet of [1, "yes", null, {}]) {
    const r = validateMessage({ ...base, quiet });
    assert.equal(r.ok, false, JSON.stringify(quiet));
    assert.match((r as { problem: string }).problem, /field quiet/);
  }
});
