/**
 * `a8 run --id N CONFIG -- PROGRAM ARGS`: runs one variant. The steps, each of which may
 * refuse with its own exit status before the program starts: arguments, config, host,
 * program, peers (handshake); then the run itself (src/run/session.ts), the reports, and the
 * exit status every host agrees on.
 */
import { createFaultsOff } from "../run/faults_off.ts";
import { loadConfig } from "../config/load.ts";
import { ConfigError } from "../config/types.ts";
import type { Config } from "../config/types.ts";
import { EventServer } from "../launch/events.ts";
import type { Interposer } from "../launch/spawn.ts";
import { SpawnError } from "../launch/spawn.ts";
import { emptyCounters, readRunStats } from "../launch/stats.ts";
import { createLogger } from "../log.ts";
import { connectPeers, monitorKey, PeerError } from "../peer/mod.ts";
import { buildSummary, type Outcome, writeSummary } from "../report/summary.ts";
import { describe, exitCode, type RunEnd, summaryOutcome } from "../run/outcome.ts";
import { reportDivergence } from "../run/report_data.ts";
import { makeRunDirs, openToProgram } from "../run/run_dirs.ts";
import { runSession, type SessionResult } from "../run/session.ts";
import { parseRunArgs, RUN_USAGE, type RunArgs, UsageError } from "./args.ts";
import { EXIT } from "./exit_codes.ts";
import { checkHost } from "./host_checks.ts";
import { checkProgram } from "./program_check.ts";

export async function main(args: string[]): Promise<number> {
  let opts: RunArgs;
  try {
    opts = parseRunArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.help) {
      console.log(RUN_USAGE);
      return 0;
    }
    console.error(`a8 run: ${e.message}\n\n${RUN_USAGE}`);
    return EXIT.usage;
  }
  const started = performance.now();
  const refuse = async (code: number, outcome: Outcome, message: string) => {
    console.error(`a8: ${message}`);
    await writeRefusal(opts, outcome, message, started);
    return code;
  };

  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return refuse(EXIT.config, "refused", e.message);
  }
  const self = config.variants.find((v) => v.id === opts.id);
  if (!self) {
    const ids = config.variants.map((v) => v.id).join(", ");
    return refuse(
      EXIT.usage,
      "refused",
      `--id ${opts.id} is not a variant of ${config.path} (ids: ${ids})`,
    );
  }
  const log = createLogger({
    level: opts.logLevel ?? config.log.level,
    variant: opts.id,
    json: opts.logFormat === "json",
  });

  const host = await checkHost({ interposer: config.interposer, quick: true });
  if (!host.canRun) {
    const why = host.checks.filter((c) =>
      c.status === "fail" || (c.status === "warn" && c.name.startsWith("interposer"))
    )
      .map((c) => `${c.name}: ${c.detail}${c.fix ? ` (${c.fix})` : ""}`).join("; ");
    return refuse(EXIT.unsupported, "refused", `this host cannot run a8: ${why}`);
  }
  const interposer = chooseInterposer(config.interposer, host.interposers);
  const program = await checkProgram(opts.program[0]);
  if (!program.ok) {
    return refuse(EXIT.unsupported, "refused", `cannot monitor the program: ${program.reason}`);
  }

  let peers;
  try {
    peers = await connectPeers({ config, selfId: self.id, logger: log });
  } catch (e) {
    if (!(e instanceof PeerError)) throw e;
    return refuse(EXIT.peer, "peer-failure", e.message);
  }
  const { group, runId, isas } = peers;
  const dirs = await makeRunDirs(runId, self.id, createFaultsOff);
  const runDir = dirs.program;
  const events = EventServer.listen(dirs.socket, log);
  await openToProgram(events.path);

  let end: RunEnd;
  let programStatus: number | null = null;
  let survival: SessionResult["survival"];
  try {
    const r = await runSession({
      config,
      self,
      leader: self.id === config.leaderId,
      runId,
      monitorKey: await monitorKey(config.key, runId),
      runDir,
      keepDir: dirs.keepers,
      agentDir: dirs.agent,
      interposer,
      program: [program.path ?? opts.program[0], ...opts.program.slice(1)],
      group,
      events,
      log,
    });
    end = r.end;
    programStatus = r.programStatus;
    survival = r.survival;
  } catch (e) {
    if (!(e instanceof SpawnError)) throw e;
    end = { kind: "fatal", by: self.id, reason: e.message, call: "" };
    await group.broadcast({ t: "fatal", variant: self.id, reason: e.message, call: "" });
  }
  events.endRun();

  if (end.kind === "divergence") {
    const text = await reportDivergence(end, {
      self: self.id,
      leaderId: config.leaderId,
      runId,
      runDir,
      ours: (pid) => events.pids.has(pid),
      isas,
      group,
      waitMs: Math.min(config.timeouts.shutdownMs, 3000),
      reportDir: opts.reportDir,
      log,
    });
    console.error(text);
  } else if (end.kind !== "exited") {
    console.error(describe(end, self.id));
  }
  await group.close();
  await events.close();

  if (opts.reportDir) {
    const stats = await readRunStats(runDir, (pid) => events.pids.has(pid)).catch((e) => {
      log.warn("cannot read the monitors' stats", { error: String(e) });
      return { streams: [], totals: emptyCounters(), skipped: [] };
    });
    for (const s of stats.skipped) log.info("unreadable stats file", { file: s });
    await writeSummary(
      opts.reportDir,
      buildSummary({
        variant: self.id,
        leader: self.id === config.leaderId,
        runId,
        program: opts.program,
        exitStatus: programStatus,
        outcome: summaryOutcome(end),
        durationMs: performance.now() - started,
        stats,
        detail: end.kind === "exited" ? undefined : describe(end, self.id),
        survival,
      }),
    );
  }
  // Kept for post-mortems at debug level; otherwise nothing of a run stays in /tmp.
  if (log.level !== "debug") await Deno.remove(dirs.agent, { recursive: true }).catch(() => {});
  return exitCode(end);
}

/** `auto`: SUD where it exists (x86_64: cheaper per call), seccomp elsewhere. */
export function chooseInterposer(wanted: string, working: Interposer[]): Interposer {
  if (wanted === "sud" || wanted === "seccomp") return wanted;
  if (working.includes("sud") && Deno.build.arch === "x86_64") return "sud";
  return "seccomp";
}

/** summary.json for a run refused before the program started, if --report-dir was given. */
async function writeRefusal(opts: RunArgs, outcome: Outcome, detail: string, started: number) {
  if (!opts.reportDir) return;
  await writeSummary(
    opts.reportDir,
    buildSummary({
      variant: opts.id,
      leader: false,
      runId: "",
      program: opts.program,
      exitStatus: null,
      outcome,
      durationMs: performance.now() - started,
      stats: { streams: [], totals: emptyCounters(), skipped: [] },
      detail,
    }),
  );
}
