/**
 * One variant's run once the peers are connected: start the program (the leader first, a
 * follower once the leader's monitor is ready), watch for trouble from the local monitors and
 * from the peers, and agree on the exit status. Every wait is bounded by a config timeout,
 * and every kind of trouble ends the run the same way on every host.
 */
import type { Config, VariantConfig } from "../config/types.ts";
import type { EventServer, MonitorEvent } from "../launch/events.ts";
import {
  type Interposer,
  type MonitorSettings,
  type ProgramHandle,
  spawnProgram,
} from "../launch/spawn.ts";
import type { Logger } from "../log.ts";
import type { PeerEvent, PeerGroup } from "../peer/mod.ts";
import { TIMEOUT, withTimeout } from "../util/event_log.ts";
import { MONITOR_EXIT_DIVERGENCE, MONITOR_EXIT_FATAL } from "../launch/abi.ts";
import { faultsOff } from "./faults_off.ts";
import { leftBehind } from "./left_behind.ts";
import { scanProc } from "../checkpoint/proc_tree.ts";
import { sleep } from "../checkpoint/kill_tree.ts";
import { compareExits, type RunEnd } from "./outcome.ts";
import { peerTrouble, Trouble } from "./trouble.ts";
import { type CheckpointStats, CopyRegistry } from "../checkpoint/copies.ts";
import { CriuDriver } from "../checkpoint/criu_driver.ts";
import {
  CRIU_KEEP_IMAGES,
  CRIU_KEEP_IMAGES_FOLLOWER,
  CriuEngine,
} from "../checkpoint/criu_engine.ts";
import type { Engine } from "../checkpoint/engine.ts";
import { ForkEngine } from "../checkpoint/fork_engine.ts";
import { LiveRoot } from "../checkpoint/live_root.ts";
import { type RollbackRecord, Rollbacks, type StopState } from "../checkpoint/rollback.ts";

export interface Session {
  config: Config;
  self: VariantConfig;
  leader: boolean;
  runId: string;
  monitorKey: string;
  /** The monitors' run directory (A8_RUN_DIR; run_dirs.ts). */
  runDir: string;
  /** Where the criu engine's keepers bind their sockets (A8_KEEP_DIR; run_dirs.ts). */
  keepDir: string;
  /** The agent's own: CRIU's images. */
  agentDir: string;
  interposer: Interposer;
  program: string[];
  group: PeerGroup;
  events: EventServer;
  log: Logger;
}

export interface SessionResult {
  end: RunEnd;
  /** The program's own status (128+N for a signal), null if it never started. */
  programStatus: number | null;
  /** Checkpoints taken and rollbacks done, and why the last divergence was not rolled back. */
  survival?: { checkpoints: CheckpointStats; rollbacks: RollbackRecord[]; refused?: string };
}

/** After a monitor exits with its own status, how long its event may lag behind. */
/** How long a program may run on after a peer's ended (see outlived). */
const OUTLIVE_GRACE_MS = 2000;
const EVENT_GRACE_MS = 1000;
/** How long a process of the program found running as the root ended is given to end too. */
const LEFT_BEHIND_GRACE_MS = 50;

export async function runSession(s: Session): Promise<SessionResult> {
  const trouble = new Trouble(s.self.id, s.events, s.group);
  let engine: Engine;
  try {
    engine = await openEngine(s);
  } catch (e) {
    trouble.close();
    const reason = `checkpoints unusable: ${(e as Error).message}`;
    await s.group.broadcast({ t: "fatal", variant: s.self.id, reason, call: "" });
    return { end: { kind: "fatal", by: s.self.id, reason, call: "" }, programStatus: null };
  }
  const started = await start(s, trouble.next());
  if ("kind" in started) {
    trouble.close();
    engine.close();
    return { end: started, programStatus: null };
  }
  const root = new LiveRoot(started);
  engine.attach(root);
  const stops = forwardStops(s, root, started);
  const rollbacks = new Rollbacks({
    config: s.config,
    selfId: s.self.id,
    leader: s.leader,
    group: s.group,
    engine,
    log: s.log,
    stop: stops.state,
  });
  const survival = () => ({
    checkpoints: engine.stats,
    rollbacks: rollbacks.done,
    refused: rollbacks.refused,
  });
  try {
    for (;;) {
      const r = await watchOnce(s, trouble, root, rollbacks, started);
      if (r === "rolled-back") {
        stops.again(); // a stop the killed root got is not the restored one's
        continue;
      }
      return { ...r, survival: survival() };
    }
  } finally {
    stops.off();
    trouble.close();
    rollbacks.close();
    engine.close();
  }
}

