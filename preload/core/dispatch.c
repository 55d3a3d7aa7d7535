// SPDX-License-Identifier: MIT
/*
 * One trapped call: find its canonical row, refuse what the program may not touch, resolve
 * where it runs, and hand it to the route's runner.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "a8/raw.h"
#include "canon/table.h"
#include "fdtab.h"
#include "stream.h"
#include "util.h"

static bool local_path(const char *p)
{
	const char *s = a8.local_paths;

	/* A prefix match means nothing once the path climbs back out with "..". */
	if (!p || p[0] != '/' || strstr(p, "/.."))
		return false;
	while (*s) {
		const char *e = strchr(s, ':');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n && !strncmp(p, s, n))
			return true;
		if (!e)
			break;
		s = e + 1;
	}
	return false;
}

static int route_of_fd(long fd)
{
	return a8_fd_kind(fd) == FK_REPL ? R_LEADER : R_EVERY;
}

static int route_of_path(const char *p)
{
	return local_path(p) ? R_EVERY : R_LEADER;
}

/* openat-style (dirfd, path): absolute paths decide by themselves. */
static int route_of_at(long dirfd, const char *p)
{
	if (p && p[0] == '/')
		return route_of_path(p);
	if (dirfd == AT_FDCWD)
		return R_LEADER;
	return route_of_fd(dirfd);
}

int a8_resolve_route_fd(long fd)
{
	return route_of_fd(fd);
}

int a8_resolve_route(const struct a8_call *c)
{
	switch (c->ci->route) {
	case R_FD:
		return route_of_fd(c->a[0]);
	case R_PATH:
		return route_of_path((const char *)c->a[0]);
	case R_AT:
		return route_of_at(c->a[0], (const char *)c->a[1]);
	default:
		return c->ci->route;
	}
}

/* The program never reaches the monitor's range of fds (fdtab.h), on any variant. */
static bool touches_monitor_fd(const struct a8_call *c)
{
	long base = a8_fd_reserved_base();
	int i;

	for (i = 0; i < 6; i++)
		if (c->ci->args[i].kind == AK_FD && (int)c->a[i] >= base)
			return true;
	return false;
}

static void run_local(struct a8_call *c)
{
	a8.stats->calls_local++;
	c->ret = a8_sys_args(c->nr, c->args);
}

static void run_handler(struct a8_call *c)
{
	c->ci->handler(c);
}

static const char *const nr_names[] = {
#include "nr_names.h"
};

/* The kernel's name of a call number on this ISA, for messages. */
const char *a8_nr_name(long nr)
{
	if (nr >= 0 && nr < (long)(sizeof(nr_names) / sizeof(nr_names[0])) && nr_names[nr])
		return nr_names[nr];
	return "unknown";
}

typedef void (*route_fn)(struct a8_call *c);

static const route_fn runner[] = {
	[R_LOCAL] = run_local,	      [R_VIRT] = run_handler,	   [R_EVERY] = a8_stream_call,
	[R_LEADER] = a8_stream_call,  [R_SPECIAL] = run_handler,
};

void a8_dispatch(struct a8_call *c)
{
	const struct a8_native *n = a8_native_lookup(c->nr);

	a8.stats->calls_seen++;
	if (!n)
		a8_fatal("unknown-call", a8_nr_name(c->nr), c->nr,
			 "system call %s (%ld) is not in a8's call table: a8 cannot monitor it",
			 a8_nr_name(c->nr), c->nr);
	c->ci = n->ci;
	c->alias = n->alias;
	c->xflags = 0;
	a8_canon_args(n, c->args, c->a);
	if (touches_monitor_fd(c)) {
		c->ret = -EBADF;
		return;
	}
	c->route = a8_resolve_route(c);
	runner[c->route](c);
}
