// SPDX-License-Identifier: MIT
/*
 * capset: every variant sets its own capabilities. The header names the process, and libcap-ng
 * names it by pid, as the program knows it: in a8's numbering, the leader's pids (a8_h_getpid).
 * On a follower that pid is another process, which the kernel refuses (EPERM), and setpriv's
 * drop of privileges diverged. The process's own pid is passed as 0, "this process".
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
