/**
 * The agent's side of the "criu" checkpoint engine: dump a variant's process tree while it keeps
 * running, and later kill whatever the tree has become and restore it from a dump.
 *
 * a8 rolls a variant back to an earlier checkpoint; it never resumes a killed variant. So a dump
 * always leaves the tree running (`leave_running`), and a restore always follows `killTree`,
 * which frees the tree's pids (CRIU restores every process under its old pid). Restored trees
 * come back as the agent's children (`criu_restore_child`), and the agent is a child subreaper,
 * so everything of a variant's tree ends up reaped here, never by init.
 *
 * Sockets: a dump takes live TCP connections (`tcp_established`; CRIU's default network lock
 * needs iptables-restore, absent here, so the lock is nftables, built into criu), and a restore
 * brings them back closed (`tcp_close`): a rollback must not resume a conversation the other
 * side has moved on from (the criu engine puts the live ones back, criu_engine.ts); listening
 * sockets come back listening.
 * `killTree` aborts the killed tree's connections (peers get a RST, and no lingering socket
 * keeps the restore from binding its ports again).
 *
 * Stdio: a variant inherits the agent's stdin, stdout and stderr (pipes, a terminal, files);
 * the restore hands it the agent's again (see `stdioToInherit`).
 * Details and measurements: docs/criu.md.
 */
import { CriuError, errorLines, Libcriu } from "../../ffi/libcriu.ts";
import { CRIU_DUMP, CRIU_RESTORE } from "./criu_options.ts";
import { criuBinaries } from "../../ffi/criu_paths.ts";
import {
  type ExitStatus,
  isChildSubreaper,
  setChildSubreaper,
  waitpidBlocking,
} from "../../ffi/libc.ts";
import type { Logger } from "../log.ts";
import { stdioToInherit, stdioTtys } from "./criu_stdio.ts";
import { killTree } from "./kill_tree.ts";
import { settleOutput } from "./output_settle.ts";
import { dumpFailureReason } from "./criu_failure.ts";
import { type NotedFile, noteOpenFiles, withFilesFitted } from "./dumped_files.ts";
import { readStat, treeOf, waitPidFree } from "./proc_tree.ts";

export interface CriuDriverOptions {
  /** The monitors' run directory (A8_RUN_DIR): their replay logs. */
  runDir: string;
  /** Where images go, `<imagesDir>/<epoch>/`: the agent's, out of the program's reach. */
  imagesDir: string;
  log: Logger;
  /**
   * How many epochs' images stay on disk: after a dump of epoch E, those above E - keepImages.
   * Default 2 (as the fork engine keeps), at least 1.
   */
  keepImages?: number;
  /**
   * Run `criu check` in `open` (~90 ms): a kernel CRIU cannot work with shows at start, not at
   * the first checkpoint. Default true.
   */
  check?: boolean;
}

export interface DumpResult {
  /** Wall time of `dump`, ms (CRIU's run is almost all of it). */
  ms: number;
  /** Where the images are. */
  dir: string;
}

export interface RestoreResult {
  /** The restored root: the old root's pid, now the agent's child (reap it with `waitExit`). */
  pid: number;
  ms: number;
}

/** How a process ended, in Deno's terms: a signal's death has code 128 + signal. */
export interface ProcessEnd {
  code: number;
  signal: number | null;
}

/**
 * Linux 6.16 refuses getsockopt(SO_PASSCRED) on inet sockets; CRIU before 4.2 then cannot dump
 * any process with an IPv4/IPv6 socket (docs/criu.md).
 */
const MIN_VERSION_NEW_KERNEL = 40200;
const NEW_KERNEL: [number, number] = [6, 16];

/** What the driver notes next to CRIU's images: what the restore must repeat of the dump. */
interface ImagesMeta {
  root: number;
  shellJob: boolean;
  /** The regular files whose paths and sizes CRIU checks at the restore (dumped_files.ts). */
  files?: NotedFile[];
}

