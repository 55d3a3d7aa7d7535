/**
 * The monitor stamps its events with CLOCK_MONOTONIC in µs (a8_ckpt_now_ns); the agent puts
 * them on performance.now()'s clock (ffi/libc.ts) to time rollbacks by the monitors' word.
 */
import assert from "node:assert/strict";
import { monitorTimeToPerf, monotonicMs } from "../ffi/libc.ts";

Deno.test("a monitor's CLOCK_MONOTONIC stamp lands on performance.now()'s clock", async () => {
  const before = performance.now();
  const stampUs = Math.round(monotonicMs() * 1000);
  const after = performance.now();
  await new Promise((r) => setTimeout(r, 30));
  const at = monitorTimeToPerf(stampUs);
  // The stamp was taken between `before` and `after` (the two clocks read a few µs apart, and
  // the stamp is rounded to µs: 1 ms of slack), 30 ms before now, not ms or s off.
  assert.ok(
    at >= before - 1 && at <= after + 1,
    `stamp at ${at}, taken between ${before} and ${after}`,
  );
  assert.ok(performance.now() - at >= 29, "the 30 ms sleep is not between stamp and now");
});
