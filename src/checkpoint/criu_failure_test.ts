import assert from "node:assert/strict";
import { dumpFailureReason } from "./criu_failure.ts";

// The end of a real dump.log: nginx's worker had switched to nobody, on a host whose root lacks
// CAP_SYS_RESOURCE.
const RLIMIT_LOG = `(00.000201) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self
(00.011672) dumping /proc/4501/oom_score_adj
(00.011683) Error (criu/cr-dump.c:389): Can't get rlimit 0: Operation not permitted
(00.011688) Error (criu/cr-dump.c:1584): Dump core (pid: 4501) failed with -1
(00.021027) Error (criu/cr-dump.c:1975): Dumping FAILED.
`;

Deno.test("dumpFailureReason: the first error, past the harmless RLIMIT_NOFILE one", () => {
  const why = dumpFailureReason(RLIMIT_LOG);
  assert.match(why, /^Error \(criu\/cr-dump.c:389\): Can't get rlimit 0/);
  assert.match(why, /switched user.*CAP_SYS_RESOURCE/);
  assert.equal(
    dumpFailureReason("(00.1) Error (criu/sk-unix.c:1): unix: no peer\n"),
    "Error (criu/sk-unix.c:1): unix: no peer",
  );
  assert.equal(dumpFailureReason("(00.1) Dumping finished successfully\n"), "");
});
