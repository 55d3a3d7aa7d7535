/**
 * CRIU keeps no file contents: for each regular file the tree has open it records the path and
 * the size, and a restore fails if the size changed ("has bad size"; a file opened write-only
 * for appending, a log, is not checked). a8 rolls back a program that went on writing its
 * files after the dump: the restored leader's replay writes the same bytes at the same offsets
 * again (as with the fork engine, files are not rolled back).
 *
 * So the agent notes the sizes at the dump (`noteOpenFiles`), and before a restore gives each
 * changed file its dump-time size (`fitFiles`), the bytes past it held aside; once CRIU has
 * opened it (the restored processes wait for the agent's word and write nothing meanwhile) the
 * file is put back as it was. Nothing is lost; a reader outside the tree could see the file
 * shorter, or zero-padded, for the few ms of the restore. A file unlinked since the dump cannot
 * be given back (a hard link made at the dump would keep its inode linked, and CRIU could no
 * longer dump a tree that holds it open unlinked): that restore fails, and the run stops with
 * the divergence report.
 */
import type { Logger } from "../log.ts";
import { fdTargets } from "./proc_tree.ts";

/** A regular file the tree had open at the dump (identified by device and inode). */
export interface NotedFile {
  path: string;
  dev: number;
  ino: number;
  size: number;
}

/** At most this many bytes past the dump-time sizes are held, in all (more: CRIU refuses). */
export const MAX_HELD_BYTES = 64 << 20;

const O_ACCMODE = 0o3;
const O_RDONLY = 0o0;
const O_WRONLY = 0o1;
const O_APPEND = 0o2000;

/** The fd's open flags from /proc/PID/fdinfo/FD ("flags:" in octal); null if gone. */
function fdFlags(pid: number, fd: number): number | null {
  try {
    const m = /^flags:\s*([0-7]+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd}`));
    return m ? parseInt(m[1], 8) : null;
  } catch {
    return null;
  }
}

/** CRIU checks the size of every regular file but one opened write-only for appending. */
function sizeChecked(flags: number): boolean {
  return !((flags & O_ACCMODE) === O_WRONLY && (flags & O_APPEND));
}

/** Opened for writing: the tree itself may have changed the file's size. */
function writable(flags: number): boolean {
  return (flags & O_ACCMODE) !== O_RDONLY;
}

/** The agent's stdio files: the restore hands them over (criu_stdio.ts), CRIU checks nothing. */
function agentStdio(): Set<string> {
  const keys = new Set<string>();
  for (const fd of [0, 1, 2]) {
    try {
      const st = Deno.statSync(`/proc/self/fd/${fd}`);
      if (st.isFile) keys.add(`${st.dev}:${st.ino}`);
    } catch {
      // closed
    }
  }
  return keys;
}

/**
 * The regular files whose size CRIU records when it dumps `pids` and that the tree has open for
 * writing (one entry per file). A file only read there that changed size was changed from
 * outside: it is not the agent's to cut, and CRIU refuses the restore.
 */
export function noteOpenFiles(pids: readonly number[]): NotedFile[] {
  const inherited = agentStdio();
  const seen = new Map<string, NotedFile>();
  const written = new Set<string>();
  for (const pid of pids) {
    for (const [fd, target] of fdTargets(pid)) {
      // A deleted file goes into the image whole (CRIU's ghost files): nothing to check.
      if (!target.startsWith("/") || target.endsWith(" (deleted)")) continue;
      let st: Deno.FileInfo;
      try {
        st = Deno.statSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const flags = fdFlags(pid, fd);
      const key = `${st.dev}:${st.ino}`;
      if (!st.isFile || flags === null || !sizeChecked(flags) || inherited.has(key)) continue;
      if (writable(flags)) written.add(key);
      if (seen.has(key)) continue;
      seen.set(key, {
        path: target,
        dev: st.dev,
        ino: st.ino ?? 0,
        size: st.size,
      });
    }
  }
  return [...seen].filter(([key]) => written.has(key)).map(([, f]) => f);
}

/** Puts every fitted file back as it was. */
export type Unfit = () => void;

function sameFile(st: Deno.FileInfo, f: NotedFile): boolean {
  return st.isFile && st.dev === f.dev && st.ino === f.ino;
}

function readTail(file: Deno.FsFile, from: number, len: number): Uint8Array {
  const tail = new Uint8Array(len);
  file.seekSync(from, Deno.SeekMode.Start);
  for (let got = 0; got < len;) {
    const n = file.readSync(tail.subarray(got));
    if (!n) return tail.subarray(0, got); // it shrank meanwhile: keep what there was
    got += n;
  }
  return tail;
}

/**
 * The file at its dump-time size, the bytes past it read first (at most `budget`); the undo.
 * Null: unchanged, replaced, or over the budget. The file is checked through the handle
 * opened, so a file renamed over it meanwhile is not the one cut.
 */
function fitOne(f: NotedFile, budget: number): { undo: () => void; held: number } | null {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(f.path, { read: true, write: true });
  } catch {
    return null; // gone, or not ours to write: CRIU says what it finds
  }
  try {
    const st = file.statSync();
    if (!sameFile(st, f) || st.size === f.size || st.size - f.size > budget) {
      file.close();
      return null;
    }
    const now = st.size;
    const tail = now > f.size ? readTail(file, f.size, now - f.size) : new Uint8Array(0);
    file.truncateSync(f.size);
    const undo = () => {
      try {
        if (tail.length) {
          file.seekSync(f.size, Deno.SeekMode.Start);
          for (let put = 0; put < tail.length;) put += file.writeSync(tail.subarray(put));
        } else {
          file.truncateSync(now);
        }
      } finally {
        file.close();
      }
    };
    return { undo, held: tail.length };
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Gives each noted file that changed size its dump-time size (see above), holding at most
 * MAX_HELD_BYTES in all. Files that are gone from their path, were replaced, cannot be
 * written, or do not fit the budget are left alone: CRIU's restore then fails and says which.
 * Call `unfit` once the restore is over, whatever its outcome: it puts every file back, each
 * on its own (a failure is logged, the other files are still put back).
 */
export function fitFiles(
  files: readonly NotedFile[],
  log: Logger,
): { unfit: Unfit; fitted: string[] } {
  const undo: [string, () => void][] = [];
  const unfit = () => {
    for (const [path, u] of undo.splice(0).reverse()) {
      try {
        u();
      } catch (e) {
        log.error("a file cut for the restore could not be put back", {
          path,
          error: (e as Error).message,
        });
      }
    }
  };
  let budget = MAX_HELD_BYTES;
  for (const f of files) {
    try {
      const r = fitOne(f, budget);
      if (!r) continue;
      undo.push([f.path, r.undo]);
      budget -= r.held;
    } catch (e) {
      log.warn("cannot give a file its size at the dump", {
        path: f.path,
        error: (e as Error).message,
      });
    }
  }
  return { unfit, fitted: undo.map(([path]) => path) };
}

/** Runs `restore` with the noted files fitted (fitFiles), and puts them back after it. */
export async function withFilesFitted<T>(
  files: readonly NotedFile[],
  log: Logger,
  restore: () => Promise<T>,
): Promise<T> {
  const { unfit, fitted } = fitFiles(files, log);
  if (fitted.length) log.debug("criu restore: files fitted", { files: fitted.join(",") });
  try {
    return await restore();
  } finally {
    unfit();
  }
}
