// SPDX-License-Identifier: MIT
/*
 * Checkpoints (ckpt.h): where they go in the stream, the leader and follower protocol, what a
 * take does per engine (fork.c: the frozen copy; criu.c: the agent's dump).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "a8/raw.h"
#include "canon/table.h"
#include "ckpt.h"
#include "core/fdtab.h"
#include "core/handover.h"
#include "core/signals.h"
#include "core/util.h"
#include "exchange/link.h"

struct a8_ckpt_conf a8_ckpt;

static uint64_t last_seq;		/* position of the newest checkpoint (0: none yet) */
static uint64_t last_ns;
static unsigned live_children;
static bool invalid;			/* the fork engine cannot serve this process any more */
static bool after_rollback;		/* no checkpoint since the last rollback's replay */
static volatile uint32_t cut_epoch;	/* criu: the newest tree checkpoint the agent asked for */
static uint32_t asked_epoch;		/* criu, root: the tree checkpoint it asked the agent for */
static uint64_t asked_ns;
static uint64_t recheck_seq;		/* criu, asked: look again from here (or at a quiet point) */

/* The program's fds its newest copy holds as well (open at the fork, or sent to it). */
static uint8_t shared[A8_CKPT_FDS / 8];

/*
 * Where each shared fd was made (0: open at the fork): the copy knows it by that. Read only
 * where `shared` has the fd, and written with it: never cleared as a whole, since each page
 * written after a fork costs a copy-on-write fault (~26 us on these VMs), and this one is
 * 32 KiB for the few fds a program has open.
 */
static uint64_t made_at[A8_CKPT_FDS];

void a8_ckpt_forget_shared_fds(void)
{
	memset(shared, 0, sizeof(shared));
}

static void share(int fd, uint64_t seq)
{
	shared[fd / 8] |= (uint8_t)(1u << (fd % 8));
	made_at[fd] = seq;
}

void a8_ckpt_mark_shared_fds(void)
{
	int fd;

	a8_ckpt_forget_shared_fds();
	for (fd = 0; fd < A8_CKPT_FDS; fd++)
		if (a8_fd_kind(fd) == FK_LOCAL || a8_fd_kind(fd) == FK_REPL)
			share(fd, 0);
}

/*
 * criu root: its listening sockets outlive a rollback, so that a client connecting meanwhile
 * waits in their queue instead of being refused. The restore binds their ports again beside
 * the live ones: SO_REUSEPORT, set before the dump so that the image has it (a program that
 * reads the option sees it set). When they are its own (the agent says so after the dump: the
 * tree it dumped was this process alone), its keeper holds them and the restored root takes
 * them back; otherwise the processes that share them are restored with the image's, and the
 * agent holds the live ones until those listen (src/checkpoint/criu_engine.ts).
 */
static void listeners_reusable(void)
{
	int fd, one = 1;

	for (fd = 0; fd < A8_CKPT_FDS; fd++)
		if (a8_fd_kind(fd) == FK_REPL && a8_tcp_listener(fd))
			a8_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
}

/*
 * criu, a leader process right after a dump: its TCP connections (and the root's own listening
 * sockets), which its keeper holds on to (keeper.c). CRIU brings the connections back closed;
 * the keeper's live ones take their place.
 */
void a8_ckpt_mark_shared_conns(void)
{
	int fd;

	a8_ckpt_forget_shared_fds();
	for (fd = 0; fd < A8_CKPT_FDS; fd++)
		if (a8_fd_kind(fd) == FK_REPL &&
		    (a8_tcp_connection(fd) || (a8_criu_dumped_alone() && a8_tcp_listener(fd))))
			share(fd, 0);
}

bool a8_ckpt_made_since(int fd)
{
	return a8_ckpt_is_shared(fd) && made_at[fd];
}

bool a8_ckpt_is_shared(int fd)
{
	return fd >= 0 && fd < A8_CKPT_FDS && (shared[fd / 8] & (1u << (fd % 8)));
}

void a8_ckpt_shared(int fd, uint64_t seq)
{
	if (fd < 0 || fd >= A8_CKPT_FDS)
		return;
	share(fd, seq);
}

/*
 * A copy holding an open pipe or socket would keep its other end from seeing the close
 * (no EOF, no EPIPE): the copy lets go of it first.
 */
void a8_ckpt_before_close(long fd)
{
	a8_pipe_forget((int)fd);
	if (!last_seq || fd < 0 || fd >= A8_CKPT_FDS || !(shared[fd / 8] & (1u << (fd % 8))))
		return;
	shared[fd / 8] &= (uint8_t)~(1u << (fd % 8));
	a8_keep_before_close((int)fd, made_at[fd]);
}

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
	a8_ckpt.every_calls = strtoull(envs("A8_CKPT_CALLS", "5000"), NULL, 10);
	a8_ckpt.every_ms = strtoull(envs("A8_CKPT_MS", "200"), NULL, 10);
	a8_ckpt.fault_p = strtod(envs("A8_FAULT_P", "0"), NULL);
	a8_ckpt.fault_seed = strtoull(envs("A8_FAULT_SEED", "0"), NULL, 10);
	if (!a8_ckpt.every_calls)
		a8_ckpt.every_calls = 5000;
	a8_faults_init();
	a8_replay_ran_init();
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
		fd = a8_handover_open(what, path, O_RDWR | O_CREAT | O_TRUNC);
		if (fd < 0)
			return NULL;
		if (a8_sys2(SYS_ftruncate, fd, size) < 0) {
			a8_handover_release(what);
			return NULL;
		}
	}
	p = a8_sys6(SYS_mmap, 0, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (p < 0 && p > -4096) {
		if (fd >= 0)
			a8_handover_release(what);
		return NULL;
	}
	return (void *)p;
}

