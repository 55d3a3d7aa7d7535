/**
 * Command-line parsing shared by the subcommands. Each parser returns a typed value or throws
 * a `UsageError` whose message says what was wrong; the caller prints it with the usage text
 * and exits with EXIT.usage (or 0 when `help` is set).
 */
import { parseArgs } from "node:util";
import type { LogLevel } from "../config/types.ts";

export class UsageError extends Error {
  constructor(message: string, readonly usage: string, readonly help = false) {
    super(message);
    this.name = "UsageError";
  }
}

export const RUN_USAGE = `usage: a8 run --id N [options] CONFIG -- PROGRAM [ARGS...]

Runs PROGRAM as variant N of the config; start the same command with each variant's id on
its host.

options:
  --id N               this host's variant id (required)
  --report-dir DIR     write summary.json (and divergence.json) there (default: none)
  --log-level L        error | warn | info | debug (default: the config's log.level)
  --log-format F       text | json (default: text)
  -v, --verbose        log level info; -vv: debug
  -h, --help           this text`;

export const DOCTOR_USAGE = `usage: a8 doctor [--config CONFIG] [--id N] [--json]

Checks whether this host can run a8: kernel, interposers, monitor build, CRIU, kernel
module; with --config also the config and whether the other variants' agents answer.

options:
  --config CONFIG      also check this config and its peers
  --id N               this host's variant id (its own address is not probed)
  --json               print the checks as JSON
  -h, --help           this text`;

const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

export interface RunArgs {
  id: number;
  config: string;
  /** PROGRAM and its arguments, as given after `--`. */
  program: string[];
  reportDir?: string;
  /** Explicit --log-level, else from -v/-vv, else undefined (use the config's). */
  logLevel?: LogLevel;
  logFormat: "text" | "json";
}

export interface DoctorArgs {
  config?: string;
  id?: number;
  json: boolean;
}

export function parseRunArgs(argv: string[]): RunArgs {
  const dashes = argv.indexOf("--");
  const own = dashes < 0 ? argv : argv.slice(0, dashes);
  const { values, positionals } = parse(own, RUN_USAGE, {
    id: { type: "string" },
    "report-dir": { type: "string" },
    "log-level": { type: "string" },
    "log-format": { type: "string" },
    verbose: { type: "boolean", short: "v", multiple: true },
  });
  const fail = (msg: string): never => {
    throw new UsageError(msg, RUN_USAGE);
  };
  if (values.id === undefined) fail("missing --id N: which variant of the config this host runs");
  const id = positiveInt(values.id as string, "--id", RUN_USAGE);
  if (positionals.length === 0) fail("missing CONFIG: the path of the TOML config");
  if (positionals.length > 1) {
    fail(
      `expected one CONFIG before "--", got ${positionals.length}: ${positionals.join(" ")}` +
        (dashes < 0 ? ` (put "--" before the program)` : ""),
    );
  }
  if (dashes < 0) fail(`missing "--" before the program: a8 run --id N CONFIG -- PROGRAM ...`);
  const program = argv.slice(dashes + 1);
  if (program.length === 0) fail(`missing PROGRAM after "--"`);

  let logLevel: LogLevel | undefined;
  const level = values["log-level"] as string | undefined;
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      fail(`--log-level must be one of ${LOG_LEVELS.join(" | ")}, got "${level}"`);
    }
    logLevel = level as LogLevel;
  } else {
    const v = (values.verbose as boolean[] | undefined)?.length ?? 0;
    logLevel = v >= 2 ? "debug" : v === 1 ? "info" : undefined;
  }
  const format = (values["log-format"] as string | undefined) ?? "text";
  if (format !== "text" && format !== "json") {
    fail(`--log-format must be text or json, got "${format}"`);
  }
  const reportDir = values["report-dir"] as string | undefined;
  if (reportDir === "") fail("--report-dir must not be empty");
  return {
    id,
    config: positionals[0],
    program,
    reportDir,
    logLevel,
    logFormat: format as "text" | "json",
  };
}

export function parseDoctorArgs(argv: string[]): DoctorArgs {
  const { values, positionals } = parse(argv, DOCTOR_USAGE, {
    config: { type: "string" },
    id: { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length) {
    throw new UsageError(`unexpected argument: ${positionals[0]}`, DOCTOR_USAGE);
  }
  return {
    config: values.config as string | undefined,
    id: values.id === undefined
      ? undefined
      : positiveInt(values.id as string, "--id", DOCTOR_USAGE),
    json: (values.json as boolean | undefined) ?? false,
  };
}

interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

/** node:util parseArgs, strict, with --help handled and its errors made UsageErrors. */
function parse(argv: string[], usage: string, options: Options): Parsed {
  if (argv.includes("-h") || argv.includes("--help")) throw new UsageError("", usage, true);
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as Parsed;
  } catch (e) {
    // parseArgs' messages are fine but long; keep the first sentence.
    throw new UsageError((e as Error).message.split(". ")[0], usage);
  }
}

function positiveInt(s: string, flag: string, usage: string): number {
  if (!/^[1-9][0-9]*$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new UsageError(`${flag} must be a positive integer, got "${s}"`, usage);
  }
  return Number(s);
}