/** The configured checkpoint engine ("none" is a fork engine that never gets a copy). */
async function openEngine(s: Session): Promise<Engine> {
  const connectMs = s.config.timeouts.connectMs;
  if (s.config.checkpoint.engine !== "criu") {
    return new ForkEngine(new CopyRegistry(s.events), s.events, s.log, connectMs);
  }
  const leader = s.self.id === s.config.leaderId;
  const driver = await CriuDriver.open({
    runDir: s.runDir,
    imagesDir: `${s.agentDir}/criu`,
    log: s.log,
    keepImages: leader ? CRIU_KEEP_IMAGES : CRIU_KEEP_IMAGES_FOLLOWER,
  });
  return new CriuEngine(driver, s.events, s.log, connectMs, {
    leader,
    tell: (epoch) => void s.group.broadcast({ t: "checkpointed", epoch }),
    listen: (cb) =>
      s.group.on((e) => {
        if (e.kind === "message" && e.from === s.config.leaderId && e.msg.t === "checkpointed") {
          cb(e.msg.epoch);
        }
      }),
  });
}

/** Until the program ends or trouble comes; a survived divergence starts the watch again. */
async function watchOnce(
  s: Session,
  trouble: Trouble,
  root: LiveRoot,
  rollbacks: Rollbacks,
  handle: ProgramHandle,
): Promise<SessionResult | "rolled-back"> {
  trouble.judgeBy({ retired: root.retired, round: rollbacks.round });
  /** Whether a divergence was rolled back (claimed then: it is this watch's). */
  const survived = async (d: RunEnd): Promise<boolean> => {
    if (d.kind !== "divergence" || !rollbacks.enabled) return false;
    trouble.claim();
    const v = await rollbacks.handle(d);
    if (!v.ok) s.log.warn("the divergence cannot be survived", { reason: v.reason });
    return v.ok;
  };
  const first = await Promise.race([trouble.next(), root.status(), outlived(s, root)]);
  if (typeof first !== "number") {
    trouble.claim();
    if (await survived(first)) return "rolled-back";
    await stopProgram(handle);
    return { end: first, programStatus: null };
  }
  const status = first;
  const mine = status === MONITOR_EXIT_DIVERGENCE || status === MONITOR_EXIT_FATAL;
  // A follower's root that saw its leader's process end without a word killed itself
  // (preload a8_leader_vanished): the leader may be rolling back, and its word may come a
  // moment after its tree's end reached ours.
  const vanished = s.self.id !== s.config.leaderId && status === 128 + 9 && rollbacks.enabled;
  if (mine || vanished) {
    const why = await withTimeout(trouble.next(), EVENT_GRACE_MS);
    if (why !== TIMEOUT && vanished && await survived(why)) return "rolled-back";
    if (why !== TIMEOUT) {
      handle.killTree("SIGKILL");
      return { end: why, programStatus: status };
    }
  }
  await warnLeftBehind(s, root, handle.pid, status);
  handle.killTree("SIGKILL"); // the root is gone; no child may outlive it unmonitored
  return { end: await agreeOnExit(s, status, rollbacks.round), programStatus: status };
}

/**
 * Says what of the program a8 is about to end with its first process (left_behind.ts): what is
 * still there a moment later, when a copy or keeper forked just now has said who it is, and a
 * process that was ending has ended.
 */
async function warnLeftBehind(
  s: Session,
  root: LiveRoot,
  group: number,
  status: number,
): Promise<void> {
  const scan = () =>
    leftBehind(
      scanProc(),
      group,
      s.events.live(),
      new Set([root.pid, ...root.retired, ...s.events.copyPids()]),
    );
  if (scan().length === 0) return;
  await sleep(LEFT_BEHIND_GRACE_MS);
  const left = scan();
  if (left.length === 0) return;
  s.log.warn(
    "the program's first process ended while others of it still ran: a8 ends them with it " +
      "(a server must run in the foreground: nginx `daemon off;`, lighttpd -D)",
    {
      status,
      pids: left.map((l) => l.pid).join(","),
      streams: left.map((l) => l.stream ?? "?").join(","),
    },
  );
}

