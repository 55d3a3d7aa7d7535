// SPDX-License-Identifier: MIT
/* Which leader calls that may block cannot wait this time (wait.h). */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "a8/raw.h"
#include "canon/table.h"
#include "wait.h"

enum how {
	W_NEVER,	/* positional I/O: only files and block devices have it, none waits */
	W_FD,		/* waits only on fd arg 0: not when non-blocking or a regular file */
	W_FLAG,		/* waits unless flag arg has the bit (an open with O_NONBLOCK) */
	W_MS,		/* an event wait, timeout in ms in arg */
	W_TS,		/* an event wait, timeout a struct timespec * in arg (NULL: none) */
};

struct rule {
	uint16_t cid;
	uint8_t how;
	int8_t arg;	/* W_FD, W_FLAG: the flags arg (-1: none); else the timeout arg */
	long bit;	/* W_FD, W_FLAG: the flag that says "do not wait" */
};

static const struct rule rules[] = {
	{ A8_CID_read, W_FD, -1, 0 },
	{ A8_CID_write, W_FD, -1, 0 },
	{ A8_CID_pread64, W_NEVER, -1, 0 },
	{ A8_CID_readv, W_FD, -1, 0 },
	{ A8_CID_writev, W_FD, -1, 0 },
	{ A8_CID_preadv, W_NEVER, -1, 0 },
	{ A8_CID_accept, W_FD, -1, 0 },
	{ A8_CID_accept4, W_FD, -1, 0 },
	{ A8_CID_connect, W_FD, -1, 0 },
	{ A8_CID_recvfrom, W_FD, 3, MSG_DONTWAIT },
	{ A8_CID_sendto, W_FD, 3, MSG_DONTWAIT },
	{ A8_CID_recvmsg, W_FD, 2, MSG_DONTWAIT },
	{ A8_CID_sendmsg, W_FD, 2, MSG_DONTWAIT },
	{ A8_CID_openat, W_FLAG, 2, O_NONBLOCK },	/* a FIFO's open waits for its peer */
	{ A8_CID_epoll_pwait, W_MS, 3, 0 },
	{ A8_CID_poll, W_MS, 2, 0 },
	{ A8_CID_ppoll, W_TS, 2, 0 },
};

static const struct rule *rule_of(unsigned cid)
{
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].cid == cid)
			return &rules[i];
	return NULL;
}

/*
 * A bad fd fails at once; so does anything on a non-blocking one or a file on disk. Not quite
 * always: O_NONBLOCK belongs to the open file description, which another process sharing it
 * may change between this check and the call, and a few regular files do wait (/proc/kmsg, a
 * FUSE or hard-mounted NFS file). Such a call then runs with the program's signals held and
 * the batch not yet sent: a stop or a tree checkpoint waits until it returns.
 */
static bool fd_cannot_wait(long fd)
{
	struct stat st;
	long fl = a8_sys2(SYS_fcntl, fd, F_GETFL);

	if (fl < 0 || fl & O_NONBLOCK)
		return true;
	if (a8_sys2(SYS_fstat, fd, &st))
		return true;
	return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode);
}

/* The wait with a zero timeout: its result, or 0 when nothing was there yet. */
static long probe(const struct rule *r, long nr, const long a[6])
{
	static const struct timespec zero;
	long b[6] = { a[0], a[1], a[2], a[3], a[4], a[5] };

	b[r->arg] = r->how == W_MS ? 0 : (long)&zero;
	return a8_sys_args(nr, b);
}

/* Whether the call, as asked, cannot wait (an event wait: asks for no wait itself). */
static bool cannot_wait(const struct rule *r, const struct a8_call *c)
{
	long v = r->arg >= 0 ? c->a[r->arg] : 0;
	const struct timespec *ts = (const struct timespec *)v;

	if (r->how == W_NEVER)
		return true;
	if (r->how == W_FD)
		return v & r->bit || fd_cannot_wait(c->a[0]);
	if (r->how == W_FLAG)
		return v & r->bit;
	if (r->how == W_MS)
		return v == 0;
	return ts && !ts->tv_sec && !ts->tv_nsec;	/* W_TS; no timespec: for ever */
}

bool a8_ran_without_wait(struct a8_call *c, long nr, long *ret)
{
	const struct rule *r = rule_of(c->ci->cid);

	if (!r)
		return false;
	if (cannot_wait(r, c)) {
		*ret = a8_sys_args(nr, c->a);
		return true;
	}
	if (r->how != W_MS && r->how != W_TS)
		return false;
	*ret = probe(r, nr, c->a);
	return *ret != 0;
}
