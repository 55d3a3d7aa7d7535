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
import { fdTargets } from "./proc_tree.ts";

/** A regular file the tree had open at the dump (identified by device and inode). */
export interface NotedFile {
  path: string;
  dev: number;
  ino: number;
  size: number;
}

/** Past this many bytes grown since the dump a file is not fitted (CRIU then refuses). */
export const MAX_HELD_BYTES = 64 << 20;

const O_ACCMODE = 0o3;
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

/** The regular files whose size CRIU records when it dumps `pids` (one entry per file). */
export function noteOpenFiles(pids: readonly number[]): NotedFile[] {
  const inherited = agentStdio();
  const seen = new Map<string, NotedFile>();
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
      if (!st.isFile || flags === null || !sizeChecked(flags)) continue;
      if (seen.has(key) || inherited.has(key)) continue;
      seen.set(key, {
        path: target,
        dev: st.dev,
        ino: st.ino ?? 0,
        size: st.size,
      });
    }
  }
  return [...seen.values()];
}

/** Puts every fitted file back as it was. */
export type Unfit = () => void;

function sameFile(st: Deno.FileInfo, f: NotedFile): boolean {
  return st.isFile && st.dev === f.dev && st.ino === f.ino;
}

/** The file at its dump-time size; the returned function undoes it. Null: left alone. */
function resize(f: NotedFile, now: number): (() => void) | null {
  if (now === f.size || now - f.size > MAX_HELD_BYTES) return null;
  const file = Deno.openSync(f.path, { read: true, write: true });
  try {
    let tail = new Uint8Array(0);
    if (now > f.size) {
      tail = new Uint8Array(now - f.size);
      file.seekSync(f.size, Deno.SeekMode.Start);
      for (let got = 0; got < tail.length;) {
        const n = file.readSync(tail.subarray(got));
        if (!n) {
          tail = tail.subarray(0, got); // it shrank meanwhile: keep what there was
          break;
        }
        got += n;
      }
    }
    file.truncateSync(f.size);
    return () => {
      if (tail.length) {
        file.seekSync(f.size, Deno.SeekMode.Start);
        for (let put = 0; put < tail.length;) put += file.writeSync(tail.subarray(put));
      } else {
        file.truncateSync(now);
      }
      file.close();
    };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** One noted file at its dump-time size; the undo. Null: left alone (gone, or replaced). */
function fitOne(f: NotedFile): (() => void) | null {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(f.path);
  } catch {
    return null;
  }
  return sameFile(st, f) ? resize(f, st.size) : null;
}

/**
 * Gives each noted file that changed size its dump-time size (see above). Files that are gone
 * from their path, were replaced, or grew by more than MAX_HELD_BYTES are left alone: CRIU's
 * restore then fails and says which. Call `unfit` once the restore is over, whatever its
 * outcome.
 */
export function fitFiles(files: readonly NotedFile[]): { unfit: Unfit; fitted: string[] } {
  const undo: (() => void)[] = [];
  const fitted: string[] = [];
  const unfit = () => {
    for (const u of undo.splice(0).reverse()) u();
  };
  try {
    for (const f of files) {
      const u = fitOne(f);
      if (u) {
        undo.push(u);
        fitted.push(f.path);
      }
    }
  } catch (e) {
    unfit();
    throw e;
  }
  return { unfit, fitted };
}