/**
 * A peer's program ended (its agent sent `exit`) and ours goes on: normal for a moment (a
 * follower catches up with the leader's last calls), a divergence if it lasts. This is how a
 * variant that died of a signal nobody could catch (SIGKILL, a crash) is told from the rest.
 */
async function outlived(s: Session, root: LiveRoot): Promise<RunEnd> {
  const e = await s.group.waitFor((e) => e.kind === "message" && e.msg.t === "exit", Infinity);
  if (!e || e.kind !== "message" || e.msg.t !== "exit") return new Promise(() => {});
  const grace = Math.min(OUTLIVE_GRACE_MS, s.config.timeouts.shutdownMs);
  if ((await withTimeout(root.status(), grace)) !== TIMEOUT) return new Promise(() => {});
  const status = e.msg.status;
  const detail = `variant ${e.from}'s program ended (status ${status}) and this variant's ` +
    `was still running ${grace} ms later`;
  const end: RunEnd = {
    kind: "divergence",
    by: s.self.id,
    stream: "0",
    seq: -1,
    call: "exit",
    reason: "exit-status",
    detail,
  };
  s.group.broadcast({
    t: "divergence",
    variant: s.self.id,
    stream: "0",
    seq: -1,
    call: "exit",
    reason: "exit-status",
    detail,
    round: -1,
  });
  return end;
}

async function stopProgram(handle: ProgramHandle): Promise<void> {
  handle.killTree("SIGKILL");
  await withTimeout(handle.status, 2000);
}

function settings(s: Session): MonitorSettings {
  const c = s.config;
  return {
    id: s.self.id,
    leader: s.leader,
    followers: c.variants.length - 1,
    runId: s.runId,
    key: s.monitorKey,
    agentSock: s.events.path,
    agentToken: s.events.token,
    runDir: s.runDir,
    keepDir: s.keepDir,
    dataAddr: s.self.address,
    policy: c.policy,
    interposer: s.interposer,
    batchBytes: c.batchBytes,
    spinReads: c.spinReads,
    syncMs: c.timeouts.syncMs,
    logLevel: s.log.level, // -v and --log-level reach the monitors too
    localPaths: c.localPaths,
    checkpoint: {
      engine: c.checkpoint.engine,
      everyCalls: c.checkpoint.everyCalls,
      everyMs: c.checkpoint.everyMs,
    },
    faults: { ...c.faults },
  };
}

function spawn(s: Session, extra: Partial<MonitorSettings> = {}): ProgramHandle {
  return spawnProgram({
    program: s.program[0],
    args: s.program.slice(1),
    monitor: { ...settings(s), ...extra },
    pids: () => s.events.live().map((l) => l.pid),
  });
}

/**
 * Leader: spawn, wait for the root monitor's data listener, tell the followers where it is.
 * Follower: wait for that, then spawn pointing at it.
 */
async function start(s: Session, trouble: Promise<RunEnd>): Promise<ProgramHandle | RunEnd> {
  const limit = s.config.timeouts.connectMs;
  if (s.leader) {
    const handle = spawn(s);
    if (s.group.live.length === 0) return handle;
    const isReady = (e: MonitorEvent) => e.ev === "ready" && e.stream === "0";
    const ready = s.events.waitFor(isReady, limit);
    let r = await Promise.race([ready, trouble, handle.status.then(() => "exited" as const)]);
    // A short program may exit before its ready event has been read off the socket.
    if (r === "exited") r = await s.events.waitFor(isReady, EVENT_GRACE_MS) ?? r;
    if (r === undefined || r === "exited" || "kind" in r) {
      await stopProgram(handle);
      if (r && r !== "exited") return r;
      const what = r === "exited"
        ? "the program exited before"
        : `no ready event within ${limit} ms`;
      const end: RunEnd = {
        kind: "fatal",
        by: s.self.id,
        reason: `the leader's monitor did not start its data listener (${what})`,
        call: "",
      };
      await s.group.broadcast({ t: "fatal", variant: s.self.id, reason: end.reason, call: "" });
      return end;
    }
    const port = (r as MonitorEvent & { ev: "ready" }).port;
    s.log.info("leader ready", { port });
    await s.group.broadcast({ t: "start", address: s.self.address, port });
    return handle;
  }
  const leaderId = s.config.leaderId;
  const wait = 2 * limit;
  const startMsg = s.group.waitFor(
    (e) => e.kind === "message" && e.from === leaderId && e.msg.t === "start",
    wait,
  );
  const r = await Promise.race([startMsg.then((e) => ({ start: e })), trouble]);
  if ("kind" in r) return r;
  if (r.start?.kind !== "message" || r.start.msg.t !== "start") {
    return { kind: "peer-lost", id: leaderId, reason: `no start message within ${wait} ms` };
  }
  const msg = r.start.msg;
  return spawn(s, { leaderData: `${msg.address}:${msg.port}` });
}

