/** `a8 doctor`'s CRIU checks, against fake criu executables (the real one: tests/e2e/criu_test.ts). */
import assert from "node:assert/strict";
import {
  checkCriu,
  checkCriuBinary,
  checkCriuCache,
  checkCriuOtherUsers,
  checkLibcriu,
  checkTcpMigrate,
  criuFailureReason,
  fsTypeOf,
  parseCriuVersion,
} from "./host_checks.ts";
import { criuBinaries } from "../../ffi/criu_paths.ts";

/** A criu stand-in: `--version` prints `version`, `check` and `dump` run the given shell code. */
function fakeCriu(version: string, check: string, dump: string): string {
  return `#!/bin/sh
case "$1" in
  --version) echo "Version: ${version}";;
  check) ${check};;
  dump) ${dump};;
  *) exit 64;;
esac
`;
}

const LOOKS_GOOD =
  `echo "(00.05) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE" >&2; echo "Looks good."`;
const VDSO =
  `echo "(00.01) Error (criu/vdso.c:300): vdso: Unexpected rt vDSO area bounds" >&2; exit 1`;

/** Runs `f` with A8_HOME at a fresh tree and PATH at a fresh bin dir (plus the system's). */
async function withFakeTree(f: (home: string, bin: string) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "a8-criu-checks-" });
  const bin = `${home}/bin`;
  await Deno.mkdir(bin);
  const saved = { home: Deno.env.get("A8_HOME"), path: Deno.env.get("PATH") };
  Deno.env.set("A8_HOME", home);
  Deno.env.set("PATH", `${bin}:/usr/bin:/bin`);
  try {
    await f(home, bin);
  } finally {
    if (saved.home === undefined) Deno.env.delete("A8_HOME");
    else Deno.env.set("A8_HOME", saved.home);
    Deno.env.set("PATH", saved.path ?? "");
    await Deno.remove(home, { recursive: true });
  }
}

async function install(path: string, script: string) {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, script);
  await Deno.chmod(path, 0o755);
}

Deno.test("criu version and failure lines are read from CRIU's output", () => {
  assert.equal(parseCriuVersion("Version: 4.1.1\n"), "4.1.1");
  assert.equal(parseCriuVersion("Version: 3.17.1\nGitID: v3.17.1\n"), "3.17.1");
  assert.equal(parseCriuVersion("bash: criu: not found"), null);
  const out = "(00.050) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self\n" +
    "(00.060) Error (criu/vdso.c:300): vdso: Unexpected rt vDSO area bounds\nLooks bad\n";
  assert.equal(
    criuFailureReason(out, 1),
    "Error (criu/vdso.c:300): vdso: Unexpected rt vDSO area bounds",
  );
  assert.equal(criuFailureReason("just this\n", 1), "just this");
  assert.equal(criuFailureReason("", 3), "exit 3");
});

Deno.test("a CRIU is judged by its version, criu check and a real dump", async () => {
  await withFakeTree(async (_home, bin) => {
    await install(`${bin}/good`, fakeCriu("4.1.1", LOOKS_GOOD, "exit 0"));
    const good = await checkCriuBinary("criu", `${bin}/good`);
    assert.equal(good.status, "ok", good.detail);
    assert.match(good.detail, /CRIU 4\.1\.1; criu check: looks good; dump \d+ ms/);

    await install(`${bin}/old`, fakeCriu("3.17.1", VDSO, "exit 0"));
    const old = await checkCriuBinary("criu", `${bin}/old`);
    assert.equal(old.status, "warn");
    assert.match(old.detail, /CRIU 3\.17\.1; criu check fails: .*Unexpected rt vDSO area bounds/);
    assert.match(old.fix, /scripts\/criu\.sh/);

    // `exec`: the dump itself must be what the deadline kills, or its pipes stay open.
    await install(`${bin}/hangs`, fakeCriu("4.1.1", LOOKS_GOOD, "exec sleep 10"));
    const hangs = await checkCriuBinary("criu", `${bin}/hangs`, 300);
    assert.equal(hangs.status, "warn");
    assert.match(hangs.detail, /looks good; dump did not finish within 0\.3 s/);
    assert.match(hangs.fix, /CRIU_FAULT=130/);

    await install(
      `${bin}/fails`,
      fakeCriu("4.1.1", LOOKS_GOOD, 'echo "Error (x.c:1): no" >&2; exit 1'),
    );
    const fails = await checkCriuBinary("criu", `${bin}/fails`);
    assert.equal(fails.status, "warn");
    assert.match(fails.detail, /dump fails: Error \(x\.c:1\): no/);

    await install(`${bin}/broken`, "#!/bin/sh\necho 'libfoo.so: cannot open' >&2\nexit 127\n");
    const broken = await checkCriuBinary("criu", `${bin}/broken`);
    assert.equal(broken.status, "warn");
    assert.match(broken.detail, /does not run: libfoo\.so: cannot open/);
  });
});

