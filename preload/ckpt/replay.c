// SPDX-License-Identifier: MIT
/*
 * The leader's log since the newest checkpoint, and its replay after a rollback (ckpt.h).
 *
 * The log lives in shared memory, so the frozen copy reads what the dead process wrote: every
 * batch of records the leader sent, and a note per call on one of its own fds (which fd, and
 * whether it consumed input). The fds those calls made (accepted connections, epoll instances)
 * travel to the copy over a unix socket as they are made, so they outlive the live process.
 *
 * A resumed leader follows its own log, like a follower follows a leader, and forwards each
 * record to the followers: the program sees the same results, in the same order, and the bytes
 * it sends again go nowhere (writes are the leader's calls: a follower of the log does not
 * run them). Replay stops at the divergence (a retry) or, when the same divergence came back,
 * just before the last input read before it (that input's connection is shut down). A
 * connection used after the point where replay stops is shut down too: its client sees a
 * closed connection, never bytes twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "ckpt.h"
#include "core/fdtab.h"
#include "core/stream.h"
#include "core/util.h"
#include "exchange/link.h"

#define LOG_SIZE (256ul << 20)	/* reserved, touched only as far as it is used */

enum { LOG_TX = 1, LOG_FD = 2 };

struct log_head {
	uint64_t used;
	uint32_t overflow;
	uint32_t pad;
	struct a8_live_mark mark;
};
/* With the criu engine the agent reads and sets the mark in the file: output_settle.ts. */
_Static_assert(offsetof(struct log_head, mark) == 16, "output_settle.ts MARK_AT");
_Static_assert(offsetof(struct a8_live_mark, out_seq) == 0, "output_settle.ts OUT_SEQ");
_Static_assert(sizeof(struct a8_live_mark) == 16, "output_settle.ts MARK_LEN");
_Static_assert(offsetof(struct a8_live_mark, live_pid) == 8, "output_settle.ts LIVE_PID");
_Static_assert(offsetof(struct a8_live_mark, retired) == 12, "output_settle.ts RETIRED");

struct log_fd {
	uint64_t seq;
	int32_t fd;
	uint32_t input;
};

static struct log_head *shared_log;	/* MAP_SHARED: the copies read it */
static bool log_active;

/*
 * Replay state of a resumed leader (private memory). The records are read where they are in
 * the log, below `log_cut` (appended to only after it while the replay runs): a copy of them
 * would cost a resuming copy a page fault per 4 KiB before it can serve.
 */
static size_t log_cut;			/* log bytes replayed from */
static size_t ent_pos;			/* the log entry the replay is in */
static size_t rec_off;			/* the next record in that entry's batch */
static uint64_t replay_until;		/* replay positions below this */
static int *shut;			/* fds to shut down when replay stops */
static size_t nshut, capshut;
static bool replay_on;

/*
 * The criu engine restores memory as it was at the dump: the log must outlive that, so it is
 * a file mapping there (a8_ckpt_shared_map).
 */
bool a8_log_open(void)
{
	if (!shared_log)
		shared_log = a8_ckpt_shared_map("replay", LOG_SIZE);
	return shared_log != NULL;
}

void a8_log_reset(void)
{
	if (!shared_log)
		return;
	shared_log->used = 0;
	shared_log->overflow = 0;
	log_active = true;
	a8_live_here();
}

struct a8_live_mark *a8_log_mark(void)
{
	return shared_log ? &shared_log->mark : NULL;
}

/*
 * A forked child has a stream of its own and no checkpoints: it must not write our log. It
 * lets go of the mapping too: with the criu engine it takes checkpoints of its own later and
 * maps a log of its own then (a8_log_open), which must not be its parent's file.
 */
void a8_log_detach(void)
{
	log_active = false;
	a8_marks_forget();
	a8_redo_detach();
	if (shared_log)
		a8_sys2(SYS_munmap, shared_log, LOG_SIZE);
	shared_log = NULL;
	a8_keep_channel_frozen();	/* a child's end of its parent's channel: let go */
}

static void log_put(uint32_t kind, const void *p, size_t n)
{
	uint8_t *base = (uint8_t *)(shared_log + 1);
	size_t padded = (n + 7) & ~7ul;
	uint32_t head[2] = { kind, (uint32_t)n };

	if (shared_log->overflow)
		return;
	if (shared_log->used + 8 + padded > LOG_SIZE - sizeof(*shared_log)) {
		shared_log->overflow = 1;
		a8_log(A8_LOG_WARN, 0, "replay log full: a rollback now closes every connection");
		return;
	}
	memcpy(base + shared_log->used, head, 8);
	memcpy(base + shared_log->used + 8, p, n);
	shared_log->used += 8 + padded;
}

