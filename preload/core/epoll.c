// SPDX-License-Identifier: MIT
/* The epoll cookie table (epoll.h): a flat array, grown with mmap; servers register few fds
 * per epoll instance compared to the events they read, and lookups scan from the newest. */
#include <string.h>
#include <sys/epoll.h>

#include "epoll.h"
#include "exchange/link.h"

struct reg {
	int epfd, fd;
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

void a8_epoll_note(int epfd, int op, int fd, uint64_t data)
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
	r->data = data;
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
