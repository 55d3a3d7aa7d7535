/**
 * The agent's end of the monitor event socket (docs/monitor-abi.md section 2): a unix stream
 * socket every monitored process connects to, writing one JSON object per line. A line that
 * does not parse or lacks its fields is logged and skipped: a monitor bug must not take the
 * agent (and with it the report of what went wrong) down.
 */
import { readStat } from "../checkpoint/proc_tree.ts";
import { randomHex } from "../peer/auth.ts";
import type { Logger } from "../log.ts";
import { EventLog } from "../util/event_log.ts";

interface Base {
  /** Stream key: "0" root, "0.1" its first child, ... */
  stream: string;
  pid: number;
  vpid: number;
}
export type MonitorEvent =
  | Base & { ev: "hello"; abi: number; isa: string; interposer: string; policy: string }
  | Base & { ev: "ready"; port: number }
  | Base & { ev: "exit"; status: number; calls: number }
  | Base & { ev: "divergence"; seq: number; call: string; reason: string; detail: string }
  | Base & { ev: "fatal"; reason: string; call: string; nr: number; detail: string }
  | Base & { ev: "log"; level: string; msg: string; nr: number }
  /** A frozen checkpoint copy registered (on a connection of its own: see EventServer.copy). */
  | Base & { ev: "checkpoint"; epoch: number; seq: number; port: number }
  /** The live process took checkpoint `epoch`; `us` is how long its fork took. */
  | Base & { ev: "checkpoint-taken"; epoch: number; seq: number; us: number }
  /** The copies can no longer stand for the process (it forked or exec'd). */
  | Base & { ev: "checkpoint-drop"; why: string }
  /**
   * A copy became the live process (its data connections are up again), at `mono_us`
   * (CLOCK_MONOTONIC, µs). The fork engine's copies also say how long they took (µs): to put
   * back the shared state, to fork the next copy, to connect (see ckpt.c).
   */
  | Base & {
    ev: "resumed";
    epoch: number;
    port: number;
    mono_us?: number;
    us_ready?: number;
    us_fork?: number;
    us_connect?: number;
  }
  /** criu engine, a leader process: a checkpoint of the tree is due (criu_rounds.ts). */
  | Base & { ev: "criu-due"; epoch: number }
  /**
   * criu engine: the process is ready to be dumped (it closed this connection); skip 1: it
   * cannot be (a follower of its could not take the checkpoint), it goes on.
   */
  | Base & { ev: "criu-dump"; epoch: number; seq: number; skip: number }
  /** criu engine: woken after a dump or a restore, on a new connection: asks what now. */
  | Base & { ev: "criu-awake"; epoch: number }
  /** criu engine, leader restored: its monitor listens for the followers here. */
  | Base & { ev: "criu-listening"; epoch: number; port: number }
  /** criu engine, leader: the keeper of the fds made since dump `epoch` (a connection of its
   * own; it ends when the agent closes it). */
  | Base & { ev: "criu-keeper"; epoch: number }
  /** Made by the agent: the connection of a process that said hello or resumed closed. */
  | Base & { ev: "gone" };

type Kind = "int" | "string";
const BASE: Record<string, Kind> = { stream: "string", pid: "int", vpid: "int" };
/** One row per event: its fields beyond the common ones. */
const FIELDS: Record<MonitorEvent["ev"], Record<string, Kind>> = {
  hello: { abi: "int", isa: "string", interposer: "string", policy: "string" },
  ready: { port: "int" },
  exit: { status: "int", calls: "int" },
  divergence: { seq: "int", call: "string", reason: "string", detail: "string" },
  fatal: { reason: "string", call: "string", nr: "int", detail: "string" },
  log: { level: "string", msg: "string", nr: "int" },
  checkpoint: { epoch: "int", seq: "int", port: "int" },
  "checkpoint-taken": { epoch: "int", seq: "int", us: "int" },
  "checkpoint-drop": { why: "string" },
  resumed: { epoch: "int", port: "int" },
  "criu-due": { epoch: "int" },
  "criu-dump": { epoch: "int", seq: "int", skip: "int" },
  "criu-awake": { epoch: "int" },
  "criu-listening": { epoch: "int", port: "int" },
  "criu-keeper": { epoch: "int" },
  gone: {},
};

export type ParsedLine = { ok: true; event: MonitorEvent } | { ok: false; problem: string };

