/**
 * Where a run's files go on this host. Three directories, because the program may not stay
 * root: nginx's workers and lighttpd with `server.username` drop to another user, and their
 * monitors must still make files (stats, replay logs, keepers' sockets) and reach the agent's
 * socket.
 *
 * - the agent's, `/tmp/a8-<run id>-<variant id>`, mode 0711: root's (CRIU's images, the agent
 *   socket), passable by anyone, writable by nobody else. The socket in it is mode 0666: only a
 *   connection that shows the run's token first counts (src/launch/events.ts).
 * - the program's, `program-<random>/` inside it (A8_RUN_DIR), mode 1733 like /tmp: every user
 *   of the program may make files there, none may remove or replace another's (sticky), and
 *   nobody may list it. Its name is random and the agent's directory cannot be listed either, so
 *   another local user cannot find it to plant a file under a name a monitor will use (which
 *   would deny that process its stats or checkpoints). The monitors open their files there
 *   without following links, and only as their own or root's plain files
 *   (preload/core/runfile.c); the agent does likewise (util/open_regular.ts).
 * - the keepers', `keepers/` inside it (A8_KEEP_DIR), mode 1733: the criu engine's keepers bind
 *   their sockets there. A bound socket's path shows in /proc/net/unix to every user, so they
 *   are kept out of the program's directory, whose name would show with them, and each one's
 *   name is keyed (preload/ckpt/keeper.c), so that nobody can take the next one's first.
 */

import { randomHex } from "../peer/auth.ts";

export interface RunDirs {
  /** The agent's own files; removing it removes the run's files. */
  agent: string;
  /** The monitors' files (A8_RUN_DIR): stats, replay logs. */
  program: string;
  /** The criu engine keepers' sockets (A8_KEEP_DIR). */
  keepers: string;
  /** The agent socket's path. */
  socket: string;
}

const STICKY_OPEN = 0o1733;
const PROGRAM_PREFIX = "program-";

/**
 * Makes all three, and `prepare`s the program's (the agent's files in it) before anyone else may
 * enter; throws if the agent's exists already (a run id is never reused).
 */
export async function makeRunDirs(
  runId: string,
  variantId: number,
  prepare: (program: string) => Promise<void> = () => Promise.resolve(),
): Promise<RunDirs> {
  const agent = `/tmp/a8-${runId}-${variantId}`;
  await Deno.mkdir(agent, { mode: 0o700 });
  const program = `${agent}/${PROGRAM_PREFIX}${randomHex(8)}`;
  const keepers = `${agent}/keepers`;
  await Deno.mkdir(`${program}/stats`, { recursive: true, mode: 0o700 });
  await Deno.mkdir(keepers, { mode: 0o700 });
  await prepare(program);
  // Modes beyond the umask's say, set once made, while the agent's is still root's only.
  for (const d of [program, `${program}/stats`, keepers]) await Deno.chmod(d, STICKY_OPEN);
  await Deno.chmod(agent, 0o711);
  return { agent, program, keepers, socket: `${agent}/agent.sock` };
}

/**
 * Any user of the program may connect to the agent socket. Safe to do by path: it lies in the
 * agent's directory, where no one else can put anything in its place.
 */
export async function openToProgram(socket: string): Promise<void> {
  await Deno.chmod(socket, 0o666);
}

/** The program's directory inside an agent's run directory (root may list it), or null. */
export async function findProgramDir(agentDir: string): Promise<string | null> {
  for await (const e of Deno.readDir(agentDir)) {
    if (e.isDirectory && e.name.startsWith(PROGRAM_PREFIX)) return `${agentDir}/${e.name}`;
  }
  return null;
}
