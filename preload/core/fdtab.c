// SPDX-License-Identifier: MIT
/* The fd kind table (fdtab.h): one byte per fd, grown with mmap, never with malloc. */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "a8/monitor.h"
#include "a8/raw.h"
#include "fdtab.h"

static unsigned char *kinds;
static long cap;
static int next_mon = -1;
static long reserved = -1;

int a8_fd_own_base(void)
{
	struct rlimit rl;

	if (next_mon >= 0)
		return next_mon;
	next_mon = A8_FD_MON_BASE;
	/*
	 * Under a lower hard limit, well below it: CRIU (the criu engine) puts its own service
	 * fds in the top few dozen numbers of a process it restores.
	 */
	if (a8_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 &&
	    rl.rlim_max < A8_FD_MON_BASE + 1024)
		next_mon = rl.rlim_max > 2048 ? (int)rl.rlim_max - 1024 : 1024;
	if (reserved < 0)
		reserved = next_mon;
	return next_mon;
}

long a8_fd_reserved_base(void)
{
	return reserved >= 0 ? reserved : a8_fd_own_base();
}

void a8_fd_agree_base(long base)
{
	if (base > 0 && base < a8_fd_reserved_base())
		reserved = base;
}

static int grow(long fd)
{
	long ncap = cap ? cap : 4096;
	void *p;

	while (ncap <= fd)
		ncap *= 2;
	p = (void *)a8_sys6(SYS_mmap, 0, ncap, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((long)p < 0 && (long)p > -4096)
		return (int)(long)p;
	if (kinds) {
		memcpy(p, kinds, cap);
		a8_sys2(SYS_munmap, kinds, cap);
	}
	kinds = p;
	cap = ncap;
	return 0;
}

int a8_fd_kind(long fd)
{
	if (fd < 0 || fd >= cap)
		return FK_NONE;
	return kinds[fd];
}

int a8_fd_set(long fd, enum a8_fdkind kind)
{
	int err;

	if (fd < 0)
		return -9;
	if (fd >= cap && (err = grow(fd)) < 0)
		return err;
	kinds[fd] = (unsigned char)kind;
	return 0;
}

/*
 * F_DUPFD refuses targets at or above the soft RLIMIT_NOFILE, so the limit is lifted to the
 * hard one for the moment of the dup; the program never sees it changed.
 */
static long dup_high(int fd)
{
	struct rlimit rl, high;
	long nfd;

	a8_fd_own_base();
	if (a8_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) < 0)
		return -EINVAL;
	high = rl;
	high.rlim_cur = rl.rlim_max;
	/* A program that lowered its hard limit under our range (lighttpd): root may lift it. */
	if (high.rlim_cur <= (rlim_t)next_mon)
		high.rlim_cur = high.rlim_max = (rlim_t)next_mon + 4096;
	a8_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, &high, NULL);
	nfd = a8_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, next_mon);
	a8_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, &rl, NULL);
	return nfd;
}

int a8_fd_hide(int fd)
{
	long nfd;

	if (fd < 0)
		return fd;
	nfd = dup_high(fd);
	a8_sys1(SYS_close, fd);
	if (nfd < 0)
		return (int)nfd;
	a8_fd_set(fd, FK_NONE);
	a8_fd_set(nfd, FK_MON);
	return (int)nfd;
}

int a8_fd_socket(int domain, int type)
{
	return a8_fd_hide((int)a8_sys3(SYS_socket, domain, type | SOCK_CLOEXEC, 0));
}

int a8_fd_placeholder(int fd, bool cloexec)
{
	extern struct a8_state a8;
	long r = a8_sys3(SYS_dup3, a8.placeholder_fd, fd, cloexec ? O_CLOEXEC : 0);

	if (r < 0)
		return (int)r;
	return a8_fd_set(fd, FK_REPL);
}

int a8_fd_serialize(char *buf, int cap_bytes)
{
	static const char letter[] = { 'N', 'L', 'R', 'M' };
	int n = 0;
	long fd;

	for (fd = 0; fd < cap; fd++) {
		if (kinds[fd] == FK_NONE || kinds[fd] == FK_MON)
			continue;
		n += snprintf(buf + n, n < cap_bytes ? cap_bytes - n : 0, "%ld%c", fd,
			      letter[kinds[fd]]);
		if (n >= cap_bytes)
			return -1;
	}
	if (n < cap_bytes)
		buf[n] = 0;
	return n;
}

void a8_fd_deserialize(const char *s)
{
	while (*s) {
		long fd = 0;

		while (*s >= '0' && *s <= '9')
			fd = fd * 10 + (*s++ - '0');
		if (*s == 'L')
			a8_fd_set(fd, FK_LOCAL);
		else if (*s == 'R')
			a8_fd_set(fd, FK_REPL);
		if (*s)
			s++;
	}
}

void a8_fd_drop_cloexec(void)
{
	long fd;

	for (fd = 0; fd < cap; fd++) {
		if (kinds[fd] == FK_NONE)
			continue;
		if (a8_sys2(SYS_fcntl, fd, F_GETFD) & FD_CLOEXEC)
			kinds[fd] = FK_NONE;
	}
}

void a8_fd_forget_range(long first, long last)
{
	long fd;

	for (fd = first; fd <= last && fd < cap; fd++)
		if (kinds[fd] != FK_MON)
			kinds[fd] = FK_NONE;
}
