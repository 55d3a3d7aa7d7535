// SPDX-License-Identifier: MIT
/* Checkpoints and rollback with the fork engine (ckpt.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "ckpt.h"
#include "core/epoll.h"
#include "core/fdtab.h"
#include "core/signals.h"
#include "core/util.h"
#include "exchange/link.h"
#include "interpose/interpose.h"

struct a8_ckpt_conf a8_ckpt;

static uint64_t last_seq;		/* position of the newest checkpoint (0: none yet) */
static uint64_t last_ns;
static unsigned live_children;
static bool invalid;			/* the fork engine cannot serve this process any more */
static uint64_t *fault_state;		/* outlives a rollback: a replay draws new numbers */
static uint64_t no_fault_before;	/* positions an earlier attempt got through already */
static bool after_rollback;		/* no checkpoint since the last rollback's replay */
static volatile uint32_t cut_epoch;	/* criu: the newest tree checkpoint the agent asked for */
static uint32_t asked_epoch;		/* criu, root: the tree checkpoint it asked the agent for */
static uint64_t asked_ns;
static int copy_lfd = -1;		/* leader's copy: data listener for the followers' copies */
static uint16_t copy_port;

#define MAX_OFFSETS 4096
/* The program's fds its newest copy holds as well (open at the fork, or sent to it). */
static uint8_t shared[MAX_OFFSETS / 8];

/* Where each shared fd was made (0: open at the fork): the copy knows it by that. */
static uint64_t made_at[MAX_OFFSETS];

static void forget_shared_fds(void)
{
	memset(shared, 0, sizeof(shared));
	memset(made_at, 0, sizeof(made_at));
}

static void mark_shared_fds(void)
{
	int fd;

	forget_shared_fds();
	for (fd = 0; fd < MAX_OFFSETS; fd++)
		if (a8_fd_kind(fd) == FK_LOCAL || a8_fd_kind(fd) == FK_REPL)
			shared[fd / 8] |= (uint8_t)(1u << (fd % 8));
}

void a8_ckpt_shared(int fd, uint64_t seq)
{
	if (fd < 0 || fd >= MAX_OFFSETS)
		return;
	shared[fd / 8] |= (uint8_t)(1u << (fd % 8));
	made_at[fd] = seq;
}

/*
 * A copy holding an open pipe or socket would keep its other end from seeing the close
 * (no EOF, no EPIPE): the copy lets go of it first.
 */
void a8_ckpt_before_close(long fd)
{
	if (!last_seq || fd < 0 || fd >= MAX_OFFSETS || !(shared[fd / 8] & (1u << (fd % 8))))
		return;
	shared[fd / 8] &= (uint8_t)~(1u << (fd % 8));
	a8_keep_before_close((int)fd, made_at[fd]);
}
struct offset { int fd; long off; };
static struct offset *offsets;
static int noffsets;

