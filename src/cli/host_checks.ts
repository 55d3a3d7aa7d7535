/**
 * Checks that tell whether this host can run a8, each with what to do when it cannot. `a8
 * doctor` prints them all; `a8 run` calls `checkHost` to refuse up front instead of failing
 * half-way through a distributed start.
 */
import type { Config } from "../config/types.ts";
import { a8Home, monitorLibraryPath, probePath } from "../launch/paths.ts";

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

/** CRIU candidates: a private build in .tools/criu first (the system one may not work). */
async function findCriu(): Promise<string | null> {
  const tools = `${a8Home()}/.tools/criu`;
  const candidates = [`${tools}/criu`, `${tools}/bin/criu`, `${tools}/usr/sbin/criu`];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir) candidates.push(`${dir}/criu`);
  }
  candidates.push("/usr/sbin/criu", "/sbin/criu");
  for (const c of candidates) {
    try {
      if ((await Deno.stat(c)).isFile) return c;
    } catch {
      // Next candidate.
    }
  }
  return null;
}

export async function checkCriu(): Promise<Check> {
  const criu = await findCriu();
  if (!criu) {
    return warn("criu", "not found", "only needed for checkpoints (a later release)");
  }
  const version = (await runQuiet(criu, ["--version"])).out.split("\n")[0] ?? "";
  const check = await runQuiet(criu, ["check"], 20_000);
  if (check.code === 0) return ok("criu", `${criu}: ${version}; criu check: looks good`);
  const last = check.out.split("\n").filter(Boolean).pop() ?? `exit ${check.code}`;
  return warn(
    "criu",
    `${criu}: ${version}; criu check fails: ${last}`,
    "checkpoints will not work with this CRIU; CRIU >= 4.1 works on recent kernels",
  );
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

export async function checkHost(opts: HostOptions = {}): Promise<HostReport> {
  const isa = Deno.build.arch;
  const [lib, sud, seccomp, kmod] = await Promise.all([
    checkMonitorLibrary(isa),
    checkInterposer("sud", isa),
    checkInterposer("seccomp", isa),
    checkKernelModule(),
  ]);
  const checks = [checkKernel(), checkIsa(isa), lib, sud, seccomp, kmod];
  if (!opts.quick) checks.push(await checkCriu());
  const interposers: Interposer[] = [];
  if (sud.status === "ok") interposers.push("sud");
  if (seccomp.status === "ok") interposers.push("seccomp");
  const wanted = opts.interposer ?? "auto";
  const usable = wanted === "auto" ? interposers.length > 0 : interposers.includes(wanted);
  return { checks, interposers, canRun: lib.status === "ok" && usable };
}
