/* SPDX-License-Identifier: MIT */
/*
 * The stream engine: runs one streamed call on the leader (run, record, replicate) or on a
 * follower (check against the leader's record, run or take the leader's results).
 */
#ifndef A8_STREAM_H
#define A8_STREAM_H

#include "a8/monitor.h"
#include "exchange/link.h"

/* Run a streamed call by its resolved route (R_EVERY or R_LEADER). */
void a8_stream_call(struct a8_call *c);

/*
 * The pieces handlers use to build their own streamed calls:
 * begin (position, digest, synchronous check, signals due before it), then the handler runs
 * the call its own way, then end (record on the leader, check on a follower).
 */
struct a8_step {
	uint64_t seq;
	uint64_t digest;
	const struct a8_rec_hdr *rec;	/* follower: the leader's record */
	struct a8_sec_reader sections;	/* follower: its sections after the outputs */
	uint8_t blob[A8_RING_BLOB];
	uint32_t blob_len;
	bool out_marked;		/* leader: an output marked until its record is logged */
};

/* Returns false when the call must not run now (a signal is delivered first: c->restart). */
bool a8_step_begin(struct a8_call *c, struct a8_step *s);
/* Leader: start the record for a call that ran (outputs added when replicate is set). */
struct a8_rec_hdr *a8_step_record(struct a8_call *c, struct a8_step *s, bool replicate);
/* Leader: finish the record, deliver signals that came during the call, flush if needed. */
void a8_step_commit(struct a8_call *c, struct a8_step *s, struct a8_rec_hdr *h);
/* Follower: take the leader's outputs and new fds; ret becomes the leader's. */
void a8_step_follow(struct a8_call *c, struct a8_step *s, bool replicated);

/*
 * digests.c. Leader: every follower's digest of a synchronous position before it runs (wait);
 * during a replay, noted and checked once it is over (defer, settle). Follower: send its own.
 */
void a8_digests_wait(struct a8_call *c, const struct a8_step *s);
void a8_digests_defer(struct a8_call *c, const struct a8_step *s);
void a8_digests_settle(void);
void a8_digests_send(struct a8_call *c, const struct a8_step *s);

/* Execute the canonical call for real (signals open while it runs if it may block). */
long a8_exec_call(struct a8_call *c);
bool a8_is_sync(const struct a8_call *c);
/* Where a call runs (dispatch.c). */
int a8_resolve_route(const struct a8_call *c);
int a8_resolve_route_fd(long fd);

#endif
