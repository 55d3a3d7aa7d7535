/**
 * A live leader process stopped in the middle of a replicated output (bytes gone to a pipe or a
 * terminal, its record not in the replay log yet) would make the output again after a rollback:
 * the restored process replays the log, which ends before that output, then runs it live. The
 * monitor marks such an output in its log's header from before the syscall to the logged record
 * (preload/ckpt/retire.c). The fork engine's resumed copy lets the live process finish it; with
 * the criu engine the log is a file in the run directory (`replay-<pid>`, see
 * preload/ckpt/ckpt.c a8_ckpt_shared_map) and the agent does the same here, between stopping
 * the tree and killing it. Every leader process of a criu tree replays its log; the processes
 * other than the root also note their writes to the variant's stdio (`outs-<pid>`,
 * preload/ckpt/redo.c: a follower's runs them again), and a write made but not noted yet would
 * be printed again: the notes carry the same mark, settled alike. So
 * does a follower's root, in its note of how far it ran (`ran-<pid>`): a write to its stdio
 * made but not noted would be made again by the replay of its leader's log.
 */
import { openRegularSync } from "../util/open_regular.ts";
import { SIGNALS } from "../../ffi/libc.ts";
import type { Logger } from "../log.ts";
import { signal, sleep } from "./kill_tree.ts";
import { readStat } from "./proc_tree.ts";

/** struct a8_live_mark in struct log_head (preload/ckpt/replay.c, ckpt.h): bytes 16..31. */
const MARK_AT = 16;
const MARK_LEN = 16;
const OUT_SEQ = 0; /* u64: the output whose record is not logged yet, or 0 */
const LIVE_PID = 8; /* i32: the process that writes the log */
const RETIRED = 12; /* u32: set by whoever took over: stop once the output is logged */

/** As long as the monitor's own settle waits (a8_settle_ns in retire.c). */
export const SETTLE_MS = 20;

export type SettleOutcome = "none" | "finished" | "gave-up";

function readMark(f: Deno.FsFile): { outSeq: bigint; livePid: number } | undefined {
  const b = new Uint8Array(MARK_LEN);
  f.seekSync(MARK_AT, Deno.SeekMode.Start);
  let got = 0;
  while (got < MARK_LEN) {
    const n = f.readSync(b.subarray(got));
    if (n === null || n === 0) return undefined;
    got += n;
  }
  const v = new DataView(b.buffer);
  return { outSeq: v.getBigUint64(OUT_SEQ, true), livePid: v.getInt32(LIVE_PID, true) };
}

function markRetired(f: Deno.FsFile): void {
  const one = new Uint8Array(4);
  new DataView(one.buffer).setUint32(0, 1, true);
  f.seekSync(MARK_AT + RETIRED, Deno.SeekMode.Start);
  f.writeSync(one);
}

/**
 * `pid`'s file with a mark set for `pid`, open for reading and writing, and the mark: a leader
 * root's replay log, a follower root's note of how far it ran, or another process's notes of
 * its stdio writes (preload/ckpt/redo.c), which carry the same mark at the same place.
 * Undefined if none marks an output.
 */
function openMarked(
  pid: number,
  runDir: string,
): { f: Deno.FsFile; outSeq: bigint } | undefined {
  for (const name of [`replay-${pid}`, `outs-${pid}`, `ran-${pid}`]) {
    let f: Deno.FsFile;
    try {
      f = openRegularSync(`${runDir}/${name}`, { read: true, write: true });
    } catch {
      continue; // no such file (no checkpoint yet, not a leader, the root), or not ours
    }
    const m = readMark(f);
    if (m && m.outSeq !== 0n && m.livePid === pid) return { f, outSeq: m.outSeq };
    f.close();
  }
  return undefined;
}

/**
 * `pid`, stopped (SIGSTOP) and about to be killed: if its log or notes mark an output in
 * flight, it is woken to finish it (it logs the record or notes the write and stops itself),
 * for at most `limitMs`; either way it is left stopped. A process without such a file, or
 * whose mark is not its own (a pid that was another process's), is left alone. Never throws:
 * what goes wrong is logged, and the output is then not finished (the replay closes its
 * connection, or a line is printed again).
 */
export async function settleOutput(
  pid: number,
  runDir: string,
  log: Logger,
  limitMs = SETTLE_MS,
): Promise<SettleOutcome> {
  const marked = openMarked(pid, runDir);
  if (!marked) return "none";
  const f = marked.f;
  try {
    if (!stopped(pid)) return "none"; // not stopped: nothing to let it finish
    markRetired(f);
    const t0 = performance.now();
    let left = signal(pid, SIGNALS.SIGCONT) ? readMark(f)?.outSeq ?? 0n : 0n;
    let ran = false;
    while (left !== 0n && performance.now() - t0 < limitMs) {
      const s = readStat(pid)?.state;
      if (s === undefined || s === "Z" || s === "X") break;
      const still = s === "T" || s === "t";
      if (ran && still) break; // stopped again with the mark set: not by finishing this output
      ran ||= !still;
      await sleep(1);
      left = readMark(f)?.outSeq ?? 0n;
    }
    // Stopped again, by itself or here (a call that blocked, or a process that hangs).
    signal(pid, SIGNALS.SIGSTOP);
    const outcome = left === 0n ? "finished" : "gave-up";
    log.debug("output in flight at the rollback", {
      pid,
      seq: Number(marked.outSeq),
      outcome,
      ms: Math.round(performance.now() - t0),
    });
    return outcome;
  } catch (e) {
    log.warn("cannot let a process finish its output", { pid, error: (e as Error).message });
    signal(pid, SIGNALS.SIGSTOP);
    return "gave-up";
  } finally {
    f.close();
  }
}

function stopped(pid: number): boolean {
  const st = readStat(pid)?.state;
  return st === "T" || st === "t";
}
