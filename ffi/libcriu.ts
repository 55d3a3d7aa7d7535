/**
 * libcriu through Deno FFI: check, dump and restore a process tree.
 *
 * libcriu does no checkpointing itself. Each call forks a CRIU binary in "swrk" mode (its
 * service binary) and talks protobuf RPC to it over a socketpair, so the library and the binary
 * may come from different CRIU releases. With `spare` the binary is started ahead of the call
 * instead (ffi/criu_spare.ts) and libcriu is given the connected socket. a8 uses the library
 * and the binary that scripts/criu.sh unpacks from Debian trixie into .tools/criu/ (libcriu
 * only needs glibc 2.14, so it loads into the agent on Debian 12; the binary runs under
 * trixie's own loader through the wrapper .tools/criu/criu). A system libcriu.so.2 is the
 * fallback.
 *
 * Every operation builds its own criu_opts (the criu_local_* API), so options never leak from
 * one call into the next. The calls that make CRIU work run on Deno's blocking thread pool
 * (`nonblocking`): a dump takes ~100 ms, and the agent's control plane must keep running.
 */
import { closeFd, openDirectory } from "./libc.ts";
import { CriuSpare, SiblingConf } from "./criu_spare.ts";
import { criuBinaries, isFile, type LibcriuCandidate, libcriuCandidates } from "./criu_paths.ts";

