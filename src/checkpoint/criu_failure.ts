/** Why CRIU failed, in a line, from its log or output. */

/** Why `criu check` (or a dump) failed: its first error, else its last line. */
export function criuFailureReason(out: string, code: number): string {
  // Every CRIU run logs a harmless RLIMIT_NOFILE "Error" line when it may not raise the limit.
  const lines = out.split("\n").map((l) => l.trim()).filter((l) => l && !/RLIMIT_NOFILE/.test(l));
  const error = lines.find((l) => /\bError\b/.test(l));
  return (error ?? lines.at(-1) ?? `exit ${code}`).replace(/^\(\d+\.\d+\)\s*/, "");
}

/**
 * What a dump's log says went wrong, with what to do where a8 knows: "" if the log has no error.
 * CRIU reads every process's limits with prlimit, which a process of another user allows only
 * with CAP_SYS_RESOURCE (`a8 doctor`: "criu, other users").
 */
export function dumpFailureReason(log: string): string {
  const lines = log.split("\n").filter((l) => /\bError\b/.test(l) && !/RLIMIT_NOFILE/.test(l));
  if (lines.length === 0) return "";
  const first = criuFailureReason(lines[0], 1);
  if (/Can't get rlimit.*Operation not permitted/.test(first)) {
    return `${first} (a process of the program switched user, and a8 lacks CAP_SYS_RESOURCE: ` +
      "see `a8 doctor`)";
  }
  return first;
}