bool a8_log_active(void)
{
	return log_active;
}

void a8_log_tx(const void *p, size_t n)
{
	const struct a8_rec_hdr *h = p;

	/* A checkpoint is no input to replay (one the agent gave up on stays in the log). */
	if (log_active && !(n >= sizeof(*h) && h->type == A8_REC_CKPT))
		log_put(LOG_TX, p, n);
}

void a8_log_fd_use(uint64_t seq, long fd, bool input)
{
	struct log_fd e = { .seq = seq, .fd = (int32_t)fd, .input = input };

	if (log_active && fd >= 0)
		log_put(LOG_FD, &e, sizeof(e));
}

/* A new fd of a replicated call goes to the copy (keep.c); one that cannot is a lost log. */
void a8_log_newfd(uint64_t seq, int fd)
{
	long r;

	if (!log_active || shared_log->overflow)
		return;
	r = a8_keep_send(seq, fd);
	if (r < 0) {
		shared_log->overflow = 1;
		a8_log(A8_LOG_WARN, 0, "cannot keep fd %d for a rollback (%ld)", fd, r);
	}
}

/*
 * A connection's bytes (the input a rollback may drop): a read from a socket. recvfrom and
 * recvmsg read sockets only, pread64 and preadv never do; a read or readv asks the kernel.
 */
