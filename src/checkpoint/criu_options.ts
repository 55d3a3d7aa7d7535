/**
 * The options a8 gives CRIU (through libcriu: ffi/libcriu.ts) for every dump and every restore
 * of a variant's tree (criu_driver.ts), and why each.
 */
import type { CommonOptions } from "../../ffi/libcriu.ts";

/**
 * Options of both directions. ext_unix_sk lets a tree keep a datagram socket connected to a
 * path outside it (syslog's /dev/log is the usual one); without it CRIU refuses the dump
 * ("External socket is used"). It costs nothing otherwise. shell_job is set per dump (see
 * criu_driver.ts, `dump`).
 *
 * unprivileged: every dump and restore is a fresh CRIU process, which first probes the kernel's
 * features unless it finds them cached, and a root CRIU caches them only in /run, only when
 * /run is a tmpfs (it is not on every host: not on the machines a8 is tested on). The probes
 * took 50-120 ms of each ~150 ms restore there, 70 ms of it making a veth pair in a scratch
 * network namespace, a probe only privileged CRIU runs. Unprivileged CRIU skips the root-only
 * probes and caches the rest in $XDG_RUNTIME_DIR, which the project's CRIU wrapper points at
 * a root-only directory on /dev/shm (scripts/criu.sh). What the mode gives up does not concern
 * a8: it leaves cgroups alone (a restored tree is in the agent's cgroup, where the tree the
 * agent started is unless it moved itself) and time namespaces (a8 drops that image anyway,
 * see criu_driver.ts, `dump`).
 */
const COMMON: Omit<CommonOptions, "imagesDir"> = {
  networkLock: "nftables",
  extUnixSk: true,
  unprivileged: true,
};
/**
 * tcp_skip_in_flight: a connection the kernel completed but the program has not accept()ed
 * yet makes CRIU refuse the dump ("In-flight connection (l)"), and a server can get one at
 * any moment; with it, such connections are left out of the images (the live tree, left
 * running, still accepts them; a restored one never sees them, and their clients get a RST).
 */
export const CRIU_DUMP: Omit<CommonOptions, "imagesDir"> = {
  ...COMMON,
  logLevel: 4,
  logFile: "dump.log",
  tcpEstablished: true,
  tcpSkipInFlight: true,
};
/**
 * The restore logs errors and warnings only: at CRIU's debug level (4) the log of nginx's tree
 * is ~3200 lines, one write each, and cost ~16 ms of a ~114 ms restore (p50, 1 % injected
 * divergences). The dump keeps level 4: it is the step that refuses a tree, and its log says why.
 */
export const CRIU_RESTORE: Omit<CommonOptions, "imagesDir"> = {
  ...COMMON,
  logLevel: 2,
  logFile: "restore.log",
  tcpClose: true,
};
