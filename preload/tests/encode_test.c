// SPDX-License-Identifier: MIT
/*
 * canon/encode.c: input digests compare what a call means (alias or not, socket addresses by
 * what they name, epoll cookies ignored), and outputs written by the leader into a record are
 * reproduced by the follower, or refused with a reason when they do not fit.
 * Links encode.o, link.o (the record buffers) and the arch stub (link.o's mmap).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include "check.h"
#include "a8/monitor.h"
#include "canon/encode.h"
#include "canon/table.h"
#include "exchange/link.h"

/* A trapped call as the dispatcher builds it: row and canonical args through the alias. */
static struct a8_call mkcall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	struct a8_call c;
	const struct a8_native *n = a8_native_lookup(nr);

	memset(&c, 0, sizeof(c));
	c.nr = nr;
	c.args[0] = a0; c.args[1] = a1; c.args[2] = a2;
	c.args[3] = a3; c.args[4] = a4; c.args[5] = a5;
	if (!n) {
		fprintf(stderr, "no row for native call %ld\n", nr);
		exit(2);
	}
	c.ci = n->ci;
	c.alias = n->alias;
	a8_canon_args(n, c.args, c.a);
	return c;
}

static uint64_t digest(const struct a8_call *c)
{
	uint8_t blob[A8_RING_BLOB];
	uint32_t len = 0;

	return a8_digest_call(c, blob, &len);
}

#define CALL3(nr, a, b, c) mkcall((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define CALL4(nr, a, b, c, d) mkcall((nr), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static void test_open_alias(void)
{
	char x[] = "/x", x2[] = "/x", y[] = "/y";
	struct a8_call op = CALL3(SYS_open, x, O_RDONLY, 0);
	struct a8_call at = CALL4(SYS_openat, AT_FDCWD, x2, O_RDONLY, 0);
	struct a8_call other = CALL3(SYS_open, y, O_RDONLY, 0);
	struct a8_call flags = CALL3(SYS_open, x, O_RDWR, 0);
	uint8_t b1[A8_RING_BLOB], b2[A8_RING_BLOB];
	uint32_t n1 = 0, n2 = 0;
	uint64_t d1 = a8_digest_call(&op, b1, &n1), d2 = a8_digest_call(&at, b2, &n2);

	CHECK(op.ci == at.ci);
	CHECK_EQ(d1, d2);
	CHECK(n1 > 0 && n1 <= A8_RING_BLOB);
	CHECK_EQ(n1, n2);
	CHECK(n1 == n2 && !memcmp(b1, b2, n1));	/* the kept encoding is the same bytes too */
	CHECK(digest(&other) != d1);			/* path is compared by content */
	CHECK(digest(&flags) != d1);

	/* The digest is keyed. */
	a8.key[0] ^= 0x80;
	CHECK(digest(&op) != d1);
	a8.key[0] ^= 0x80;
	CHECK_EQ(digest(&op), d1);

	/* A path longer than the blob: the blob is capped, the digest still sees all of it. */
	{
		char l1[200], l2[200];

		memset(l1, 'a', sizeof(l1) - 1);
		l1[sizeof(l1) - 1] = 0;
		memcpy(l2, l1, sizeof(l2));
		l2[150] = 'b';
		{
			struct a8_call c1 = CALL3(SYS_open, l1, O_RDONLY, 0);
			struct a8_call c2 = CALL3(SYS_open, l2, O_RDONLY, 0);
			uint32_t k = 0;

			CHECK(a8_digest_call(&c1, b1, &k) != digest(&c2));
			CHECK_EQ(k, A8_RING_BLOB);
		}
	}
}

static uint64_t connect_digest(const void *sa, socklen_t len)
{
	struct a8_call c = CALL3(SYS_connect, 5, sa, len);

	return digest(&c);
}

