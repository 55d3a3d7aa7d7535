// SPDX-License-Identifier: MIT
/*
 * capset: every variant sets its own capabilities. The header names the process by pid, as the
 * program knows it, in a8's numbering (the leader's pids, a8_h_getpid): on a follower that is
 * another process, which the kernel refuses (EPERM), and setpriv's drop of privileges diverged.
 * The process's own pid is passed as 0, "this process", the same on every variant: the header
 * is compared as the call sees it (a pid argument is made local after the comparison instead,
 * stream.c local_pids, but this one lies inside a struct).
 */
#include <stdbool.h>
#include <stdint.h>

#include "canon/table.h"
#include "stream.h"

struct cap_header {
	uint32_t version;
	int32_t pid;
};

void a8_h_capset(struct a8_call *c)
{
	struct cap_header *h = (struct cap_header *)c->a[0];
	bool self = h && h->pid == (int32_t)a8.vpid;

	c->route = R_EVERY;
	if (self)
		h->pid = 0;
	a8_stream_call(c);
	if (self)
		h->pid = (int32_t)a8.vpid;
}
