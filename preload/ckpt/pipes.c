// SPDX-License-Identifier: MIT
/*
 * Pipes between processes of a criu tree, after a rollback (ckpt.h). CRIU restores such a
 * pipe with what it held at the dump, and every leader process replays its calls since the
 * dump from its log, where a read returns the bytes logged and a write goes nowhere. So:
 *   - the bytes a replay read come down the pipe again: they are a debt, dropped from that
 *     process's next reads of the pipe once the replay is over;
 *   - the bytes a replay wrote, the reader needs again (its replay read them from its log, and
 *     the reads after it wait for the rest): the replay writes them again, as many as were
 *     written then.
 * Pipes here are anonymous pipes and unix stream socketpairs (nginx's channels between its
 * master and workers) that the process had at the dump, or copies of them made since (a
 * replay makes a dup again from the restored pipe: replay.c; a pipe made since is the live one,
 * put back from the keeper as the kill left it), not the variant's own stdio (which stays outside
 * the tree, handed over as it is). Writes: write, writev, sendto, sendmsg; reads: read, readv,
 * recvfrom, recvmsg. A message that passed fds is not sent again (the bytes alone would lie), and
 * a replayed read of one owes nothing. A follower replays nothing: it has no debts and writes
 * nothing again.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "ckpt.h"
#include "core/util.h"

#define DEBTS 16

/*
 * Bytes owed on a pipe, by fd number: a close, dup onto it or close_range forgets it (not its
 * inode: a restore makes the pipe anew, and one debt may span rollbacks).
 */
static struct { int fd; uint64_t bytes; } debt[DEBTS];

/* A named FIFO's writer may be outside the tree: it writes nothing again. */
#define PIPEFS_MAGIC 0x50495045

static bool anon_pipe(int fd)
{
	struct statfs fs;
	struct stat st;

	return a8_sys2(SYS_fstat, fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	       a8_sys2(SYS_fstatfs, fd, &fs) == 0 && fs.f_type == PIPEFS_MAGIC;
}

/* Calls whose bytes another process of the tree reads again after a rollback. */
static bool writes(unsigned cid)
{
	return cid == A8_CID_write || cid == A8_CID_writev || cid == A8_CID_sendto ||
	       cid == A8_CID_sendmsg;
}

/* Calls whose bytes a replay takes from the log, and the pipe has again. */
static bool reads(unsigned cid)
{
	return cid == A8_CID_read || cid == A8_CID_readv || cid == A8_CID_recvfrom ||
	       cid == A8_CID_recvmsg;
}

/* A look at the bytes that leaves them in the pipe: no debt is made or paid by it. */
static bool peeks(const struct a8_call *c)
{
	unsigned cid = c->ci->cid;
	long flags = cid == A8_CID_recvfrom ? c->a[3] : cid == A8_CID_recvmsg ? c->a[2] : 0;

	return flags & MSG_PEEK;
}

/* A sendmsg or recvmsg with fds (nginx's channel to a new worker). */
static bool passes_fds(const struct a8_call *c)
{
	unsigned cid = c->ci->cid;

	return (cid == A8_CID_sendmsg || cid == A8_CID_recvmsg) &&
	       ((const struct msghdr *)c->a[1])->msg_controllen;
}

static bool criu_tree(void)
{
	return a8_ckpt.engine == A8_CKPT_CRIU;
}

/* Call c is on a pipe or socketpair of the tree that the dump has. */
static bool tree_pipe(const struct a8_call *c)
{
	int fd = (int)c->a[0];

	return criu_tree() && !a8_ckpt_made_since(fd) && (anon_pipe(fd) || a8_unix_stream_pair(fd)) &&
	       !a8_redo_own_stdio(fd);
}

static int debt_slot(int fd, bool make)
{
	int i, free_slot = -1;

	for (i = 0; i < DEBTS; i++) {
		if (debt[i].bytes && debt[i].fd == fd)
			return i;
		if (!debt[i].bytes && free_slot < 0)
			free_slot = i;
	}
	return make ? free_slot : -1;
}

void a8_pipe_replayed(const struct a8_call *c, long ret)
{
	int i;

	if (ret <= 0 || !reads(c->ci->cid) || peeks(c) || passes_fds(c) || !tree_pipe(c))
		return;
	i = debt_slot((int)c->a[0], true);
	if (i < 0) {
		a8_log(A8_LOG_WARN, 0, "too many pipes to catch up on: fd %ld may read %ld bytes twice",
		       c->a[0], ret);
		return;
	}
	debt[i].fd = (int)c->a[0];
	debt[i].bytes += (uint64_t)ret;
}

/*
 * The bytes a write-like or read-like call hands over or fills: its scatter list (one piece
 * for read, write, recvfrom and sendto).
 */
static int io_pieces(const struct a8_call *c, struct iovec *one, const struct iovec **iov)
{
	const struct msghdr *m = (const struct msghdr *)c->a[1];
	unsigned cid = c->ci->cid;

	if (cid == A8_CID_writev || cid == A8_CID_readv) {
		*iov = (const struct iovec *)c->a[1];
		return (int)c->a[2];
	}
	if (cid == A8_CID_sendmsg || cid == A8_CID_recvmsg) {
		*iov = m->msg_iov;
		return (int)m->msg_iovlen;
	}
	one->iov_base = (void *)c->a[1];
	one->iov_len = (size_t)c->a[2];
	*iov = one;
	return 1;
}

/* Wait until fd takes bytes; false when it has not for the monitor's time-out. */
static bool writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	long ms = a8.timeout_ms > 0 ? a8.timeout_ms : 5000;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	long r;

	do
		r = a8_sys5(SYS_ppoll, &p, 1, &ts, NULL, 8);
	while (r == -EINTR);
	return r == 1 && !(p.revents & (POLLERR | POLLNVAL));
}

