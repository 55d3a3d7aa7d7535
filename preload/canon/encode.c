// SPDX-License-Identifier: MIT
/*
 * Canonical encoding of a call's inputs (encode.h): one function per argument kind, chosen
 * from a table indexed by the kind. The outputs' half is replicate.c.
 */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <stddef.h>

#include "a8/monitor.h"
#include "core/util.h"
#include "encode.h"
#include "encode_args.h"
#include "core/epoll.h"
#include "kinds.h"
#include "siphash.h"
#include "flags.h"

/* Inputs -------------------------------------------------------------------------------- */

struct enc {
	struct a8_siphash h;
	uint8_t *blob;
	uint32_t blob_len;
};

static void feed(struct enc *e, const void *p, size_t n)
{
	if (e->blob_len < A8_RING_BLOB) {
		size_t k = A8_RING_BLOB - e->blob_len < n ? A8_RING_BLOB - e->blob_len : n;

		memcpy(e->blob + e->blob_len, p, k);
		e->blob_len += (uint32_t)k;
	}
	a8_siphash_update(&e->h, p, n);
}

static void feed_u64(struct enc *e, uint64_t v)
{
	feed(e, &v, 8);
}

/* NULL and "present" are different inputs. */
static int feed_ptr_marker(struct enc *e, long p)
{
	feed_u64(e, p ? 1 : 0);
	return p != 0;
}

typedef void (*in_fn)(struct enc *e, const struct a8_call *c, int i);

static void in_value(struct enc *e, const struct a8_call *c, int i)
{
	feed_u64(e, (uint64_t)c->a[i]);
}

/* Bits that mean the same on every ISA pass through; the others are looked up. */
unsigned long a8_oflags_canon(unsigned long native)
{
	unsigned long out = native;
	int k;

	for (k = 0; k < A8_OFLAG_MAP_N; k++)
		out &= ~a8_oflag_map[k].native;
	for (k = 0; k < A8_OFLAG_MAP_N; k++)
		if (native & a8_oflag_map[k].native)
			out |= a8_oflag_map[k].canon;
	return out;
}

static void in_oflags(struct enc *e, const struct a8_call *c, int i)
{
	feed_u64(e, a8_oflags_canon((unsigned long)c->a[i]));
}

static void in_str(struct enc *e, const struct a8_call *c, int i)
{
	const char *s = (const char *)c->a[i];

	if (feed_ptr_marker(e, (long)s))
		feed(e, s, strlen(s) + 1);
}


static void in_buf(struct enc *e, const struct a8_call *c, int i)
{
	size_t n = clamp_len(c->a[c->ci->args[i].p]);

	if (feed_ptr_marker(e, c->a[i]))
		feed(e, (const void *)c->a[i], n);
}

static void in_struct(struct enc *e, const struct a8_call *c, int i)
{
	if (feed_ptr_marker(e, c->a[i]))
		feed(e, (const void *)c->a[i], c->ci->args[i].p);
}

static void in_capacity(struct enc *e, const struct a8_call *c, int i)
{
	(void)c;
	(void)i;
	(void)e;	/* outputs: their capacity is another argument, compared there */
}

static void in_iov(struct enc *e, const struct a8_call *c, int i)
{
	const struct iovec *iov = (const struct iovec *)c->a[i];
	long cnt = c->a[c->ci->args[i].p], k;
	uint64_t total = 0;

	for (k = 0; iov && k < cnt; k++) {
		feed(e, iov[k].iov_base, iov[k].iov_len);
		total += iov[k].iov_len;
	}
	feed_u64(e, total);
}

/*
 * A socket address compares by what it names, not by its bytes: programs pass buffers longer
 * than the address with uninitialized bytes after it (sockaddr_un path, sin_zero).
 */
static void feed_sockaddr(struct enc *e, const struct sockaddr *sa, size_t n)
{
	if (!feed_ptr_marker(e, (long)sa) || n < sizeof(sa->sa_family))
		return;
	feed_u64(e, sa->sa_family);
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t max = n - offsetof(struct sockaddr_un, sun_path);

		/* Abstract names start with a NUL and use the whole length. */
		if (max && un->sun_path[0] == 0)
			feed(e, un->sun_path, max);
		else
			feed(e, un->sun_path, strnlen(un->sun_path, max));
	} else if (sa->sa_family == AF_INET && n >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		feed(e, &in->sin_port, sizeof(in->sin_port));
		feed(e, &in->sin_addr, sizeof(in->sin_addr));
	} else if (sa->sa_family == AF_INET6 && n >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		feed(e, &in6->sin6_port, sizeof(in6->sin6_port));
		feed(e, &in6->sin6_addr, sizeof(in6->sin6_addr));
		feed(e, &in6->sin6_scope_id, sizeof(in6->sin6_scope_id));
	} else {
		feed(e, sa, n);
	}
}

