// SPDX-License-Identifier: MIT
/*
 * The channel between a live process and its frozen copy (ckpt.h), and the fds the copy keeps.
 * The live process sends every fd its replicated calls make (accepted connections, epoll
 * instances), so they outlive it for a replay; it tells the copy to let go of an fd it closes
 * (so the other end sees the close as it would natively); and it retires the copy when a newer
 * one stands by. A resumed copy takes what was sent and hands the fds to the replay. The criu
 * engine's keeper serves the same channel (keeper.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "a8/raw.h"
#include "ckpt.h"
#include "core/fdtab.h"
#include "core/util.h"
#include "exchange/link.h"
#include "keep_chan.h"

/* The fds kept for a copy: (position, number the program knows, the copy's real fd). */
struct kept { uint64_t seq; int fd, held; };
static struct kept *kept;
static size_t nkept, capkept;
static int chan_live = -1, chan_frozen = -1;

/*
 * Fork engine: the regular files made since the checkpoint travel on a channel of their own,
 * which the frozen copy reads only when it resumes. A server that opens and closes the file
 * it serves per request would otherwise wake its copy twice per request; nobody waits for a
 * regular file's close. It is a stream socket: a seqpacket (or datagram) pair queues only
 * net.unix.max_dgram_qlen messages (10 by default), then the sender waits for the reader; its
 * messages stay whole (16 bytes, sent at once or not at all, read one at a time). Bounded:
 * past FILES_INFLIGHT fds in flight, or when it is full, a file goes on the main channel (a
 * close the copy reads before the file's own message leaves it an fd it does not need: a
 * replay that reaches the open takes it, one that stops before drops it).
 */
#define FILES_INFLIGHT 2048	/* ~3 MiB queued at most (the send buffer is 4 MiB) */
static int files_live = -1, files_frozen = -1;
static unsigned files_inflight, files_bound;
static uint8_t via_files[A8_CKPT_FDS / 8];	/* fds whose message went on the files channel */

static bool via_files_has(int fd)
{
	return fd >= 0 && fd < A8_CKPT_FDS && via_files[fd / 8] & (1u << (fd % 8));
}

static void via_files_set(int fd, bool on)
{
	if (fd < 0 || fd >= A8_CKPT_FDS)
		return;
	if (on)
		via_files[fd / 8] |= (uint8_t)(1u << (fd % 8));
	else
		via_files[fd / 8] &= (uint8_t)~(1u << (fd % 8));
}

/* The copy is not needed any more: it ends (it would only wait otherwise). */
void a8_keep_channel_retire(void)
{
	struct chan_msg bye = { 0, -1, CHAN_RETIRE };

	if (chan_live < 0)
		return;
	a8_send(chan_live, &bye, sizeof(bye));
	a8_sys1(SYS_close, chan_live);
	chan_live = -1;
	if (files_live >= 0)
		a8_sys1(SYS_close, files_live);
	files_live = -1;
}

static void close_end(int *fd)
{
	if (*fd >= 0)
		a8_sys1(SYS_close, *fd);
	*fd = -1;
}

/*
 * Live: the channel goes without a word; the copy or keeper at its end takes that as the death
 * of the live process and goes on serving a restored one until the agent lets it go.
 */
void a8_keep_channel_detach(void)
{
	close_end(&chan_live);
	close_end(&files_live);
}

/*
 * The live end may queue 4 MiB; a send that finds the reader's queue full (a burst of new
 * connections before the copy took the first ten) waits for it, for a second at most.
 */
static void live_end_opts(int fd)
{
	struct timeval limit = { 1, 0 };
	int big = 4 << 20;

	a8_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	a8_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
}

