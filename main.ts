/** a8's entry point: dispatches to one subcommand module and exits with its status. */
import { EXIT } from "./src/cli/exit_codes.ts";
import { USAGE } from "./src/cli/help.ts";
import { versionText } from "./src/cli/version.ts";

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./src/cli/run.ts")).main,
  doctor: async () => (await import("./src/cli/doctor.ts")).main,
};

async function dispatch(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    console.log(USAGE);
    return cmd === undefined ? EXIT.usage : 0;
  }
  if (cmd === "version" || cmd === "--version" || cmd === "-V") {
    console.log(versionText());
    return 0;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    console.error(`a8: unknown command "${cmd}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  return await (await load())(rest);
}

/** A bug in a8 itself: say so plainly, with the stack for the bug report, and exit 70. */
async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (e) {
    console.error(`a8: internal error (a bug in a8): ${e instanceof Error ? e.stack : e}`);
    return EXIT.internal;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