static const char *envs(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

void a8_ckpt_init(void)
{
	const char *e = envs("A8_CKPT", "none");

	a8_ckpt.engine = !strcmp(e, "fork") ? A8_CKPT_FORK :
			 !strcmp(e, "criu") ? A8_CKPT_CRIU : A8_CKPT_NONE;
	a8_ckpt.every_calls = strtoull(envs("A8_CKPT_CALLS", "1000"), NULL, 10);
	a8_ckpt.every_ms = strtoull(envs("A8_CKPT_MS", "200"), NULL, 10);
	a8_ckpt.fault_p = strtod(envs("A8_FAULT_P", "0"), NULL);
	a8_ckpt.fault_seed = strtoull(envs("A8_FAULT_SEED", "0"), NULL, 10);
	if (!a8_ckpt.every_calls)
		a8_ckpt.every_calls = 1000;
	if (a8_ckpt.fault_p > 0 && !fault_state) {
		fault_state = a8_ckpt_shared_map("faults", 4096);
		if (!fault_state)
			a8_fatal("internal", "", 0, "no memory for fault injection");
		*fault_state = a8_ckpt.fault_seed * 0x9e3779b97f4a7c15ull + a8.variant_id + 1;
	}
	if (a8_ckpt.engine == A8_CKPT_CRIU && a8_criu_init())
		a8_fatal("internal", "", 0, "cannot take signal %d for tree checkpoints", A8_SIG_CUT);
}

/*
 * Memory a rollback must not put back: the fork engine's copies share an anonymous mapping
 * with the live process; CRIU would restore that one's contents as they were at the dump, so
 * with the criu engine it maps a file in the run directory (CRIU maps the file again, with
 * what it holds now). NULL when it cannot be made.
 */
void *a8_ckpt_shared_map(const char *what, size_t size)
{
	char path[320];
	long p, fd = -1;

	if (a8_ckpt.engine == A8_CKPT_CRIU) {
		if (snprintf(path, sizeof(path), "%s/%s-%ld", a8.run_dir, what,
			     a8_sys0(SYS_getpid)) >= (int)sizeof(path))
			return NULL;
		fd = a8_sys4(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0600);
		if (fd < 0)
			return NULL;
		if (a8_sys2(SYS_ftruncate, fd, size) < 0) {
			a8_sys1(SYS_close, fd);
			return NULL;
		}
	}
	p = a8_sys6(SYS_mmap, 0, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (fd >= 0)
		a8_sys1(SYS_close, fd);
	if (p < 0 && p > -4096)
		return NULL;
	return (void *)p;
}

bool a8_ckpt_enabled(void)
{
	return a8_ckpt.engine != A8_CKPT_NONE;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	a8_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Whether checkpoints can serve this process now. The fork engine copies one process: the
 * root, without children. CRIU dumps the whole tree.
 */
static bool usable(void)
{
	if (!a8_ckpt_enabled() || invalid)
		return false;
	return a8_ckpt.engine == A8_CKPT_CRIU || (!live_children && !strcmp(a8.stream, "0"));
}

void a8_ckpt_cut_requested(uint32_t epoch)
{
	if (epoch > cut_epoch)
		cut_epoch = epoch;
}

bool a8_ckpt_cut_wanted(void)
{
	return a8_ckpt.engine == A8_CKPT_CRIU && cut_epoch > a8.epoch && usable() &&
	       a8.role == A8_ROLE_LEADER;
}

bool a8_ckpt_cut_interrupted(const struct a8_call *c)
{
	return c->ret == -EINTR && a8_ckpt_cut_wanted() && !a8_sig_due();
}

/*
 * criu engine: a checkpoint is of the whole tree, so a process whose interval is over asks
 * the agent, which asks every leader process of the tree (a8_ckpt_cut_wanted). Asked once per
 * epoch, again after an interval in case the agent could not start that round.
 */
static bool ask_for_cut(void)
{
	if (asked_epoch > a8.epoch && now_ns() - asked_ns < a8_ckpt.every_ms * 1000000ull)
		return false;
	asked_epoch = a8.epoch + 1;
	asked_ns = now_ns();
	a8_agent_event("criu-due", "\"epoch\":%u", asked_epoch);
	return false;
}

/*
 * A quiescent point: the program is about to block waiting for events (epoll, poll, select,
 * sigsuspend), so no call of its own is half done. Prefer those; take one anywhere only when
 * none came for four intervals. After a rollback, the first quiescent point past the replay
 * is one: a new fault soon after would otherwise replay the whole stretch again.
 */
static bool interval_over(const struct a8_call *c)
{
	bool quiet = a8_quiescent(c);
	uint64_t calls = a8.seq - last_seq;

	if (!last_seq)
		return quiet || calls >= 4 * a8_ckpt.every_calls;
	if (calls >= 4 * a8_ckpt.every_calls)
		return true;
	if (!quiet)
		return false;
	return after_rollback || calls >= a8_ckpt.every_calls ||
	       now_ns() - last_ns >= a8_ckpt.every_ms * 1000000ull;
}

bool a8_ckpt_due(const struct a8_call *c)
{
	if (!usable() || a8_replaying())
		return false;
	if (a8_ckpt.engine != A8_CKPT_CRIU)
		return interval_over(c);
	if (a8_ckpt_cut_wanted())
		return true;
	return interval_over(c) && ask_for_cut();
}

/* The copies can no longer stand for this process: the agent forgets them. */
void a8_ckpt_drop(const char *why)
{
	if (!a8_ckpt_enabled() || !last_seq)
		return;
	last_seq = 0;
	a8_keep_channel_retire();
	a8_agent_event("checkpoint-drop", "\"why\":\"%s\"", why);
}

/*
 * A child made after a checkpoint is in no image or copy of it, and a replay cannot make it
 * again: both engines forget their checkpoints (CRIU's next one takes the child too).
 */
void a8_ckpt_child_born(void)
{
	live_children++;
	a8_ckpt_drop("the process forked after a checkpoint");
}

void a8_ckpt_resumed_at(uint64_t diverged_at)
{
	if (diverged_at > no_fault_before)
		no_fault_before = diverged_at;
	after_rollback = true;
}

void a8_ckpt_in_child(void)
{
	live_children = 0;
	last_seq = 0;
	a8_log_detach();
}

void a8_ckpt_child_reaped(void)
{
	if (live_children)
		live_children--;
}

bool a8_fault_now(const struct a8_call *c)
{
	uint64_t x;

	/*
	 * Only where a rollback can follow: after a checkpoint this process still stands by,
	 * and not at a fork or an exec (the leader's runs on and the checkpoint goes with it).
	 */
	if (!fault_state || a8.role != A8_ROLE_FOLLOWER || a8_replaying() || !last_seq ||
	    !usable())
		return false;
	if ((c->ci->flags | c->xflags) & (F_FLUSH | F_CODE))
		return false;
	/*
	 * A fault strikes new work: positions before the divergence a rollback answers were
	 * run right already (else no replay window longer than 1/p would ever get through).
	 */
	if (a8.seq < no_fault_before)
		return false;
	/* xorshift64*, shared with the copies so that a replay draws new numbers */
	x = *fault_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*fault_state = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0 < a8_ckpt.fault_p;
}

/* Offsets are shared with the dead process's open files: note them to put them back. */
static void save_offsets(void)
{
	int fd;

	if (!offsets)
		offsets = a8_mem_alloc(MAX_OFFSETS * sizeof(*offsets));
	noffsets = 0;
	for (fd = 0; fd < MAX_OFFSETS && noffsets < MAX_OFFSETS; fd++) {
		int k = a8_fd_kind(fd);
		long off;

		if (k != FK_LOCAL && k != FK_REPL)
			continue;
		off = a8_sys3(SYS_lseek, fd, 0, SEEK_CUR);
		if (off >= 0)
			offsets[noffsets++] = (struct offset){ fd, off };
	}
}

static void restore_offsets(void)
{
	int i;

	for (i = 0; i < noffsets; i++)
		a8_sys3(SYS_lseek, offsets[i].fd, offsets[i].off, SEEK_SET);
}

/* A line from the agent on our connection, blocking; false at EOF. */
bool a8_ckpt_read_line(char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		long r = a8_sys3(SYS_read, a8.agent_fd, buf + n, 1);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			return false;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return true;
}

/*
 * Sleep until the agent says something, serving the live process meanwhile (fds it keeps
 * here, fds it closes). False when the live process moved on to a newer copy (or died
 * without a rollback to come): this copy then just ends.
 */
static bool wait_command(void)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = a8.agent_fd, .events = POLLIN },
				       { .fd = a8_keep_channel_fd(), .events = POLLIN } };
		long r = a8_sys5(SYS_ppoll, p, p[1].fd >= 0 ? 2 : 1, NULL, NULL, 8);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return false;
		if (p[0].revents)
			return true;
		if (p[1].revents && !a8_keep_channel_serve())
			return false;
	}
}