/** One line of the socket, checked against the table. */
export function parseEventLine(line: string): ParsedLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, problem: "not JSON" };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return { ok: false, problem: "not a JSON object" };
  }
  const rec = v as Record<string, unknown>;
  const ev = rec.ev;
  if (typeof ev !== "string" || !Object.hasOwn(FIELDS, ev)) {
    return { ok: false, problem: `unknown event ${JSON.stringify(ev)}` };
  }
  for (const [name, kind] of Object.entries({ ...BASE, ...FIELDS[ev as MonitorEvent["ev"]] })) {
    const f = rec[name];
    const good = kind === "int" ? Number.isSafeInteger(f) : typeof f === "string";
    if (!good) return { ok: false, problem: `event ${ev}: field ${name} missing or not ${kind}` };
  }
  return { ok: true, event: rec as unknown as MonitorEvent };
}

/** A line longer than this is a broken monitor; its connection is dropped. */
const MAX_LINE = 256 * 1024;

/** The first line of every monitor connection, then the token (preload/core/agent.c). */
export const AUTH = "A8-AUTH";
/** How long a new connection has to show it. */
const AUTH_WAIT_MS = 2000;

export class EventServer {
  readonly path: string;
  /** The run's secret a monitor shows first (A8_AGENT_TOKEN). */
  readonly token = randomHex(16);
  readonly #listener: Deno.Listener;
  readonly #log: Logger;
  readonly #events = new EventLog<MonitorEvent>();
  readonly #conns = new Set<Deno.Conn>();
  readonly #readers = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  readonly #pids = new Set<number>();
  /** Processes of the program whose connection is open: their pid and stream. */
  readonly #live = new Map<number, { stream: string; conn: Deno.Conn }>();
  #ended = false;
  /** Connections of frozen checkpoint copies, by pid: the agent writes their commands. */
  readonly #copies = new Map<number, Deno.Conn>();
  readonly #everCopies = new Set<number>();

  private constructor(path: string, listener: Deno.Listener, log: Logger) {
    this.path = path;
    this.#listener = listener;
    this.#log = log;
    this.#accepting = this.#accept();
  }

  /**
   * Listens on `path` (which must not exist; it lives in the fresh run directory). Every user
   * the program becomes may connect (run_dirs.ts): a connection counts once its first line is
   * `A8-AUTH <token>`, the run's secret the monitors get in A8_AGENT_TOKEN.
   */
  static listen(path: string, log: Logger): EventServer {
    const listener = Deno.listen({ transport: "unix", path });
    return new EventServer(path, listener, log.with({ source: "monitor" }));
  }

  /** Real pids of every process whose monitor ever said hello (their stats files are ours). */
  get pids(): ReadonlySet<number> {
    return this.#pids;
  }

  /**
   * The run is over: every process of the program still connected is killed, and so is one that
   * says hello from now on (forked as the run ended: a server's daemon child forking its
   * workers), so that none outlives the run unmonitored.
   */
  endRun(): void {
    this.#ended = true;
    for (const pid of this.#live.keys()) this.#killLeftover(pid);
  }

  #killLeftover(pid: number): void {
    try {
      Deno.kill(pid, "SIGKILL");
      this.#log.debug("killed a process of the program after the run", { pid });
    } catch {
      // gone already
    }
  }

