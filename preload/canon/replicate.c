// SPDX-License-Identifier: MIT
/*
 * Replication of a call's outputs (encode.h): the leader writes one section per output
 * argument, a follower copies them into its own memory after checking each length against its
 * own buffer. One function per argument kind on each side, chosen from tables.
 */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "a8/monitor.h"
#include "core/epoll.h"
#include "encode.h"
#include "encode_args.h"
#include "kinds.h"

/* Outputs ------------------------------------------------------------------------------- */

/* The canonical struct stat: every field 64-bit, one order, whatever the ISA lays out. */
struct canon_stat {
	uint64_t dev, ino, nlink, mode, uid, gid, rdev, size, blksize, blocks;
	int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
};

static void stat_to_canon(const struct stat *s, struct canon_stat *k)
{
	k->dev = s->st_dev; k->ino = s->st_ino; k->nlink = s->st_nlink; k->mode = s->st_mode;
	k->uid = s->st_uid; k->gid = s->st_gid; k->rdev = s->st_rdev; k->size = s->st_size;
	k->blksize = s->st_blksize; k->blocks = s->st_blocks;
	k->atime = s->st_atim.tv_sec; k->atime_ns = s->st_atim.tv_nsec;
	k->mtime = s->st_mtim.tv_sec; k->mtime_ns = s->st_mtim.tv_nsec;
	k->ctime = s->st_ctim.tv_sec; k->ctime_ns = s->st_ctim.tv_nsec;
}

static void stat_from_canon(const struct canon_stat *k, struct stat *s)
{
	memset(s, 0, sizeof(*s));
	s->st_dev = k->dev; s->st_ino = k->ino; s->st_nlink = k->nlink; s->st_mode = k->mode;
	s->st_uid = k->uid; s->st_gid = k->gid; s->st_rdev = k->rdev; s->st_size = k->size;
	s->st_blksize = k->blksize; s->st_blocks = k->blocks;
	s->st_atim.tv_sec = k->atime; s->st_atim.tv_nsec = k->atime_ns;
	s->st_mtim.tv_sec = k->mtime; s->st_mtim.tv_nsec = k->mtime_ns;
	s->st_ctim.tv_sec = k->ctime; s->st_ctim.tv_nsec = k->ctime_ns;
}

struct canon_epoll {
	uint32_t events;
	uint32_t pad;
	uint64_t data;
};

typedef void (*out_fn)(const struct a8_call *c, int i);
typedef const char *(*apply_fn)(const struct a8_call *c, int i, const uint8_t *d, uint32_t n);

static void put_absent(void)
{
	a8_sec_put(A8_SEC_ABSENT, NULL, 0);
}

/* A result may exceed what was copied (MSG_TRUNC): only the buffer's bytes are real. */
static size_t filled(const struct a8_call *c, size_t cap)
{
	return c->ret <= 0 ? 0 : (size_t)c->ret < cap ? (size_t)c->ret : cap;
}

static void out_buf(const struct a8_call *c, int i)
{
	size_t n = filled(c, clamp_len(c->a[c->ci->args[i].p]));

	if (n && c->a[i])
		a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], (uint32_t)n);
	else
		put_absent();
}

static size_t iov_total(const struct iovec *iov, long cnt)
{
	size_t t = 0;
	long k;

	for (k = 0; iov && k < cnt; k++)
		t += iov[k].iov_len;
	return t;
}

static void out_buf4(const struct a8_call *c, int i)
{
	if (c->ret > 0 && c->a[i])
		a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], (uint32_t)c->ret * 4);
	else
		put_absent();
}

static void out_struct(const struct a8_call *c, int i)
{
	/* An interrupted sleep writes the time left: the retry loop uses it. */
	if ((c->ret >= 0 || c->ret == -EINTR) && c->a[i])
		a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], c->ci->args[i].p);
	else
		put_absent();
}

static void out_inout(const struct a8_call *c, int i)
{
	if (c->a[i])
		a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], c->ci->args[i].p);
	else
		put_absent();
}

static void out_iov(const struct a8_call *c, int i)
{
	const struct iovec *iov = (const struct iovec *)c->a[i];
	long cnt = c->a[c->ci->args[i].p], k;
	size_t left = filled(c, iov_total(iov, cnt));
	uint8_t *p;

	if (!left) {
		put_absent();
		return;
	}
	p = a8_sec_reserve(A8_SEC_OUT, (uint32_t)left);
	for (k = 0; k < cnt && left; k++) {
		size_t n = iov[k].iov_len < left ? iov[k].iov_len : left;

		memcpy(p, iov[k].iov_base, n);
		p += n;
		left -= n;
	}
}

