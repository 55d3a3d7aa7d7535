/**
 * A CRIU service worker started before it is needed.
 *
 * Left to itself, libcriu starts a new `criu swrk` for every call: it forks the agent, the
 * child execs the wrapper, which execs CRIU's loader, which loads CRIU and its libraries.
 * Measured inside a rollback (perf sched events, 2-core VM under load): ~28 ms from the fork
 * to CRIU reading the request, of a restore call of ~75 ms. A spare worker does that part
 * while nothing waits for it; the call hands it to libcriu as an already connected service
 * fd (CRIU_COMM_FD). A worker serves one request and exits, so a new spare is started after
 * each call. (Started at the lowest CPU priority and raised when taken, the spare made no
 * difference to rollback times under load: it runs at the agent's.)
 */
import { type SocketChild, spawnWithSocket } from "./spawn.ts";
import { closeFd, kill, SIGNALS, waitpidNoHang } from "./libc.ts";

export class CriuSpare {
  #ready: SocketChild | null = null;
  /** Workers handed out, reaped once they have ended. */
  #spent: number[] = [];
  #closed = false;

  constructor(readonly serviceBinary: string) {}

  /**
   * Starts a worker unless one is ready. A failure is not an error: the next call then goes
   * without, and libcriu starts its own CRIU (and reports it if that fails too).
   */
  refill(): void {
    this.#reapSpent();
    if (this.#closed || this.#ready) return;
    try {
      this.#ready = spawnWithSocket(this.serviceBinary, (fd) => ["swrk", String(fd)]);
    } catch {
      this.#ready = null;
    }
  }

  /**
   * The ready worker, now the caller's: libcriu closes its fd after the request, and the
   * worker exits after answering. Null when none is ready or the ready one has died.
   */
  take(): SocketChild | null {
    const w = this.#ready;
    this.#ready = null;
    if (!w) return null;
    if (this.#ended(w.pid)) {
      closeFd(w.fd);
      return null;
    }
    // Reaped later by pid: the zombie keeps the pid from being handed out again till then.
    this.#spent.push(w.pid);
    return w;
  }

  /**
   * Kills the ready worker and reaps what has ended. SIGKILL, not its end of file, on which
   * CRIU would print an error ("Can't recv request") to the agent's stderr.
   */
  close(): void {
    this.#closed = true;
    const w = this.#ready;
    this.#ready = null;
    if (w) {
      kill(w.pid, SIGNALS.SIGKILL);
      closeFd(w.fd);
      this.#spent.push(w.pid);
    }
    // The killed spare dies at once and a spent worker exits right after its answer; the
    // bound only keeps a stuck one from holding the agent up (it is then left to init).
    const deadline = performance.now() + 100;
    while (this.#spent.length && performance.now() < deadline) this.#reapSpent();
  }

  #reapSpent(): void {
    this.#spent = this.#spent.filter((pid) => !this.#ended(pid));
  }

  /** Reaps `pid` if it has ended; true also when it is no longer ours to wait for. */
  #ended(pid: number): boolean {
    try {
      return waitpidNoHang(pid) !== null;
    } catch {
      return true;
    }
  }
}

/**
 * The CRIU config file that asks for a sibling restore ("restore-sibling"), which a restore
 * through a spare needs (libcriu sets `rst_sibling` only when it starts the worker itself). In
 * a directory of the agent's own (mode 0700), so that nobody else can put other options in
 * its place. CRIU skips a config file it cannot find, so each use checks it, and makes it anew
 * if it is gone (a cleaner of /tmp).
 */
export class SiblingConf {
  static readonly TEXT = "restore-sibling\n";
  #dir: string | null = null;

  /** The file's path, made if need be; undefined if it cannot be had as written. */
  path(): string | undefined {
    if (this.#dir && this.#intact()) return this.#file();
    this.remove();
    try {
      this.#dir = Deno.makeTempDirSync({ prefix: "a8-criu-" });
      Deno.writeTextFileSync(this.#file(), SiblingConf.TEXT, { mode: 0o600 });
    } catch {
      return undefined;
    }
    return this.#intact() ? this.#file() : undefined;
  }

  remove(): void {
    if (!this.#dir) return;
    try {
      Deno.removeSync(this.#dir, { recursive: true });
    } catch {
      // Gone already: nothing to do.
    }
    this.#dir = null;
  }

  #file(): string {
    return `${this.#dir}/restore-sibling.conf`;
  }

  #intact(): boolean {
    try {
      const st = Deno.lstatSync(this.#file());
      return st.isFile && st.uid === Deno.uid() &&
        Deno.readTextFileSync(this.#file()) === SiblingConf.TEXT;
    } catch {
      return false;
    }
  }
}