/** Exchanges exit statuses with every peer (bounded by shutdownMs) and compares them. */
async function agreeOnExit(s: Session, status: number, round: number): Promise<RunEnd> {
  // A divergence a rollback survived is in the history too: only this round's counts.
  const fresh = (e: PeerEvent) =>
    e.kind === "message" && e.msg.t === "divergence" && e.msg.round >= 0 && e.msg.round < round
      ? undefined
      : peerTrouble(e);
  const self = s.self.id;
  const limit = s.config.timeouts.shutdownMs;
  await s.group.broadcast({ t: "exit", status });
  const statuses = new Map<number, number>([[self, status]]);
  const peers = s.config.variants.map((v) => v.id).filter((id) => id !== self);
  const answers = await Promise.all(peers.map((id) =>
    s.group.waitFor(
      (e) =>
        (e.kind === "message" && e.from === id && e.msg.t === "exit") ||
        fresh(e)?.kind === "divergence" || fresh(e)?.kind === "fatal" ||
        (e.kind === "peer-lost" && e.id === id),
      limit,
    ).then((e) => ({ id, e }))
  ));
  for (const { id, e } of answers) {
    if (e === undefined) {
      return { kind: "peer-lost", id, reason: `no exit status within ${limit} ms` };
    }
    const t = fresh(e);
    if (t) return t;
    if (e.kind === "message" && e.msg.t === "exit") statuses.set(id, e.msg.status);
  }
  return compareExits(self, statuses);
}

/**
 * SIGINT/SIGTERM to the agent: the leader forwards SIGTERM to its program root (its monitor
 * replicates the signal to the followers); a follower asks the leader to do so. Either way
 * the peers are told, so the run ends with one status everywhere.
 */
function forwardStops(
  s: Session,
  root: LiveRoot,
  handle: ProgramHandle,
): { again: () => void; off: () => void; state: () => StopState } {
  let escalation: ReturnType<typeof setTimeout> | undefined;
  let state: StopState = "running";
  const term = () => {
    if (state === "running") state = "asked";
    try {
      Deno.kill(root.pid, "SIGTERM");
    } catch {
      // already gone
    }
    // A program that ignores SIGTERM (or hangs) is stopped for good after shutdown_ms.
    escalation ??= setTimeout(() => {
      s.log.warn("the program ignored SIGTERM: killing it", { after_ms: limit });
      state = "killing";
      handle.killTree("SIGKILL");
    }, limit);
  };
  const limit = s.config.timeouts.shutdownMs;
  const onSignal = (sig: "SIGINT" | "SIGTERM") => () => {
    s.log.warn("stopping the program", { signal: sig });
    faultsOff(s.runDir);
    if (s.leader) term();
    s.group.broadcast({ t: "stop", signal: sig });
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  const off = s.group.on((e) => {
    if (e.kind !== "message" || e.msg.t !== "stop") return;
    faultsOff(s.runDir); // a follower hears of it before its stream reaches the signal
    if (s.leader) term();
  });
  return {
    // After a rollback: the restored program has not had the stop yet. If the time to stop ran
    // out during the rollback, the kill is not waited for again.
    again: () => {
      if (!s.leader || escalation === undefined) return;
      if (state === "killing") handle.killTree("SIGKILL");
      else term();
    },
    off: () => {
      if (escalation !== undefined) clearTimeout(escalation);
      off();
      for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    },
    state: () => state,
  };
}