/*
 * sockaddr / sockopt value with a socklen_t * naming its length. The kernel reports the full
 * length even when it truncated the copy: only what fit in the buffer is real.
 */
static void out_sized(const struct a8_call *c, int i)
{
	const socklen_t *lenp = (const socklen_t *)c->a[c->ci->args[i].p];

	if (c->ret < 0 || !c->a[i] || !lenp) {
		put_absent();
		return;
	}
	a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], *lenp < c->cap[i] ? *lenp : c->cap[i]);
}

static void out_len(const struct a8_call *c, int i)
{
	if (c->ret >= 0 && c->a[i])
		a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], sizeof(socklen_t));
	else
		put_absent();
}

static void out_msg(const struct a8_call *c, int i)
{
	const struct msghdr *m = (const struct msghdr *)c->a[i];
	struct { uint32_t namelen, controllen, flags, datalen; } meta;
	size_t left, k;
	uint8_t *p;

	if (c->ret < 0 || !m) {
		put_absent();
		return;
	}
	left = filled(c, iov_total(m->msg_iov, (long)m->msg_iovlen));
	meta.namelen = m->msg_name ? (m->msg_namelen < c->cap[i] ? m->msg_namelen : c->cap[i]) : 0;
	meta.controllen = m->msg_control ? (uint32_t)m->msg_controllen : 0;
	meta.flags = (uint32_t)m->msg_flags;
	meta.datalen = (uint32_t)left;
	p = a8_sec_reserve(A8_SEC_OUT, sizeof(meta) + meta.namelen + meta.controllen +
			   meta.datalen);
	memcpy(p, &meta, sizeof(meta));
	p += sizeof(meta);
	memcpy(p, m->msg_name, meta.namelen);
	p += meta.namelen;
	memcpy(p, m->msg_control, meta.controllen);
	p += meta.controllen;
	for (k = 0; k < m->msg_iovlen && left; k++) {
		size_t n = m->msg_iov[k].iov_len < left ? m->msg_iov[k].iov_len : left;

		memcpy(p, m->msg_iov[k].iov_base, n);
		p += n;
		left -= n;
	}
}

static void out_epoll(const struct a8_call *c, int i)
{
	const struct epoll_event *ev = (const struct epoll_event *)c->a[i];
	struct canon_epoll *k;
	long n = c->ret, j;

	if (n <= 0) {
		put_absent();
		return;
	}
	k = a8_sec_reserve(A8_SEC_OUT, (uint32_t)(n * sizeof(*k)));
	for (j = 0; j < n; j++) {
		int fd = a8_epoll_fd_of((int)c->a[0], ev[j].data.u64);

		k[j].events = ev[j].events;
		k[j].pad = fd < 0 ? 0 : 1;
		k[j].data = fd < 0 ? ev[j].data.u64 : (uint64_t)fd;
	}
}

static void out_pollfd(const struct a8_call *c, int i)
{
	const struct pollfd *p = (const struct pollfd *)c->a[i];
	long n = c->a[c->ci->args[i].p], j;
	int16_t *r;

	if (c->ret < 0 || !p || n <= 0) {
		put_absent();
		return;
	}
	r = a8_sec_reserve(A8_SEC_OUT, (uint32_t)(n * 2));
	for (j = 0; j < n; j++)
		r[j] = p[j].revents;
}

static void out_fdset(const struct a8_call *c, int i)
{
	if (c->ret >= 0 && c->a[i])
		a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], (uint32_t)fdset_bytes(c, i));
	else
		put_absent();
}

static void out_fdpair(const struct a8_call *c, int i)
{
	if (c->ret >= 0 && c->a[i])
		a8_sec_put(A8_SEC_OUT, (const void *)c->a[i], 2 * sizeof(int));
	else
		put_absent();
}

static void out_stat(const struct a8_call *c, int i)
{
	struct canon_stat k;

	if (c->ret < 0 || !c->a[i]) {
		put_absent();
		return;
	}
	stat_to_canon((const struct stat *)c->a[i], &k);
	a8_sec_put(A8_SEC_OUT, &k, sizeof(k));
}

