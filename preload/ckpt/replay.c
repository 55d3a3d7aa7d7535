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
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "ckpt.h"
#include "core/fdtab.h"
#include "core/util.h"
#include "exchange/link.h"

#define LOG_SIZE (256ul << 20)	/* reserved, touched only as far as it is used */

enum { LOG_TX = 1, LOG_FD = 2 };

struct log_head {
	uint64_t used;
	uint32_t overflow;
	uint32_t pad;
};

struct log_fd {
	uint64_t seq;
	int32_t fd;
	uint32_t input;
};

static struct log_head *shared_log;	/* MAP_SHARED: the copies read it */
static bool log_active;

/* The fds kept for a copy: (position, number the program knows, the copy's real fd). */
struct kept { uint64_t seq; int fd, held; };
static struct kept *kept;
static size_t nkept, capkept;
static int chan_live = -1, chan_frozen = -1;

/* Replay state of a resumed leader (private memory). */
static uint8_t *recs;
static size_t recs_len, recs_pos, recs_cap;
static uint64_t replay_until;		/* replay positions below this */
static int *shut;			/* fds to shut down when replay stops */
static size_t nshut, capshut;
static bool replay_on;

static void *grow_array(void *old, size_t *cap, size_t used, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	void *n = a8_mem_alloc(ncap * elem);

	if (old) {
		memcpy(n, old, used * elem);
		a8_mem_free(old, *cap * elem);
	}
	*cap = ncap;
	return n;
}

bool a8_log_open(void)
{
	long p;

	if (shared_log)
		return true;
	p = a8_sys6(SYS_mmap, 0, LOG_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p < 0 && p > -4096)
		return false;
	shared_log = (struct log_head *)p;
	return true;
}

void a8_log_reset(void)
{
	if (!shared_log)
		return;
	shared_log->used = 0;
	shared_log->overflow = 0;
	log_active = true;
}

