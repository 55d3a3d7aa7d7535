// SPDX-License-Identifier: MIT
/*
 * The leader's check of its followers' digests (core/digests.c): before a synchronous call
 * it reads every follower's digest; while it replays its log it reads none, and checks them
 * all, in order, before its first live call. The data plane is a queue of records here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <string.h>

#include "canon/table.h"
#include "check.h"
#include "core/stream.h"

/* What the followers sent, in order, and what the test saw the leader do. */
static struct a8_rec_hdr queue[2048];
static size_t queued, taken;
static int flushes, reads_before_flush;
static bool flushed_since_defer;

static jmp_buf stopped;
static const char *stop_reason;
static uint64_t stop_seq;

int a8_rx_next(int peer, const struct a8_rec_hdr **hdr, int timeout_ms)
{
	(void)peer;
	(void)timeout_ms;
	if (!flushed_since_defer)
		reads_before_flush++;
	if (taken == queued)
		return -ETIMEDOUT;
	*hdr = &queue[taken++];
	return 0;
}

/* A follower's side (a8_digests_send), not used here. */
int a8_link_send_now(int peer, const void *p, size_t n)
{
	(void)peer;
	(void)p;
	(void)n;
	return 0;
}

void a8_tx_flush(void)
{
	flushes++;
	flushed_since_defer = true;
}

void a8_diverged(const char *reason, const char *call, uint64_t seq, const char *fmt, ...)
{
	(void)call;
	(void)fmt;
	stop_reason = reason;
	stop_seq = seq;
	longjmp(stopped, 1);
}

void a8_peer_stopped(bool diverged, const char *call, uint64_t seq, const char *why)
{
	(void)call;
	(void)why;
	stop_reason = diverged ? "peer-diverged" : "peer-gone";
	stop_seq = seq;
	longjmp(stopped, 1);
}

static void reset(void)
{
	queued = taken = 0;
	flushes = reads_before_flush = 0;
	flushed_since_defer = false;
	stop_reason = NULL;
	stop_seq = 0;
	a8.npeers = 1;
	a8.timeout_ms = 1000;
}

/* A follower's digest of position seq, call cid. */
static void follower_sends(uint64_t seq, unsigned cid, uint64_t digest)
{
	queue[queued++] = (struct a8_rec_hdr){ .len = sizeof(struct a8_rec_hdr),
					       .type = A8_REC_DIGEST, .cid = (uint16_t)cid,
					       .seq = seq, .digest = digest };
}

static struct a8_call call_of(unsigned cid)
{
	return (struct a8_call){ .ci = a8_call_row(cid) };
}

static void leader_replays(unsigned cid, uint64_t seq, uint64_t digest)
{
	struct a8_call c = call_of(cid);
	struct a8_step s = { .seq = seq, .digest = digest };

	flushed_since_defer = false;
	a8_digests_defer(&c, &s);
}

/* Three outputs replayed at first..first+2; the follower's digest of the middle one is `mid`. */
static void replay_three(uint64_t first, uint64_t mid)
{
	follower_sends(first, A8_CID_write, first);
	follower_sends(first + 1, A8_CID_sendto, mid);
	follower_sends(first + 2, A8_CID_write, first + 2);
	leader_replays(A8_CID_write, first, first);
	leader_replays(A8_CID_sendto, first + 1, first + 1);
	leader_replays(A8_CID_write, first + 2, first + 2);
}

static void test_replay_reads_nothing_until_settled(void)
{
	reset();
	if (setjmp(stopped) == 0) {
		replay_three(10, 11);
		CHECK_EQ(taken, 0);	/* no round trip per replayed output */
		CHECK_EQ(flushes, 0);
		a8_digests_settle();
	}
	CHECK(stop_reason == NULL);
	CHECK_EQ(taken, 3);
	CHECK_EQ(flushes, 1);	/* the replayed records went out before the wait */
	CHECK_EQ(reads_before_flush, 0);
	a8_digests_settle();	/* nothing left: reads nothing */
	CHECK_EQ(taken, 3);
}

static void test_replayed_divergence_is_found_at_its_position(void)
{
	reset();
	if (setjmp(stopped) == 0) {
		replay_three(20, 0xbad);
		a8_digests_settle();
	}
	CHECK(stop_reason && !strcmp(stop_reason, "args"));
	CHECK_EQ(stop_seq, 21);
}

/* A live synchronous call reads its own digest only after the replay's, in order. */
static void test_live_wait_settles_the_replay_first(void)
{
	struct a8_call c = call_of(A8_CID_write);
	struct a8_step s = { .seq = 31, .digest = 0x31 };

	reset();
	follower_sends(30, A8_CID_write, 0x30);
	follower_sends(31, A8_CID_write, 0x31);
	if (setjmp(stopped) == 0) {
		leader_replays(A8_CID_write, 30, 0x30);
		a8_digests_wait(&c, &s);
	}
	CHECK(stop_reason == NULL);
	CHECK_EQ(taken, 2);
}

/* A call that changes code is checked before it runs, replay or not. */
static void test_code_call_is_not_deferred(void)
{
	reset();
	follower_sends(40, A8_CID_write, 0x40);
	follower_sends(41, A8_CID_execve, 0x41);
	if (setjmp(stopped) == 0) {
		leader_replays(A8_CID_write, 40, 0x40);
		leader_replays(A8_CID_execve, 41, 0x41);
		CHECK_EQ(taken, 2);
	}
	CHECK(stop_reason == NULL);
}

/* The notes are bounded: a long replay checks them as they fill up. */
static void test_long_replay_checks_as_it_goes(void)
{
	uint64_t seq;

	reset();
	for (seq = 1; seq <= 1500; seq++)
		follower_sends(seq, A8_CID_write, seq);
	if (setjmp(stopped) == 0) {
		for (seq = 1; seq <= 1500; seq++)
			leader_replays(A8_CID_write, seq, seq);
		CHECK(taken > 0 && taken < 1500);
		a8_digests_settle();
	}
	CHECK(stop_reason == NULL);
	CHECK_EQ(taken, 1500);
}

int main(void)
{
	a8_table_init();
	test_replay_reads_nothing_until_settled();
	test_replayed_divergence_is_found_at_its_position();
	test_live_wait_settles_the_replay_first();
	test_code_call_is_not_deferred();
	test_long_replay_checks_as_it_goes();
	return check_report();
}
