// SPDX-License-Identifier: MIT
/*
 * Which of the leader's calls that may block cannot wait (core/wait.c), on real fds: a
 * non-blocking socket, a regular file, MSG_DONTWAIT and an O_NONBLOCK open are run at once;
 * a blocking socket with nothing to read is left to the caller's wait; an event wait with
 * events already there is answered by its zero-timeout try, one with none is left to the
 * caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "a8/monitor.h"
#include "canon/table.h"
#include "check.h"
#include "core/wait.h"

static struct a8_call call(unsigned cid, long a0, long a1, long a2, long a3)
{
	struct a8_call c = { .a = { a0, a1, a2, a3 } };

	c.ci = a8_call_row(cid);
	return c;
}

static void fds(void)
{
	char buf[8];
	int sv[2], nb[2];
	int file = open("/proc/self/exe", O_RDONLY);
	struct a8_call c;
	long r = 99;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, nb) == 0);
	c = call(A8_CID_read, sv[0], (long)buf, sizeof(buf), 0);
	CHECK(!a8_ran_without_wait(&c, SYS_read, &r));	/* blocking, empty: would wait */
	c = call(A8_CID_read, nb[0], (long)buf, sizeof(buf), 0);
	CHECK(a8_ran_without_wait(&c, SYS_read, &r));
	CHECK_EQ(r, -EAGAIN);
	c = call(A8_CID_recvfrom, sv[0], (long)buf, sizeof(buf), MSG_DONTWAIT);
	CHECK(a8_ran_without_wait(&c, SYS_recvfrom, &r));
	CHECK_EQ(r, -EAGAIN);
	c = call(A8_CID_pread64, file, (long)buf, 4, 0);
	CHECK(a8_ran_without_wait(&c, SYS_pread64, &r));
	CHECK(r == 4 && !memcmp(buf, "\177ELF", 4));
	c = call(A8_CID_write, nb[1], (long)"hi", 2, 0);
	CHECK(a8_ran_without_wait(&c, SYS_write, &r));
	CHECK_EQ(r, 2);
	c = call(A8_CID_flock, file, LOCK_SH, 0, 0);	/* a lock waits whatever the fd */
	CHECK(!a8_ran_without_wait(&c, SYS_flock, &r));
	/* An open may wait (a FIFO's, for its peer) unless it says O_NONBLOCK. */
	c = call(A8_CID_openat, AT_FDCWD, (long)"/proc/self/exe", O_RDONLY, 0);
	CHECK(!a8_ran_without_wait(&c, SYS_openat, &r));
	c = call(A8_CID_openat, AT_FDCWD, (long)"/proc/self/exe", O_RDONLY | O_NONBLOCK, 0);
	CHECK(a8_ran_without_wait(&c, SYS_openat, &r));
	CHECK(r >= 0);
	close((int)r);
	close(file);
	close(sv[0]);
	close(sv[1]);
	close(nb[0]);
	close(nb[1]);
}

static void event_waits(void)
{
	struct epoll_event ev = { .events = EPOLLIN }, out[4];
	static const struct timespec five = { 5, 0 };
	struct pollfd p;
	int sv[2], ep = epoll_create1(0);
	struct a8_call c;
	long r = 99;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == 0);
	p = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	c = call(A8_CID_epoll_pwait, ep, (long)out, 4, -1);
	CHECK(!a8_ran_without_wait(&c, SYS_epoll_pwait, &r));	/* nothing yet */
	CHECK_EQ(c.a[3], -1);	/* the caller's timeout is left as it was */
	c = call(A8_CID_ppoll, (long)&p, 1, (long)&five, 0);
	CHECK(!a8_ran_without_wait(&c, SYS_ppoll, &r));
	CHECK(write(sv[1], "x", 1) == 1);
	c = call(A8_CID_epoll_pwait, ep, (long)out, 4, -1);
	CHECK(a8_ran_without_wait(&c, SYS_epoll_pwait, &r));
	CHECK_EQ(r, 1);
	c = call(A8_CID_ppoll, (long)&p, 1, (long)&five, 0);
	CHECK(a8_ran_without_wait(&c, SYS_ppoll, &r));
	CHECK(r == 1 && p.revents & POLLIN);
	c = call(A8_CID_ppoll, (long)&p, 1, 0, 0);	/* no timeout: waits for ever */
	CHECK(a8_ran_without_wait(&c, SYS_ppoll, &r));
	CHECK_EQ(r, 1);
	close(ep);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	a8_table_init();
	fds();
	event_waits();
	return check_report();
}
