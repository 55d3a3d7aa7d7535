/*
 * socketpair: unix stream and datagram pairs: send/recv, sendmsg/recvmsg with several iovecs,
 * datagram boundaries and truncation, shutdown in each direction, and a forked echo peer.
 */
#include "common.h"
#include <ctype.h>
#include <sys/socket.h>
#include <sys/uio.h>

static void stream_pair(void)
{
	int sv[2];
	char buf[256];
	SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	EXPECT(SYS(send(sv[0], "ping", 4, 0)) == 4);
	ssize_t n = SYS(recv(sv[1], buf, sizeof buf, 0));
	printf("stream send/recv: \"%.*s\"\n", (int)n, buf);
	EXPECT(SYS(send(sv[1], "pong", 4, 0)) == 4);
	n = SYS(recv(sv[0], buf, sizeof buf, 0));
	printf("stream other way: \"%.*s\"\n", (int)n, buf);

	struct iovec out[3] = {
		{ .iov_base = "alpha-", .iov_len = 6 },
		{ .iov_base = "beta-", .iov_len = 5 },
		{ .iov_base = "gamma", .iov_len = 5 },
	};
	struct msghdr mh = { .msg_iov = out, .msg_iovlen = 3 };
	printf("sendmsg 3 iovecs: %ld bytes\n", (long)SYS(sendmsg(sv[0], &mh, 0)));
	char a[4], b[32];
	memset(b, 0, sizeof b);
	struct iovec in[2] = { { .iov_base = a, .iov_len = sizeof a }, { .iov_base = b, .iov_len = sizeof b } };
	struct msghdr rh = { .msg_iov = in, .msg_iovlen = 2 };
	n = SYS(recvmsg(sv[1], &rh, 0));
	printf("recvmsg 2 iovecs: %zd bytes, first \"%.4s\", second \"%.*s\"\n", n, a,
	       (int)(n - 4), b);

	EXPECT(SYS(send(sv[0], "peek", 4, 0)) == 4);
	n = SYS(recv(sv[1], buf, sizeof buf, MSG_PEEK));
	ssize_t n2 = SYS(recv(sv[1], buf + 100, sizeof buf - 100, MSG_DONTWAIT));
	printf("MSG_PEEK then recv see the same bytes: %s\n",
	       yesno(n == 4 && n2 == 4 && memcmp(buf, buf + 100, 4) == 0));
	EXPECT_ERR(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	printf("MSG_DONTWAIT on empty: EAGAIN\n");

	SYS(shutdown(sv[0], SHUT_WR));
	printf("recv after peer SHUT_WR: %ld\n", (long)SYS(recv(sv[1], buf, sizeof buf, 0)));
	EXPECT_ERR(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	printf("send after own SHUT_WR: EPIPE\n");
	EXPECT(SYS(send(sv[1], "still", 5, MSG_NOSIGNAL)) == 5);
	n = SYS(recv(sv[0], buf, sizeof buf, 0));
	printf("other direction still open: \"%.*s\"\n", (int)n, buf);
	close(sv[0]);
	close(sv[1]);
}

static void dgram_pair(void)
{
	int sv[2];
	char buf[256];
	SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	const char *msgs[] = { "one", "three33", "a-longer-fifth-message" };
	for (int i = 0; i < 3; i++) SYS(send(sv[0], msgs[i], strlen(msgs[i]), 0));
	printf("dgram sizes:");
	for (int i = 0; i < 3; i++) printf(" %ld", (long)SYS(recv(sv[1], buf, sizeof buf, 0)));
	printf("\n");

	SYS(send(sv[0], "0123456789", 10, 0));
	struct iovec iov = { .iov_base = buf, .iov_len = 4 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = SYS(recvmsg(sv[1], &mh, MSG_TRUNC));
	printf("dgram truncated: returned %zd, got \"%.4s\", MSG_TRUNC flag %s\n", n, buf,
	       yesno(mh.msg_flags & MSG_TRUNC));
	EXPECT_ERR(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	printf("rest of truncated dgram discarded: yes\n");

	struct iovec out[2] = { { .iov_base = "head:", .iov_len = 5 }, { .iov_base = "tail", .iov_len = 4 } };
	struct msghdr sh = { .msg_iov = out, .msg_iovlen = 2 };
	SYS(sendmsg(sv[1], &sh, 0));
	n = SYS(recv(sv[0], buf, sizeof buf, 0));
	printf("dgram sendmsg gathers into one datagram: \"%.*s\"\n", (int)n, buf);
	close(sv[0]);
	close(sv[1]);
}

/* A child upper-cases what it receives until EOF; the parent talks to it. */
static void echo_child(void)
{
	int sv[2];
	char buf[256];
	SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		close(sv[0]);
		for (;;) {
			ssize_t n = recv(sv[1], buf, sizeof buf, 0);
			if (n < 0 && errno == EINTR) continue;
			if (n < 0) _exit(2);
			if (n == 0) break;
			for (ssize_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
			write_full(sv[1], buf, (size_t)n);
		}
		_exit(0);
	}
	close(sv[1]);
	const char *words[] = { "first", "second", "third" };
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(words[i]);
		write_full(sv[0], words[i], len);
		size_t got = read_full(sv[0], buf, len);
		printf("child echoed: \"%.*s\"\n", (int)got, buf);
	}
	SYS(shutdown(sv[0], SHUT_WR));
	printf("after shutdown, child closes: read %zu\n", read_full(sv[0], buf, sizeof buf));
	printf("echo child exit status: %d\n", wait_exit(pid));
	close(sv[0]);
}

int main(void)
{
	scenario_init();
	stream_pair();
	dgram_pair();
	echo_child();
	printf("socketpair: done\n");
	return 0;
}