/** The clocks of the dumped tree's time namespace (the host's: id 0); see dump(). */
const TIMENS_IMAGE = "timens-0.img";
const META = "a8-criu.json";

/** Subreaper users in this process; the flag is per process, the drivers may be several. */
let subreaperUsers = 0;
let subreaperWasOn = false;

function kernelAtLeast([major, minor]: [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(Deno.osRelease());
  if (!m) return true;
  return +m[1] > major || (+m[1] === major && +m[2] >= minor);
}

function versionText(v: number): string {
  return `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}`;
}

function toEnd(st: ExitStatus): ProcessEnd {
  return st.signal === null
    ? { code: st.code ?? 0, signal: null }
    : { code: 128 + st.signal, signal: st.signal };
}

export class CriuDriver {
  readonly #lib: Libcriu;
  readonly #log: Logger;
  readonly #base: string;
  readonly #runDir: string;
  readonly #keep: number;
  /** Roots this driver restored: its children, which it reaps (Deno reaps the ones it spawned). */
  readonly #restored = new Set<number>();
  /** waitExit's pending waits by pid: the only reaper of that pid while it runs. */
  readonly #waits = new Map<number, Promise<ProcessEnd>>();
  /** dump and restore run one at a time (libcriu's RPC is one call per criu_opts). */
  #chain: Promise<unknown> = Promise.resolve();
  #busy = 0;
  #closed = false;

  private constructor(lib: Libcriu, o: CriuDriverOptions, keep: number) {
    this.#lib = lib;
    this.#log = o.log;
    this.#base = o.imagesDir;
    this.#runDir = o.runDir;
    this.#keep = keep;
  }

  /**
   * Finds CRIU (the project's .tools/criu first, as `a8 doctor` does), loads libcriu, checks
   * that the CRIU can work on this kernel, and makes the agent a child subreaper: orphans of a
   * variant's tree, and every process of a restored tree once its parent dies, become the
   * agent's children, so `killTree` can reap them and free their pids. Throws an Error that
   * says what is missing and how to get it.
   */
  static async open(o: CriuDriverOptions): Promise<CriuDriver> {
    const keep = o.keepImages ?? 2;
    if (!Number.isInteger(keep) || keep < 1) {
      throw new RangeError(`keepImages must be an integer >= 1, got ${keep}`);
    }
    const fail = (why: string, cause?: unknown) =>
      new Error(
        `criu checkpoints unusable: ${why}` +
          (Deno.uid() === 0 ? "" : `\n(CRIU needs root; the agent runs as uid ${Deno.uid()})`),
        { cause },
      );
    const binaries = criuBinaries();
    if (binaries.length === 0) {
      throw fail("no CRIU found (.tools/criu/criu, PATH, /usr/sbin): run scripts/criu.sh");
    }
    let lib: Libcriu;
    try {
      lib = Libcriu.open({ serviceBinary: binaries[0], spare: true });
    } catch (e) {
      throw fail((e as Error).message, e);
    }
    try {
      const v = await lib.version().catch((e) => {
        throw fail(`libcriu cannot talk to ${lib.serviceBinary}: ${(e as Error).message}`, e);
      });
      if (v < MIN_VERSION_NEW_KERNEL && kernelAtLeast(NEW_KERNEL)) {
        throw fail(
          `${lib.serviceBinary} is CRIU ${versionText(v)}; on Linux ${Deno.osRelease()} it ` +
            `cannot dump TCP sockets, CRIU >= 4.2 can: run scripts/criu.sh`,
        );
      }
      if (o.check ?? true) {
        await lib.check().catch((e) => {
          throw fail((e as Error).message, e);
        });
      }
      await Deno.mkdir(o.imagesDir, { recursive: true, mode: 0o700 });
      if (subreaperUsers === 0) {
        subreaperWasOn = isChildSubreaper();
        setChildSubreaper(true);
      }
      subreaperUsers++;
      const driver = new CriuDriver(lib, o, keep);
      o.log.info("criu ready", {
        criu: lib.serviceBinary,
        version: versionText(v),
        libcriu: lib.path,
        images: driver.#base,
        keep,
      });
      return driver;
    } catch (e) {
      lib.close();
      throw e;
    }
  }

  /** Dumps and restores that found a CRIU worker started ahead (ffi/criu_spare.ts). */
  get callsOnSpareWorker(): number {
    return this.#lib.callsOnSpare;
  }

  /** The images directory of one epoch (it exists only once that epoch's dump succeeded). */
  imagesDir(epoch: number): string {
    return `${this.#base}/${epoch}`;
  }

  /** Epochs whose images are on disk, oldest first. */
  epochs(): number[] {
    const out: number[] = [];
    try {
      for (const e of Deno.readDirSync(this.#base)) {
        if (e.isDirectory && /^\d+$/.test(e.name)) out.push(+e.name);
      }
    } catch {
      // No directory: no epochs.
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * Dumps the tree rooted at `rootPid` and leaves it running (it is frozen only while CRIU
   * collects it). The images go to a scratch directory that becomes `<imagesDir>/<epoch>/`
   * only when CRIU succeeded, replacing an older dump of the same epoch, so an epoch's
   * directory always holds a whole dump. Then epochs `keepImages` or more below `epoch` go. A
   * failed dump's directory is kept, as `failed-<epoch>/` (the newest failure only), an older
   * dump of that epoch is removed, and the Error's message has the end of CRIU's log.
   * `tree`: the tree's pids, if the caller knows them (else /proc is scanned for them).
   */
  async dump(
    rootPid: number,
    epoch: number,
    tree: () => readonly number[] = () => treeOf(rootPid),
  ): Promise<DumpResult> {
    this.#checkEpoch(epoch);
    if (!Number.isInteger(rootPid) || rootPid <= 1) throw new RangeError(`bad root pid ${rootPid}`);
    return await this.#exclusive(async () => {
      const t0 = performance.now();
      const final = this.imagesDir(epoch);
      const scratch = `${this.#base}/.dumping-${epoch}`;
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
      await Deno.mkdir(scratch, { recursive: true });
      let criuMs: number;
      try {
        const external = stdioTtys();
        // A root that is not a session leader (its session belongs to the agent) needs CRIU's
        // shell-job mode, at the dump and at the restore: the restore reads it back.
        const shellJob = (readStat(rootPid)?.session ?? rootPid) !== rootPid;
        const meta: ImagesMeta = { root: rootPid, shellJob, files: noteOpenFiles(tree()) };
        await Deno.writeTextFile(`${scratch}/${META}`, JSON.stringify(meta) + "\n");
        const opts = {
          ...CRIU_DUMP,
          imagesDir: scratch,
          pid: rootPid,
          leaveRunning: true,
          external,
          shellJob,
        };
        criuMs = (await this.#lib.dump(opts)).ms;
      } catch (e) {
        const kept = `${this.#base}/failed-${epoch}`;
        // An older dump of this epoch is of a future a rollback undid: restoring it would bring
        // that back. Without it a restore of this epoch fails, as it should.
        await Deno.remove(final, { recursive: true }).catch(() => {});
        await this.#removeFailed();
        await Deno.rename(scratch, kept).catch(() => {});
        const why = dumpFailureReason(await Deno.readTextFile(`${kept}/dump.log`).catch(() => ""));
        this.#log.warn("criu dump failed", { pid: rootPid, epoch, images: kept, why });
        throw new Error(
          `checkpoint of pid ${rootPid} at epoch ${epoch} failed${why ? `: ${why}` : ""} ` +
            `(images and dump.log in ${kept}): ${(e as Error).message}`,
          { cause: e },
        );
      }
      // CRIU records the tree's monotonic and boot-time clocks and restores it in a time
      // namespace whose clocks go on from there, as if no time had passed since the dump. a8
      // restores a process that lived on after the dump: its replay gives it the clock values
      // it read since, so its clocks must be the host's, which they are without this image.
      await Deno.remove(`${scratch}/${TIMENS_IMAGE}`).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      await Deno.remove(final, { recursive: true }).catch(() => {});
      await Deno.rename(scratch, final);
      await this.#prune(epoch);
      const ms = performance.now() - t0;
      this.#log.info("criu dump", {
        pid: rootPid,
        epoch,
        ms: Math.round(ms),
        criu_ms: Math.round(criuMs),
      });
      return { ms, dir: final };
    });
  }

  /**
   * Restores epoch `epoch`'s tree as the agent's child. Established TCP connections come back
   * closed (the process sees them end: EOF, or an error on its next read or write), listening
   * sockets come back listening on the same address. Every pid of the dumped tree must be free:
   * `killTree` the current tree first. The returned pid is the old root's; `waitExit` reaps it.
   */
  async restore(epoch: number): Promise<RestoreResult> {
    this.#checkEpoch(epoch);
    return await this.#exclusive(async () => {
      const t0 = performance.now();
      const dir = this.imagesDir(epoch);
      try {
        await Deno.stat(`${dir}/inventory.img`);
      } catch {
        throw new Error(`restore of epoch ${epoch}: no images in ${dir} (kept: ${this.epochs()})`);
      }
      let pid: number;
      let criuMs: number;
      try {
        const meta = JSON.parse(await Deno.readTextFile(`${dir}/${META}`)) as ImagesMeta;
        const o = { ...CRIU_RESTORE, imagesDir: dir, inheritFds: stdioToInherit() };
        // The restored processes wait for the agent's word: they write nothing meanwhile.
        const restore = () => this.#lib.restore({ ...o, shellJob: meta.shellJob });
        const once = () => withFilesFitted(meta.files ?? [], this.#log, restore);
        ({ pid, ms: criuMs } = await once().catch(async (e) => {
          if (!(await this.#pidFreedSoon(e, epoch))) throw e;
          return await once();
        }));
      } catch (e) {
        const msg = (e as Error).message;
        const hint = /File exists|Can't fork for/.test(msg)
          ? "\n(a pid of the dumped tree is in use: killTree the current tree first)"
          : /Address already in use/.test(msg)
          ? "\n(a port the dump listens on is taken: by another program, by a live listening " +
            "socket held through the rollback whose port the image has without SO_REUSEPORT, " +
            "or by sockets of connections the program closed itself in the last minute, if it " +
            "does not set SO_REUSEADDR; killTree aborts only the connections open when it runs)"
          : "";
        this.#log.warn("criu restore failed", {
          epoch,
          images: dir,
          criu_log: e instanceof CriuError ? errorLines(e.logTail) : undefined,
        });
        throw new Error(`restore of epoch ${epoch} failed: ${msg}${hint}`, {
          cause: e,
        });
      }
      this.#restored.add(pid);
      const ms = performance.now() - t0;
      this.#log.info("criu restore", {
        pid,
        epoch,
        ms: Math.round(ms),
        criu_ms: Math.round(criuMs),
      });
      return { pid, ms };
    });
  }

  /**
   * A restore that failed because a pid of the dump was taken: killTree freed the tree's own,
   * so another process has it, one started since the dump (a process of the tree that ended
   * then left its pid free: a CRIU worker or a keeper of the other variant may get it). One
   * that ends within 200 ms gets the restore tried once more.
   */
  async #pidFreedSoon(e: unknown, epoch: number): Promise<boolean> {
    const m = e instanceof CriuError ? /Can't fork for (\d+): File exists/.exec(e.logTail) : null;
    if (!m) return false;
    const taken = await waitPidFree(Number(m[1]), 200);
    this.#log.warn("a pid of the dump was taken at the restore", { epoch, ...taken });
    return taken.free;
  }

  /**
   * SIGKILLs the tree rooted at `rootPid` and waits until all of its pids are free (see
   * kill_tree.ts). The driver reaps the roots it restored, unless a `waitExit` waits for one.
   * `spare`: sockets ("socket:[inode]") whose connections must not be aborted (another process
   * holds them on). `hold`: listening sockets to keep open past the kill; the fds holding them
   * are returned (KillTreeOptions.hold).
   */
  killTree(
    rootPid: number,
    timeoutMs = 5000,
    spare: ReadonlySet<string> = new Set(),
    hold: ReadonlySet<string> = new Set(),
  ): Promise<number[]> {
    return killTree(rootPid, {
      timeoutMs,
      spare,
      hold,
      log: this.#log,
      mayReap: (pid) => (pid !== rootPid || this.#restored.has(pid)) && !this.#waits.has(pid),
      gone: (pid) => this.#restored.delete(pid),
      settle: async (pid) => (await settleOutput(pid, this.#runDir, this.#log)) !== "none",
    });
  }

  /**
   * Waits until `pid`, a child this process did not spawn with Deno.Command (a restored root),
   * ends, and reaps it. It does not poll: waitpid(pid, 0) blocks one thread of Deno's blocking
   * pool until then. Calls for the same pid share one wait. Never pass a pid Deno spawned: the
   * status would be taken from its `ChildProcess.status`. Rejects (ECHILD) for a pid that is
   * not, or no longer, this process's child.
   */
  waitExit(pid: number): Promise<ProcessEnd> {
    let w = this.#waits.get(pid);
    if (!w) {
      w = waitpidBlocking(pid).then(toEnd).finally(() => {
        this.#waits.delete(pid);
        this.#restored.delete(pid);
      });
      this.#waits.set(pid, w);
    }
    return w;
  }

  /**
   * Unloads libcriu (after the dump or restore that may be running) and gives up the child
   * subreaper flag when no other driver holds it. Pending `waitExit`s still resolve.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (--subreaperUsers === 0 && !subreaperWasOn) setChildSubreaper(false);
    if (this.#busy === 0) this.#lib.close();
    else this.#chain.finally(() => this.#lib.close());
  }

  #checkEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`bad epoch ${epoch}`);
  }

  /** Runs `f` after every earlier dump and restore finished, whether they failed or not. */
  #exclusive<T>(f: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the CRIU driver is closed"));
    this.#busy++;
    const run = this.#chain.then(f, f).finally(() => this.#busy--);
    this.#chain = run.catch(() => {});
    return run;
  }

  /**
   * After a dump of `newest`: removes the epochs keepImages or more below it, the rule of the
   * fork engine's copies (src/checkpoint/copies.ts). Epochs above it are left alone: after a
   * rollback the next dumps reuse their numbers and replace them.
   */
  /**
   * Removes the images of every epoch below `epoch` (a follower, once its leader has epoch:
   * no rollback goes further back). Serialized with dumps and restores.
   */
  discardBelow(epoch: number): Promise<void> {
    return this.#exclusive(async () => {
      for (const e of this.epochs().filter((e) => e < epoch)) {
        await Deno.remove(this.imagesDir(e), { recursive: true }).catch((err) =>
          this.#log.warn("cannot remove old images", { epoch: e, error: (err as Error).message })
        );
      }
    });
  }

  async #prune(newest: number): Promise<void> {
    for (const epoch of this.epochs().filter((e) => e <= newest - this.#keep)) {
      await Deno.remove(this.imagesDir(epoch), { recursive: true }).catch((e) =>
        this.#log.warn("cannot remove old images", { epoch, error: (e as Error).message })
      );
    }
  }

  async #removeFailed(): Promise<void> {
    for (const e of Deno.readDirSync(this.#base)) {
      if (e.name.startsWith("failed-")) {
        await Deno.remove(`${this.#base}/${e.name}`, { recursive: true }).catch(() => {});
      }
    }
  }
}