/* A forked child has a stream of its own and no checkpoints: it must not write our log. */
void a8_log_detach(void)
{
	log_active = false;
	if (chan_live >= 0)
		a8_sys1(SYS_close, chan_live);
	chan_live = -1;
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

void a8_log_tx(const void *p, size_t n)
{
	if (log_active)
		log_put(LOG_TX, p, n);
}

void a8_log_fd_use(uint64_t seq, long fd, bool input)
{
	struct log_fd e = { .seq = seq, .fd = (int32_t)fd, .input = input };

	if (log_active && fd >= 0)
		log_put(LOG_FD, &e, sizeof(e));
}

/* --- the channel that carries new fds to the frozen copy --- */

int a8_keep_channel_new(void)
{
	int sv[2];
	int big = 4 << 20;
	long r;

	if (chan_live >= 0)
		a8_sys1(SYS_close, chan_live);
	chan_live = chan_frozen = -1;
	r = a8_sys4(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	if (r < 0)
		return (int)r;
	chan_live = a8_fd_hide(sv[0]);
	chan_frozen = a8_fd_hide(sv[1]);
	if (chan_live < 0 || chan_frozen < 0)
		return -EMFILE;
	a8_sys5(SYS_setsockopt, chan_live, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	return 0;
}

/* After the fork: each side keeps its own end only. */
void a8_keep_channel_frozen(void)
{
	if (chan_live >= 0)
		a8_sys1(SYS_close, chan_live);
	chan_live = -1;
}

void a8_keep_channel_live(void)
{
	if (chan_frozen >= 0)
		a8_sys1(SYS_close, chan_frozen);
	chan_frozen = -1;
}

void a8_log_newfd(uint64_t seq, int fd)
{
	struct { uint64_t seq; int32_t fd; int32_t pad; } m = { seq, fd, 0 };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	long r;

	if (!log_active || chan_live < 0 || shared_log->overflow)
		return;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	r = a8_sys3(SYS_sendmsg, chan_live, &msg, MSG_DONTWAIT);
	if (r < 0) {
		shared_log->overflow = 1;
		a8_log(A8_LOG_WARN, 0, "cannot keep fd %d for a rollback (%ld)", fd, r);
	}
}

static void kept_add(uint64_t seq, int fd, int held)
{
	size_t i;

	for (i = 0; i < nkept; i++)
		if (kept[i].seq == seq && kept[i].fd == fd) {
			a8_sys1(SYS_close, kept[i].held);
			kept[i].held = held;
			return;
		}
	if (nkept == capkept)
		kept = grow_array(kept, &capkept, nkept, sizeof(*kept));
	kept[nkept++] = (struct kept){ seq, fd, held };
}

/* The copy takes every fd the dead process sent it, in order. */
static void drain_channel(void)
{
	for (;;) {
		struct { uint64_t seq; int32_t fd; int32_t pad; } m;
		union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
		struct iovec iov = { &m, sizeof(m) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				      .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm;
		long r = a8_sys3(SYS_recvmsg, chan_frozen, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		int held;

		if (r <= 0)
			break;
		cm = CMSG_FIRSTHDR(&msg);
		if (r != sizeof(m) || !cm || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&held, CMSG_DATA(cm), sizeof(int));
		held = a8_fd_hide(held);
		if (held >= 0)
			kept_add(m.seq, m.fd, held);
	}
	a8_sys1(SYS_close, chan_frozen);
	chan_frozen = -1;
}

int a8_replay_take_fd(uint64_t seq, int fd)
{
	size_t i;

	for (i = nkept; i-- > 0;)
		if (kept[i].seq == seq && kept[i].fd == fd) {
			int held = kept[i].held;

			kept[i] = kept[--nkept];
			return held;
		}
	return -1;
}

/* --- replay --- */

static void shut_add(int fd)
{
	size_t i;

	for (i = 0; i < nshut; i++)
		if (shut[i] == fd)
			return;
	if (nshut == capshut)
		shut = grow_array(shut, &capshut, nshut, sizeof(*shut));
	shut[nshut++] = fd;
}

static void recs_append(const uint8_t *p, size_t n)
{
	if (recs_len + n > recs_cap) {
		size_t ncap = recs_cap ? recs_cap : 65536;
		uint8_t *nb;

		while (ncap < recs_len + n)
			ncap *= 2;
		nb = a8_mem_alloc(ncap);
		if (recs) {
			memcpy(nb, recs, recs_len);
			a8_mem_free(recs, recs_cap);
		}
		recs = nb;
		recs_cap = ncap;
	}
	memcpy(recs + recs_len, p, n);
	recs_len += n;
}

/* Where replay stops: at the divergence, or before the last input read ahead of it. */
static uint64_t stop_point(bool drop, uint64_t diverged_at, const struct log_fd *last_input)
{
	if (!diverged_at)
		return ~0ull;
	if (drop && last_input)
		return last_input->seq;
	return diverged_at;
}

static void read_log(bool drop, uint64_t diverged_at)
{
	const uint8_t *p = (const uint8_t *)(shared_log + 1), *end = p + shared_log->used;
	const struct log_fd *last_input = NULL;
	const uint8_t *q;

	recs_len = recs_pos = 0;
	for (q = p; q < end;) {
		uint32_t head[2];

		memcpy(head, q, 8);
		if (head[0] == LOG_TX)
			recs_append(q + 8, head[1]);
		else if (head[0] == LOG_FD) {
			const struct log_fd *e = (const void *)(q + 8);

			if (e->input && (!diverged_at || e->seq < diverged_at))
				last_input = e;
		}
		q += 8 + ((head[1] + 7) & ~7ul);
	}
	replay_until = stop_point(drop, diverged_at, last_input);
	if (drop && last_input)
		a8_log(A8_LOG_INFO, 0, "rollback drops the connection on fd %d (input at %llu)",
		       last_input->fd, (unsigned long long)last_input->seq);
	/* Every fd used from the stop point on: its client must not see bytes twice. */
	nshut = 0;
	for (q = p; q < end;) {
		uint32_t head[2];

		memcpy(head, q, 8);
		if (head[0] == LOG_FD) {
			const struct log_fd *e = (const void *)(q + 8);

			if (e->seq >= replay_until)
				shut_add(e->fd);
		}
		q += 8 + ((head[1] + 7) & ~7ul);
	}
}

/* fds made from the stop point on belong to a future that will not happen. */
static void drop_future_fds(void)
{
	size_t i, n = 0;

	for (i = 0; i < nkept; i++) {
		if (kept[i].seq >= replay_until) {
			a8_sys2(SYS_shutdown, kept[i].held, SHUT_RDWR);
			a8_sys1(SYS_close, kept[i].held);
			continue;
		}
		kept[n++] = kept[i];
	}
	nkept = n;
}

void a8_replay_prepare(unsigned attempt, uint64_t diverged_at)
{
	drain_channel();
	if (!shared_log || shared_log->overflow) {
		/* Nothing reliable to replay: every connection made or used since goes. */
		diverged_at = 1;
		attempt = 0;
	}
	read_log(attempt > 0, diverged_at);
	drop_future_fds();
}

static void replay_stop(void)
{
	size_t i;

	replay_on = false;
	a8.role = A8_ROLE_LEADER;
	for (i = 0; i < nshut; i++)
		if (a8_fd_kind(shut[i]) == FK_REPL)
			a8_sys2(SYS_shutdown, shut[i], SHUT_RDWR);
	nshut = 0;
	/* The copy of this epoch holds its own references; ours were installed or are stale. */
	for (i = 0; i < nkept; i++)
		a8_sys1(SYS_close, kept[i].held);
	nkept = 0;
}

void a8_replay_start(void)
{
	a8_keep_channel_live();
	a8_log_reset();
	replay_on = true;
	a8.role = A8_ROLE_FOLLOWER;
	a8_log(A8_LOG_DEBUG, 0, "replaying %zu bytes of records up to position %llu", recs_len,
	       (unsigned long long)replay_until);
}

bool a8_replaying(void)
{
	return replay_on;
}

/* The next recorded call record, skipping the rest; NULL at the end of what is replayed. */
static const struct a8_rec_hdr *peek(void)
{
	while (recs_len - recs_pos >= sizeof(struct a8_rec_hdr)) {
		const struct a8_rec_hdr *h = (const void *)(recs + recs_pos);

		if (h->len < sizeof(*h) || h->len > recs_len - recs_pos)
			return NULL;
		if (h->type == A8_REC_CALL)
			return h->seq < replay_until ? h : NULL;
		recs_pos += h->len;
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
	while (replay_on) {
		const struct a8_rec_hdr *h = peek();

		if (!h) {
			replay_stop();
			break;
		}
		recs_pos += h->len;
		if (h->seq != seq) {
			replay_stop();
			return -EPROTO;
		}
		memcpy(a8_tx_reserve(h->len), h, h->len);
		*out = h;
		return 0;
	}
	return -ENOENT;
}
