/**
 * Checks that tell whether this host can run a8, each with what to do when it cannot. `a8
 * doctor` prints them all; `a8 run` calls `checkHost` to refuse up front instead of failing
 * half-way through a distributed start.
 */
import type { Config } from "../config/types.ts";
import { a8Home, monitorLibraryPath, probePath } from "../launch/paths.ts";
import { Libcriu } from "../../ffi/libcriu.ts";
import { CRIU_KDAT_DIR, criuBinaries } from "../../ffi/criu_paths.ts";
import { criuFailureReason } from "../checkpoint/criu_failure.ts";
export { criuFailureReason };

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail ("" when ok). */
  fix: string;
}

export type Interposer = "sud" | "seccomp";

export interface HostReport {
  checks: Check[];
  /** Interposers that trapped a real system call here. */
  interposers: Interposer[];
  /** The monitor library is built and at least one interposer works. */
  canRun: boolean;
}

const ok = (name: string, detail: string): Check => ({ name, status: "ok", detail, fix: "" });
const warn = (name: string, detail: string, fix: string): Check => ({
  name,
  status: "warn",
  detail,
  fix,
});
const fail = (name: string, detail: string, fix: string): Check => ({
  name,
  status: "fail",
  detail,
  fix,
});

/** Runs a command with a deadline; never throws (a missing binary is code -1). */
export async function runQuiet(
  cmd: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<{ code: number; out: string }> {
  try {
    const child = new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const r = await child.output();
    clearTimeout(timer);
    const dec = new TextDecoder();
    return { code: r.code, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
  } catch (e) {
    return { code: -1, out: (e as Error).message };
  }
}

export function parseKernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function checkKernel(release: string = Deno.osRelease()): Check {
  const v = parseKernelVersion(release);
  if (!v) return warn("kernel", `unrecognized release "${release}"`, "");
  if (v[0] < 5 || (v[0] === 5 && v[1] < 11)) {
    return warn("kernel", `Linux ${release}`, "Syscall User Dispatch needs Linux >= 5.11");
  }
  return ok("kernel", `Linux ${release}`);
}

export function checkIsa(arch: string = Deno.build.arch): Check {
  if (arch === "x86_64" || arch === "aarch64") return ok("isa", arch);
  return fail("isa", arch, "a8 runs on x86_64 and aarch64 only");
}

export async function checkMonitorLibrary(isa: string = Deno.build.arch): Promise<Check> {
  const path = monitorLibraryPath(isa);
  try {
    if ((await Deno.stat(path)).isFile) return ok("monitor library", path);
  } catch {
    // Reported below.
  }
  return fail("monitor library", `${path} is missing`, `run \`make build\` in ${a8Home()}`);
}

/** Runs the probe for real: reading kernel config would not show seccomp or SUD refused. */
export async function checkInterposer(which: Interposer, isa = Deno.build.arch): Promise<Check> {
  const name = `interposer ${which}`;
  if (which === "sud" && isa !== "x86_64") {
    return warn(name, `not available on ${isa}`, "seccomp is used instead");
  }
  const probe = probePath(isa);
  try {
    await Deno.stat(probe);
  } catch {
    return fail(name, `${probe} is missing`, `run \`make build\` in ${a8Home()}`);
  }
  const r = await runQuiet(probe, [which], 5_000);
  if (r.code === 0) return ok(name, r.out || "traps system calls");
  return fail(name, `probe exited ${r.code}: ${r.out || "no output"}`, explainProbe(which));
}

function explainProbe(which: Interposer): string {
  return which === "sud"
    ? "needs Linux >= 5.11 on x86_64, and not under qemu-user"
    : "needs CONFIG_SECCOMP_FILTER, and not under qemu-user";
}

export async function checkKernelModule(): Promise<Check> {
  try {
    await Deno.stat("/sys/kernel/a8");
    return ok("kernel module", "/sys/kernel/a8 present");
  } catch {
    return warn(
      "kernel module",
      "not loaded; the kmod interposer is unavailable",
      "optional: sud and seccomp do not need it",
    );
  }
}

/** `criu --version` prints "Version: 4.1.1" (and a GitID line for git builds). */
export function parseCriuVersion(out: string): string | null {
  return /^Version:\s*(\S+)/m.exec(out)?.[1] ?? null;
}

/**
 * Dumps a `sleep` with `criu` and leaves it running. `criu check` is not enough: on a VM whose
 * hardware breakpoints never fire, check passes and every dump hangs (see docs/criu.md).
 */
export async function probeCriuDump(
  criu: string,
  timeoutMs = 10_000,
): Promise<{ ok: boolean; ms: number; detail: string }> {
  const dir = await Deno.makeTempDir({ prefix: "a8-doctor-criu-" });
  const target = new Deno.Command("sleep", {
    args: ["60"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const t0 = performance.now();
    // --shell-job: the sleep shares the doctor's session, which stays outside the dump.
    const args = ["dump", "-t", `${target.pid}`, "-D", dir, "-o", "dump.log", "--shell-job"];
    const r = await runQuiet(criu, [...args, "--leave-running"], timeoutMs);
    const ms = performance.now() - t0;
    if (r.code === 0) return { ok: true, ms, detail: `dump ${Math.round(ms)} ms` };
    if (ms >= timeoutMs) {
      return { ok: false, ms, detail: `dump did not finish within ${timeoutMs / 1000} s` };
    }
    const log = await Deno.readTextFile(`${dir}/dump.log`).catch(() => r.out);
    return { ok: false, ms, detail: `dump fails: ${criuFailureReason(log, r.code)}` };
  } finally {
    try {
      target.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await target.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** One CRIU executable: its version, `criu check`, and a real dump. */
export async function checkCriuBinary(
  name: string,
  criu: string,
  dumpTimeoutMs = 10_000,
  /** The fix to offer when this CRIU fails; default: what makes it work. */
  fixOverride?: string,
): Promise<Check> {
  const r = await probeCriuBinary(name, criu, dumpTimeoutMs);
  if (r.status !== "ok" && fixOverride) r.fix = fixOverride;
  return r;
}

async function probeCriuBinary(name: string, criu: string, dumpTimeoutMs: number): Promise<Check> {
  const versionRun = await runQuiet(criu, ["--version"]);
  const version = parseCriuVersion(versionRun.out);
  if (versionRun.code !== 0 || !version) {
    return warn(
      name,
      `${criu} does not run: ${criuFailureReason(versionRun.out, versionRun.code)}`,
      "run scripts/criu.sh (as root)",
    );
  }
  const about = `${criu}: CRIU ${version}`;
  const check = await runQuiet(criu, ["check"], 20_000);
  if (check.code !== 0) {
    return warn(
      name,
      `${about}; criu check fails: ${criuFailureReason(check.out, check.code)}`,
      "checkpoints need a CRIU that passes `criu check`: scripts/criu.sh installs CRIU 4.2",
    );
  }
  const dump = await probeCriuDump(criu, dumpTimeoutMs);
  if (!dump.ok) {
    return warn(
      name,
      `${about}; criu check: looks good; ${dump.detail}`,
      "CRIU >= 4.2 copes with hardware breakpoints that never fire (older: CRIU_FAULT=130); see docs/criu.md",
    );
  }
  return ok(name, `${about}; criu check: looks good; ${dump.detail}`);
}

/**
 * Every CRIU found, the one a8 uses ("criu") first: the project's (scripts/criu.sh), else the
 * system's. Only the criu checkpoint engine needs one, so none of this is a failure.
 */
export async function checkCriu(dumpTimeoutMs = 10_000): Promise<Check[]> {
  const found = criuBinaries();
  if (found.length === 0) {
    return [
      warn(
        "criu",
        "not found",
        "needed only by the criu checkpoint engine: run scripts/criu.sh (as root)",
      ),
    ];
  }
  const unused = `a8 does not use this one (it uses ${found[0]})`;
  const checks = await Promise.all(
    found.map((c, i) =>
      i === 0
        ? checkCriuBinary("criu", c, dumpTimeoutMs)
        : checkCriuBinary("criu (other)", c, dumpTimeoutMs, unused)
    ),
  );
  return checks;
}

/** Whether the agent can load libcriu and drive CRIU through it (an RPC round trip). */
export async function checkLibcriu(): Promise<Check> {
  let lib: Libcriu;
  try {
    lib = Libcriu.open();
  } catch (e) {
    return warn(
      "libcriu",
      (e as Error).message.split("\n").join("; "),
      "run scripts/criu.sh (as root)",
    );
  }
  try {
    const v = await lib.version();
    const version = `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}`;
    return ok("libcriu", `${lib.path} loads; RPC via ${lib.serviceBinary}: CRIU ${version}`);
  } catch (e) {
    return warn(
      "libcriu",
      `${lib.path} loads, but ${(e as Error).message.split("\n")[0]}`,
      "run scripts/criu.sh (as root)",
    );
  } finally {
    lib.close();
  }
}

/** The file system type of the mount `path` is on (/proc/self/mounts), or "" if unknown. */
export function fsTypeOf(path: string): string {
  let best = { dir: "", type: "" };
  for (const line of Deno.readTextFileSync("/proc/self/mounts").split("\n")) {
    const [, dir, type] = line.split(" ");
    if (!dir || !type) continue;
    const under = dir === "/" || path === dir || path.startsWith(`${dir}/`);
    if (under && dir.length >= best.dir.length) best = { dir, type };
  }
  return best.type;
}

/**
 * Whether CRIU can keep its probes of the kernel between runs (src/checkpoint/criu_driver.ts,
 * COMMON): without them each dump and restore probes again first. Never a failure.
 */
export function checkCriuCache(dir = CRIU_KDAT_DIR): Check {
  const name = "criu cache";
  const slow = "CRIU then probes the kernel at every dump and restore (50-120 ms each here)";
  const parent = dir.slice(0, dir.lastIndexOf("/")) || "/";
  const fs = fsTypeOf(parent);
  if (fs !== "tmpfs") {
    return warn(name, `${parent} is ${fs ? `a ${fs}` : "not mounted"}, not a tmpfs`, slow);
  }
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(dir);
  } catch {
    return ok(name, `${dir} (tmpfs) is made at CRIU's first run`);
  }
  if (st.isSymlink || !st.isDirectory || st.uid !== Deno.uid()) {
    return warn(
      name,
      `${dir} is not a directory of this user's: CRIU does not use it`,
      `remove ${dir} (a8 did not make it as it is); ${slow}`,
    );
  }
  let cached = false;
  try {
    cached = Deno.statSync(`${dir}/criu.kdat`).isFile;
  } catch {
    // not yet
  }
  return ok(name, `${dir} (tmpfs): ${cached ? "kernel probes cached" : "empty until CRIU runs"}`);
}

/** TCP connect to each variant but `selfId`; peers not yet started are normal, hence warn. */
export async function checkPeers(
  config: Config,
  selfId?: number,
  timeoutMs = 1000,
): Promise<Check[]> {
  const others = config.variants.filter((v) => v.id !== selfId);
  return await Promise.all(others.map(async (v) => {
    const name = `peer ${v.id}`;
    const where = `${v.address}:${v.port}`;
    try {
      const conn = await withTimeout(
        Deno.connect({ hostname: v.address, port: v.port }),
        timeoutMs,
      );
      conn.close();
      return ok(name, `${where} accepts connections`);
    } catch (e) {
      return warn(name, `${where} unreachable: ${(e as Error).message}`, "start a8 run there");
    }
  }));
}

function withTimeout<T extends Deno.Conn>(p: Promise<T>, ms: number): Promise<T> {
  let expired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  // A connect that completes after the deadline must still be closed.
  p.then((c) => expired && c.close(), () => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface HostOptions {
  /** The config's interposer choice: a forced one that fails makes the host unfit. */
  interposer?: "auto" | Interposer;
  /** Skip the slow, optional checks (CRIU) when `a8 run` only needs a yes or no. */
  quick?: boolean;
}

/**
 * net.ipv4.tcp_migrate_req (Linux 5.14): under the criu engine the live listening sockets are
 * held through a rollback (by the root's keeper, or by the agent when the root has children), and
 * the restore binds a second one beside each (SO_REUSEPORT). When one of the two closes (the
 * restore's, once the restored root puts the live one back; or the live one the agent held, once
 * the restore listens) the connections waiting in it move to the other with it set; without, they
 * are reset.
 */
export function checkTcpMigrate(path = "/proc/sys/net/ipv4/tcp_migrate_req"): Check {
  const name = "tcp_migrate_req";
  const effect = "under criu, a connection made during a rollback may be reset instead of " +
    "waiting for the restored program";
  let v: string;
  try {
    v = Deno.readTextFileSync(path).trim();
  } catch {
    return warn(name, `${path} is missing (Linux before 5.14)`, effect);
  }
  if (v === "1") return ok(name, "1: connections made during a rollback wait for the program");
  return warn(name, `${v}: ${effect}`, "sysctl -w net.ipv4.tcp_migrate_req=1");
}

/** CAP_SYS_RESOURCE, linux/capability.h. */
const CAP_SYS_RESOURCE = 24;

/**
 * Whether CRIU, run by the agent, may read the limits of a process of another user (prlimit
 * needs CAP_SYS_RESOURCE then): without it no dump of a program that switches user (nginx's
 * workers under `user`, lighttpd's `server.username`) succeeds. `status`: /proc/self/status.
 */
export function checkCriuOtherUsers(status?: string): Check {
  const name = "criu, other users";
  let text = status;
  try {
    text ??= Deno.readTextFileSync("/proc/self/status");
  } catch {
    return warn(name, "cannot read /proc/self/status", "");
  }
  const eff = /^CapEff:\s*([0-9a-f]+)/m.exec(text)?.[1];
  if (!eff) return warn(name, "no CapEff in /proc/self/status", "");
  if ((BigInt(`0x${eff}`) >> BigInt(CAP_SYS_RESOURCE)) & 1n) {
    return ok(name, "CAP_SYS_RESOURCE: CRIU can dump processes that switched user");
  }
  return warn(
    name,
    "CAP_SYS_RESOURCE is missing: the criu engine cannot checkpoint a program that switches " +
      "user (nginx's workers under `user`, lighttpd's server.username); the fork engine can",
    "run a8 with CAP_SYS_RESOURCE (a container may drop it), or keep such a program root",
  );
}

export async function checkHost(opts: HostOptions = {}): Promise<HostReport> {
  const isa = Deno.build.arch;
  const [lib, sud, seccomp, kmod] = await Promise.all([
    checkMonitorLibrary(isa),
    checkInterposer("sud", isa),
    checkInterposer("seccomp", isa),
    checkKernelModule(),
  ]);
  const checks = [checkKernel(), checkIsa(isa), lib, sud, seccomp, kmod];
  if (!opts.quick) {
    const [criu, libcriu] = await Promise.all([checkCriu(), checkLibcriu()]);
    checks.push(...criu, libcriu, checkCriuCache(), checkCriuOtherUsers(), checkTcpMigrate());
  }
  const interposers: Interposer[] = [];
  if (sud.status === "ok") interposers.push("sud");
  if (seccomp.status === "ok") interposers.push("seccomp");
  const wanted = opts.interposer ?? "auto";
  const usable = wanted === "auto" ? interposers.length > 0 : interposers.includes(wanted);
  return { checks, interposers, canRun: lib.status === "ok" && usable };
}