/* A channel's two ends, out of the program's range. */
static int channel_pair(int *live, int *frozen, int type)
{
	int sv[2];
	long r = a8_sys4(SYS_socketpair, AF_UNIX, type | SOCK_CLOEXEC, 0, sv);

	*live = *frozen = -1;
	if (r < 0)
		return (int)r;
	*live = a8_fd_hide(sv[0]);
	*frozen = a8_fd_hide(sv[1]);
	if (*live < 0 || *frozen < 0) {
		int err = *live < 0 ? *live : *frozen;

		close_end(live);
		close_end(frozen);
		return err;
	}
	live_end_opts(*live);
	return 0;
}

/*
 * fds in flight count against the sender's RLIMIT_NOFILE (without CAP_SYS_RESOURCE): past it,
 * every SCM_RIGHTS send fails, the main channel's and the program's own too. A quarter of it.
 */
static unsigned inflight_bound(void)
{
	struct rlimit rl;

	if (a8_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) < 0)
		return 0;
	return rl.rlim_cur / 4 < FILES_INFLIGHT ? (unsigned)(rl.rlim_cur / 4) : FILES_INFLIGHT;
}

int a8_keep_channel_new(void)
{
	int err;

	a8_keep_channel_retire();
	err = channel_pair(&chan_live, &chan_frozen, SOCK_SEQPACKET);
	/* The criu keeper serves one channel: its fds are all fetched at once anyway. */
	if (err || a8_ckpt.engine != A8_CKPT_FORK)
		return err;
	memset(via_files, 0, sizeof(via_files));
	files_inflight = 0;
	files_bound = inflight_bound();
	/* Without it every file goes on the main channel, as before it existed. Never waited on:
	 * the copy reads it only when it resumes. */
	if (!channel_pair(&files_live, &files_frozen, SOCK_STREAM))
		a8_sys3(SYS_fcntl, files_live, F_SETFL, O_NONBLOCK);
	return 0;
}

/* After the fork: each side keeps its own ends only (the copy's: as a live side's detach). */
void a8_keep_channel_frozen(void)
{
	a8_keep_channel_detach();
}

void a8_keep_channel_live(void)
{
	close_end(&chan_frozen);
	close_end(&files_frozen);
}

/* A KEEP message: the fd held, known to the program as number fd, made at seq. */
long a8_chan_send_fd(int chan, uint64_t seq, int fd, int held, int flags)
{
	struct chan_msg m = { seq, fd, CHAN_KEEP };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &held, sizeof(int));
	return a8_sys3(SYS_sendmsg, chan, &msg, flags | MSG_NOSIGNAL);
}

