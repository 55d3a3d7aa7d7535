/* SPDX-License-Identifier: MIT */
/*
 * The agent <-> monitor interface (docs/monitor-abi.md). The agent keeps a copy of these
 * constants in src/launch/abi.ts: change both together and bump A8_ABI_VERSION.
 */
#ifndef A8_ABI_H
#define A8_ABI_H

#include <stdint.h>

#define A8_ABI_VERSION 3

/* Exit statuses the monitor uses for itself. */
#define A8_EXIT_DIVERGENCE 86
#define A8_EXIT_FATAL 87

#define A8_STATS_MAGIC "A8STATS1"
#define A8_RING_SLOTS 64
#define A8_RING_BLOB 64
#define A8_CALL_NAME 16

struct a8_ring_entry {
	uint64_t seq;
	char name[A8_CALL_NAME];  /* canonical call name, NUL padded */
	int64_t nr;               /* raw call number on this ISA */
	uint64_t args[6];         /* raw arguments */
	uint64_t digest;          /* keyed digest of the canonical arguments */
	int64_t ret;              /* result, or -ENOSYS if the call did not return */
	uint32_t blob_len;        /* bytes of canonical encoding kept (<= A8_RING_BLOB) */
	uint32_t flags;           /* A8_RING_* */
	uint8_t blob[A8_RING_BLOB];
};                                /* 168 bytes */

#define A8_RING_LEADER_RESULT 1   /* ret came from the leader */
#define A8_RING_LOCAL 2           /* ran on this variant */

struct a8_stats {
	char magic[8];
	uint32_t abi;
	uint32_t ring_slots;
	uint64_t calls_seen;
	uint64_t calls_checked;
	uint64_t calls_replicated;
	uint64_t calls_local;
	uint64_t divergences;
	uint64_t seq;             /* next stream position */
	uint32_t pid;
	uint32_t vpid;
	uint64_t signals;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t ring_head;       /* entries written so far; slot = (ring_head - 1) % ring_slots is the newest */
	char stream[32];          /* stream key, NUL padded */
	struct a8_ring_entry ring[A8_RING_SLOTS];
};

#endif
