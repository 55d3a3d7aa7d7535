// SPDX-License-Identifier: MIT
/*
 * The followers' digests of synchronous calls (stream.h). A follower sends its digest of each
 * synchronous call before it takes the leader's record; the leader reads every follower's
 * before it runs the call, so no output leaves the leader before the followers agreed to it.
 *
 * A resumed leader replaying its log makes no output: each replayed output happened before
 * the rollback. So it does not wait for the digests there, one round trip per output on the
 * critical path of every rollback, but notes what it expects and checks all of it when the
 * replay ends, before its first live call (replay.c replay_stop), or when the notes fill up.
 * A call that changes code (F_CODE) is still checked before it runs. The digests arrive in
 * order, so the notes are checked first.
 */
#include <errno.h>

#include "canon/kinds.h"
#include "canon/table.h"
#include "stream.h"
#include "util.h"

struct expected {
	uint64_t seq;
	uint64_t digest;
	uint16_t cid;
};

#define DEFER_MAX 1024	/* 32 bytes a digest in a follower's send buffer */
static struct expected deferred[DEFER_MAX];
static size_t ndeferred;

/* Every follower's digest of the next synchronous position, which must be e. */
static void check(const struct expected *e, const char *name, long nr)
{
	int i;

	for (i = 0; i < a8.npeers; i++) {
		const struct a8_rec_hdr *h;
		int err = a8_rx_next(i, &h, a8.timeout_ms);

		if (err == -ETIMEDOUT)
			a8_fatal("timeout", name, nr, "variant %u did not reach position %llu within %d ms",
				 a8.peers[i].id, (unsigned long long)e->seq, a8.timeout_ms);
		if (err)
			a8_peer_stopped(false, name, e->seq, "a follower is gone");
		if (h->type == A8_REC_DIVERGE)
			a8_peer_stopped(true, name, h->seq, "a follower found a divergence");
		if (h->type != A8_REC_DIGEST || h->seq != e->seq)
			a8_fatal("protocol", name, nr,
				 "expected digest %llu from variant %u, got type %u seq %llu",
				 (unsigned long long)e->seq, a8.peers[i].id, h->type,
				 (unsigned long long)h->seq);
		if (h->cid != e->cid)
			a8_diverged("order", name, e->seq, "variant %u made call #%u here",
				    a8.peers[i].id, h->cid);
		if (h->digest != e->digest)
			a8_diverged("args", name, e->seq, "variant %u called %s with other arguments",
				    a8.peers[i].id, name);
	}
}

/* The digests noted during a replay, in order; the records they answer go out first. */
void a8_digests_settle(void)
{
	size_t i, n = ndeferred;

	if (!n)
		return;
	ndeferred = 0;
	a8_tx_flush();
	for (i = 0; i < n; i++)
		check(&deferred[i], a8_call_row(deferred[i].cid)->name, 0);
}

void a8_digests_wait(struct a8_call *c, const struct a8_step *s)
{
	struct expected e = { s->seq, s->digest, c->ci->cid };

	a8_digests_settle();
	a8_tx_flush();
	check(&e, c->ci->name, c->nr);
}

void a8_digests_defer(struct a8_call *c, const struct a8_step *s)
{
	if ((c->ci->flags | c->xflags) & F_CODE) {
		a8_digests_wait(c, s);
		return;
	}
	if (ndeferred == DEFER_MAX)
		a8_digests_settle();
	deferred[ndeferred++] = (struct expected){ s->seq, s->digest, c->ci->cid };
}

void a8_digests_send(struct a8_call *c, const struct a8_step *s)
{
	struct a8_rec_hdr h = {
		.len = sizeof(h), .type = A8_REC_DIGEST, .cid = c->ci->cid, .epoch = a8.epoch,
		.seq = s->seq, .digest = s->digest,
	};

	if (a8_link_send_now(0, &h, sizeof(h)))
		a8_peer_stopped(false, c->ci->name, s->seq, "the leader is gone");
}