static bool regular_file(int fd)
{
	struct stat st;

	return a8_sys2(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* A regular file on the files channel, if it can go there. */
static bool send_file(uint64_t seq, int fd)
{
	if (files_live < 0 || fd < 0 || fd >= A8_CKPT_FDS || files_inflight >= files_bound ||
	    !regular_file(fd) || a8_chan_send_fd(files_live, seq, fd, fd, 0) < 0)
		return false;
	files_inflight++;
	via_files_set(fd, true);
	return true;
}

/* Live: fd, made by the call at seq, goes to the copy (it outlives us there). */
long a8_keep_send(uint64_t seq, int fd)
{
	long r;

	if (chan_live < 0)
		return 0;
	if (send_file(seq, fd)) {
		a8_ckpt_shared(fd, seq);
		return 0;
	}
	/* A number closed without a word to us (close_range) may carry an older file's mark. */
	via_files_set(fd, false);
	r = a8_chan_send_fd(chan_live, seq, fd, fd, 0);
	if (r >= 0)
		a8_ckpt_shared(fd, seq);
	return r < 0 ? r : 0;
}

void a8_kept_add(uint64_t seq, int fd, int held)
{
	size_t i;

	for (i = 0; i < nkept; i++)
		if (kept[i].seq == seq && kept[i].fd == fd) {
			a8_sys1(SYS_close, kept[i].held);
			kept[i].held = held;
			return;
		}
	if (nkept == capkept)
		kept = a8_mem_grow(kept, &capkept, nkept, sizeof(*kept));
	kept[nkept++] = (struct kept){ seq, fd, held };
}

/*
 * The copy let go of fd, which the live process closes now: where the copy held the only
 * other reference, the peer sees the end (EOF, EPIPE) as it would natively. A socket or a
 * pipe the copy had since the checkpoint becomes a dead one of the same kind, so that after a
 * rollback the program finds that end closed, which it is.
 */
static void copy_lets_go(int fd, uint64_t made_at)
{
	struct stat st;
	int sv[2], keep, drop;
	long fl;
	size_t i;

	/*
	 * A number the program used more than once since the checkpoint: the one made then. The
	 * criu keeper holds the dump's connections as made at 0, under the program's numbers.
	 */
	for (i = nkept; i-- > 0;)
		if (kept[i].fd == fd && kept[i].seq == made_at) {
			a8_sys1(SYS_close, kept[i].held);
			kept[i] = kept[--nkept];
			return;
		}
	/* The criu keeper holds no program fd under its number: nothing else to let go. */
	if (made_at || a8_ckpt.engine == A8_CKPT_CRIU)
		return;
	if (a8_sys2(SYS_fstat, fd, &st) < 0 || !(S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)))
		return;
	fl = a8_sys2(SYS_fcntl, fd, F_GETFL);
	if (S_ISSOCK(st.st_mode) ?
	    a8_sys4(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 :
	    a8_sys2(SYS_pipe2, sv, O_CLOEXEC) < 0)
		return;
	keep = S_ISFIFO(st.st_mode) && (fl & O_ACCMODE) == O_WRONLY ? 1 : 0;
	drop = 1 - keep;
	a8_sys1(SYS_close, sv[drop]);
	a8_sys3(SYS_dup3, sv[keep], fd, (a8_sys2(SYS_fcntl, fd, F_GETFD) & FD_CLOEXEC) ? O_CLOEXEC : 0);
	a8_sys1(SYS_close, sv[keep]);
}

/* One message from chan; with a KEEP message, *held is the fd that came with it (else -1). */
long a8_chan_recv(int chan, struct chan_msg *m, int *held, int flags)
{
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	long r = a8_sys3(SYS_recvmsg, chan, &msg, flags | MSG_CMSG_CLOEXEC);

	*held = -1;
	if (r != sizeof(*m))
		return r;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(held, CMSG_DATA(cm), sizeof(int));
	return r;
}

enum served { SERVED, IDLE, RETIRED };

/*
 * One message from the live process on *chan: IDLE when there is none now; RETIRED when the
 * copy is not needed any more. At the end of the channel (the live process died: its fds are
 * all here) *chan is closed.
 */
static enum served serve_one(int *chan)
{
	struct chan_msg m;
	int held;
	long r = a8_chan_recv(*chan, &m, &held, MSG_DONTWAIT);
	char ack = 1;

	if (r == -EAGAIN || r == -EINTR)
		return IDLE;
	if (r != sizeof(m)) {
		close_end(chan);
		return IDLE;
	}
	if (m.kind == CHAN_RETIRE) {
		if (held >= 0)
			a8_sys1(SYS_close, held);
		return RETIRED;
	}
	if (m.kind == CHAN_CLOSE || m.kind == CHAN_CLOSE_QUIET) {
		if (held >= 0)
			a8_sys1(SYS_close, held);
		copy_lets_go(m.fd, m.seq);
		if (m.kind == CHAN_CLOSE)
			a8_send(*chan, &ack, 1);
		return SERVED;
	}
	if (m.kind != CHAN_KEEP || held < 0) {
		if (held >= 0)
			a8_sys1(SYS_close, held);
		return SERVED;
	}
	held = a8_fd_hide(held);
	if (held >= 0)
		a8_kept_add(m.seq, m.fd, held);
	return SERVED;
}

int a8_keep_channel_fd(void)
{
	return chan_frozen;
}

int a8_keep_live_fd(void)
{
	return chan_live;
}

/* The keeper serves a restored leader's connection; a restored leader sends on its own. */
void a8_keep_serve_on(int chan)
{
	chan_frozen = chan;
}

void a8_keep_live_on(int chan)
{
	chan_live = chan;
	live_end_opts(chan);
}

/* Every fd kept, to a restored leader: their count, or -errno. */
long a8_keep_send_kept(int conn)
{
	size_t i;

	for (i = 0; i < nkept; i++) {
		long r = a8_chan_send_fd(conn, kept[i].seq, kept[i].fd, kept[i].held, 0);

		if (r < 0)
			return r;
	}
	return (long)nkept;
}

bool a8_keep_channel_serve(void)
{
	struct timespec now = { 0, 0 };

	for (;;) {
		struct pollfd p = { .fd = chan_frozen, .events = POLLIN };

		if (chan_frozen < 0)
			return true;
		if (a8_sys5(SYS_ppoll, &p, 1, &now, NULL, 8) <= 0)
			return true;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (serve_one(&chan_frozen) == RETIRED)
				return false;
			continue;
		}
		return true;
	}
}

/*
 * The copy takes every fd the dead process sent it, in order, and closes its ends: the main
 * channel first, then the files channel (a file's close is always after its own message).
 */
void a8_keep_channel_drain(void)
{
	a8_keep_channel_serve();
	close_end(&chan_frozen);
	while (files_frozen >= 0 && serve_one(&files_frozen) == SERVED)
		;
	close_end(&files_frozen);
}

/*
 * The live process is about to close fd, which its copy holds too (since the checkpoint, or
 * sent to it): the copy lets go first. Bounded: a copy that does not answer is not waited for.
 */
void a8_keep_before_close(int fd, uint64_t made_at)
{
	struct chan_msg m = { made_at, fd, CHAN_CLOSE };
	struct pollfd p = { .fd = chan_live, .events = POLLIN };
	struct timespec ts = { 1, 0 };
	bool quiet;
	char ack;

	if (chan_live < 0)
		return;
	if (via_files_has(fd)) {
		via_files_set(fd, false);
		m.kind = CHAN_CLOSE_QUIET;
		if (files_live >= 0 && a8_send(files_live, &m, sizeof(m)) == sizeof(m))
			return;
	}
	/* A regular file has no other end waiting for the close: the copy need not answer. */
	quiet = regular_file(fd);
	/* One open at the fork: the copy does nothing for it (copy_lets_go). */
	if (quiet && !made_at)
		return;
	if (quiet)
		m.kind = CHAN_CLOSE_QUIET;
	if (a8_send(chan_live, &m, sizeof(m)) != sizeof(m))
		return;
	if (quiet)
		return;
	if (a8_sys5(SYS_ppoll, &p, 1, &ts, NULL, 8) == 1)
		a8_sys3(SYS_read, chan_live, &ack, 1);
}

/* The fd kept at i leaves the list: its held fd. */
static int take_at(size_t i)
{
	int held = kept[i].held;

	kept[i] = kept[--nkept];
	return held;
}

int a8_keep_take_any(uint64_t seq, int *fd)
{
	size_t i;

	for (i = nkept; i-- > 0;)
		if (kept[i].seq == seq) {
			*fd = kept[i].fd;
			return take_at(i);
		}
	return -1;
}

int a8_keep_take(uint64_t seq, int fd)
{
	size_t i;

	for (i = nkept; i-- > 0;)
		if (kept[i].seq == seq && kept[i].fd == fd)
			return take_at(i);
	return -1;
}

/* Let go of the fds made at position from on (0: all): shut down, they serve no one now. */
void a8_keep_drop_from(uint64_t from)
{
	size_t i, n = 0;

	for (i = 0; i < nkept; i++) {
		if (kept[i].seq >= from) {
			if (from)
				a8_sys2(SYS_shutdown, kept[i].held, SHUT_RDWR);
			a8_sys1(SYS_close, kept[i].held);
			continue;
		}
		kept[n++] = kept[i];
	}
	nkept = n;
}
