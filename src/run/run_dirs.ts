/**
 * Where a run's files go on this host. Two directories, because the program may not stay root:
 * nginx's workers and lighttpd with `server.username` drop to another user, and their monitors
 * must still make files (replay logs, keepers' sockets), reach the agent's socket and reopen
 * their stats after an exec.
 *
 * - the agent's: `/tmp/a8-<run id>-<variant id>`, mode 0711: root's only (CRIU's images go in
 *   it), but passable, so that
 * - the program's, inside it under a random name nobody else can list or guess, mode 0733:
 *   whatever user a process of the program becomes may make its files there, and only the
 *   program knows the way in (A8_RUN_DIR). No sticky bit: the kernel's protected_regular would
 *   then refuse a root process re-opening (O_CREAT) a file of a pid an unprivileged process had
 *   before.
 */

export interface RunDirs {
  /** The agent's own files; removing it removes the run's files. */
  agent: string;
  /** The monitors' files (A8_RUN_DIR): the agent socket, stats, replay logs, keepers. */
  program: string;
}

/** Makes both; throws if the agent's exists already (a run id is never reused). */
export async function makeRunDirs(runId: string, variantId: number): Promise<RunDirs> {
  const agent = `/tmp/a8-${runId}-${variantId}`;
  await Deno.mkdir(agent, { mode: 0o700 });
  const secret = crypto.getRandomValues(new Uint8Array(12));
  const program = `${agent}/p-${[...secret].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  await Deno.mkdir(`${program}/stats`, { recursive: true });
  // Modes beyond the umask's say, set after the directories are made.
  for (const d of [program, `${program}/stats`]) await Deno.chmod(d, 0o733);
  await Deno.chmod(agent, 0o711);
  return { agent, program };
}

/** Any user of the program may connect to a socket in the program's directory. */
export async function openToProgram(path: string): Promise<void> {
  await Deno.chmod(path, 0o666);
}

/** The program's directory inside an agent's run directory (root finds it), or null. */
export function programDirOf(agentDir: string): string | null {
  try {
    for (const e of Deno.readDirSync(agentDir)) {
      if (e.isDirectory && /^p-[0-9a-f]{24}$/.test(e.name)) return `${agentDir}/${e.name}`;
    }
  } catch { /* gone, or not ours */ }
  return null;
}
