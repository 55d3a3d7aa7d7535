import assert from "node:assert/strict";
import { parseDoctorArgs, parseRunArgs, UsageError } from "./args.ts";

function usageError(f: () => unknown, pattern: RegExp) {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("run: a full command line", () => {
  const a = parseRunArgs([
    "--id",
    "2",
    "--report-dir",
    "out",
    "--log-level=debug",
    "--log-format",
    "json",
    "a.toml",
    "--",
    "/bin/ls",
    "-l",
    "--",
    "--id",
  ]);
  assert.deepEqual(a, {
    id: 2,
    config: "a.toml",
    program: ["/bin/ls", "-l", "--", "--id"],
    reportDir: "out",
    logLevel: "debug",
    logFormat: "json",
  });
});

Deno.test("run: defaults and -v levels", () => {
  const a = parseRunArgs(["a.toml", "--id", "1", "--", "true"]);
  assert.equal(a.logLevel, undefined);
  assert.equal(a.logFormat, "text");
  assert.equal(a.reportDir, undefined);
  assert.equal(parseRunArgs(["-v", "--id", "1", "c", "--", "x"]).logLevel, "info");
  assert.equal(parseRunArgs(["-vv", "--id", "1", "c", "--", "x"]).logLevel, "debug");
  assert.equal(
    parseRunArgs(["-v", "--log-level", "error", "--id", "1", "c", "--", "x"]).logLevel,
    "error",
  );
});

Deno.test("run: errors say what is missing or wrong", () => {
  usageError(() => parseRunArgs(["c", "--", "x"]), /missing --id/);
  usageError(
    () => parseRunArgs(["--id", "x", "c", "--", "x"]),
    /--id must be a positive integer, got "x"/,
  );
  usageError(() => parseRunArgs(["--id", "0", "c", "--", "x"]), /positive integer/);
  usageError(() => parseRunArgs(["--id", "1", "c", "prog"]), /expected one CONFIG.*put "--"/);
  usageError(() => parseRunArgs(["--id", "1", "c"]), /missing "--"/);
  usageError(() => parseRunArgs(["--id", "1", "--", "x"]), /missing CONFIG/);
  usageError(() => parseRunArgs(["--id", "1", "c", "--"]), /missing PROGRAM/);
  usageError(
    () => parseRunArgs(["--id", "1", "--log-level", "loud", "c", "--", "x"]),
    /one of error/,
  );
  usageError(
    () => parseRunArgs(["--id", "1", "--log-format", "xml", "c", "--", "x"]),
    /text or json/,
  );
  usageError(() => parseRunArgs(["--id", "1", "--bogus", "c", "--", "x"]), /bogus/);
});

Deno.test("run: --help before -- asks for help, after -- belongs to the program", () => {
  assert.throws(() => parseRunArgs(["--help"]), (e: UsageError) => e.help);
  assert.deepEqual(parseRunArgs(["--id", "1", "c", "--", "ls", "--help"]).program, [
    "ls",
    "--help",
  ]);
});

Deno.test("doctor args", () => {
  assert.deepEqual(parseDoctorArgs([]), { config: undefined, id: undefined, json: false });
  assert.deepEqual(parseDoctorArgs(["--config", "c.toml", "--json", "--id", "3"]), {
    config: "c.toml",
    id: 3,
    json: true,
  });
  usageError(() => parseDoctorArgs(["extra"]), /unexpected argument: extra/);
});