const SYMBOLS = {
  criu_local_init_opts: { parameters: ["buffer"], result: "i32" },
  criu_local_free_opts: { parameters: ["pointer"], result: "void" },
  criu_local_set_service_binary: { parameters: ["pointer", "buffer"], result: "i32" },
  criu_local_set_pid: { parameters: ["pointer", "i32"], result: "void" },
  criu_local_set_images_dir_fd: { parameters: ["pointer", "i32"], result: "void" },
  criu_local_set_work_dir_fd: { parameters: ["pointer", "i32"], result: "void" },
  criu_local_set_leave_running: { parameters: ["pointer", "bool"], result: "void" },
  criu_local_set_ext_unix_sk: { parameters: ["pointer", "bool"], result: "void" },
  criu_local_set_tcp_established: { parameters: ["pointer", "bool"], result: "void" },
  criu_local_set_tcp_close: { parameters: ["pointer", "bool"], result: "void" },
  criu_local_set_shell_job: { parameters: ["pointer", "bool"], result: "void" },
  criu_local_set_file_locks: { parameters: ["pointer", "bool"], result: "void" },
  criu_local_set_unprivileged: { parameters: ["pointer", "bool"], result: "void", optional: true },
  criu_local_set_log_level: { parameters: ["pointer", "i32"], result: "void" },
  criu_local_set_log_file: { parameters: ["pointer", "buffer"], result: "i32" },
  criu_local_set_network_lock: { parameters: ["pointer", "i32"], result: "i32", optional: true },
  criu_local_set_tcp_skip_in_flight: {
    parameters: ["pointer", "bool"],
    result: "void",
    optional: true,
  },
  criu_local_add_inherit_fd: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  criu_local_add_external: { parameters: ["pointer", "buffer"], result: "i32" },
  criu_local_dump: { parameters: ["pointer"], result: "i32", nonblocking: true },
  criu_local_restore_child: { parameters: ["pointer"], result: "i32", nonblocking: true },
  // With a spare worker (ffi/criu_spare.ts): the request goes to an fd, and the restore asks
  // for restore_child's "sibling" mode through a config file (libcriu sets it only when it
  // starts the worker itself).
  criu_local_set_service_fd: { parameters: ["pointer", "i32"], result: "void", optional: true },
  // Older libcriu: set_service_fd sets only the fd, this the mode (newer ones lack it).
  criu_local_set_service_comm: { parameters: ["pointer", "i32"], result: "void", optional: true },
  criu_local_set_config_file: { parameters: ["pointer", "buffer"], result: "i32", optional: true },
  criu_local_restore: { parameters: ["pointer"], result: "i32", nonblocking: true, optional: true },
  criu_local_get_version: { parameters: ["pointer"], result: "i32", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** libcriu's protobuf runtime; loaded first so that libcriu's DT_NEEDED finds it by soname. */
const PROTOBUF_C = { protobuf_c_version: { parameters: [], result: "pointer" } } as const;

/** enum criu_service_comm (criu.h): talk to a worker over a connected fd. */
const CRIU_COMM_FD = 1;

/** libcriu return codes (criu.h), negated errno values; Linux's numbers on both ISAs. */
const RETURN_CODES: Record<number, string> = {
  52: "CRIU reported failure (EBADE)",
  111: "could not start or connect to the CRIU service binary (ECONNREFUSED)",
  70: "lost the RPC connection to CRIU (ECOMM)",
  22: "this CRIU does not support the request (EINVAL)",
  74: "unexpected answer from CRIU (EBADMSG)",
  12: "out of memory (ENOMEM)",
};

/** A libcriu call that failed, with the tail of CRIU's own log when there is one. */
export class CriuError extends Error {
  constructor(
    readonly op: string,
    /** libcriu's return value (a negated errno), or 0 when the failure was before the call. */
    readonly code: number,
    detail: string,
    /** The last lines of CRIU's log file, "" if none was written. */
    readonly logTail = "",
  ) {
    super(`criu ${op}: ${detail}${logTail ? `\n--- CRIU log (last lines) ---\n${logTail}` : ""}`);
    this.name = "CriuError";
  }
}

/** CRIU's log verbosity: 0 messages only .. 4 debug. */
export type CriuLogLevel = 0 | 1 | 2 | 3 | 4;

/** How CRIU keeps peers from seeing resets while TCP connections are dumped. */
export type NetworkLock = "iptables" | "nftables" | "skip";
const NETWORK_LOCK: Record<NetworkLock, number> = { iptables: 1, nftables: 2, skip: 3 };

/** Options that dump and restore share; each must match between the two. */
export interface CommonOptions {
  /** Where the images are (restore) or go (dump); must exist. */
  imagesDir: string;
  /** CRIU's log and scratch files; default: imagesDir. */
  workDir?: string;
  /** Log file name inside workDir (CRIU refuses paths). Default "<op>.log". */
  logFile?: string;
  /** Default 4: the log is the only account of why CRIU failed. */
  logLevel?: CriuLogLevel;
  /** Dump and restore established TCP connections (needs a network lock). */
  tcpEstablished?: boolean;
  /** Dump established TCP connections as closed, and restore them closed. */
  tcpClose?: boolean;
  /** Accept unix sockets whose peer is outside the dumped tree. */
  extUnixSk?: boolean;
  /** The tree belongs to a shell job (its session or group leader is outside it, or a tty). */
  shellJob?: boolean;
  /** Dump and restore file locks. */
  fileLocks?: boolean;
  /** Network lock method; CRIU's default is iptables, which needs the iptables tools. */
  networkLock?: NetworkLock;
  /**
   * Leave out connections not yet accept()ed (a listening socket's queue, SYN_RECV): CRIU
   * refuses to dump a listening socket with a connection in its queue otherwise.
   */
  tcpSkipInFlight?: boolean;
  /**
   * CRIU's --unprivileged, for a root caller too: CRIU skips the kernel probes only root needs
   * and keeps the probes' results in $XDG_RUNTIME_DIR/criu.kdat (on a tmpfs) instead of
   * /run/criu.kdat. Ignored by a libcriu that lacks it (CRIU then runs as usual).
   */
  unprivileged?: boolean;
}

export interface DumpOptions extends CommonOptions {
  /** Root of the tree to dump. */
  pid: number;
  /** Keep the tree running after the dump (default false: CRIU kills it). */
  leaveRunning?: boolean;
  /**
   * Resources to treat as outside the tree (criu --external), e.g. "tty[<rdev>:<dev>]" (hex)
   * for a terminal the tree shares with its parent: CRIU refuses a tty whose other side is
   * not in the dump ("Found slave peer index 0 without correspond master peer"). Give the
   * restore the same resource with `inheritFds`.
   */
  external?: string[];
}

/** A file the restored tree should get from the restorer rather than open anew. */
export interface InheritFd {
  /** The fd, open in this process (CRIU's service binary inherits it). */
  fd: number;
  /**
   * What it stands for in the images: "pipe:[<inode>]", "socket:[<inode>]" (as readlink on
   * /proc/<pid>/fd/<n> of the dumped process showed), a regular file's path without its
   * leading "/", or "tty[<rdev>:<dev>]" for a terminal the dump named `external`.
   */
  key: string;
}

export interface RestoreOptions extends CommonOptions {
  /**
   * Pipes, sockets and files that the dumped tree shared with processes outside it (its
   * stdio, typically): the restored tree gets these fds' files in their place. Without this
   * CRIU makes a new pipe nobody reads (the first write kills the process with SIGPIPE), and
   * refuses a regular file that grew since the dump (unless it was opened O_APPEND).
   */
  inheritFds?: InheritFd[];
}

export interface DumpResult {
  /** Wall time of the libcriu call, ms. */
  ms: number;
}

export interface RestoreResult {
  /** The restored root, now a child of this process: reap it with waitpid. */
  pid: number;
  ms: number;
}

export interface OpenOptions {
  /** Load this libcriu (and nothing else) instead of searching. */
  library?: LibcriuCandidate;
  /** The CRIU executable libcriu starts; default: the first of `criuBinaries()`. */
  serviceBinary?: string;
  /**
   * Keep a CRIU worker started ahead of each dump and restore (ffi/criu_spare.ts), so that a
   * call does not wait for CRIU to start: ~30 ms less per call under load. For callers that
   * dump and restore repeatedly (the checkpoint engine); default false.
   */
  spare?: boolean;
}

function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${s}\0`);
}

/** An open libcriu. One operation at a time; `close` unloads it. */
export class Libcriu {
  #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  #preloaded: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[];
  #busy = false;
  #spare: CriuSpare | null = null;
  /** Dumps and restores that went to a spare worker (the others started their own CRIU). */
  callsOnSpare = 0;
  /** The config file that asks for a sibling restore (see SYMBOLS). */
  readonly #siblingConf = new SiblingConf();

  private constructor(
    lib: Deno.DynamicLibrary<typeof SYMBOLS>,
    preloaded: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[],
    /** The library file that was loaded. */
    readonly path: string,
    /** The CRIU executable that does the work. */
    readonly serviceBinary: string,
  ) {
    this.#lib = lib;
    this.#preloaded = preloaded;
  }

  /** Loads the first libcriu that opens; the error lists every attempt. */
  static open(opts: OpenOptions = {}): Libcriu {
    const serviceBinary = opts.serviceBinary ?? criuBinaries()[0] ?? "criu";
    const tried: string[] = [];
    for (const c of opts.library ? [opts.library] : libcriuCandidates()) {
      if (c.path.includes("/") && !isFile(c.path)) {
        tried.push(`${c.path}: missing`);
        continue;
      }
      const preloaded: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];
      try {
        for (const p of c.preload) preloaded.push(Deno.dlopen(p, PROTOBUF_C));
        const lib = new Libcriu(Deno.dlopen(c.path, SYMBOLS), preloaded, c.path, serviceBinary);
        if (opts.spare) lib.#startSpares();
        return lib;
      } catch (e) {
        for (const p of preloaded) p.close();
        tried.push(`${c.path}: ${(e as Error).message}`);
      }
    }
    throw new CriuError(
      "open",
      0,
      `no usable libcriu (run scripts/criu.sh):\n  ${tried.join("\n  ")}`,
    );
  }

  close(): void {
    this.#spare?.close();
    this.#siblingConf.remove();
    this.#lib.close();
    for (const p of this.#preloaded) p.close();
  }

  /** The service binary's version as major*10000 + minor*100 + sublevel (40101 for 4.1.1). */
  async version(): Promise<number> {
    return await this.#withOpts("version", null, async (o) => {
      const v = await this.#lib.symbols.criu_local_get_version(o);
      if (v < 0) throw this.#error("version", v, null);
      return v;
    });
  }

  /**
   * Runs `criu check` with the service binary; throws with CRIU's output when it finds the
   * kernel lacking. Not through the RPC: libcriu sends a check request without options, and
   * CRIU 4.1.1's service worker crashes on that (SIGSEGV), whatever the kernel.
   */
  async check(): Promise<void> {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(this.serviceBinary, {
        args: ["check"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      throw new CriuError("check", 0, `cannot run ${this.serviceBinary}: ${(e as Error).message}`);
    }
    const dec = new TextDecoder();
    const text = (dec.decode(out.stdout) + dec.decode(out.stderr)).trim();
    if (!out.success || !/Looks good/.test(text)) {
      throw new CriuError("check", out.code, `${this.serviceBinary} check failed`, logTail(text));
    }
  }

  /** Dumps the tree rooted at `opts.pid` into `opts.imagesDir`. */
  async dump(opts: DumpOptions): Promise<DumpResult> {
    if (!Number.isInteger(opts.pid) || opts.pid <= 0) {
      throw new CriuError("dump", 0, `bad pid ${opts.pid}`);
    }
    return await this.#withOpts("dump", opts, async (o, s) => {
      s.criu_local_set_pid(o, opts.pid);
      for (const key of opts.external ?? []) {
        if (s.criu_local_add_external(o, cString(key)) < 0) {
          throw new CriuError("dump", 0, `criu_local_add_external(${key}) failed`);
        }
      }
      s.criu_local_set_leave_running(o, opts.leaveRunning ?? false);
      const t0 = performance.now();
      this.#useSpare(o);
      const r = await s.criu_local_dump(o);
      const ms = performance.now() - t0;
      if (r < 0) throw this.#error("dump", r, opts);
      return { ms };
    });
  }

  /**
   * Restores the tree in `opts.imagesDir` as a child of this process (criu_restore_child: CRIU
   * restores it as its own sibling). Deno does not know the child: reap it with ffi/libc.ts.
   */
  async restore(opts: RestoreOptions): Promise<RestoreResult> {
    return await this.#withOpts("restore", opts, async (o, s) => {
      for (const { fd, key } of opts.inheritFds ?? []) {
        if (s.criu_local_add_inherit_fd(o, fd, cString(key)) < 0) {
          throw new CriuError("restore", 0, `criu_local_add_inherit_fd(${fd}, ${key}) failed`);
        }
      }
      const t0 = performance.now();
      const r = this.#spareCanRestore(o) && this.#useSpare(o)
        ? await s.criu_local_restore!(o)
        : await s.criu_local_restore_child(o);
      const ms = performance.now() - t0;
      if (r <= 0) throw this.#error("restore", r === 0 ? -52 : r, opts);
      return { pid: r, ms };
    });
  }

  /** Runs `f` with fresh criu_opts set from `common`, freed (and its fds closed) afterwards. */
  async #withOpts<T>(
    op: string,
    common: CommonOptions | null,
    f: (o: Deno.PointerObject, s: Symbols) => Promise<T>,
  ): Promise<T> {
    if (this.#busy) throw new CriuError(op, 0, "another libcriu call is running");
    this.#busy = true;
    const s = this.#lib.symbols;
    const cell = new BigUint64Array(1);
    const fds: number[] = [];
    let o: Deno.PointerObject | null = null;
    try {
      if (s.criu_local_init_opts(cell) < 0 || cell[0] === 0n) {
        throw new CriuError(op, 0, "criu_local_init_opts failed");
      }
      o = Deno.UnsafePointer.create(cell[0]);
      if (o === null) throw new CriuError(op, 0, "criu_local_init_opts gave NULL");
      if (s.criu_local_set_service_binary(o, cString(this.serviceBinary)) < 0) {
        throw new CriuError(op, 0, "criu_local_set_service_binary failed");
      }
      if (common) this.#apply(op, o, common, fds);
      return await f(o, s);
    } finally {
      if (o) s.criu_local_free_opts(o);
      for (const fd of fds) closeFd(fd);
      this.#busy = false;
      this.#spare?.refill();
    }
  }

  #startSpares(): void {
    const s = this.#lib.symbols;
    if (s.criu_local_set_service_fd === null) return; // an old libcriu: it starts its own
    this.#spare = new CriuSpare(this.serviceBinary);
    this.#spare.refill();
  }

  /**
   * Points the call at the spare worker when one is ready (and starts no other CRIU); right
   * before the libcriu call, which closes the worker's fd. False: libcriu starts its own.
   */
  #useSpare(o: Deno.PointerObject): boolean {
    const w = this.#spare?.take();
    if (!w) return false;
    this.#lib.symbols.criu_local_set_service_fd!(o, w.fd);
    this.#lib.symbols.criu_local_set_service_comm?.(o, CRIU_COMM_FD);
    this.callsOnSpare++;
    return true;
  }

  /**
   * Sets up a restore through the spare: restore_child's sibling mode by a config file. False
   * (restore_child then starts its own CRIU) when the file cannot be made or is not ours any
   * more: without it the restored root would be CRIU's child, and the agent's only once CRIU
   * has exited.
   */
  #spareCanRestore(o: Deno.PointerObject): boolean {
    const s = this.#lib.symbols;
    if (!this.#spare || s.criu_local_restore === null || s.criu_local_set_config_file === null) {
      return false;
    }
    const path = this.#siblingConf.path();
    return path !== undefined && s.criu_local_set_config_file(o, cString(path)) === 0;
  }

  #apply(op: string, o: Deno.PointerObject, c: CommonOptions, fds: number[]): void {
    const s = this.#lib.symbols;
    const images = openDirectory(c.imagesDir);
    fds.push(images);
    s.criu_local_set_images_dir_fd(o, images);
    if (c.workDir !== undefined) {
      const work = openDirectory(c.workDir);
      fds.push(work);
      s.criu_local_set_work_dir_fd(o, work);
    }
    const logFile = c.logFile ?? `${op}.log`;
    if (logFile.includes("/")) throw new CriuError(op, 0, `logFile must be a name: ${logFile}`);
    if (s.criu_local_set_log_file(o, cString(logFile)) < 0) {
      throw new CriuError(op, 0, "criu_local_set_log_file failed");
    }
    s.criu_local_set_log_level(o, c.logLevel ?? 4);
    s.criu_local_set_tcp_established(o, c.tcpEstablished ?? false);
    s.criu_local_set_tcp_close(o, c.tcpClose ?? false);
    s.criu_local_set_ext_unix_sk(o, c.extUnixSk ?? false);
    s.criu_local_set_shell_job(o, c.shellJob ?? false);
    s.criu_local_set_file_locks(o, c.fileLocks ?? false);
    if (c.unprivileged) s.criu_local_set_unprivileged?.(o, true);
    if (c.tcpSkipInFlight) {
      const set = s.criu_local_set_tcp_skip_in_flight;
      if (set === null) {
        throw new CriuError(op, 0, "this libcriu cannot skip in-flight connections");
      }
      set(o, true);
    }
    if (c.networkLock !== undefined) {
      const set = s.criu_local_set_network_lock;
      if (set === null) throw new CriuError(op, 0, "this libcriu cannot choose a network lock");
      if (set(o, NETWORK_LOCK[c.networkLock]) < 0) {
        throw new CriuError(op, 0, `network lock ${c.networkLock} refused`);
      }
    }
  }

  #error(op: string, code: number, c: CommonOptions | null): CriuError {
    const detail = RETURN_CODES[-code] ?? `libcriu returned ${code}`;
    const log = c ? `${c.workDir ?? c.imagesDir}/${c.logFile ?? `${op}.log`}` : null;
    const hint = code === -111 ? ` (service binary: ${this.serviceBinary})` : "";
    return new CriuError(op, code, detail + hint, log ? logTail(readOr(log, "")) : "");
  }
}

/** The last lines of a CRIU log, plus its earlier error lines (the cause is often far up). */
export function logTail(text: string, lines = 15): string {
  const all = text.trimEnd().split("\n");
  const tail = all.slice(-lines);
  // Every CRIU run logs a harmless RLIMIT_NOFILE error; it explains nothing.
  const errors = all.slice(0, -lines).filter((l) => /Error/.test(l) && !/RLIMIT_NOFILE/.test(l));
  return [...errors.slice(-5), ...(errors.length ? ["..."] : []), ...tail].join("\n");
}

/** The last `max` error lines of a log tail, on one line (for a log field); "" if none. */
export function errorLines(tail: string, max = 3): string {
  const errors = tail.split("\n").filter((l) => /Error/.test(l) && !/RLIMIT_NOFILE/.test(l));
  return errors.slice(-max).map((l) => l.trim()).join(" | ");
}

function readOr(path: string, fallback: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}
