// SPDX-License-Identifier: MIT
/* The stream engine (stream.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>

#include "a8/raw.h"
#include "canon/encode.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "ckpt/ckpt.h"
#include "epoll.h"
#include "fdtab.h"
#include "proc.h"
#include "signals.h"
#include "stream.h"
#include "util.h"
#include "wait.h"

#define A8_LEADER_READ_MAX (16L << 20)
/*
 * The code policy checks outputs as the followers catch up, but not from arbitrarily far: every
 * this many positions is synchronous. A follower left thousands of calls behind by a burst of
 * load made each divergence on its way back a rollback of every variant (the leader took no new
 * request for seconds), and that many of the leader's outputs went out unchecked.
 */
#define A8_CODE_LAG_MAX 1024

bool a8_is_sync(const struct a8_call *c)
{
	uint16_t f = c->ci->flags | c->xflags;

	if (f & F_CODE || a8.policy == A8_POLICY_LOCKSTEP)
		return true;
	if (a8.policy == A8_POLICY_CODE)
		return a8.seq % A8_CODE_LAG_MAX == 0;
	if (f & F_WRITEOPEN && c->a[2] & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND))
		return true;
	return f & F_OUTPUT;
}

/* A follower runs the call on its own processes, not the leader's numbers. */
static void local_pids(struct a8_call *c)
{
	int i;

	for (i = 0; i < 6; i++)
		if (c->ci->args[i].kind == AK_PID)
			c->a[i] = a8_pid_local(c->a[i]);
}

long a8_exec_call(struct a8_call *c)
{
	long nr = a8_call_nr(c->ci->cid);
	unsigned long open_mask, all = ~0UL;
	long r;

	if (nr < 0)
		nr = c->nr;
	local_pids(c);
	if (!((c->ci->flags | c->xflags) & F_BLOCK))
		return a8_sys_args(nr, c->a);
	/* A replaying leader's call of its own may wait: the replayed records go out first. */
	if (a8_replaying())
		a8_tx_flush();
	if (a8.role != A8_ROLE_LEADER)
		return a8_sys_args(nr, c->a);
	if (a8_ran_without_wait(c, nr, &r))
		return r;
	a8_tx_flush();	/* followers must not wait for a leader that waits */
	if (!c->uc)
		return a8_sys_args(nr, c->a);
	/* A checkpoint of the tree asked for before the wait begins comes first. */
	a8_ckpt_wait_begin(a8_quiescent(c));
	/* Open the program's signals while it may block, so a signal interrupts it. */
	open_mask = a8_sig_program_mask(c) & ~(1UL << (SIGSYS - 1));
	a8_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &open_mask, NULL, 8);
	r = a8_raw_syscall6_intr(nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
	a8_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
	a8_ckpt_wait_end();
	return r;
}

static void deliver_sections(struct a8_call *c, struct a8_sec_reader *r)
{
	const uint8_t *d;
	uint32_t tag, n;
	int more;

	while ((more = a8_sec_next(r, &tag, &d, &n)) == 1) {
		struct a8_sigrec s;

		if (tag != A8_SEC_SIGNAL)
			continue;
		if (n != sizeof(s))
			a8_fatal("protocol", c->ci->name, c->nr, "bad signal section");
		memcpy(&s, d, sizeof(s));
		a8_sig_deliver(c, &s);
	}
	if (more < 0)
		a8_fatal("protocol", c->ci->name, c->nr, "malformed record sections");
}

static void record_restart(struct a8_call *c, struct a8_step *s)
{
	struct a8_rec_hdr *h = a8_rec_begin(A8_REC_CALL, c->ci->cid, s->seq);

	h->digest = s->digest;
	h->flags = A8_RECF_RESTART | A8_RECF_SIGNAL;
	h->ret = -EINTR;
	a8_sig_record_queued();
	a8_rec_end(h);
}

/* Run position s->seq again from the start: this process is a copy resumed at it. */
static bool again(struct a8_call *c, struct a8_step *s)
{
	a8.seq = s->seq - 1;
	return a8_step_begin(c, s);
}

static bool leader_begin(struct a8_call *c, struct a8_step *s)
{
	/* Followers send their digest of a synchronous call whatever happens next. */
	if (a8_is_sync(c))
		a8_digests_wait(c, s);
	if (a8_ckpt_due(c) && a8_ckpt_leader(c, s->seq))
		return again(c, s);
	if (a8_sig_due()) {
		/* Signals that came while the program ran: handlers first, then the call. */
		record_restart(c, s);
		a8_sig_deliver_queued(c);
		c->restart = true;
		a8_ring_finish(s->seq, c->ret, A8_RING_LOCAL);
		return false;
	}
	return true;
}