Deno.test("the project's CRIU comes first; others are listed as not used", async () => {
  await withFakeTree(async (home, bin) => {
    await install(`${home}/.tools/criu/criu`, fakeCriu("4.1.1", LOOKS_GOOD, "exit 0"));
    await install(`${bin}/criu`, fakeCriu("3.17.1", VDSO, "exit 0"));
    const found = criuBinaries();
    assert.equal(found[0], `${home}/.tools/criu/criu`);
    assert.equal(found[1], `${bin}/criu`);
    const checks = await checkCriu();
    assert.equal(checks[0].name, "criu");
    assert.equal(checks[0].status, "ok", checks[0].detail);
    assert.equal(checks[1].name, "criu (other)");
    assert.equal(checks[1].status, "warn");
    assert.match(checks[1].fix, /a8 does not use this one \(it uses .*\.tools\/criu\/criu\)/);
  });
});

Deno.test("no CRIU at all is a warning that says how to install one", async () => {
  await withFakeTree(async () => {
    if (criuBinaries().length > 0) return; // this host has a system CRIU in /usr/sbin
    const checks = await checkCriu();
    assert.equal(checks.length, 1);
    assert.equal(checks[0].status, "warn");
    assert.match(checks[0].fix, /scripts\/criu\.sh/);
  });
});

Deno.test("libcriu that cannot load is a warning naming what was tried", async () => {
  await withFakeTree(async (home) => {
    const c = await checkLibcriu();
    assert.notEqual(c.status, "fail");
    if (c.status === "warn") {
      assert.match(c.detail, new RegExp(`${home}/\\.tools/criu/.*libcriu\\.so\\.2: missing`));
      assert.match(c.fix, /scripts\/criu\.sh/);
    }
  });
});

Deno.test("CRIU's probe cache: a root-only directory on a tmpfs, or a warning saying why not", async () => {
  assert.equal(fsTypeOf("/proc/self/status"), "proc");
  const onProc = checkCriuCache("/proc/a8-criu");
  assert.equal(onProc.status, "warn");
  assert.match(onProc.detail, /\/proc is a proc, not a tmpfs/);
  if (fsTypeOf("/dev/shm") !== "tmpfs") {
    console.warn("!!! /dev/shm is not a tmpfs here: the cache's tmpfs cases are not checked");
    return;
  }
  const dir = `/dev/shm/a8-criu-test-${crypto.randomUUID()}`;
  assert.match(checkCriuCache(dir).detail, /made at CRIU's first run/);
  try {
    await Deno.symlink("/tmp", dir);
    const link = checkCriuCache(dir);
    assert.equal(link.status, "warn");
    assert.match(link.detail, /not a directory of this user's/);
    await Deno.remove(dir);
    await Deno.mkdir(dir, { mode: 0o700 });
    assert.match(checkCriuCache(dir).detail, /empty until CRIU runs/);
    await Deno.writeTextFile(`${dir}/criu.kdat`, "");
    const cached = checkCriuCache(dir);
    assert.equal(cached.status, "ok");
    assert.match(cached.detail, /kernel probes cached/);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("tcp_migrate_req: ok when 1, a warning with the sysctl to set when 0 or missing", async () => {
  const f = await Deno.makeTempFile({ prefix: "a8-migrate-" });
  try {
    await Deno.writeTextFile(f, "1\n");
    assert.equal(checkTcpMigrate(f).status, "ok");
    await Deno.writeTextFile(f, "0\n");
    const off = checkTcpMigrate(f);
    assert.equal(off.status, "warn");
    assert.match(off.fix, /sysctl -w net.ipv4.tcp_migrate_req=1/);
    await Deno.remove(f);
    assert.match(checkTcpMigrate(f).detail, /missing/);
  } finally {
    await Deno.remove(f).catch(() => {});
  }
});

Deno.test("criu, other users: CAP_SYS_RESOURCE in CapEff decides", () => {
  const status = (eff: string) => `Name:\tdeno\nCapInh:\t0000000000000000\nCapEff:\t${eff}\n`;
  assert.equal(checkCriuOtherUsers(status("000001ffffffffff")).status, "ok");
  // This VM's root: every capability but bit 24.
  const without = checkCriuOtherUsers(status("000001fffeffffff"));
  assert.equal(without.status, "warn");
  assert.match(without.detail, /CAP_SYS_RESOURCE is missing.*switches user/);
  assert.equal(checkCriuOtherUsers("Name:\tx\n").status, "warn");
});