/*
 * Write n bytes from p without blocking the replay for ever: a pipe takes PIPE_BUF bytes at
 * once whenever it polls writable, a socket what fits (MSG_DONTWAIT).
 */
static long write_again(int fd, bool sock, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		size_t k = n - done;
		long r;

		if (!writable(fd))
			return -ETIMEDOUT;
		if (!sock && k > 4096)
			k = 4096;
		r = sock ? a8_sys6(SYS_sendto, fd, p + done, k, MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0) :
			   a8_sys3(SYS_write, fd, p + done, k);
		if (r == -EAGAIN || r == -EINTR)
			continue;
		if (r < 0)
			return r;
		done += (size_t)r;
	}
	return 0;
}

void a8_pipe_replay_write(const struct a8_call *c, long logged)
{
	const struct iovec *iov;
	struct iovec one;
	int fd = (int)c->a[0], n, i;
	bool sock;
	long err = 0, left = logged;

	if (logged <= 0 || !writes(c->ci->cid) || !tree_pipe(c))
		return;
	/* Passed fds (nginx's channel to a new worker) are not sent again: the bytes alone lie. */
	if (passes_fds(c)) {
		a8_log(A8_LOG_WARN, c->nr, "fd %d: a message with fds is not sent again", fd);
		return;
	}
	sock = !anon_pipe(fd);
	n = io_pieces(c, &one, &iov);
	for (i = 0; i < n && left > 0 && !err; i++) {
		size_t k = iov[i].iov_len < (size_t)left ? iov[i].iov_len : (size_t)left;

		err = write_again(fd, sock, iov[i].iov_base, k);
		left -= (long)k;
	}
	if (err)
		a8_log(A8_LOG_WARN, c->nr, "fd %d: bytes the replay wrote again are lost (%ld)", fd,
		       err);
}

/* A place in a scatter list. */
struct at {
	const struct iovec *iov;
	int n, i;
	size_t off;
};

/* The byte at `a`, after moving past spent pieces; NULL past the end. */
static char *byte_at(struct at *a)
{
	while (a->i < a->n && a->off >= a->iov[a->i].iov_len) {
		a->i++;
		a->off = 0;
	}
	return a->i < a->n ? (char *)a->iov[a->i].iov_base + a->off : NULL;
}

/* The `len` bytes received into `iov` lose their first `drop`: the rest moves to the front. */
static void drop_front(const struct iovec *iov, int n, size_t len, size_t drop)
{
	struct at dst = { iov, n, 0, 0 }, src = { iov, n, 0, 0 };
	size_t k;
	char *d, *s;

	for (k = 0; k < drop && byte_at(&src); k++)
		src.off++;
	for (k = drop; k < len && (d = byte_at(&dst)) && (s = byte_at(&src)); k++) {
		*d = *s;
		dst.off++;
		src.off++;
	}
}

/*
 * A recvmsg or recvfrom sets the lengths of the name and control buffers it was given to what
 * came: a read run again (all it got was owed) must get the program's own back, or a message
 * that passes fds would find no room for them (the kernel closes them).
 */
static struct {
	bool saved;
	socklen_t namelen;
	size_t controllen;
} given;

void a8_pipe_read_begin(const struct a8_call *c)
{
	const struct msghdr *m = (const struct msghdr *)c->a[1];
	const socklen_t *addrlen = (const socklen_t *)c->a[5];
	unsigned cid = c->ci->cid;

	given.saved = false;
	if (!criu_tree() || (cid != A8_CID_recvmsg && cid != A8_CID_recvfrom) ||
	    debt_slot((int)c->a[0], false) < 0)
		return;
	if (cid == A8_CID_recvmsg && m) {
		given.namelen = m->msg_namelen;
		given.controllen = m->msg_controllen;
		given.saved = true;
	} else if (cid == A8_CID_recvfrom && addrlen) {
		given.namelen = *addrlen;
		given.saved = true;
	}
}

static void give_back(const struct a8_call *c)
{
	struct msghdr *m = (struct msghdr *)c->a[1];

	if (!given.saved)
		return;
	if (c->ci->cid == A8_CID_recvmsg) {
		m->msg_namelen = given.namelen;
		m->msg_controllen = given.controllen;
	} else {
		*(socklen_t *)c->a[5] = given.namelen;
	}
}

bool a8_pipe_trim(struct a8_call *c)
{
	const struct iovec *iov;
	struct iovec one;
	uint64_t drop;
	int i, n;

	if (!reads(c->ci->cid) || c->ret <= 0 || peeks(c) || !criu_tree())
		return false;
	i = debt_slot((int)c->a[0], false);
	if (i < 0)
		return false;
	drop = debt[i].bytes < (uint64_t)c->ret ? debt[i].bytes : (uint64_t)c->ret;
	debt[i].bytes -= drop;
	n = io_pieces(c, &one, &iov);
	if (c->ret > (long)drop)
		drop_front(iov, n, (size_t)c->ret, (size_t)drop);
	c->ret -= (long)drop;
	if (!debt[i].bytes)
		a8_log(A8_LOG_DEBUG, 0, "fd %ld caught up with the rollback", c->a[0]);
	if (c->ret)
		return false;
	give_back(c);
	return true;
}

void a8_pipe_forget(int fd)
{
	int i = debt_slot(fd, false);

	if (i >= 0)
		debt[i].bytes = 0;
}

/* A forked child: what its parent owes is its parent's. */
void a8_pipe_reset(void)
{
	memset(debt, 0, sizeof(debt));
}