static bool socket_input(const struct a8_call *c)
{
	unsigned cid = c->ci->cid;
	int type;
	socklen_t len = sizeof(type);

	if (c->ret <= 0 || cid == A8_CID_pread64 || cid == A8_CID_preadv)
		return false;
	if (cid == A8_CID_recvfrom || cid == A8_CID_recvmsg)
		return true;
	if (cid != A8_CID_read && cid != A8_CID_readv)
		return false;
	return a8_sys5(SYS_getsockopt, c->a[0], SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

/*
 * Leader: which of its own fds a call uses (replay.c), noted before it runs (a process killed
 * in the middle of it leaves the note without a record: replay knows that connection may have
 * lost bytes), and again after it took input from a socket (what a rollback may drop).
 */
void a8_log_call(const struct a8_call *c, uint64_t seq, bool done)
{
	/* Nothing to note without a checkpoint to roll back to (and no syscall spent on it). */
	if (c->ci->args[0].kind != AK_FD || !a8_log_active())
		return;
	if (!done)
		a8_log_fd_use(seq, c->a[0], false);
	else if (socket_input(c))
		a8_log_fd_use(seq, c->a[0], true);
}

/* --- replay --- */

static void shut_add(int fd)
{
	size_t i;

	for (i = 0; i < nshut; i++)
		if (shut[i] == fd)
			return;
	if (nshut == capshut)
		shut = a8_mem_grow(shut, &capshut, nshut, sizeof(*shut));
	shut[nshut++] = fd;
}

/*
 * Where replay stops. A retry replays all the log holds: every call in it happened (an
 * earlier attempt may have gone past this divergence), and a transient fault will not come
 * back. Dropping an input stops before the last read ahead of the divergence: from there on
 * the program lives a future the log does not know.
 */
static uint64_t stop_point(bool drop, const struct log_fd *last_input)
{
	if (!drop)
		return ~0ull;
	if (!last_input) {
		a8_log(A8_LOG_INFO, 0, "no connection's input before the divergence: replaying all");
		return ~0ull;
	}
	return last_input->seq;
}

/* The stream position an entry is about. */
static uint64_t entry_seq(uint32_t kind, const uint8_t *body)
{
	if (kind == LOG_FD)
		return ((const struct log_fd *)body)->seq;
	return ((const struct a8_rec_hdr *)body)->seq;
}

static void read_log(bool drop, uint64_t diverged_at)
{
	const uint8_t *p = (const uint8_t *)(shared_log + 1), *end = p + shared_log->used;
	const struct log_fd *last_input = NULL;
	const uint8_t *q;
	uint64_t cut, last_rec;

	last_rec = 0;
	for (q = p; q < end;) {
		uint32_t head[2];

		memcpy(head, q, 8);
		if (head[0] == LOG_TX)
			last_rec = entry_seq(LOG_TX, q + 8);
		else if (head[0] == LOG_FD) {
			const struct log_fd *e = (const void *)(q + 8);

			if (e->input && (!diverged_at || e->seq < diverged_at))
				last_input = e;
		}
		q += 8 + ((head[1] + 7) & ~7ul);
	}
	replay_until = stop_point(drop, last_input);
	if (replay_until != ~0ull)
		a8_log(A8_LOG_INFO, 0, "rollback drops the connection on fd %d (input at %llu)",
		       last_input->fd, (unsigned long long)last_input->seq);
	/* Every fd used from the stop point on: its client must not see bytes twice. */
	nshut = 0;
	cut = shared_log->used;
	for (q = p; q < end;) {
		uint32_t head[2];

		memcpy(head, q, 8);
		if (entry_seq(head[0], q + 8) >= replay_until && cut == shared_log->used)
			cut = (uint64_t)(q - p);
		if (head[0] == LOG_FD) {
			const struct log_fd *e = (const void *)(q + 8);

			/*
			 * Used from the stop point on, or by a call that never got its record (the
			 * process died in it: its input is lost), or the log is full (calls at its
			 * end are lost): no such connection can be trusted.
			 */
			if (e->seq >= replay_until || e->seq > last_rec || shared_log->overflow)
				shut_add(e->fd);
		}
		q += 8 + ((head[1] + 7) & ~7ul);
	}
	/*
	 * The log keeps what is replayed (a copy resumed later replays it again, even if this
	 * one dies before it got that far) and forgets the future that will not happen.
	 */
	shared_log->used = cut;
	log_cut = cut;
	ent_pos = rec_off = 0;
}

void a8_replay_prepare(unsigned attempt, uint64_t diverged_at)
{
	int err;

	read_log(attempt > 0, diverged_at);
	/* fds made from the stop point on belong to a future that will not happen. */
	if (a8_ckpt.engine != A8_CKPT_CRIU) {
		a8_keep_drop_from(replay_until);
		return;
	}
	/* CRIU restored the fds of the dump: the keeper has those made since (keeper.c). */
	err = a8_keep_fetch(a8.epoch, replay_until);
	if (err)
		a8_fatal("peer-lost", "", 0,
			 "the fds made since checkpoint %u are lost: no keeper (%d)", a8.epoch, err);
	/* A full log lost calls on them: no such connection can be trusted (read_log). */
	a8_keep_install_dump_conns(shared_log->overflow);
}

/* A client connection (a listening socket serves everyone: it is never shut down). */
static bool is_connection(int fd)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (a8_fd_kind(fd) != FK_REPL)
		return false;
	if (a8_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return false;
	return !listening;
}

/*
 * A TCP connection is aborted: its peer gets a RST, which says "start again" (a FIN could pass
 * for the end of a cut reply), whoever else holds the socket (connect to AF_UNSPEC disconnects
 * it). Another kind, or a failure, is shut down.
 */
static void cut_connection(int fd)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };

	if (!a8_tcp_connection(fd) || a8_sys3(SYS_connect, fd, &unspec, sizeof(unspec)) < 0)
		a8_sys2(SYS_shutdown, fd, SHUT_RDWR);
}

static void replay_stop(void)
{
	size_t i;

	replay_on = false;
	a8.role = A8_ROLE_LEADER;
	a8_tx_flush();	/* the last replayed records (they go out a batch at a time) */
	a8_digests_settle();	/* the followers' digests of the replayed positions */
	for (i = 0; i < nshut; i++)
		if (is_connection(shut[i])) {
			a8_log(A8_LOG_DEBUG, 0, "replay over: connection on fd %d cut", shut[i]);
			cut_connection(shut[i]);
		}
	nshut = 0;
	/* The copy of this epoch holds its own references; ours were installed or are stale. */
	a8_keep_drop_from(0);
}

void a8_replay_start(void)
{
	a8_live_here();
	a8_keep_channel_live();
	log_active = true;	/* appended to after what is replayed (read_log cut it there) */
	replay_on = true;
	a8.role = A8_ROLE_FOLLOWER;
	a8_log(A8_LOG_DEBUG, 0, "replaying %zu bytes of log up to position %llu", log_cut,
	       (unsigned long long)replay_until);
}

bool a8_replaying(void)
{
	return replay_on;
}

