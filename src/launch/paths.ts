/**
 * Where the native pieces the agent uses live: `build/<isa>/` of the a8 tree (the Makefile's
 * layout). A compiled binary has no tree beside it, so A8_HOME can point at one.
 */

export function a8Home(): string {
  const fromEnv = Deno.env.get("A8_HOME");
  if (fromEnv) return fromEnv.replace(/\/+$/, "");
  return new URL("../../", import.meta.url).pathname.replace(/\/+$/, "");
}

export function buildDir(isa: string = Deno.build.arch): string {
  return `${a8Home()}/build/${isa}`;
}

/** The monitor library LD_PRELOAD points at. */
export function monitorLibraryPath(isa: string = Deno.build.arch): string {
  return `${buildDir(isa)}/liba8.so`;
}

/** `a8-probe sud|seccomp`: exits 0 when the mechanism traps a real system call. */
export function probePath(isa: string = Deno.build.arch): string {
  return `${buildDir(isa)}/a8-probe`;
}
