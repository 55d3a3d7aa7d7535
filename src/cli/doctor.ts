/** `a8 doctor`: tells the user whether this host can run a8, and what to fix if not. */
import { DOCTOR_USAGE, parseDoctorArgs, UsageError } from "./args.ts";
import { EXIT } from "./exit_codes.ts";
import { type Check, checkHost, checkPeers } from "./host_checks.ts";
import { loadConfig } from "../config/load.ts";
import { ConfigError } from "../config/types.ts";

export async function main(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseDoctorArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.help) {
      console.log(DOCTOR_USAGE);
      return 0;
    }
    console.error(`a8 doctor: ${e.message}\n\n${DOCTOR_USAGE}`);
    return EXIT.usage;
  }

  const host = await checkHost();
  const checks = [...host.checks];
  let configOk = true;
  if (opts.config !== undefined) {
    try {
      const config = await loadConfig(opts.config);
      checks.push({ name: "config", status: "ok", detail: config.path, fix: "" });
      if (opts.id !== undefined && !config.variants.some((v) => v.id === opts.id)) {
        configOk = false;
        checks.push({
          name: "variant id",
          status: "fail",
          detail: `--id ${opts.id} is not a variant of the config`,
          fix: `use one of ${config.variants.map((v) => v.id).join(", ")}`,
        });
      }
      checks.push(...await checkPeers(config, opts.id));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      configOk = false;
      checks.push({ name: "config", status: "fail", detail: e.message, fix: "edit the config" });
    }
  }

  const canRun = host.canRun && configOk;
  if (opts.json) {
    console.log(
      JSON.stringify({ can_run: canRun, interposers: host.interposers, checks }, null, 2),
    );
  } else {
    console.log(formatTable(checks));
    console.log(
      canRun
        ? `\nthis host can run a8 (interposers: ${host.interposers.join(", ")})`
        : "\nthis host cannot run a8 yet: fix the failed checks above",
    );
  }
  return canRun ? 0 : EXIT.unsupported;
}

export function formatTable(checks: Check[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => {
    const line = `${c.status.padEnd(4)}  ${c.name.padEnd(w)}  ${c.detail}`;
    return c.fix ? `${line}\n${" ".repeat(w + 8)}-> ${c.fix}` : line;
  }).join("\n");
}
