// SPDX-License-Identifier: MIT
/*
 * RLIMIT_NOFILE: the monitor's own fds live high up (fdtab.h), and it opens new ones as the
 * run goes (data connections, checkpoint channels). A program that lowers its hard limit
 * under them (lighttpd's server.max-fds) and may not raise it again (no CAP_SYS_RESOURCE
 * once it dropped privileges) would leave the monitor unable to open any. So the hard limit
 * stays above the monitor's range; the program sees the hard limit it set.
 */
#include <stdbool.h>
#include <sys/resource.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "fdtab.h"
#include "stream.h"

#define ROOM 4096

static rlim_t wanted_max = RLIM_INFINITY;	/* the hard limit the program last set */

/* Which arguments are the resource, the new limit and the old one, by call shape. */
struct shape {
	int res, new, old;
};

static struct shape shape_of(const struct a8_call *c)
{
	if (c->ci->args[0].kind == AK_PID)
		return (struct shape){ 1, 2, 3 };		/* prlimit64 */
	if (c->ci->args[1].kind == AK_OUTS)
		return (struct shape){ 0, -1, 1 };		/* getrlimit */
	return (struct shape){ 0, 1, -1 };			/* setrlimit */
}

/*
 * The hard limit to set instead of `asked`: `floor`, but never above the limit there is now
 * (raising it takes CAP_SYS_RESOURCE, which a program that could lower it may lack: lighttpd's
 * server.max-fds then failed under a8 where it works natively), nor below what was asked.
 */
static rlim_t keep_max(rlim_t asked, rlim_t floor)
{
	struct rlimit now;

	if (a8_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &now) == 0 && now.rlim_max < floor)
		floor = now.rlim_max;
	return floor > asked ? floor : asked;
}

void a8_h_rlimit(struct a8_call *c)
{
	struct shape sh = shape_of(c);
	rlim_t floor = (rlim_t)a8_fd_own_base() + ROOM;
	struct rlimit sub;
	bool self = sh.res == 0 || c->a[0] == 0;
	const struct rlimit *new = sh.new >= 0 ? (const struct rlimit *)c->a[sh.new] : NULL;

	c->route = R_EVERY;
	if (c->a[sh.res] != RLIMIT_NOFILE || !self) {
		a8_stream_call(c);
		return;
	}
	if (new && new->rlim_max < floor) {
		sub = *new;
		sub.rlim_max = keep_max(new->rlim_max, floor);
		if (sub.rlim_cur > new->rlim_max)
			sub.rlim_cur = new->rlim_max;
		c->a[sh.new] = (long)&sub;
	}
	a8_stream_call(c);
	if (c->ret == 0 && sh.old >= 0 && c->a[sh.old] && wanted_max != RLIM_INFINITY)
		((struct rlimit *)c->a[sh.old])->rlim_max = wanted_max;
	if (c->ret == 0 && new)
		wanted_max = new->rlim_max;
}
