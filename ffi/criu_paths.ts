/**
 * Where a8 finds CRIU: the binary scripts/criu.sh unpacks into .tools/criu/ (run through its
 * wrapper), other `criu` executables as fallbacks, and the libcriu to load into the agent.
 */
import { a8Home } from "../src/launch/paths.ts";

const TRIPLET = `${Deno.build.arch}-linux-gnu`;

/** Where scripts/criu.sh unpacks CRIU. */
export function criuPrefix(): string {
  return `${a8Home()}/.tools/criu`;
}

/**
 * Where the wrapper points unprivileged CRIU's cache of its kernel probes (XDG_RUNTIME_DIR,
 * scripts/criu.sh): a root-only directory on a tmpfs, made at CRIU's first run.
 */
export const CRIU_KDAT_DIR = "/dev/shm/a8-criu";

/** The wrapper that runs the prefix's criu with its own loader (written by scripts/criu.sh). */
export function projectCriuBinary(): string {
  return `${criuPrefix()}/criu`;
}

export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * CRIU executables, best first: the project's wrapper, then each distinct `criu` on PATH and in
 * the sbin directories (a distribution's CRIU may be too old for the kernel: callers check).
 */
export function criuBinaries(): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  const candidates = [
    projectCriuBinary(),
    ...dirs.map((d) => `${d}/criu`),
    "/usr/sbin/criu",
    "/sbin/criu",
  ];
  for (const c of candidates) {
    if (!isFile(c)) continue;
    let real = c;
    try {
      real = Deno.realPathSync(c);
    } catch {
      // A dangling link was caught by isFile already; keep the name.
    }
    if (seen.has(real)) continue;
    seen.add(real);
    found.push(c);
  }
  return found;
}

/** One place to load libcriu from, with the libraries to load before it. */
export interface LibcriuCandidate {
  path: string;
  preload: string[];
}

export function libcriuCandidates(): LibcriuCandidate[] {
  const lib = `${criuPrefix()}/usr/lib/${TRIPLET}`;
  return [
    { path: `${lib}/libcriu.so.2`, preload: [`${lib}/libprotobuf-c.so.1`] },
    { path: "libcriu.so.2", preload: [] },
  ];
}
