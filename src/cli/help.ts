/** The top-level usage text (`a8 help`). */
export const USAGE = `usage: a8 <command> [options]

a8 runs a program as several variants on one or more hosts and stops it when they diverge.

commands:
  run      a8 run --id N [--report-dir DIR] [--log-level L] [--log-format text|json] [-v]
                  CONFIG -- PROGRAM [ARGS...]
           run PROGRAM as variant N of CONFIG (start it on every variant's host)
  doctor   a8 doctor [--config CONFIG] [--id N] [--json]
           check whether this host can run a8, and what to fix
  version  print the version
  help     print this text

"a8 <command> --help" describes a command's options.
exit status: the program's own when all variants agree; 64 usage, 69 unsupported host or
program, 78 bad config, 86 divergence, 87 monitor failure, 88 peer failure, 70 internal error.`;