static const out_fn out_of[] = {
	[AK_OUT] = out_buf,	    [AK_OUT4] = out_buf4,	[AK_OUTS] = out_struct,
	[AK_INOUTS] = out_inout,    [AK_IOV_OUT] = out_iov,	[AK_ADDR_OUT] = out_sized,
	[AK_LEN_INOUT] = out_len,   [AK_MSG_OUT] = out_msg,	[AK_EPOLL_OUT] = out_epoll,
	[AK_POLLFD] = out_pollfd,   [AK_FDSET] = out_fdset,	[AK_FDPAIR] = out_fdpair,
	[AK_STAT] = out_stat,	    [AK_OPTVAL] = out_sized,	[AK_AKLAST] = NULL,
};

void a8_note_capacities(struct a8_call *c)
{
	int i;

	for (i = 0; i < 6; i++) {
		unsigned k = c->ci->args[i].kind;

		c->cap[i] = 0;
		if ((k == AK_ADDR_OUT || k == AK_OPTVAL) && c->a[c->ci->args[i].p])
			c->cap[i] = *(const socklen_t *)c->a[c->ci->args[i].p];
		else if (k == AK_MSG_OUT && c->a[i])
			c->cap[i] = ((const struct msghdr *)c->a[i])->msg_namelen;
	}
}

void a8_put_outputs(const struct a8_call *c)
{
	int i;

	for (i = 0; i < 6; i++) {
		unsigned k = c->ci->args[i].kind;

		if (k < sizeof(out_of) / sizeof(out_of[0]) && out_of[k])
			out_of[k](c, i);
	}
}

/* Follower side: each apply checks the leader's length against this variant's own buffer. */

static const char *apply_copy(void *dst, size_t cap, const uint8_t *d, uint32_t n)
{
	if (!dst || n > cap)
		return "output larger than this variant's buffer";
	memcpy(dst, d, n);
	return NULL;
}

static const char *ap_buf(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	return apply_copy((void *)c->a[i], clamp_len(c->a[c->ci->args[i].p]), d, n);
}

static const char *ap_buf4(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	return apply_copy((void *)c->a[i], clamp_len(c->a[0]) * 4, d, n);
}

static const char *ap_struct(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	return apply_copy((void *)c->a[i], c->ci->args[i].p, d, n);
}

static const char *ap_iov(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	const struct iovec *iov = (const struct iovec *)c->a[i];
	long cnt = c->a[c->ci->args[i].p], k;

	for (k = 0; k < cnt && n; k++) {
		size_t m = iov[k].iov_len < n ? iov[k].iov_len : n;

		memcpy(iov[k].iov_base, d, m);
		d += m;
		n -= (uint32_t)m;
	}
	return n ? "output larger than this variant's buffers" : NULL;
}

static const char *ap_sized(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	const socklen_t *lenp = (const socklen_t *)c->a[c->ci->args[i].p];

	/* The kernel reports the full length even when it truncated: copy what fits. */
	if (!lenp || !c->a[i])
		return "output where this variant has no buffer";
	memcpy((void *)c->a[i], d, n < *lenp ? n : *lenp);
	return NULL;
}

static const char *ap_msg(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	struct msghdr *m = (struct msghdr *)c->a[i];
	struct { uint32_t namelen, controllen, flags, datalen; } meta;
	size_t k;

	if (n < sizeof(meta))
		return "short message header";
	memcpy(&meta, d, sizeof(meta));
	if ((uint64_t)sizeof(meta) + meta.namelen + meta.controllen + meta.datalen != n)
		return "inconsistent message lengths";
	if (meta.namelen > (m->msg_name ? m->msg_namelen : 0) ||
	    meta.controllen > (m->msg_control ? m->msg_controllen : 0))
		return "message parts larger than this variant's buffers";
	d += sizeof(meta);
	memcpy(m->msg_name, d, meta.namelen);
	m->msg_namelen = meta.namelen;
	d += meta.namelen;
	memcpy(m->msg_control, d, meta.controllen);
	m->msg_controllen = meta.controllen;
	d += meta.controllen;
	m->msg_flags = (int)meta.flags;
	for (k = 0; k < m->msg_iovlen && meta.datalen; k++) {
		size_t len = m->msg_iov[k].iov_len < meta.datalen ? m->msg_iov[k].iov_len :
								     meta.datalen;

		memcpy(m->msg_iov[k].iov_base, d, len);
		d += len;
		meta.datalen -= (uint32_t)len;
	}
	return meta.datalen ? "message data larger than this variant's buffers" : NULL;
}

