// SPDX-License-Identifier: MIT
/*
 * Pipes of a criu tree after a rollback (ckpt/pipes.c), on a real pipe and a real unix
 * socketpair: the bytes a replayed read, readv, recvfrom or recvmsg took from the log are a
 * debt, dropped from the front of the next reads of that pipe, whichever call makes them and
 * however their buffers are cut; a replayed read of a message that passed fds owes nothing; a
 * read that gets only owed bytes runs again, a recvmsg with the buffer lengths the program gave;
 * a peek neither owes nor pays; a replayed write is written again.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "a8/monitor.h"
#include "canon/table.h"
#include "check.h"
#include "ckpt/ckpt.h"

struct a8_ckpt_conf a8_ckpt = { .engine = A8_CKPT_CRIU };

/* What pipes.c asks of the rest of the monitor: every fd here was in the dump, none is stdio. */
bool a8_ckpt_made_since(int fd) { (void)fd; return false; }
bool a8_redo_own_stdio(int fd) { (void)fd; return false; }

static struct a8_call call(unsigned cid, long fd, void *buf, long len, long ret)
{
	struct a8_call c = { .ci = a8_call_row(cid) };

	c.a[0] = fd;
	c.a[1] = (long)buf;
	c.a[2] = len;
	c.ret = ret;
	return c;
}

/* The replay read n bytes of fd from the log: the pipe has them again. */
static void replayed_read(unsigned cid, int fd, long n)
{
	char buf[64];
	struct a8_call c = call(cid, fd, buf, sizeof(buf), n);

	a8_pipe_replayed(&c, n);
}

/* A readv into pieces of 2 and 6 bytes after the replay read 5: what the program gets. */
static void test_readv_across_pieces(int rd, int wr)
{
	char a[2], b[6], got[9] = "";
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct a8_call c = call(A8_CID_readv, rd, iov, 2, 0);

	replayed_read(A8_CID_readv, rd, 5);
	CHECK_EQ(write(wr, "12345abc", 8), 8);
	c.ret = readv(rd, iov, 2);
	CHECK_EQ(c.ret, 8);
	CHECK(!a8_pipe_trim(&c));
	CHECK_EQ(c.ret, 3);
	memcpy(got, a, 2);
	got[2] = b[0];
	CHECK(!memcmp(got, "abc", 3));
}

/* A debt larger than what came: the read gets nothing yet and runs again. */
static void test_read_all_owed(int rd, int wr)
{
	char buf[16];
	struct a8_call c = call(A8_CID_read, rd, buf, sizeof(buf), 0);

	replayed_read(A8_CID_read, rd, 6);
	CHECK_EQ(write(wr, "wxyz", 4), 4);
	c.ret = read(rd, buf, sizeof(buf));
	CHECK(a8_pipe_trim(&c));	/* all 4 owed: run it again */
	CHECK_EQ(c.ret, 0);
	CHECK_EQ(write(wr, "uvOK", 4), 4);
	c.ret = read(rd, buf, sizeof(buf));
	CHECK(!a8_pipe_trim(&c));
	CHECK_EQ(c.ret, 2);
	CHECK(!memcmp(buf, "OK", 2));
}

/* recvmsg on a socketpair (nginx's channel): the debt is the replayed recvmsg's bytes. */
static void test_recvmsg(int s0, int s1)
{
	char buf[32];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct a8_call c = call(A8_CID_recvmsg, s0, &m, 0, 0);

	a8_pipe_replayed(&c, 3);
	CHECK_EQ(send(s1, "xyzHELLO", 8, 0), 8);
	c.ret = recvmsg(s0, &m, 0);
	CHECK(!a8_pipe_trim(&c));
	CHECK_EQ(c.ret, 5);
	CHECK(!memcmp(buf, "HELLO", 5));
}

/* A replayed recvmsg that took fds: its writer does not send that message again. */
static void test_fds_owe_nothing(int s0, int s1)
{
	char buf[32], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	struct a8_call c = call(A8_CID_recvmsg, s0, &m, 0, 0);

	a8_pipe_replayed(&c, 4);
	m.msg_control = NULL;
	m.msg_controllen = 0;
	CHECK_EQ(send(s1, "next", 4, 0), 4);
	c.ret = recvmsg(s0, &m, 0);
	CHECK(!a8_pipe_trim(&c));
	CHECK_EQ(c.ret, 4);
	CHECK(!memcmp(buf, "next", 4));
}

/* All owed: the recvmsg runs again with room for fds, as the program gave it. */
static void test_rerun_keeps_room(int s0, int s1)
{
	char buf[32], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct a8_call c = call(A8_CID_recvmsg, s0, &m, 0, 0);

	a8_pipe_replayed(&c, 4);
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	CHECK_EQ(send(s1, "ownd", 4, 0), 4);
	a8_pipe_read_begin(&c);
	c.ret = recvmsg(s0, &m, 0);
	CHECK_EQ(c.ret, 4);
	CHECK_EQ(m.msg_controllen, 0);	/* the kernel's: nothing came */
	CHECK(a8_pipe_trim(&c));
	CHECK_EQ(m.msg_controllen, sizeof(ctl));
}

/* MSG_PEEK leaves the bytes in the pipe: a peek makes no debt and pays none. */
static void test_peek(int s0, int s1)
{
	char buf[32];
	struct a8_call c = call(A8_CID_recvfrom, s0, buf, sizeof(buf), 0);

	c.a[3] = MSG_PEEK;
	a8_pipe_replayed(&c, 5);	/* a replayed peek: owes nothing */
	c.a[3] = 0;
	a8_pipe_replayed(&c, 3);
	CHECK_EQ(send(s1, "abcdef", 6, 0), 6);
	c.a[3] = MSG_PEEK;
	c.ret = recv(s0, buf, sizeof(buf), MSG_PEEK);
	CHECK(!a8_pipe_trim(&c));
	CHECK_EQ(c.ret, 6);
	c.a[3] = 0;
	c.ret = recv(s0, buf, sizeof(buf), 0);
	CHECK(!a8_pipe_trim(&c));
	CHECK_EQ(c.ret, 3);
	CHECK(!memcmp(buf, "def", 3));
}

/* A replayed write: the reader, back at the dump, gets its bytes again. */
static void test_write_again(int rd, int wr)
{
	char buf[16];
	struct a8_call c = call(A8_CID_write, wr, "again", 5, 5);

	a8_pipe_replay_write(&c, 5);
	CHECK_EQ(read(rd, buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "again", 5));
}

int main(void)
{
	int p[2], s[2];

	a8_table_init();
	a8.timeout_ms = 1000;
	CHECK(pipe(p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	test_readv_across_pieces(p[0], p[1]);
	test_read_all_owed(p[0], p[1]);
	test_recvmsg(s[0], s[1]);
	test_fds_owe_nothing(s[0], s[1]);
	test_rerun_keeps_room(s[0], s[1]);
	test_peek(s[0], s[1]);
	test_write_again(p[0], p[1]);
	return check_report();
}
