/**
 * Opening a file the program's processes made, in a directory others may write to (src/run/
 * run_dirs.ts), as root: never through a symbolic link, never a FIFO or device, nor a hard link
 * to some other file. Deno's open has no O_NOFOLLOW: the file is opened with libc (ffi/libc.ts),
 * looked at through that fd, and opened again by Deno through /proc/self/fd, which names the
 * file opened, not the path, so nothing swapped in meanwhile is reached.
 */
import { closeFd, openNoFollow } from "../../ffi/libc.ts";

export class NotRegularFile extends Error {}

export function openRegularSync(path: string, options: Deno.OpenOptions): Deno.FsFile {
  let fd: number;
  try {
    fd = openNoFollow(path, options.write === true);
  } catch (e) {
    throw new NotRegularFile(`${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const opened = `/proc/self/fd/${fd}`;
    const st = Deno.statSync(opened);
    if (!st.isFile || st.nlink !== 1) {
      throw new NotRegularFile(`${path}: not a plain file with one link`);
    }
    return Deno.openSync(opened, { ...options, truncate: false, create: false });
  } finally {
    closeFd(fd);
  }
}

/** The whole of such a file. */
export function readRegularFile(path: string): Uint8Array {
  const f = openRegularSync(path, { read: true });
  try {
    const out: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    let total = 0;
    for (;;) {
      const n = f.readSync(buf);
      if (n === null || n === 0) break;
      out.push(buf.slice(0, n));
      total += n;
    }
    const all = new Uint8Array(total);
    let off = 0;
    for (const p of out) {
      all.set(p, off);
      off += p.length;
    }
    return all;
  } finally {
    f.close();
  }
}