struct resume_cmd {
	unsigned attempt;
	unsigned long long diverged_at;
	unsigned port;
};

/*
 * The frozen copy: it lets go of the live process's connections (so that the live one's
 * death is seen), registers with the agent and sleeps until told to resume. The agent closes
 * the connection of a copy it no longer needs: the copy then just ends.
 */
static void wait_resume(struct resume_cmd *cmd, uint64_t seq)
{
	char line[128];

	a8_link_close();
	if (a8_agent_open() < 0)
		a8_sys1(SYS_exit_group, 0);
	/*
	 * The leader's copy listens before it is needed: the agents learn the port now and the
	 * followers' copies can connect as soon as a rollback starts, without a round trip.
	 */
	if (copy_lfd >= 0)
		a8_sys1(SYS_close, copy_lfd);
	copy_lfd = -1;
	copy_port = 0;
	if (a8.role == A8_ROLE_LEADER) {
		copy_lfd = a8_link_listen(a8.data_addr, &copy_port);
		if (copy_lfd < 0)
			a8_sys1(SYS_exit_group, 0);
	}
	a8_agent_event("checkpoint", "\"epoch\":%u,\"seq\":%llu,\"port\":%u", a8.epoch,
		       (unsigned long long)seq, copy_port);
	for (;;) {
		if (!wait_command() || !a8_ckpt_read_line(line, sizeof(line)))
			a8_sys1(SYS_exit_group, 0);
		if (sscanf(line, "resume %u %llu %u", &cmd->attempt, &cmd->diverged_at,
			   &cmd->port) == 3)
			return;
		a8_log(A8_LOG_WARN, 0, "checkpoint copy: unknown command '%s'", line);
	}
}

