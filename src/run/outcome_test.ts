import assert from "node:assert/strict";
import { EXIT } from "../cli/exit_codes.ts";
import { compareExits, describe, exitCode, fatalReason, shellStatus } from "./outcome.ts";

Deno.test("a status is the exit code, or 128+N for signal N", () => {
  assert.equal(shellStatus({ success: false, code: 3, signal: null }), 3);
  assert.equal(shellStatus({ success: false, code: 137, signal: "SIGKILL" }), 137);
  assert.equal(shellStatus({ success: false, code: 143, signal: "SIGTERM" }), 143);
});

Deno.test("equal exit statuses end the run with that status", () => {
  const end = compareExits(1, new Map([[1, 4], [2, 4], [3, 4]]));
  assert.deepEqual(end, { kind: "exited", status: 4 });
  assert.equal(exitCode(end), 4);
});

Deno.test("different exit statuses are a divergence naming each variant's status", () => {
  const end = compareExits(2, new Map([[2, 0], [1, 1]]));
  assert.equal(end.kind, "divergence");
  assert.equal(exitCode(end), EXIT.divergence);
  if (end.kind !== "divergence") return;
  assert.equal(end.reason, "exit-status");
  assert.equal(end.by, 2);
  assert.equal(end.detail, "variant 1 exited with 1, variant 2 exited with 0");
});

Deno.test("each kind of end maps to its exit status and a sentence", () => {
  const fatal = { kind: "fatal" as const, by: 2, reason: fatalReason("threads"), call: "clone" };
  assert.equal(exitCode(fatal), EXIT.monitorFatal);
  assert.equal(
    describe(fatal, 1),
    "a8: the monitor of variant 2 stopped: threads are not supported yet (at clone)",
  );
  const lost = { kind: "peer-lost" as const, id: 3, reason: "silent for 900 ms" };
  assert.equal(exitCode(lost), EXIT.peer);
  assert.equal(describe(lost, 1), "a8: lost peer 3: silent for 900 ms");
});