static void in_addr(struct enc *e, const struct a8_call *c, int i)
{
	feed_sockaddr(e, (const struct sockaddr *)c->a[i], clamp_len(c->a[c->ci->args[i].p]));
}

static void in_len(struct enc *e, const struct a8_call *c, int i)
{
	if (feed_ptr_marker(e, c->a[i]))
		feed_u64(e, *(const socklen_t *)c->a[i]);
}

static void in_msg(struct enc *e, const struct a8_call *c, int i)
{
	const struct msghdr *m = (const struct msghdr *)c->a[i];
	size_t k;

	if (!feed_ptr_marker(e, (long)m))
		return;
	feed_sockaddr(e, m->msg_name, m->msg_namelen);
	for (k = 0; k < m->msg_iovlen; k++)
		feed(e, m->msg_iov[k].iov_base, m->msg_iov[k].iov_len);
	if (feed_ptr_marker(e, (long)m->msg_control))
		feed(e, m->msg_control, m->msg_controllen);
	/* msg_flags is ignored by sendmsg and often left uninitialized. */
}

static void in_sigset(struct enc *e, const struct a8_call *c, int i)
{
	if (feed_ptr_marker(e, c->a[i]))
		feed(e, (const void *)c->a[i], 8);
}

static void in_epoll(struct enc *e, const struct a8_call *c, int i)
{
	const struct epoll_event *ev = (const struct epoll_event *)c->a[i];

	if (feed_ptr_marker(e, (long)ev))
		feed_u64(e, ev->events);	/* data is the program's cookie: see core/epoll.h */
}

static void in_pollfd(struct enc *e, const struct a8_call *c, int i)
{
	const struct pollfd *p = (const struct pollfd *)c->a[i];
	long n = c->a[c->ci->args[i].p], k;

	for (k = 0; p && k < n; k++) {
		feed_u64(e, (uint64_t)(uint32_t)p[k].fd);
		feed_u64(e, (uint64_t)(uint16_t)p[k].events);
	}
}


static void in_fdset(struct enc *e, const struct a8_call *c, int i)
{
	if (feed_ptr_marker(e, c->a[i]))
		feed(e, (const void *)c->a[i], fdset_bytes(c, i));
}

static const in_fn in_of[] = {
	[AK_NONE] = NULL,		[AK_INT] = in_value,	  [AK_FD] = in_value,
	[AK_PID] = in_value,		[AK_PTR] = NULL,	  [AK_STR] = in_str,
	[AK_IN] = in_buf,		[AK_OUT] = in_capacity,	  [AK_OUT4] = in_capacity,
	[AK_INS] = in_struct,		[AK_OUTS] = in_capacity,  [AK_INOUTS] = in_struct,
	[AK_IOV_IN] = in_iov,		[AK_IOV_OUT] = in_capacity, [AK_ADDR_IN] = in_addr,
	[AK_ADDR_OUT] = in_capacity,	[AK_LEN_INOUT] = in_len,  [AK_MSG_IN] = in_msg,
	[AK_MSG_OUT] = in_capacity,	[AK_SIGSET] = in_sigset,  [AK_EPOLL_IN] = in_epoll,
	[AK_EPOLL_OUT] = in_capacity,	[AK_POLLFD] = in_pollfd,  [AK_FDSET] = in_fdset,
	[AK_FDPAIR] = in_capacity,	[AK_STAT] = in_capacity,  [AK_OPTVAL] = in_capacity,
	[AK_OFLAGS] = in_oflags,
};

uint64_t a8_digest_call(const struct a8_call *c, uint8_t *blob, uint32_t *blob_len)
{
	struct enc e = { .blob = blob, .blob_len = 0 };
	uint16_t cid = c->ci->cid;
	int i;

	a8_siphash_init(&e.h, a8.key);
	feed(&e, &cid, sizeof(cid));
	if (!(c->ci->flags & F_NOCHECK))
		for (i = 0; i < 6; i++) {
			in_fn f = in_of[c->ci->args[i].kind];

			if (f)
				f(&e, c, i);
		}
	*blob_len = e.blob_len;
	return a8_siphash_final(&e.h);
}
