/* SPDX-License-Identifier: MIT */
/*
 * The data plane between monitors: one TCP connection per stream and follower. Records are
 * little-endian, self-delimiting, and every length is checked before it is used.
 *
 *   header (40 bytes) | sections ...        section = tag (u32) | length (u32) | bytes
 */
#ifndef A8_WIRE_H
#define A8_WIRE_H

#include <stdint.h>

#define A8_WIRE_VERSION 2
#define A8_REC_MAX (64u << 20)	/* a record larger than this is a protocol error */

enum a8_rec_type {
	A8_REC_CALL = 1,	/* leader -> follower: one stream call and its results */
	A8_REC_DIGEST = 2,	/* follower -> leader: my digest at a synchronous call */
	A8_REC_DIVERGE = 3,	/* either way: I found a divergence at seq */
	A8_REC_HELLO = 4,	/* follower -> leader, first on a connection */
	A8_REC_HELLO_OK = 5,	/* leader -> follower: hello accepted; cid = leader id, ret = vpid,
				 * digest = vppid, seq = the lowest monitor fd base of all variants */
	A8_REC_CRASH = 6,	/* leader -> follower: the program died of a fault (cid = signal)
				 * after position seq */
	A8_REC_CKPT = 7,	/* leader -> follower: checkpoint epoch before position seq */
	A8_REC_CKPT_ACK = 8,	/* follower -> leader: my copy for position seq exists */
};

enum a8_rec_flag {
	A8_RECF_RESTART = 1,	/* the call did not run: deliver the signal, run it again */
	A8_RECF_SIGNAL = 2,	/* a signal is delivered after this call (section SIGNAL) */
	A8_RECF_REPLAYED = 4,	/* replayed after a rollback: its outputs already happened */
};

struct a8_rec_hdr {
	uint32_t len;		/* whole record, header included */
	uint16_t type;
	uint16_t cid;
	uint32_t epoch;
	uint32_t flags;
	uint64_t seq;
	uint64_t digest;
	int64_t ret;
};

enum a8_sec_tag {
	A8_SEC_OUT = 1,		/* one output argument, in canonical argument order */
	A8_SEC_NEWFD = 2,	/* i32 fd, u32 cloexec: a new fd the call made */
	A8_SEC_SIGNAL = 3,	/* u32 signo, then a canonical siginfo (128 bytes) */
	A8_SEC_PORT = 4,	/* u32: port of a forked child's data listener */
	A8_SEC_ABSENT = 5,	/* an output argument that was not written (NULL or failed) */
};

struct a8_hello {
	uint8_t run_id[16];
	char stream[32];
	uint32_t variant_id;
	uint32_t wire_version;
	uint64_t table_digest;
	uint32_t mon_base;	/* where this monitor's own fds start (fdtab.h) */
	uint32_t pad;
	uint8_t nonce[16];
	uint64_t mac;		/* siphash(key, everything above) */
};

#endif
