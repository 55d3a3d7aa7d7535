import assert from "node:assert/strict";
import { buildSummary, type SummaryInput, writeSummary } from "./summary.ts";
import { emptyCounters, readRunStats } from "../launch/stats.ts";
import { encodeStats } from "../launch/stats_fixture.ts";

Deno.test("the summary carries totals and per-stream counters from the stats files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/run/stats`, { recursive: true });
    await Deno.writeFile(
      `${dir}/run/stats/0.bin`,
      encodeStats({ stream: "0", pid: 10, counters: { seen: 7, checked: 3, local: 4 }, seq: 7 }),
    );
    await Deno.writeFile(
      `${dir}/run/stats/0.1.bin`,
      encodeStats({ stream: "0.1", pid: 11, counters: { seen: 5, replicated: 2 }, signals: 1 }),
    );
    const summary = buildSummary({
      variant: 2,
      leader: false,
      runId: "ab".repeat(16),
      program: ["/bin/true", "x"],
      exitStatus: 0,
      outcome: "ok",
      durationMs: 12.6,
      stats: await readRunStats(`${dir}/run`),
    });
    const path = await writeSummary(`${dir}/report`, summary);
    assert.equal(path, `${dir}/report/summary.json`);
    const json = JSON.parse(await Deno.readTextFile(path));
    assert.equal(json.variant, 2);
    assert.equal(json.leader, false);
    assert.equal(json.run_id, "ab".repeat(16));
    assert.deepEqual(json.program, ["/bin/true", "x"]);
    assert.equal(json.exit_status, 0);
    assert.equal(json.outcome, "ok");
    assert.equal(json.duration_ms, 13);
    assert.equal(json.calls_seen, 12);
    assert.equal(json.calls_checked, 3);
    assert.equal(json.calls_replicated, 2);
    assert.equal(json.calls_local, 4);
    assert.equal(json.signals, 1);
    assert.equal(json.checkpoints, 0);
    assert.equal(json.rollbacks, 0);
    assert.equal(json.rollback_refused, null);
    assert.deepEqual(json.streams.map((s: { stream: string; pid: number }) => [s.stream, s.pid]), [
      ["0", 10],
      ["0.1", 11],
    ]);
    assert.equal(json.streams[0].seq, 7);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A leader's input with no stats, as a run that ended early has. */
function noStats(more: Partial<SummaryInput>): SummaryInput {
  return {
    variant: 1,
    leader: true,
    runId: "",
    program: ["x"],
    exitStatus: null,
    outcome: "ok",
    durationMs: 0,
    stats: { streams: [], totals: emptyCounters(), skipped: [] },
    ...more,
  };
}

Deno.test("a run with no stats (refused early) still summarizes", () => {
  const s = buildSummary(noStats({ outcome: "refused", detail: "statically linked" }));
  assert.equal(s.calls_seen, 0);
  assert.equal(s.detail, "statically linked");
  assert.equal(s.exit_status, null);
});

Deno.test("a divergence that was not rolled back says why in rollback_refused", () => {
  const s = buildSummary(noStats({
    outcome: "divergence",
    survival: {
      checkpoints: { taken: 2, micros: [100, 300] },
      rollbacks: [],
      refused: "no checkpoint was taken before the divergence",
    },
  }));
  assert.equal(s.checkpoints, 2);
  assert.equal(s.rollback_refused, "no checkpoint was taken before the divergence");
});
