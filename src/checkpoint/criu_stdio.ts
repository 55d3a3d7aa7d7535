/**
 * The agent's stdin, stdout and stderr in CRIU's terms. A variant inherits them from the agent
 * (pipes, a terminal, files), so its dump refers to files outside the tree, which the restore
 * must hand it again. Details: docs/criu.md ("Stdio").
 */
import type { InheritFd } from "../../ffi/libcriu.ts";

/**
 * The agent's stdio, as CRIU names them in images: a variant that inherited them (the launcher
 * passes stdio through) gets them back on restore. Otherwise CRIU would give it a new pipe in
 * place of a pipe to the outside, which nobody reads (its first write would kill it with
 * SIGPIPE), would refuse a regular file that grew since the dump ("has bad size") unless it
 * was opened O_APPEND, and could not dump a terminal at all (its master side is outside the
 * tree): terminals are declared external at the dump (`stdioTtys`) and inherited at the restore.
 * Files the dumped tree does not use are ignored by CRIU.
 */
export function stdioToInherit(): InheritFd[] {
  const out: InheritFd[] = [];
  const keys = new Set<string>();
  for (const fd of [0, 1, 2]) {
    const key = stdioKey(fd);
    if (key === null || keys.has(key)) continue;
    keys.add(key);
    out.push({ fd, key });
  }
  return out;
}

/** The terminals among the agent's stdio, as CRIU's external resources. */
export function stdioTtys(): string[] {
  const ttys = new Set<string>();
  for (const fd of [0, 1, 2]) {
    const key = stdioKey(fd);
    if (key?.startsWith("tty[")) ttys.add(key);
  }
  return [...ttys];
}

/** CRIU's name for the file on the agent's fd `fd`, or null if it needs none. */
function stdioKey(fd: number): string | null {
  let target: string;
  try {
    target = Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null; // Closed.
  }
  if (/^(pipe|socket):\[\d+\]$/.test(target)) return target;
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
  if (st.isFile) return target.startsWith("/") ? target.slice(1) : null;
  // Terminals: the pty slaves (major 136-143) and the serial and virtual consoles (4, 5).
  const rdev = st.rdev ?? 0;
  const major = ((rdev >> 8) & 0xfff) | Math.floor(rdev / 2 ** 32) & ~0xfff;
  if (st.isCharDevice && (major === 4 || major === 5 || (major >= 136 && major <= 143))) {
    return `tty[${rdev.toString(16)}:${(st.dev ?? 0).toString(16)}]`;
  }
  return null;
}