static void test_sockaddr(void)
{
	struct sockaddr_in a, b, port, host;
	struct sockaddr_un u1, u2, u3, abs1, abs2;
	uint64_t da;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(8080);
	a.sin_addr.s_addr = htonl(0x7f000001);
	b = a;
	memset(b.sin_zero, 0xa5, sizeof(b.sin_zero));	/* uninitialized stack in a program */
	port = a;
	port.sin_port = htons(8081);
	host = a;
	host.sin_addr.s_addr = htonl(0x7f000002);
	da = connect_digest(&a, sizeof(a));
	CHECK_EQ(connect_digest(&b, sizeof(b)), da);
	CHECK(connect_digest(&port, sizeof(port)) != da);
	CHECK(connect_digest(&host, sizeof(host)) != da);

	memset(&u1, 0, sizeof(u1));
	u1.sun_family = AF_UNIX;
	strcpy(u1.sun_path, "/run/a8.sock");
	memset(&u2, 0x77, sizeof(u2));		/* garbage after the path's NUL */
	u2.sun_family = AF_UNIX;
	strcpy(u2.sun_path, "/run/a8.sock");
	u3 = u1;
	u3.sun_path[5] = 'b';
	CHECK_EQ(connect_digest(&u2, sizeof(u2)), connect_digest(&u1, sizeof(u1)));
	/* The same with a SUN_LEN-style length (the length argument itself is compared). */
	CHECK_EQ(connect_digest(&u1, offsetof(struct sockaddr_un, sun_path) + 13),
		 connect_digest(&u2, offsetof(struct sockaddr_un, sun_path) + 13));
	CHECK(connect_digest(&u3, sizeof(u3)) != connect_digest(&u1, sizeof(u1)));

	/* Abstract names use their whole length. */
	memset(&abs1, 0, sizeof(abs1));
	abs1.sun_family = AF_UNIX;
	memcpy(abs1.sun_path, "\0abc", 4);
	abs2 = abs1;
	abs2.sun_path[3] = 'd';
	CHECK(connect_digest(&abs1, offsetof(struct sockaddr_un, sun_path) + 4) !=
	      connect_digest(&abs2, offsetof(struct sockaddr_un, sun_path) + 4));
	CHECK(connect_digest(&abs1, offsetof(struct sockaddr_un, sun_path) + 4) !=
	      connect_digest(&u1, sizeof(u1)));
	/* NULL address and a present one differ. */
	CHECK(connect_digest(NULL, 0) != connect_digest(&a, 0));
}

static void test_epoll_ctl(void)
{
	struct epoll_event e1 = { .events = EPOLLIN }, e2 = e1, e3 = e1;
	uint64_t d1;

	e1.data.u64 = 0x00007f0012345678ULL;	/* a pointer on one variant */
	e2.data.u64 = 0x000055aa87654321ULL;	/* another on the next */
	e3.data.u64 = e1.data.u64;
	e3.events = EPOLLIN | EPOLLOUT;
	{
		struct a8_call c1 = CALL4(SYS_epoll_ctl, 4, EPOLL_CTL_ADD, 7, &e1);
		struct a8_call c2 = CALL4(SYS_epoll_ctl, 4, EPOLL_CTL_ADD, 7, &e2);
		struct a8_call c3 = CALL4(SYS_epoll_ctl, 4, EPOLL_CTL_ADD, 7, &e3);
		struct a8_call c4 = CALL4(SYS_epoll_ctl, 4, EPOLL_CTL_ADD, 8, &e1);
		struct a8_call c5 = CALL4(SYS_epoll_ctl, 4, EPOLL_CTL_MOD, 7, &e1);

		d1 = digest(&c1);
		CHECK_EQ(digest(&c2), d1);
		CHECK(digest(&c3) != d1);
		CHECK(digest(&c4) != d1);
		CHECK(digest(&c5) != d1);
	}
}

/* Run the leader's side of c into a fresh record; return the finished record. */
static const struct a8_rec_hdr *leader_record(const struct a8_call *c)
{
	struct a8_rec_hdr *h;

	a8_link_reset();
	h = a8_rec_begin(A8_REC_CALL, c->ci->cid, 1);
	h->ret = c->ret;
	a8_put_outputs(c);
	a8_rec_end(h);
	return a8_rec_current();
}

static void test_read_roundtrip(void)
{
	uint8_t src[16] = "hello, world....", dst[16];
	struct a8_call lead = CALL3(SYS_read, 3, src, sizeof(src));
	struct a8_call follow = CALL3(SYS_read, 3, dst, sizeof(dst));
	const struct a8_rec_hdr *h;
	struct a8_sec_reader r;
	const uint8_t *d;
	uint32_t tag, n;
	unsigned i;
	int ok = 1;

	lead.ret = 5;
	h = leader_record(&lead);
	CHECK_EQ(h->len, sizeof(*h) + 8 + 8);	/* one section of 5 bytes, padded to 8 */
	CHECK_EQ(h->len % 8, 0);
	a8_sec_begin(&r, h);
	CHECK(a8_sec_next(&r, &tag, &d, &n) == 1 && tag == A8_SEC_OUT && n == 5 &&
	      !memcmp(d, "hello", 5));
	CHECK(a8_sec_next(&r, &tag, &d, &n) == 0);

	memset(dst, 0xee, sizeof(dst));
	a8_sec_begin(&r, h);
	CHECK(a8_apply_outputs(&follow, &r) == NULL);
	CHECK(!memcmp(dst, "hello", 5));
	for (i = 5; i < sizeof(dst); i++)
		ok &= dst[i] == 0xee;		/* only the result's bytes are written */
	CHECK(ok);
	CHECK(a8_sec_next(&r, &tag, &d, &n) == 0);	/* the apply used exactly its section */

	/* A failed read carries no bytes: the follower's buffer stays as it was. */
	lead.ret = -EAGAIN;
	h = leader_record(&lead);
	a8_sec_begin(&r, h);
	CHECK(a8_sec_next(&r, &tag, &d, &n) == 1 && tag == A8_SEC_ABSENT && n == 0);
	memset(dst, 0xee, sizeof(dst));
	a8_sec_begin(&r, h);
	CHECK(a8_apply_outputs(&follow, &r) == NULL);
	CHECK(dst[0] == 0xee && dst[15] == 0xee);

	/* A result larger than the buffer (cannot happen for read, can for recv with
	 * MSG_TRUNC): only the buffer's bytes travel. */
	lead.ret = 100;
	h = leader_record(&lead);
	a8_sec_begin(&r, h);
	CHECK(a8_sec_next(&r, &tag, &d, &n) == 1 && n == sizeof(src));
}

