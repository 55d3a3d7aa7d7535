import assert from "node:assert/strict";
import {
  checkHost,
  checkInterposer,
  checkIsa,
  checkKernel,
  checkKernelModule,
  checkMonitorLibrary,
  checkPeers,
  parseKernelVersion,
} from "./host_checks.ts";
import { parseConfig } from "../config/load.ts";
import { main as doctor } from "./doctor.ts";

/** A fake a8 tree: a monitor library and a probe that traps only with `works`. */
async function withFakeHome(works: string[], f: () => Promise<void>, lib = true) {
  const home = await Deno.makeTempDir();
  const build = `${home}/build/${Deno.build.arch}`;
  await Deno.mkdir(build, { recursive: true });
  if (lib) await Deno.writeTextFile(`${build}/liba8.so`, "");
  const cases = works.map((w) => `${w}) echo "$1 traps"; exit 0;;`).join(" ");
  await Deno.writeTextFile(
    `${build}/a8-probe`,
    `#!/bin/sh\ncase "$1" in ${cases} *) echo "EINVAL" >&2; exit 3;; esac\n`,
  );
  await Deno.chmod(`${build}/a8-probe`, 0o755);
  const before = Deno.env.get("A8_HOME");
  Deno.env.set("A8_HOME", home);
  try {
    await f();
  } finally {
    if (before === undefined) Deno.env.delete("A8_HOME");
    else Deno.env.set("A8_HOME", before);
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("kernel and ISA checks", () => {
  assert.deepEqual(parseKernelVersion("6.18.44-fc"), [6, 18]);
  assert.equal(parseKernelVersion("weird"), null);
  assert.equal(checkKernel("6.1.0-28-amd64").status, "ok");
  assert.equal(checkKernel("5.10.0").status, "warn");
  assert.match(checkKernel("5.10.0").fix, /5\.11/);
  assert.equal(checkIsa("x86_64").status, "ok");
  assert.equal(checkIsa("riscv64").status, "fail");
});

Deno.test("the kernel module is never a failure", async () => {
  assert.notEqual((await checkKernelModule()).status, "fail");
});

Deno.test("a missing build says to run make build", async () => {
  await withFakeHome([], async () => {
    await Deno.remove(`${Deno.env.get("A8_HOME")}/build`, { recursive: true });
    const lib = await checkMonitorLibrary();
    assert.equal(lib.status, "fail");
    assert.match(lib.fix, /make build/);
    const seccomp = await checkInterposer("seccomp");
    assert.equal(seccomp.status, "fail");
    assert.match(seccomp.detail, /a8-probe is missing/);
  });
});

Deno.test("interposers are judged by the probe's exit status", async () => {
  await withFakeHome(["seccomp"], async () => {
    const seccomp = await checkInterposer("seccomp", "x86_64");
    assert.equal(seccomp.status, "ok", seccomp.detail);
    assert.match(seccomp.detail, /seccomp traps/);
    const sud = await checkInterposer("sud", "x86_64");
    assert.equal(sud.status, "fail");
    assert.match(sud.detail, /probe exited 3: EINVAL/);
    assert.equal((await checkInterposer("sud", "aarch64")).status, "warn");

    const host = await checkHost({ quick: true });
    assert.equal(host.canRun, Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64");
    assert.deepEqual(host.interposers, ["seccomp"]);
    assert.equal((await checkHost({ quick: true, interposer: "sud" })).canRun, false);
  });
});

Deno.test("no interposer, or no library, means the host cannot run a8", async () => {
  await withFakeHome([], async () => {
    assert.equal((await checkHost({ quick: true })).canRun, false);
  });
  await withFakeHome(["sud", "seccomp"], async () => {
    assert.equal((await checkHost({ quick: true })).canRun, false);
  }, false);
});

Deno.test("peers: a listening one is ok, a closed port is a warning", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = (listener.addr as Deno.NetAddr).port;
  const spare = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = (spare.addr as Deno.NetAddr).port;
  spare.close();
  const accepting = (async () => {
    for await (const c of listener) c.close();
  })();
  try {
    const config = parseConfig(
      `leader_id = 1\nkey = "0123456789abcdef"\n` +
        `[[variants]]\nid = 1\naddress = "127.0.0.1"\nport = 1\n` +
        `[[variants]]\nid = 2\naddress = "127.0.0.1"\nport = ${open}\n` +
        `[[variants]]\nid = 3\naddress = "127.0.0.1"\nport = ${closed}\n`,
      "c.toml",
    );
    const checks = await checkPeers(config, 1, 500);
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [["peer 2", "ok"], ["peer 3", "warn"]]);
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("doctor exits 0 on a fit host and 69 otherwise, and reports config errors", async () => {
  const quiet = console.log;
  console.log = () => {};
  try {
    await withFakeHome(["seccomp"], async () => {
      assert.equal(await doctor(["--json"]), 0);
      const home = Deno.env.get("A8_HOME");
      await Deno.writeTextFile(`${home}/bad.toml`, "leader_id = 1\n");
      assert.equal(await doctor(["--config", `${home}/bad.toml`]), 69);
    });
    await withFakeHome([], async () => {
      assert.equal(await doctor([]), 69);
    });
    assert.equal(await doctor(["--help"]), 0);
  } finally {
    console.log = quiet;
  }
});