/* A resumed leader replaying its log: check the followers, take the recorded result. */
static const struct a8_rec_hdr *replayed_record(struct a8_call *c, struct a8_step *s)
{
	const struct a8_rec_hdr *h = NULL;

	if (a8_is_sync(c))
		a8_digests_defer(c, s);
	if (a8_replay_next(s->seq, &h))	/* it settled the digests (replay_stop) */
		a8_diverged("replay", c->ci->name, s->seq,
			    "after the rollback the program did not repeat its calls (%s here)",
			    c->ci->name);
	if (a8_tx_pending() >= a8.batch_bytes)
		a8_tx_flush();
	return h;
}

/* Follower: the leader's record for this position (taking a checkpoint it announces). */
static const struct a8_rec_hdr *leader_record(struct a8_call *c, struct a8_step *s,
					      bool *resumed)
{
	const struct a8_rec_hdr *h;

	*resumed = false;
	if (a8_is_sync(c))
		a8_digests_send(c, s);
	for (;;) {
		if (a8_rx_next(0, &h, -1))
			a8_leader_vanished(c->ci->name, s->seq);
		if (h->type != A8_REC_CKPT || h->seq != s->seq)
			return h;
		if (a8_ckpt_follower(c, s->seq, h->epoch)) {
			*resumed = true;
			return NULL;
		}
	}
}

bool a8_step_begin(struct a8_call *c, struct a8_step *s)
{
	const struct a8_rec_hdr *h;
	bool resumed;

	s->seq = ++a8.seq;
	s->digest = a8_digest_call(c, s->blob, &s->blob_len);
	s->rec = NULL;
	s->out_marked = false;
	a8.stats->calls_checked++;
	c->ret = -ENOSYS;
	if (a8_fault_now(c))
		s->digest ^= 0xa8;	/* [faults]: this variant diverges here on purpose */
	a8_ring_record(c, s->seq, s->digest, s->blob, s->blob_len, 0);
	a8_replay_check(s->seq);
	if (a8.role == A8_ROLE_LEADER)
		return leader_begin(c, s);
	if (a8_replaying()) {
		h = replayed_record(c, s);
	} else {
		h = leader_record(c, s, &resumed);
		if (resumed)
			return again(c, s);
	}
	if (h->type == A8_REC_DIVERGE)
		a8_peer_stopped(true, c->ci->name, h->seq, "the leader found a divergence");
	if (h->type == A8_REC_CRASH)
		a8_diverged("signal", c->ci->name, s->seq,
			    "the leader's program died of signal %u after position %llu; this "
			    "variant reached %s without it", h->cid, (unsigned long long)h->seq,
			    c->ci->name);
	if (h->type != A8_REC_CALL || h->seq != s->seq)
		a8_fatal("protocol", c->ci->name, c->nr,
			 "expected the leader's record %llu, got type %u seq %llu",
			 (unsigned long long)s->seq, h->type, (unsigned long long)h->seq);
	s->rec = h;
	a8_sec_begin(&s->sections, h);
	if (h->cid != c->ci->cid) {
		const struct a8_callinfo *other = a8_call_row(h->cid);

		a8_diverged("order", c->ci->name, s->seq, "the leader made %s here, this variant %s",
			    other ? other->name : "an unknown call", c->ci->name);
	}
	if (h->digest != s->digest)
		a8_diverged("args", c->ci->name, s->seq,
			    "%s has other arguments than on the leader", c->ci->name);
	if (h->flags & A8_RECF_RESTART) {
		deliver_sections(c, &s->sections);
		c->restart = true;
		a8_ring_finish(s->seq, c->ret, A8_RING_LEADER_RESULT);
		return false;
	}
	return true;
}

struct a8_rec_hdr *a8_step_record(struct a8_call *c, struct a8_step *s, bool replicate)
{
	struct a8_rec_hdr *h = a8_rec_begin(A8_REC_CALL, c->ci->cid, s->seq);
	long fds[A8_NEWFD_MAX];
	int n, i;