static void test_refused(void)
{
	uint8_t src[64], mem[16];
	struct a8_call lead = CALL3(SYS_read, 3, src, sizeof(src));
	struct a8_call small = CALL3(SYS_read, 3, mem, 4);
	struct a8_call nobuf = CALL3(SYS_read, 3, NULL, 64);
	const struct a8_rec_hdr *h;
	struct a8_sec_reader r;
	const char *why;
	unsigned i;
	int ok = 1;

	memset(src, 'L', sizeof(src));
	lead.ret = 10;
	h = leader_record(&lead);
	memset(mem, 0xee, sizeof(mem));
	a8_sec_begin(&r, h);
	why = a8_apply_outputs(&small, &r);
	CHECK(why != NULL);
	CHECK(why && strstr(why, "larger") != NULL);
	for (i = 0; i < sizeof(mem); i++)
		ok &= mem[i] == 0xee;		/* nothing written, not even the first 4 */
	CHECK(ok);
	a8_sec_begin(&r, h);
	CHECK(a8_apply_outputs(&nobuf, &r) != NULL);

	/* A record without the output section, and one with another section in its place. */
	{
		struct a8_rec_hdr *e;
		int32_t nf[2] = { 9, 0 };
		uint8_t dst[64];
		struct a8_call follow = CALL3(SYS_read, 3, dst, sizeof(dst));

		a8_link_reset();
		e = a8_rec_begin(A8_REC_CALL, follow.ci->cid, 2);
		a8_rec_end(e);
		a8_sec_begin(&r, a8_rec_current());
		why = a8_apply_outputs(&follow, &r);
		CHECK(why && strstr(why, "missing"));

		a8_link_reset();
		e = a8_rec_begin(A8_REC_CALL, follow.ci->cid, 3);
		a8_sec_put(A8_SEC_NEWFD, nf, sizeof(nf));
		a8_rec_end(e);
		a8_sec_begin(&r, a8_rec_current());
		why = a8_apply_outputs(&follow, &r);
		CHECK(why && strstr(why, "unexpected"));
	}
}

/* readv: the leader's bytes land in the follower's iovecs however they are split. */
static void test_iov_roundtrip(void)
{
	char l1[3], l2[7], f1[5], f2[5], f3[4];
	struct iovec liov[2] = { { l1, sizeof(l1) }, { l2, sizeof(l2) } };
	struct iovec fiov[3] = { { f1, sizeof(f1) }, { f2, sizeof(f2) }, { f3, sizeof(f3) } };
	struct iovec tiny[1] = { { f1, 2 } };
	struct a8_call lead = CALL3(SYS_readv, 3, liov, 2);
	struct a8_call follow = CALL3(SYS_readv, 3, fiov, 3);
	struct a8_call small = CALL3(SYS_readv, 3, tiny, 1);
	const struct a8_rec_hdr *h;
	struct a8_sec_reader r;

	memcpy(l1, "abc", 3);
	memcpy(l2, "defghij", 7);
	lead.ret = 8;
	h = leader_record(&lead);
	memset(f1, '.', 5);
	memset(f2, '.', 5);
	memset(f3, '.', 4);
	a8_sec_begin(&r, h);
	CHECK(a8_apply_outputs(&follow, &r) == NULL);
	CHECK(!memcmp(f1, "abcde", 5));
	CHECK(!memcmp(f2, "fgh..", 5));
	CHECK(!memcmp(f3, "....", 4));
	a8_sec_begin(&r, h);
	CHECK(a8_apply_outputs(&small, &r) != NULL);
}

