/**
 * Refuses, before anything starts, programs the monitor cannot be loaded into. LD_PRELOAD is
 * how the monitor gets in, and the dynamic loader silently skips it for static and setuid
 * programs: without this check such a program would run unmonitored and "agree" with itself.
 */

export interface ProgramCheck {
  ok: boolean;
  /** Why not (empty when ok). */
  reason: string;
  /** The absolute path found (after PATH lookup), when there was one. */
  path?: string;
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const PT_INTERP = 3;
const MACHINE_NAMES: Record<number, string> = {
  3: "i386",
  40: "arm",
  [EM_X86_64]: "x86_64",
  [EM_AARCH64]: "aarch64",
  243: "riscv",
};

/** The ELF machine this host runs. */
export function hostMachine(arch: string = Deno.build.arch): number {
  return arch === "aarch64" ? EM_AARCH64 : EM_X86_64;
}

/** `name` as the shell would find it: paths as given, bare names on PATH. */
export async function resolveProgram(name: string): Promise<string | null> {
  if (name.includes("/")) return name;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const candidate = `${dir || "."}/${name}`;
    try {
      const st = await Deno.stat(candidate);
      if (st.isFile && (st.mode ?? 0) & 0o111) return candidate;
    } catch {
      // Not in this PATH entry.
    }
  }
  return null;
}

export async function checkProgram(
  name: string,
  opts: { machine?: number; depth?: number } = {},
): Promise<ProgramCheck> {
  const refuse = (reason: string, path?: string): ProgramCheck => ({ ok: false, reason, path });
  const path = await resolveProgram(name);
  if (path === null) return refuse(`${name}: not found on PATH`);
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch {
    return refuse(`${path}: no such file`);
  }
  if (!st.isFile) return refuse(`${path}: not a regular file`, path);
  const mode = st.mode ?? 0;
  if ((mode & 0o111) === 0) return refuse(`${path}: not executable (chmod +x?)`, path);
  if (mode & 0o6000) {
    return refuse(
      `${path}: setuid/setgid: the loader ignores LD_PRELOAD for it, so it cannot be monitored`,
      path,
    );
  }
  let head: Uint8Array;
  try {
    head = await readHead(path, 4096);
  } catch (e) {
    return refuse(`${path}: cannot read: ${(e as Error).message}`, path);
  }
  if (head[0] === 0x23 && head[1] === 0x21) return await checkScript(path, head, opts);
  const elf = await readElf(path, head);
  if (typeof elf === "string") return refuse(`${path}: ${elf}`, path);
  const want = opts.machine ?? hostMachine();
  if (elf.machine !== want) {
    const name = (m: number) => MACHINE_NAMES[m] ?? `machine ${m}`;
    return refuse(`${path}: built for ${name(elf.machine)}, this host is ${name(want)}`, path);
  }
  if (!elf.hasInterp) {
    return refuse(
      `${path}: statically linked: LD_PRELOAD cannot load the monitor into it (link it dynamically)`,
      path,
    );
  }
  return { ok: true, reason: "", path };
}

/** A `#!` script is fine if its interpreter is: that is what the monitor is loaded into. */
async function checkScript(
  path: string,
  head: Uint8Array,
  opts: { machine?: number; depth?: number },
): Promise<ProgramCheck> {
  const depth = opts.depth ?? 0;
  if (depth >= 4) return { ok: false, reason: `${path}: too many nested #! interpreters`, path };
  const nl = head.indexOf(0x0a);
  const line = new TextDecoder().decode(head.subarray(2, nl < 0 ? head.length : nl)).trim();
  const words = line.split(/\s+/).filter(Boolean);
  if (words.length === 0) return { ok: false, reason: `${path}: empty #! line`, path };
  // `#!/usr/bin/env prog` runs prog from PATH: check that one too, it is the real interpreter.
  let interp = words[0];
  if (interp.endsWith("/env")) {
    const prog = words.slice(1).find((w) => !w.startsWith("-"));
    if (prog) interp = prog;
  }
  const inner = await checkProgram(interp, { ...opts, depth: depth + 1 });
  if (inner.ok) return { ok: true, reason: "", path };
  return { ok: false, reason: `${path}: its #! interpreter is refused: ${inner.reason}`, path };
}

async function readHead(path: string, n: number): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await f.read(buf.subarray(got));
      if (r === null) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    f.close();
  }
}

interface ElfInfo {
  machine: number;
  hasInterp: boolean;
}

/** The ELF header's machine and whether a PT_INTERP program header exists; else why not. */
async function readElf(path: string, head: Uint8Array): Promise<ElfInfo | string> {
  if (
    head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46
  ) {
    return "not an ELF executable or #! script";
  }
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const machine = v.getUint16(18, le);
  const phoff = is64 ? Number(v.getBigUint64(32, le)) : v.getUint32(28, le);
  const phentsize = v.getUint16(is64 ? 54 : 42, le);
  const phnum = v.getUint16(is64 ? 56 : 44, le);
  if (phentsize < (is64 ? 56 : 32) || phnum === 0) return "ELF file without program headers";
  const end = phoff + phnum * phentsize;
  const table = end <= head.length ? head : await readHead(path, end);
  if (table.length < end) return "truncated ELF program headers";
  const t = new DataView(table.buffer, table.byteOffset, table.byteLength);
  let hasInterp = false;
  for (let i = 0; i < phnum; i++) {
    if (t.getUint32(phoff + i * phentsize, le) === PT_INTERP) hasInterp = true;
  }
  return { machine, hasInterp };
}
