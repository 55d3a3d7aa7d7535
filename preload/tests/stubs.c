// SPDX-License-Identifier: MIT
/*
 * Weak stand-ins for the parts of the monitor the unit tests do not link: the handlers the
 * call table names, the global state, logging and the fd/epoll/signal helpers that encode.o
 * and link.o refer to. A test that links the real object gets the real symbol instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "a8/monitor.h"
#include "canon/table.h"
#include "core/epoll.h"
#include "core/fdtab.h"
#include "core/util.h"

#define WEAK __attribute__((weak))

WEAK struct a8_state a8;
WEAK volatile int a8_sig_queued;
WEAK volatile int a8_intr_cut;

#define STUB_HANDLER(h) \
	WEAK void h(struct a8_call *c) { (void)c; }
STUB_HANDLER(a8_h_close_range) STUB_HANDLER(a8_h_dup3) STUB_HANDLER(a8_h_fcntl)
STUB_HANDLER(a8_h_ioctl) STUB_HANDLER(a8_h_sendfile) STUB_HANDLER(a8_h_unsupported)
STUB_HANDLER(a8_h_mmap) STUB_HANDLER(a8_h_getpid) STUB_HANDLER(a8_h_getppid)
STUB_HANDLER(a8_h_set_tid_address) STUB_HANDLER(a8_h_clone) STUB_HANDLER(a8_h_clone3)
STUB_HANDLER(a8_h_execve) STUB_HANDLER(a8_h_exit) STUB_HANDLER(a8_h_wait4)
STUB_HANDLER(a8_h_kill) STUB_HANDLER(a8_h_prctl) STUB_HANDLER(a8_h_sigaction)
STUB_HANDLER(a8_h_sigprocmask) STUB_HANDLER(a8_h_sigsuspend) STUB_HANDLER(a8_h_sigreturn)
STUB_HANDLER(a8_h_epoll_ctl) STUB_HANDLER(a8_h_rlimit) STUB_HANDLER(a8_h_capset)
#undef STUB_HANDLER

/* The replay log (ckpt/replay.c): the data plane feeds it; nothing to log in unit tests. */
WEAK void a8_log_tx(const void *p, size_t n) { (void)p; (void)n; }

static void say(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "stub %s: ", what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* The monitor stopping is never expected in a unit test: say why and fail loudly. */
WEAK void a8_fatal(const char *reason, const char *call, long nr, const char *fmt, ...)
{
	va_list ap;

	(void)call;
	(void)nr;
	va_start(ap, fmt);
	say(reason, fmt, ap);
	va_end(ap);
	exit(3);
}

WEAK void a8_diverged(const char *reason, const char *call, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	(void)call;
	(void)seq;
	va_start(ap, fmt);
	say(reason, fmt, ap);
	va_end(ap);
	exit(3);
}

WEAK void a8_peer_stopped(bool diverged, const char *call, uint64_t seq, const char *why)
{
	(void)diverged;
	(void)seq;
	fprintf(stderr, "stub peer stopped at %s: %s\n", call, why);
	exit(3);
}

WEAK void a8_log(enum a8_loglevel level, long nr, const char *fmt, ...)
{
	(void)level;
	(void)nr;
	(void)fmt;
}

WEAK void a8_sleep_ms(int ms)
{
	(void)ms;
}

WEAK int a8_fd_hide(int fd)
{
	return fd;
}

WEAK int a8_fd_socket(int domain, int type)
{
	int fd = socket(domain, type | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* No epoll registrations: no cookie stands for an fd. */
WEAK int a8_epoll_fd_of(int epfd, uint64_t data)
{
	(void)epfd;
	(void)data;
	return -1;
}

WEAK bool a8_epoll_data_of(int epfd, int fd, uint64_t *data)
{
	(void)epfd;
	(void)fd;
	(void)data;
	return false;
}

WEAK long a8_fd_reserved_base(void)
{
	return A8_FD_MON_BASE;
}

WEAK void a8_fd_agree_base(long base)
{
	(void)base;
}