	h->digest = s->digest;
	h->ret = c->ret;
	if (replicate)
		a8_put_outputs(c);
	n = a8_new_fds(c, fds);
	for (i = 0; i < n; i++) {
		int32_t nf[2] = { (int32_t)fds[i], 0 };

		nf[1] = (a8_sys2(SYS_fcntl, fds[i], F_GETFD) & FD_CLOEXEC) ? 1 : 0;
		a8_sec_put(A8_SEC_NEWFD, nf, sizeof(nf));
		if (replicate)
			a8_log_newfd(s->seq, (int)fds[i]);
	}
	return h;
}

void a8_step_commit(struct a8_call *c, struct a8_step *s, struct a8_rec_hdr *h)
{
	bool deliver = a8_sig_due();

	(void)h;	/* the batch may have moved: work on the record being built */
	if (deliver) {
		struct a8_rec_hdr *cur = a8_rec_current();

		cur->flags |= A8_RECF_SIGNAL;
		if (c->ret == -EINTR && a8_sig_restarts(c, a8_sig_first())) {
			cur->flags |= A8_RECF_RESTART;
			c->restart = true;
		}
		a8_sig_record_queued();
	}
	a8_rec_end(NULL);
	if (s->out_marked)
		a8_out_end();	/* its record is in the log now (a8_rec_end) */
	a8_ring_finish(s->seq, c->ret, A8_RING_LOCAL);
	if ((c->ci->flags | c->xflags) & F_FLUSH || a8_tx_pending() >= a8.batch_bytes ||
	    a8_is_sync(c))
		a8_tx_flush();
	if (deliver)
		a8_sig_deliver_queued(c);
}

static void take_new_fds(struct a8_call *c, struct a8_sec_reader *r, bool replicated)
{
	const uint8_t *d;
	uint32_t tag, n;
	int more;

	while ((more = a8_sec_next(r, &tag, &d, &n)) == 1) {
		int32_t nf[2];

		if (tag == A8_SEC_SIGNAL) {
			struct a8_sigrec sr;

			if (n != sizeof(sr))
				a8_fatal("protocol", c->ci->name, c->nr, "bad signal section");
			memcpy(&sr, d, sizeof(sr));
			a8_sig_deliver(c, &sr);
			continue;
		}
		if (tag != A8_SEC_NEWFD || !replicated)
			continue;
		if (n != sizeof(nf))
			a8_fatal("protocol", c->ci->name, c->nr, "bad new-fd section");
		memcpy(nf, d, sizeof(nf));
		if (a8_replaying() && a8_replay_install(c, nf[0], nf[1]))
			continue;
		if (a8_fd_placeholder(nf[0], nf[1]) < 0)
			a8_diverged("result", c->ci->name, a8.seq,
				    "cannot hold fd %d where the leader has one", nf[0]);
	}
	if (more < 0)
		a8_fatal("protocol", c->ci->name, c->nr, "malformed record sections");
}

void a8_step_follow(struct a8_call *c, struct a8_step *s, bool replicated)
{
	const struct a8_rec_hdr *h = s->rec;
	const char *why;

	if (replicated) {
		why = a8_apply_outputs(c, &s->sections);
		if (why)
			a8_fatal("protocol", c->ci->name, c->nr, "leader's %s outputs: %s",
				 c->ci->name, why);
	} else if ((c->ret < 0) != (h->ret < 0) ||
		   ((c->ci->flags | c->xflags) & F_NEWFD && c->ret != h->ret)) {
		a8_diverged("result", c->ci->name, s->seq,
			    "%s returned %ld here and %lld on the leader", c->ci->name, c->ret,
			    (long long)h->ret);
	}
	c->ret = h->ret;
	take_new_fds(c, &s->sections, replicated);
	a8_ring_finish(s->seq, c->ret, A8_RING_LEADER_RESULT);
}

/* Keep the scatter list under the limit: whole iovecs, at least one. */
static void clamp_iov(struct a8_call *c, int i)
{
	const struct iovec *iov = (const struct iovec *)c->a[i];
	long cnt = c->a[c->ci->args[i].p], k, total = 0;

	for (k = 0; iov && k < cnt; k++) {
		total += (long)iov[k].iov_len;
		if (total > A8_LEADER_READ_MAX && k > 0) {
			c->a[c->ci->args[i].p] = k;
			return;
		}
	}
}

/*
 * A read may return less than asked: the leader asks for at most A8_LEADER_READ_MAX so that
 * its record stays within what a follower accepts (A8_REC_MAX).
 */