/* When a resuming copy reached each step, for the agent's log (ns, monotonic). */
struct resume_times {
	uint64_t told, ready, connected, forked;
};

static void connect_data(const struct resume_cmd *cmd, struct resume_times *t)
{
	int err;

	if (a8.role == A8_ROLE_FOLLOWER) {
		err = a8_link_connect_leader(a8.leader_addr, (uint16_t)cmd->port, a8.timeout_ms);
	} else {
		err = a8_link_accept_followers(copy_lfd, a8.timeout_ms);
		a8_sys1(SYS_close, copy_lfd);
		copy_lfd = -1;
	}
	if (err)
		a8_fatal("peer-lost", "", 0, "data plane not re-established after rollback (%d)",
			 err);
	t->connected = now_ns();
}

static void tell_resumed(const struct resume_times *t)
{
	a8_agent_event("resumed",
		       "\"epoch\":%u,\"port\":%u,\"us_ready\":%llu,\"us_fork\":%llu,"
		       "\"us_connect\":%llu",
		       a8.epoch, copy_port, (unsigned long long)(t->ready - t->told) / 1000,
		       (unsigned long long)(t->forked - t->ready) / 1000,
		       (unsigned long long)(t->connected - t->ready) / 1000);
}

static long fork_copy(void)
{
	int err = a8_keep_channel_new();

	if (err < 0)
		a8_fatal("internal", "", 0, "no channel for a checkpoint copy (%d)", err);
	mark_shared_fds();
	/* The agent's child, not the program's: the program's wait() never sees a copy. */
	return a8_sys5(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
}

/* A resuming copy puts back the kernel state it shares with the dead process. */
static void prepare_state(const struct resume_cmd *cmd)
{
	a8_ckpt_resumed_at(cmd->diverged_at);
	a8_keep_channel_drain();
	if (a8.role == A8_ROLE_LEADER)
		a8_replay_prepare(cmd->attempt, cmd->diverged_at);
	restore_offsets();
	if (a8.role == A8_ROLE_LEADER)
		a8_epoll_rebuild();
}

/*
 * In a copy told to resume: fix the shared kernel state, fork the next copy of the same
 * epoch (a retry needs one), then become the live process. The leader forks while its
 * followers are on their way; a follower connects first, since the leader waits for it.
 */
static void resume(uint64_t seq)
{
	struct resume_times t = { 0 };
	struct resume_cmd cmd;
	long pid;

	for (;;) {
		wait_resume(&cmd, seq);
		t.told = now_ns();
		prepare_state(&cmd);
		t.ready = now_ns();
		if (a8.role == A8_ROLE_FOLLOWER)
			connect_data(&cmd, &t);
		pid = fork_copy();
		if (pid < 0)
			a8_fatal("internal", "", 0, "cannot fork the next checkpoint copy (%ld)", pid);
		if (pid == 0) {
			a8_keep_channel_frozen();
			continue;
		}
		break;
	}
	t.forked = now_ns();
	if (a8.stats)
		a8.stats->pid = (uint32_t)a8_sys0(SYS_getpid);
	a8_keep_channel_live();
	a8_interpose_rearm_child();
	if (a8.role == A8_ROLE_LEADER)
		connect_data(&cmd, &t);
	tell_resumed(&t);
	if (a8.role == A8_ROLE_LEADER)
		a8_replay_start();
	a8_log(A8_LOG_INFO, 0, "rolled back to epoch %u (position %llu), attempt %u", a8.epoch,
	       (unsigned long long)seq, cmd.attempt);
}

/* What became of a checkpoint this process stood still for. */
enum taken { TAKEN, SKIPPED, RESUMED };

/*
 * criu: the agent dumps the tree while we wait. The leader's log and the root's keeper start
 * anew only once the dump is there: a round the agent gave up on leaves the older checkpoint
 * standing (the keeper's channel, a socket to outside the tree, must go before any dump; the
 * root without it cannot use the older one: dropped).
 */
static enum taken take_criu(uint64_t seq)
{
	bool root = a8.role == A8_ROLE_LEADER && !strcmp(a8.stream, "0");
	enum a8_criu_outcome o;
	int err;

	if (root) {
		a8_keep_channel_retire();
		forget_shared_fds();
	}
	o = a8_criu_take(seq);
	if (o == A8_CRIU_SKIPPED) {
		if (root && last_seq)
			a8_ckpt_drop("a checkpoint was not taken, and the fds since the previous one "
				     "are gone with its keeper");
		return SKIPPED;
	}
	last_seq = seq;
	last_ns = now_ns();
	if (o == A8_CRIU_RESTORED)
		return RESUMED;
	if (a8.role == A8_ROLE_LEADER)
		a8_log_reset();
	if (!root)
		return TAKEN;
	/* Only the root's keeper is outside the tree (the agent's child): criu_engine.ts. */
	err = a8_keep_keeper_start(a8.epoch);
	if (err) {
		a8_log(A8_LOG_WARN, 0, "checkpoint %u dropped: no keeper for its fds (%d)", a8.epoch,
		       err);
		a8_ckpt_drop("no keeper for the fds made since the checkpoint");
	}
	return TAKEN;
}

/* Fork the frozen copy (or have the agent dump us). */
static enum taken take(uint64_t seq)
{
	uint64_t t0 = now_ns();
	long pid;

	after_rollback = false;
	if (a8_ckpt.engine == A8_CKPT_CRIU)
		return take_criu(seq);
	save_offsets();
	if (a8.role == A8_ROLE_LEADER)
		a8_log_reset();
	pid = fork_copy();
	if (pid < 0) {
		a8_log(A8_LOG_WARN, 0, "checkpoint at %llu skipped: fork failed (%ld)",
		       (unsigned long long)seq, pid);
		return SKIPPED;
	}
	if (pid == 0) {
		a8_keep_channel_frozen();
		resume(seq);
		last_seq = seq;
		last_ns = now_ns();
		return RESUMED;
	}
	a8_keep_channel_live();
	last_seq = seq;
	last_ns = now_ns();
	a8_agent_event("checkpoint-taken", "\"epoch\":%u,\"seq\":%llu,\"us\":%llu", a8.epoch,
		       (unsigned long long)seq, (unsigned long long)((last_ns - t0) / 1000));
	return TAKEN;
}

/* True when every follower took its part of checkpoint seq (its ack carries the epoch). */
static bool wait_acks(struct a8_call *c, uint64_t seq)
{
	bool all = true;
	int i;

	for (i = 0; i < a8.npeers; i++) {
		const struct a8_rec_hdr *h;
		int err = a8_rx_next(i, &h, a8.timeout_ms);

		if (err)
			a8_peer_stopped(false, c->ci->name, seq, "a follower is gone");
		if (h->type == A8_REC_DIVERGE)
			a8_peer_stopped(true, c->ci->name, h->seq, "a follower found a divergence");
		if (h->type != A8_REC_CKPT_ACK || h->seq != seq)
			a8_fatal("protocol", c->ci->name, c->nr,
				 "expected checkpoint %llu from variant %u, got type %u seq %llu",
				 (unsigned long long)seq, a8.peers[i].id, h->type,
				 (unsigned long long)h->seq);
		all &= h->epoch == a8.epoch;
	}
	return all;
}

bool a8_ckpt_leader(struct a8_call *c, uint64_t seq)
{
	struct a8_rec_hdr *h;

	if (!a8_log_open()) {
		invalid = true;
		a8_log(A8_LOG_WARN, 0, "no checkpoints: no memory for the replay log");
		return false;
	}
	/* criu: the tree's epoch, the agent's number; fork: this process's own count. */
	a8.epoch = a8_ckpt.engine == A8_CKPT_CRIU ? cut_epoch : a8.epoch + 1;
	h = a8_rec_begin(A8_REC_CKPT, c->ci->cid, seq);
	a8_rec_end(h);
	a8_tx_flush();
	/* Every follower's part exists before ours: a checkpoint on the leader is everywhere. */
	if (wait_acks(c, seq))
		return take(seq) == RESUMED;
	a8_log(A8_LOG_WARN, 0, "checkpoint %u at %llu skipped: a follower could not take it",
	       a8.epoch, (unsigned long long)seq);
	/* criu: the agent's round needs every process's word; this one will not be dumped. */
	if (a8_ckpt.engine == A8_CKPT_CRIU)
		a8_criu_skip(seq);
	return false;
}

bool a8_ckpt_follower(struct a8_call *c, uint64_t seq, uint32_t epoch)
{
	struct a8_rec_hdr ack = { .len = sizeof(ack), .type = A8_REC_CKPT_ACK,
				  .cid = c->ci->cid, .seq = seq };
	enum taken t;

	a8.epoch = epoch;
	t = take(seq);
	if (t == RESUMED)
		return true;
	ack.epoch = t == TAKEN ? epoch : 0;
	if (a8_link_send_now(0, &ack, sizeof(ack)))
		a8_peer_stopped(false, c->ci->name, seq, "the leader is gone");
	return false;
}