bool a8_ckpt_enabled(void)
{
	return a8_ckpt.engine != A8_CKPT_NONE;
}

uint64_t a8_ckpt_now_ns(void)
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

bool a8_ckpt_standing(void)
{
	return last_seq && usable();
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
 * epoch, again after an interval in case the agent could not start that round. The checkpoint
 * itself comes with the agent's request (a8_ckpt_cut_wanted).
 */
static void ask_for_cut(void)
{
	uint64_t now = a8_ckpt_now_ns();

	recheck_seq = a8.seq + a8_ckpt.every_calls;
	if (asked_epoch > a8.epoch && now - asked_ns < a8_ckpt.every_ms * 1000000ull)
		return;
	asked_epoch = a8.epoch + 1;
	asked_ns = now;
	a8_agent_event("criu-due", "\"epoch\":%u", asked_epoch);
}

/*
 * After a rollback's replay, at the first quiet point: the moment a checkpoint is likeliest to
 * be taken before the next divergence, and the next rollback then replays a short stretch. A
 * fork costs ~2 ms: always. A CRIU dump costs 50-90 ms, far more than replaying a few hundred
 * calls: only once the stretch since the checkpoint is a quarter of every_calls long.
 */
static bool rollback_pays(uint64_t calls)
{
	return a8_ckpt.engine != A8_CKPT_CRIU || calls >= a8_ckpt.every_calls / 4;
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
	return (after_rollback && rollback_pays(calls)) || calls >= a8_ckpt.every_calls ||
	       a8_ckpt_now_ns() - last_ns >= a8_ckpt.every_ms * 1000000ull;
}

bool a8_ckpt_due(const struct a8_call *c)
{
	if (!usable() || a8_replaying())
		return false;
	if (a8_ckpt.engine != A8_CKPT_CRIU)
		return !a8_run_ending() && interval_over(c);
	if (a8_ckpt_cut_wanted())
		return true;	/* a round begun: every process must take part, ending or not */
	if (a8_run_ending())
		return false;
	/* Asked already: no clock read per call until a quiet point or every_calls more calls. */
	if (asked_epoch > a8.epoch && !a8_quiescent(c) && a8.seq < recheck_seq)
		return false;
	if (interval_over(c))
		ask_for_cut();
	return false;
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
	a8_faults_resumed_at(diverged_at);
	after_rollback = true;
}

void a8_ckpt_in_child(void)
{
	live_children = 0;
	last_seq = 0;
	a8_pipe_reset();
	a8_log_detach();
	a8_faults_in_child();
}

void a8_ckpt_child_reaped(void)
{
	if (live_children)
		live_children--;
}

bool a8_resume_parse(const char *line, struct a8_resume_cmd *cmd)
{
	return sscanf(line, "resume %u %llu %u %u", &cmd->mode, &cmd->diverged_at, &cmd->port,
		      &cmd->quiet) == 4;
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
 * criu: the agent dumps the tree while we wait. A leader's log and keeper start anew only once
 * the dump is there: a round the agent gave up on leaves the older checkpoint standing (the
 * keeper's channel, a socket to outside the tree, must go before any dump; a leader without
 * it cannot use the older one: dropped).
 */
static enum a8_taken take_criu(uint64_t seq)
{
	bool leader = a8.role == A8_ROLE_LEADER;
	enum a8_taken o;
	int err;

	if (leader) {
		/* A rollback during this round goes back to the previous dump: its keeper stays. */
		a8_keep_channel_detach();
		a8_ckpt_forget_shared_fds();
		if (!strcmp(a8.stream, "0"))
			listeners_reusable();
	}
	a8_redo_before_dump();
	o = a8_criu_take(seq);
	if (o == A8_SKIPPED) {
		if (leader && last_seq)
			a8_ckpt_drop("a checkpoint was not taken, and the fds since the previous one "
				     "are gone with its keeper");
		return A8_SKIPPED;
	}
	last_seq = seq;
	last_ns = a8_ckpt_now_ns();
	if (o == A8_RESUMED)
		return o;
	if (leader)
		a8_log_reset();
	a8_redo_dumped(seq);
	if (!leader)
		return A8_TAKEN;
	/* Every leader process has a keeper, the agent's child outside the tree (keeper.c). */
	a8_ckpt_mark_shared_conns();
	err = a8_keep_keeper_start(a8.epoch);
	if (err) {
		a8_ckpt_forget_shared_fds();
		a8_log(A8_LOG_WARN, 0, "checkpoint %u dropped: no keeper for its fds (%d)", a8.epoch,
		       err);
		a8_ckpt_drop("no keeper for the fds made since the checkpoint");
	}
	return A8_TAKEN;
}

/* Fork the frozen copy, or have the agent dump us. */
static enum a8_taken take(uint64_t seq)
{
	enum a8_taken t;

	after_rollback = false;
	if (a8_ckpt.engine == A8_CKPT_CRIU)
		return take_criu(seq);
	if (a8.role == A8_ROLE_LEADER)
		a8_log_reset();
	t = a8_fork_take(seq);
	if (t != A8_SKIPPED) {
		last_seq = seq;
		last_ns = a8_ckpt_now_ns();
	}
	return t;
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
		return take(seq) == A8_RESUMED;
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
	enum a8_taken t;

	a8.epoch = epoch;
	t = take(seq);
	if (t == A8_RESUMED)
		return true;
	ack.epoch = t == A8_TAKEN ? epoch : 0;
	if (a8_link_send_now(0, &ack, sizeof(ack)))
		a8_peer_stopped(false, c->ci->name, seq, "the leader is gone");
	return false;
}