  /**
   * Processes of the program whose monitor is connected now, and their streams: what
   * `killTree` signals (not one that ended: its pid may be another process's by now).
   */
  live(): { pid: number; stream: string }[] {
    return [...this.#live].map(([pid, l]) => ({ pid, stream: l.stream }));
  }

  /** Every checkpoint copy and keeper that ever said who it is: a8's, not the program's. */
  copyPids(): Set<number> {
    return new Set(this.#everCopies);
  }

  /**
   * One command line to the process `pid` waiting on its connection (a copy, a woken dump;
   * docs/monitor-abi.md section 4). False when its connection is gone (the copy died).
   */
  async tell(pid: number, command: string): Promise<boolean> {
    const conn = this.#copies.get(pid);
    if (!conn) return false;
    const line = new TextEncoder().encode(`${command}\n`);
    try {
      let off = 0;
      while (off < line.length) off += await conn.write(line.subarray(off));
      return true;
    } catch {
      return false;
    }
  }

  /** Lets a copy (or a criu keeper) go: it ends when its connection closes. */
  dropCopy(pid: number): void {
    const conn = this.#copies.get(pid);
    this.#copies.delete(pid);
    if (conn) closeQuietly(conn);
  }

  on(cb: (e: MonitorEvent) => void): () => void {
    return this.#events.on(cb);
  }

  events(): AsyncGenerator<MonitorEvent> {
    return this.#events.events();
  }

  waitFor(pred: (e: MonitorEvent) => boolean, timeoutMs: number) {
    return this.#events.waitFor(pred, timeoutMs);
  }

  /** Stops listening, drops monitor connections, removes the socket file. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const c of this.#conns) closeQuietly(c);
    await this.#accepting;
    await Promise.all(this.#readers);
    this.#events.end();
    await Deno.remove(this.path).catch(() => {});
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        // Out of fds, say: wait and go on, a monitor may be waiting in the backlog.
        this.#log.warn("cannot accept on the agent socket", { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      this.#conns.add(conn);
      const r = this.#read(conn).finally(() => {
        this.#conns.delete(conn);
        this.#readers.delete(r);
      });
      this.#readers.add(r);
    }
  }

  async #read(conn: Deno.Conn): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    /** The process on this connection, once it said who it is; told as gone at the end. */
    const who: { e?: MonitorEvent } = {};
    const chunk = new Uint8Array(16 * 1024);
    let authed = false;
    // A connection that does not show the token at once is not a monitor's: it may not hold
    // one of the agent's fds for long (the socket is open to every local user).
    const unauthed = setTimeout(() => {
      if (authed) return;
      this.#log.warn("a connection to the agent socket showed no token in time: closed");
      closeQuietly(conn);
    }, AUTH_WAIT_MS);
    reading: for (;;) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) break;
      buf += decoder.decode(chunk.subarray(0, n), { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!authed && line !== `${AUTH} ${this.token}`) {
          this.#log.warn("a connection to the agent socket without the run's token: closed");
          buf = "";
          break reading;
        }
        if (authed) this.#line(line, conn, who);
        authed = true;
      }
      if (buf.length > MAX_LINE) {
        this.#log.error("monitor line too long: dropping its connection", { bytes: buf.length });
        break;
      }
    }
    clearTimeout(unauthed);
    if (authed && buf.trim()) this.#line(buf, conn, who);
    closeQuietly(conn);
    if (who.e && this.#copies.get(who.e.pid) === conn) this.#copies.delete(who.e.pid);
    if (who.e) {
      const { stream, pid, vpid } = who.e;
      if (this.#live.get(pid)?.conn === conn) this.#live.delete(pid);
      this.#events.push({ ev: "gone", stream, pid, vpid });
    }
  }

  #line(line: string, conn: Deno.Conn, who: { e?: MonitorEvent }): void {
    if (!line.trim()) return;
    const r = parseEventLine(line);
    if (!r.ok) {
      this.#log.warn("skipping a malformed monitor event", {
        problem: r.problem,
        line: line.slice(0, 200),
      });
      return;
    }
    const e = r.event;
    if (e.ev === "hello" || e.ev === "resumed") this.#track(e, conn);
    if (["hello", "resumed", "checkpoint", "criu-awake", "criu-keeper"].includes(e.ev)) who.e = e;
    if (["checkpoint", "criu-awake", "criu-keeper"].includes(e.ev)) {
      this.#copies.set(e.pid, conn);
      this.#everCopies.add(e.pid);
    }
    if (e.ev === "log") this.#relay(e);
    this.#events.push(e);
  }

  /**
   * A process of the program, live on `conn`. Whoever holds the token names a pid, which the
   * agent signals later: it must be one of the run's (not one the program left as root, nor a
   * forgery by a process of it). One that ended already is simply not kept.
   */
  #track(e: MonitorEvent, conn: Deno.Conn): void {
    if (!descendsFromAgent(e.pid)) {
      if (readStat(e.pid)) {
        this.#log.warn("a monitor named a pid that is not of this run: not one to signal", {
          pid: e.pid,
          stream: e.stream,
        });
      }
      return;
    }
    this.#pids.add(e.pid);
    this.#live.set(e.pid, { stream: e.stream, conn });
    if (this.#ended) this.#killLeftover(e.pid);
  }

  /** Monitor log lines go out through the agent's logger, tagged with their stream. */
  #relay(e: MonitorEvent & { ev: "log" }): void {
    const fields = { stream: e.stream, pid: e.pid };
    if (e.level === "error") this.#log.error(e.msg, fields);
    else if (e.level === "warn") this.#log.warn(e.msg, fields);
    else if (e.level === "info") this.#log.info(e.msg, fields);
    else this.#log.debug(e.msg, fields);
  }
}

/** Whether the agent is an ancestor of `pid` (ppid links; orphans of the run come to it). */
function descendsFromAgent(pid: number): boolean {
  let p = pid;
  for (let hops = 0; hops < 256 && p > 1; hops++) {
    if (p === Deno.pid) return true;
    const st = readStat(p);
    if (!st) return false;
    p = st.ppid;
  }
  return false;
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}
