/**
 * Why a criu rollback was refused names the restored process that stopped, and its reason,
 * on the leader and on a follower alike (criu_engine.ts).
 */
import assert from "node:assert/strict";
import type { MonitorEvent } from "../launch/events.ts";
import { stoppedWith } from "./criu_engine.ts";

const resumed: MonitorEvent = {
  ev: "resumed",
  stream: "0",
  pid: 10,
  vpid: 10,
  epoch: 3,
  port: 0,
  us_ready: 1,
  us_fork: 0,
  us_connect: 1,
  mono_us: 5,
};

const fatal: MonitorEvent = {
  ev: "fatal",
  stream: "0.1",
  pid: 11,
  vpid: 11,
  reason: "peer-lost",
  call: "",
  nr: 0,
  detail: "data plane not re-established after rollback (-110)",
};

Deno.test("stoppedWith names the first restored process that stopped, with its reason", () => {
  const heard = new Map<string, MonitorEvent>([["0", resumed], ["0.1", fatal]]);
  assert.equal(
    stoppedWith(heard),
    " (stream 0.1 stopped: its peer monitor was lost: " +
      "data plane not re-established after rollback (-110))",
  );
});

Deno.test("stoppedWith says nothing when no restored process stopped", () => {
  assert.equal(stoppedWith(new Map([["0", resumed]])), "");
  assert.equal(stoppedWith(new Map()), "");
});