static const char *ap_epoll(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	struct epoll_event *ev = (struct epoll_event *)c->a[i];
	long cap = c->a[i + 1], j, cnt = n / sizeof(struct canon_epoll);
	struct canon_epoll k;

	if (n % sizeof(k) || cnt > cap)
		return "more events than this variant's buffer";
	for (j = 0; j < cnt; j++) {
		memcpy(&k, d + j * sizeof(k), sizeof(k));
		uint64_t data = k.data;

		if (k.pad && !a8_epoll_data_of((int)c->a[0], (int)k.data, &data))
			return "an event for an fd this variant never registered";
		ev[j].events = k.events;
		ev[j].data.u64 = data;
	}
	return NULL;
}

static const char *ap_pollfd(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	struct pollfd *p = (struct pollfd *)c->a[i];
	long cnt = c->a[c->ci->args[i].p], j;

	if (n != cnt * 2)
		return "different number of poll entries";
	for (j = 0; j < cnt; j++)
		memcpy(&p[j].revents, d + 2 * j, 2);
	return NULL;
}

static const char *ap_fdset(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	return apply_copy((void *)c->a[i], fdset_bytes(c, i), d, n);
}

static const char *ap_fdpair(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	return apply_copy((void *)c->a[i], 2 * sizeof(int), d, n);
}

static const char *ap_stat(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	struct canon_stat k;

	if (n != sizeof(k) || !c->a[i])
		return "bad stat output";
	memcpy(&k, d, sizeof(k));
	stat_from_canon(&k, (struct stat *)c->a[i]);
	return NULL;
}

static const char *ap_len(const struct a8_call *c, int i, const uint8_t *d, uint32_t n)
{
	return apply_copy((void *)c->a[i], sizeof(socklen_t), d, n);
}

static const apply_fn apply_of[] = {
	[AK_OUT] = ap_buf,	    [AK_OUT4] = ap_buf4,	[AK_OUTS] = ap_struct,
	[AK_INOUTS] = ap_struct,    [AK_IOV_OUT] = ap_iov,	[AK_ADDR_OUT] = ap_sized,
	[AK_LEN_INOUT] = ap_len,    [AK_MSG_OUT] = ap_msg,	[AK_EPOLL_OUT] = ap_epoll,
	[AK_POLLFD] = ap_pollfd,    [AK_FDSET] = ap_fdset,	[AK_FDPAIR] = ap_fdpair,
	[AK_STAT] = ap_stat,	    [AK_OPTVAL] = ap_sized,	[AK_AKLAST] = NULL,
};

const char *a8_apply_outputs(const struct a8_call *c, struct a8_sec_reader *r)
{
	int i;

	for (i = 0; i < 6; i++) {
		unsigned k = c->ci->args[i].kind;
		const uint8_t *d;
		uint32_t tag, n;
		const char *why;

		if (k >= sizeof(apply_of) / sizeof(apply_of[0]) || !apply_of[k])
			continue;
		if (a8_sec_next(r, &tag, &d, &n) != 1)
			return "missing output section";
		if (tag == A8_SEC_ABSENT)
			continue;
		if (tag != A8_SEC_OUT)
			return "unexpected section";
		why = apply_of[k](c, i, d, n);
		if (why)
			return why;
	}
	return NULL;
}

/* fds passed over a unix socket (nginx hands its workers' channels around this way). */
static int received_fds(const struct msghdr *m, long fds[A8_NEWFD_MAX], int n)
{
	const struct cmsghdr *cm;

	if (!m->msg_control || m->msg_controllen < sizeof(struct cmsghdr))
		return n;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)m); cm; cm = CMSG_NXTHDR((struct msghdr *)m,
								  (struct cmsghdr *)cm)) {
		const int *p = (const int *)CMSG_DATA(cm);
		size_t k, cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt && n < A8_NEWFD_MAX; k++)
			fds[n++] = p[k];
	}
	return n;
}

int a8_new_fds(const struct a8_call *c, long fds[A8_NEWFD_MAX])
{
	int n = 0, i;

	if (c->ret < 0)
		return 0;
	if ((c->ci->flags | c->xflags) & F_NEWFD)
		fds[n++] = c->ret;
	for (i = 0; i < 6; i++) {
		if (c->ci->args[i].kind == AK_FDPAIR && c->a[i]) {
			fds[n++] = ((int *)c->a[i])[0];
			fds[n++] = ((int *)c->a[i])[1];
		}
		if (c->ci->args[i].kind == AK_MSG_OUT && c->a[i])
			n = received_fds((const struct msghdr *)c->a[i], fds, n);
	}
	return n;
}
