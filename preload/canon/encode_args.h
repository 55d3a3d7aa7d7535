/* SPDX-License-Identifier: MIT */
/* Sizes both halves of the canonical encoding read off a call's arguments (encode.c, replicate.c). */
#ifndef A8_ENCODE_ARGS_H
#define A8_ENCODE_ARGS_H

#include <stddef.h>
#include <sys/select.h>

#include "a8/monitor.h"
#include "kinds.h"

static inline size_t clamp_len(long n)
{
	return n < 0 ? 0 : (size_t)n;
}

/* The bytes of an fd_set that cover nfds (arg p), bounded. */
static inline size_t fdset_bytes(const struct a8_call *c, int i)
{
	long nfds = c->a[c->ci->args[i].p];

	if (nfds < 0)
		nfds = 0;
	if (nfds > FD_SETSIZE * 64)
		nfds = FD_SETSIZE * 64;
	return (size_t)((nfds + 63) / 64) * 8;
}

#endif
