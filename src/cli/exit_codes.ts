/**
 * a8's own exit statuses. When every variant agrees, `a8 run` exits with the program's status
 * (128+N when the program died of signal N); these are for everything else. They sit above
 * the statuses programs commonly use; the README lists them.
 */
export const EXIT = {
  /** Internal error in a8 itself. */
  internal: 70,
  /** Bad command line. */
  usage: 64,
  /** The config file is invalid (the message names file, line, field). */
  config: 78,
  /** The host cannot run a8 or the program cannot be monitored (refused up front). */
  unsupported: 69,
  /** The variants diverged: a report was written. Same value as the monitor's own. */
  divergence: 86,
  /** A monitor stopped: a call it does not know, threads, a broken data plane. */
  monitorFatal: 87,
  /** A peer is missing, silent, failed authentication, or has a different config. */
  peer: 88,
} as const;
