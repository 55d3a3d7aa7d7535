// SPDX-License-Identifier: MIT
/*
 * The channel between a live process and its frozen copy (ckpt.h), and the fds the copy keeps.
 * The live process sends every fd its replicated calls make (accepted connections, epoll
 * instances), so they outlive it for a replay; it tells the copy to let go of an fd it closes
 * (so the other end sees the close as it would natively); and it retires the copy when a newer
 * one stands by. A resumed copy takes what was sent and hands the fds to the replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "a8/raw.h"
#include "ckpt.h"
#include "core/fdtab.h"
#include "exchange/link.h"

/* The fds kept for a copy: (position, number the program knows, the copy's real fd). */
struct kept { uint64_t seq; int fd, held; };
static struct kept *kept;
static size_t nkept, capkept;
static int chan_live = -1, chan_frozen = -1;



/* What travels from the live process to its frozen copy. */
enum { CHAN_KEEP = 1, CHAN_CLOSE = 2, CHAN_RETIRE = 3 };
struct chan_msg {
	uint64_t seq;
	int32_t fd;
	int32_t kind;
};


/* The copy is not needed any more: it ends (it would only wait otherwise). */
void a8_keep_channel_retire(void)
{
	struct chan_msg bye = { 0, -1, CHAN_RETIRE };

	if (chan_live < 0)
		return;
	a8_sys3(SYS_write, chan_live, &bye, sizeof(bye));
	a8_sys1(SYS_close, chan_live);
	chan_live = -1;
}

int a8_keep_channel_new(void)
{
	int sv[2];
	int big = 4 << 20;
	long r;

	a8_keep_channel_retire();
	chan_live = chan_frozen = -1;
	r = a8_sys4(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	if (r < 0)
		return (int)r;
	chan_live = a8_fd_hide(sv[0]);
	chan_frozen = a8_fd_hide(sv[1]);
	if (chan_live < 0 || chan_frozen < 0)
		return chan_live < 0 ? chan_live : chan_frozen;
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

/* Live: fd, made by the call at seq, goes to the copy (it outlives us there). */
long a8_keep_send(uint64_t seq, int fd)
{
	struct chan_msg m = { seq, fd, CHAN_KEEP };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	long r;

	if (chan_live < 0)
		return 0;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	r = a8_sys3(SYS_sendmsg, chan_live, &msg, MSG_DONTWAIT);
	if (r >= 0)
		a8_ckpt_shared(fd, seq);
	return r < 0 ? r : 0;
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

	/* A number the program used more than once since the checkpoint: the one made then. */
	for (i = nkept; made_at && i-- > 0;)
		if (kept[i].fd == fd && kept[i].seq == made_at) {
			a8_sys1(SYS_close, kept[i].held);
			kept[i] = kept[--nkept];
			return;
		}
	if (made_at)
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

/* One message from the live process; false when its end is gone (the copy is not needed). */
static bool serve_one(void)
{
	struct chan_msg m;
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	long r = a8_sys3(SYS_recvmsg, chan_frozen, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int held;
	char ack = 1;

	if (r == -EAGAIN || r == -EINTR)
		return true;
	if (r != sizeof(m)) {
		/* The live process died (a rollback is coming): its fds are all here by now. */
		a8_sys1(SYS_close, chan_frozen);
		chan_frozen = -1;
		return true;
	}
	if (m.kind == CHAN_RETIRE)
		return false;
	cm = CMSG_FIRSTHDR(&msg);
	if (m.kind == CHAN_CLOSE) {
		copy_lets_go(m.fd, m.seq);
		a8_sys3(SYS_write, chan_frozen, &ack, 1);
		return true;
	}
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return true;
	memcpy(&held, CMSG_DATA(cm), sizeof(int));
	held = a8_fd_hide(held);
	if (held >= 0)
		kept_add(m.seq, m.fd, held);
	return true;
}

int a8_keep_channel_fd(void)
{
	return chan_frozen;
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
			if (!serve_one())
				return false;
			continue;
		}
		return true;
	}
}

/* The copy takes every fd the dead process sent it, in order, and closes its end. */
void a8_keep_channel_drain(void)
{
	a8_keep_channel_serve();
	if (chan_frozen >= 0)
		a8_sys1(SYS_close, chan_frozen);
	chan_frozen = -1;
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
	char ack;

	if (chan_live < 0 || a8_sys3(SYS_write, chan_live, &m, sizeof(m)) != sizeof(m))
		return;
	if (a8_sys5(SYS_ppoll, &p, 1, &ts, NULL, 8) == 1)
		a8_sys3(SYS_read, chan_live, &ack, 1);
}

int a8_keep_take(uint64_t seq, int fd)
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