/* fstat: the struct goes through the canonical stat and comes back field for field. */
static void test_stat_roundtrip(void)
{
	struct stat ls, fs;
	struct a8_call lead = mkcall(SYS_fstat, 3, (long)&ls, 0, 0, 0, 0);
	struct a8_call follow = mkcall(SYS_fstat, 3, (long)&fs, 0, 0, 0, 0);
	struct a8_sec_reader r;

	memset(&ls, 0, sizeof(ls));
	ls.st_dev = 0x803;
	ls.st_ino = 123456789;
	ls.st_mode = S_IFREG | 0644;
	ls.st_nlink = 2;
	ls.st_uid = 1000;
	ls.st_gid = 100;
	ls.st_size = 1 << 20;
	ls.st_blksize = 4096;
	ls.st_blocks = 2048;
	ls.st_mtim.tv_sec = 1700000000;
	ls.st_mtim.tv_nsec = 123456789;
	lead.ret = 0;
	memset(&fs, 0xcc, sizeof(fs));
	a8_sec_begin(&r, leader_record(&lead));
	CHECK(a8_apply_outputs(&follow, &r) == NULL);
	CHECK(!memcmp(&fs, &ls, sizeof(fs)));
}

/*
 * accept with an address buffer smaller than the address: the kernel writes what fits and
 * sets *addrlen to the full length. The leader must not send (read) more than the program's
 * buffer: here bytes 4.. of mem are not the program's buffer.
 */
static void test_addr_truncated(void)
{
	uint8_t lmem[32], fmem[32];
	socklen_t llen = 4, flen = 4;
	struct a8_call lead = CALL3(SYS_accept, 3, lmem, &llen);
	struct a8_call follow = CALL3(SYS_accept, 3, fmem, &flen);
	const struct a8_rec_hdr *h;
	struct a8_sec_reader r;
	const uint8_t *d;
	uint32_t tag, n;
	unsigned i;
	int ok = 1;

	memset(lmem, 's', sizeof(lmem));		/* "secret": memory after the buffer */
	a8_note_capacities(&lead);		/* as the leader does before the call */
	memcpy(lmem, "\x02\x00\x1f\x90", 4);	/* AF_INET, port 8080: what fits */
	llen = sizeof(struct sockaddr_in);	/* the kernel's full length */
	lead.ret = 6;
	h = leader_record(&lead);
	a8_sec_begin(&r, h);
	CHECK(a8_sec_next(&r, &tag, &d, &n) == 1 && tag == A8_SEC_OUT);
	CHECK(n <= 4);				/* BUG if not: out_sized reads *addrlen bytes */

	memset(fmem, 0xee, sizeof(fmem));
	a8_sec_begin(&r, h);
	CHECK(a8_apply_outputs(&follow, &r) == NULL);
	CHECK(!memcmp(fmem, "\x02\x00\x1f\x90", 4));
	CHECK_EQ(flen, sizeof(struct sockaddr_in));	/* like the kernel: the full length */
	for (i = 4; i < sizeof(fmem); i++)
		ok &= fmem[i] == 0xee;
	CHECK(ok);
}

/* recvmsg with a name buffer smaller than the sender's address: same as above. */
static void test_msg_name_truncated(void)
{
	uint8_t lname[32], fname[32];
	char ldata[8] = "payload", fdata[8];
	struct iovec liov = { ldata, sizeof(ldata) }, fiov = { fdata, sizeof(fdata) };
	struct msghdr lm = { .msg_name = lname, .msg_namelen = 4, .msg_iov = &liov, .msg_iovlen = 1 };
	struct msghdr fm = { .msg_name = fname, .msg_namelen = 4, .msg_iov = &fiov, .msg_iovlen = 1 };
	struct a8_call lead = CALL3(SYS_recvmsg, 3, &lm, 0);
	struct a8_call follow = CALL3(SYS_recvmsg, 3, &fm, 0);
	struct a8_sec_reader r;
	const char *why;

	memset(lname, 's', sizeof(lname));
	a8_note_capacities(&lead);
	memcpy(lname, "\x0a\x00\x1f\x90", 4);	/* AF_INET6, port 8080: what fits */
	lm.msg_namelen = sizeof(struct sockaddr_in6);	/* the kernel's full length */
	lead.ret = 7;
	memset(fdata, 0, sizeof(fdata));
	a8_sec_begin(&r, leader_record(&lead));
	why = a8_apply_outputs(&follow, &r);
	if (why)
		fprintf(stderr, "recvmsg with a short name buffer: %s\n", why);
	/* The same program on both sides must replicate (BUG if not: out_msg sends
	 * msg_namelen bytes, the full length, and the follower refuses them). */
	CHECK(why == NULL && !memcmp(fdata, "payload", 7));
}

int main(void)
{
	unsigned i;

	for (i = 0; i < 16; i++)
		a8.key[i] = (uint8_t)(0xa0 + i);
	a8_table_init();

	test_open_alias();
	test_sockaddr();
	test_epoll_ctl();
	test_read_roundtrip();
	test_refused();
	test_iov_roundtrip();
	test_stat_roundtrip();
	test_addr_truncated();
	test_msg_name_truncated();
	return check_report();
}
