/**
 * Exit statuses of the variant's processes that Deno did not spawn: checkpoint copies (the
 * monitor forks them as the agent's children, so that the program never waits for them) and
 * the roots resumed from them. Each is waited for once; everyone asking shares the answer.
 */
import { type ExitStatus, waitpidBlocking } from "../../ffi/libc.ts";

const ends = new Map<number, Promise<ExitStatus | null>>();

/** The end of `pid`, a child of this agent; null if it is not (or no longer) our child. */
export function endOf(pid: number): Promise<ExitStatus | null> {
  let p = ends.get(pid);
  if (!p) {
    p = waitpidBlocking(pid).catch(() => null).finally(() => {
      // Pids are reused: forget this one a while after it ended.
      setTimeout(() => ends.delete(pid), 1000);
    });
    ends.set(pid, p);
  }
  return p;
}

/** A shell status: the exit code, or 128 + the signal. */
export function shellStatusOf(st: ExitStatus | null): number {
  if (!st) return 128 + 9;
  return st.signal !== null ? 128 + st.signal : st.code ?? 0;
}
