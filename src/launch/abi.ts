/**
 * The agent's copy of the agent <-> monitor interface constants (preload/include/a8/abi.h,
 * docs/monitor-abi.md). Change both together and bump `ABI_VERSION`.
 */

export const ABI_VERSION = 3;

/** Exit statuses the monitor uses for itself. */
export const MONITOR_EXIT_DIVERGENCE = 86;
export const MONITOR_EXIT_FATAL = 87;

export const STATS_MAGIC = "A8STATS1";
export const RING_SLOTS = 64;
export const RING_BLOB = 64;
export const CALL_NAME_BYTES = 16;
export const STREAM_KEY_BYTES = 32;

/** `struct a8_stats` field offsets. */
export const STATS = {
  magic: 0,
  abi: 8,
  ringSlots: 12,
  callsSeen: 16,
  callsChecked: 24,
  callsReplicated: 32,
  callsLocal: 40,
  divergences: 48,
  seq: 56,
  pid: 64,
  vpid: 68,
  signals: 72,
  bytesSent: 80,
  bytesReceived: 88,
  ringHead: 96,
  stream: 104,
  ring: 136,
} as const;

/** `struct a8_ring_entry` field offsets. */
export const RING = {
  seq: 0,
  name: 8,
  nr: 24,
  args: 32,
  digest: 80,
  ret: 88,
  blobLen: 96,
  flags: 100,
  blob: 104,
  size: 168,
} as const;

/** `flags` bits of a ring entry. */
export const RING_LEADER_RESULT = 1;
export const RING_LOCAL = 2;
