/**
 * Opening a file the program's processes made, in a directory every user of the program may
 * write to (src/run/run_dirs.ts), as root: never through a symbolic link or into a hard link to
 * some other file. Deno has no O_NOFOLLOW: the file is looked at first (lstat), opened, and must
 * then be that same file (device and inode), with one link.
 */

export class NotRegularFile extends Error {}

export function openRegularSync(path: string, options: Deno.OpenOptions): Deno.FsFile {
  const seen = Deno.lstatSync(path);
  if (!seen.isFile) throw new NotRegularFile(`${path}: not a plain file`);
  const f = Deno.openSync(path, { ...options, truncate: false, create: false });
  const got = f.statSync();
  if (got.ino !== seen.ino || got.dev !== seen.dev || got.nlink !== 1) {
    f.close();
    throw new NotRegularFile(`${path}: replaced while opened, or linked elsewhere`);
  }
  return f;
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
