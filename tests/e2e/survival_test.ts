/**
 * Survival (issue 4): with checkpoints, a divergence rolls every variant back and the service
 * goes on. The deliberately vulnerable server's attack is detected, its connection closed, and
 * a benign client running at the same time gets only right answers (a request whose connection
 * closed before any answer is sent again, as HTTP clients do for GET).
 */
import * as assert from "node:assert/strict";
import { describe, localConfig, ms, readSummary, startA8, waitA8, withRunDir } from "./harness.ts";
import {
  attack,
  benignLoop,
  benignMix,
  requireVulnServer,
  vulnServerArgv,
  waitListening,
} from "./http_client.ts";

const ADDR = "127.0.0.1";

function survivalConfig(engine: string, extra = ""): string {
  return localConfig(2, {
    extraTables: `[checkpoint]\nengine = "${engine}"\nevery_calls = 50\nevery_ms = 20\n${extra}`,
  });
}

Deno.test("survival (fork): the attack is rolled back and closed, a benign client is served", async () => {
  await requireVulnServer();
  await withRunDir("a8-e2e-survival-", async (dir) => {
    const run = await startA8({
      dir,
      config: survivalConfig("fork"),
      ids: [1, 2],
      leaderId: 1,
      program: vulnServerArgv(ADDR, 0),
    });
    const port = await waitListening(run.leader.proc);
    const benign = benignLoop({
      addr: ADDR,
      port,
      paths: benignMix,
      count: 300,
      retryClosed: 3,
      concurrency: 2,
      intervalMs: 2,
    });
    const attacks = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 150));
      attacks.push(await attack(ADDR, port));
    }
    const counts = await benign;
    for (const v of run.variants) v.proc.signal("SIGTERM");
    const r = await waitA8(run, ms(20000));
    const why = `${JSON.stringify({ ...counts, latenciesMs: undefined })}\n${describe(r.variants)}`;

    assert.deepEqual(attacks.map((a) => a.kind), ["closed", "closed", "closed"], why);
    assert.equal(counts.wrong, 0, why);
    assert.equal(counts.truncated, 0, why);
    assert.equal(counts.closed, 0, why);
    assert.equal(counts.ok, 300, why);
    for (const v of r.variants) {
      assert.equal(v.code, r.leader.code, `every variant ends alike\n${why}`);
      const s = await readSummary(v);
      // Each attack: one replay that diverges again, then a replay without its input.
      assert.ok((s.rollbacks as number) >= 6, `rollbacks ${s.rollbacks}\n${why}`);
      assert.ok((s.checkpoints as number) > 0, why);
      const log = s.rollback_log as { mode: string; call: string }[];
      assert.ok(log.some((x) => x.mode === "drop" && x.call === "write"), why);
    }
  });
});
