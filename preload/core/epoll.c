// SPDX-License-Identifier: MIT
/* The epoll cookie table (epoll.h): a flat array, grown with mmap; servers register few fds
 * per epoll instance compared to the events they read, and lookups scan from the newest. */
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>

#include "a8/raw.h"

#include "epoll.h"
#include "exchange/link.h"

struct reg {
	int epfd, fd;
	uint32_t events;
	uint64_t data;
};

static struct reg *regs;
static size_t nregs, capregs;

static struct reg *find_fd(int epfd, int fd)
{
	size_t i;

	for (i = nregs; i-- > 0;)
		if (regs[i].epfd == epfd && regs[i].fd == fd)
			return &regs[i];
	return NULL;
}

static struct reg *add(void)
{
	if (nregs == capregs) {
		size_t ncap = capregs ? capregs * 2 : 256;
		struct reg *n = a8_mem_alloc(ncap * sizeof(*n));

		if (regs) {
			memcpy(n, regs, nregs * sizeof(*n));
			a8_mem_free(regs, capregs * sizeof(*n));
		}
		regs = n;
		capregs = ncap;
	}
	return &regs[nregs++];
}

void a8_epoll_note(int epfd, int op, int fd, uint32_t events, uint64_t data)
{
	struct reg *r = find_fd(epfd, fd);

	if (op == EPOLL_CTL_DEL) {
		if (r)
			*r = regs[--nregs];
		return;
	}
	if (!r)
		r = add();
	r->epfd = epfd;
	r->fd = fd;
	r->events = events;
	r->data = data;
}

/* The kernel drops a closed fd from every interest set (one reference is the usual case). */
void a8_epoll_forget_fd(int fd)
{
	a8_epoll_forget_range(fd, fd);
}

void a8_epoll_forget_range(long first, long last)
{
	size_t i;

	for (i = nregs; i-- > 0;)
		if ((regs[i].fd >= first && regs[i].fd <= last) ||
		    (regs[i].epfd >= first && regs[i].epfd <= last))
			regs[i] = regs[--nregs];
}

static void rebuild_one(int epfd)
{
	long flags = a8_sys2(SYS_fcntl, epfd, F_GETFD);
	long nfd = a8_sys1(SYS_epoll_create1, EPOLL_CLOEXEC);
	size_t i;

	if (flags < 0 || nfd < 0) {
		if (nfd >= 0)
			a8_sys1(SYS_close, nfd);
		return;
	}
	for (i = 0; i < nregs; i++) {
		struct epoll_event ev = { .events = regs[i].events, .data.u64 = regs[i].data };

		if (regs[i].epfd == epfd)
			a8_sys4(SYS_epoll_ctl, nfd, EPOLL_CTL_ADD, regs[i].fd, &ev);
	}
	a8_sys3(SYS_dup3, nfd, epfd, (flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
	a8_sys1(SYS_close, nfd);
}

/*
 * An epoll instance is shared with the process that died after the checkpoint, with the
 * interest set it left: put a new instance with the checkpoint's set at the same number.
 */
void a8_epoll_rebuild(void)
{
	size_t i, j;

	for (i = 0; i < nregs; i++) {
		for (j = 0; j < i && regs[j].epfd != regs[i].epfd; j++)
			;
		if (j == i)
			rebuild_one(regs[i].epfd);
	}
}

int a8_epoll_fd_of(int epfd, uint64_t data)
{
	size_t i;

	for (i = nregs; i-- > 0;)
		if (regs[i].epfd == epfd && regs[i].data == data)
			return regs[i].fd;
	return -1;
}

bool a8_epoll_data_of(int epfd, int fd, uint64_t *data)
{
	struct reg *r = find_fd(epfd, fd);

	if (!r)
		return false;
	*data = r->data;
	return true;
}

/*
 * Events of registrations the monitor does not know: an fd the program closed while another
 * reference to its file lives on (a checkpoint copy's), so the kernel keeps it registered.
 * The program has forgotten that cookie too: the event is dropped, never handed on.
 */
long a8_epoll_drop_unknown(int epfd, struct epoll_event *ev, long n)
{
	long i, kept = 0;

	for (i = 0; i < n; i++)
		if (a8_epoll_fd_of(epfd, ev[i].data.u64) >= 0)
			ev[kept++] = ev[i];
	return kept;
}