/*
 * Ending (exit, a signal's default action) during the replay: replay_stop's check of the
 * followers' digests now. A socket closed with them unread would reset the followers' ends.
 */
void a8_replay_ending(void)
{
	if (replay_on)
		a8_digests_settle();
}

/* The record at the replay's cursor, moving past fd notes and spent batches; NULL: none. */
static const struct a8_rec_hdr *at_cursor(void)
{
	const uint8_t *base = (const uint8_t *)(shared_log + 1);

	while (ent_pos + 8 <= log_cut) {
		uint32_t head[2];

		memcpy(head, base + ent_pos, 8);
		if (head[0] == LOG_TX && head[1] - rec_off >= sizeof(struct a8_rec_hdr)) {
			const struct a8_rec_hdr *h = (const void *)(base + ent_pos + 8 + rec_off);

			/* The log is ours, but a batch cut short must not be read past. */
			return h->len >= sizeof(*h) && h->len <= head[1] - rec_off ? h : NULL;
		}
		ent_pos += 8 + ((head[1] + 7) & ~7ul);
		rec_off = 0;
	}
	return NULL;
}

/* The next recorded call record, skipping the rest; NULL at the end of what is replayed. */
static const struct a8_rec_hdr *peek(void)
{
	const struct a8_rec_hdr *h;

	while ((h = at_cursor())) {
		if (h->type == A8_REC_CALL)
			return h->seq < replay_until ? h : NULL;
		rec_off += h->len;
	}
	return NULL;
}

void a8_replay_check(uint64_t seq)
{
	(void)seq;
	if (replay_on && !peek())
		replay_stop();
}

int a8_replay_next(uint64_t seq, const struct a8_rec_hdr **out)
{
	struct a8_rec_hdr *fwd;

	while (replay_on) {
		const struct a8_rec_hdr *h = peek();

		if (!h) {
			replay_stop();
			break;
		}
		rec_off += h->len;
		if (h->seq != seq) {
			replay_stop();
			return -EPROTO;
		}
		fwd = a8_tx_reserve(h->len);
		memcpy(fwd, h, h->len);
		fwd->flags |= A8_RECF_REPLAYED;
		*out = h;
		return 0;
	}
	return -ENOENT;
}

/* A call that copies the fd in its first argument (dup2 is dup3's alias). */
static bool dups_fd(const struct a8_call *c)
{
	unsigned cid = c->ci->cid;

	return cid == A8_CID_dup || cid == A8_CID_dup3 ||
	       (cid == A8_CID_fcntl && (c->a[1] == F_DUPFD || c->a[1] == F_DUPFD_CLOEXEC));
}

/*
 * Whether the fd put back is held by the next copy too, which must then let go when the
 * process closes it (a8_ckpt_shared): one the replay took (the copy was forked holding it), or
 * a copy made again of an fd made since the checkpoint (the live object). Not a copy of an fd
 * the CRIU image has: that is the restored object, whose bytes the replay writes again if it is
 * a pipe (pipes.c), as for the fd it copies.
 */
static bool held_by_next_copy(const struct a8_call *c, bool copied, bool took)
{
	if (!copied)
		return took;
	return a8_ckpt_made_since((int)c->a[0]) || (took && a8_ckpt.engine != A8_CKPT_CRIU);
}

/*
 * Replay (only ever a leader's): the real fd the dead process's call made goes back at its
 * number. A copy of an fd is made again from the fd it copies, which the process has at this
 * point of its replay (kept through the rollback, or put back earlier in it): the held one is
 * of the object the dead process had, and CRIU makes pipes and socketpairs anew. A child's
 * dup2 of its pipe onto its stdout, taken from the keeper, wrote into a pipe nobody read any
 * more: SIGPIPE.
 */
bool a8_replay_install(const struct a8_call *c, int fd, int cloexec)
{
	int held = a8_keep_take(a8.seq, fd), flags = cloexec ? O_CLOEXEC : 0;
	bool copied = dups_fd(c) && a8_sys3(SYS_dup3, c->a[0], fd, flags) == fd;
	long r = copied ? fd : -EBADF;

	if (!copied && held >= 0)	/* not a copy, or what it copies is not open here */
		r = a8_sys3(SYS_dup3, held, fd, flags);
	if (held >= 0)
		a8_sys1(SYS_close, held);
	if (r == fd && held_by_next_copy(c, copied, held >= 0))
		a8_ckpt_shared(fd, a8.seq);
	return r == fd;
}