static void clamp_leader_reads(struct a8_call *c)
{
	int i;

	for (i = 0; i < 6; i++) {
		if (c->ci->args[i].kind == AK_OUT && c->a[c->ci->args[i].p] > A8_LEADER_READ_MAX)
			c->a[c->ci->args[i].p] = A8_LEADER_READ_MAX;
		if (c->ci->args[i].kind == AK_IOV_OUT)
			clamp_iov(c, i);
	}
}

static void note_fds(struct a8_call *c, bool replicated)
{
	long fds[A8_NEWFD_MAX];
	int n = a8_new_fds(c, fds), i;

	for (i = 0; i < n; i++)
		a8_fd_set(fds[i], replicated ? FK_REPL : FK_LOCAL);
	if ((c->ci->flags | c->xflags) & F_CLOSEFD && c->ret == 0) {
		a8_fd_set(c->a[0], FK_NONE);
		a8_epoll_forget_fd((int)c->a[0]);
	}
}

/*
 * Leader: run the call. The agent's request for a checkpoint of the whole tree may interrupt
 * a wait for events: the checkpoint is taken at this position, then the wait begins again.
 * False in a tree restored from that checkpoint: the caller runs the position anew.
 */
static bool leader_run(struct a8_call *c, const struct a8_step *s, bool replicate)
{
	/* A read again after a rollback's bytes has given the program nothing yet: quiescent. */
	bool rerun = false, noting;

	if (replicate)
		a8_log_call(c, s->seq, false);
	if (a8_redo_skip(c, s->seq, s->digest, &c->ret))
		return true;	/* printed before the rollback */
	noting = a8_redo_begin(c, s->seq);
	a8_pipe_read_begin(c);
	do {
		c->ret = a8_exec_call(c);
		while (a8_ckpt_cut_interrupted(c)) {
			if ((rerun || a8_quiescent(c)) && a8_ckpt_leader(c, s->seq))
				return false;
			if (replicate)
				a8_log_call(c, s->seq, false);
			c->ret = a8_exec_call(c);
		}
		rerun = true;
	} while (a8_pipe_trim(c));	/* bytes a rollback's replay read already */
	if (c->ret > 0 && c->ci->args[1].kind == AK_EPOLL_OUT && a8_ckpt_enabled())
		c->ret = a8_epoll_drop_unknown((int)c->a[0], (struct epoll_event *)c->a[1], c->ret);
	a8_redo_note(s->seq, s->digest, c->ret, noting);
	return true;
}

void a8_stream_call(struct a8_call *c)
{
	bool replicate = c->route == R_LEADER;
	struct a8_rec_hdr *h;
	struct a8_step s;

	if (!a8_step_begin(c, &s))
		return;
	if ((c->ci->flags | c->xflags) & F_CLOSEFD)
		a8_ckpt_before_close(c->a[0]);
	if (replicate)
		a8.stats->calls_replicated++;
	if (a8.role == A8_ROLE_LEADER) {
		if (replicate) {
			clamp_leader_reads(c);
			a8_note_capacities(c);
		}
		/* Its own stdout too: a replay past the log's end would print the line again. */
		if ((c->ci->flags | c->xflags) & F_OUTPUT)
			s.out_marked = a8_out_begin(s.seq);
		if (!leader_run(c, &s, replicate)) {
			a8.seq = s.seq - 1;
			a8_stream_call(c);
			return;
		}
		note_fds(c, replicate);
		if (replicate)
			a8_log_call(c, s.seq, true);
		h = a8_step_record(c, &s, replicate);
		a8_step_commit(c, &s, h);
		return;
	}
	if (replicate) {
		if ((c->ci->flags | c->xflags) & F_CLOSEFD)
			a8_sys1(SYS_close, c->a[0]);	/* the placeholder (a replaying leader's fd) */
		else if (a8_replaying())
			a8_pipe_replay_write(c, s.rec->ret);
	} else if (a8_replay_output_done(c, s.rec)) {
		c->ret = s.rec->ret;
	} else if (!a8_redo_skip(c, s.seq, s.digest, &c->ret)) {	/* not printed already */
		bool noting = a8_redo_begin(c, s.seq), ran = a8_ran_begin(c, s.seq);

		c->ret = a8_exec_call(c);
		a8_redo_note(s.seq, s.digest, c->ret, noting);
		a8_replay_ran(s.seq, ran);
	}
	a8_step_follow(c, &s, replicate);
	if (replicate && a8_replaying())
		a8_pipe_replayed(c, c->ret);
	note_fds(c, replicate);
}
