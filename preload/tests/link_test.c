// SPDX-License-Identifier: MIT
/*
 * The data-plane hello, against strangers: a leader monitor waiting for its follower gets a
 * connection that sends garbage, one whose hello was not made with the run's key, one from
 * another run, and one that says nothing and hangs up. Each is refused with a logged reason;
 * then the real follower connects and is accepted, and both sides learn the same fd base. And a
 * send to a peer that is gone fails without a SIGPIPE (the monitor would take it for the
 * program's).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "a8/monitor.h"
#include "check.h"
#include "exchange/link.h"
#include "exchange/wire.h"

static int refusals;
static char last_refusal[256];

/* The real a8_log writes to the agent; here it counts the refusals link.c logs. */
void a8_log(enum a8_loglevel level, long nr, const char *fmt, ...)
{
	va_list ap;

	(void)level;
	(void)nr;
	va_start(ap, fmt);
	vsnprintf(last_refusal, sizeof(last_refusal), fmt, ap);
	va_end(ap);
	if (strstr(last_refusal, "data connection refused"))
		refusals++;
}

static void setup_state(void)
{
	memset(&a8, 0, sizeof(a8));
	a8.role = A8_ROLE_LEADER;
	a8.nfollowers = 1;
	a8.variant_id = 1;
	a8.vpid = 4242;
	a8.vppid = 4241;
	strcpy(a8.stream, "0");
	memset(a8.run_id, 0x11, sizeof(a8.run_id));
	memset(a8.key, 0x22, sizeof(a8.key));
}

static int dial(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		_exit(10);
	return fd;
}

static void send_and_close(uint16_t port, const void *p, size_t n)
{
	int fd = dial(port);

	if (n && write(fd, p, n) != (ssize_t)n)
		_exit(11);
	usleep(50000);
	close(fd);
}

/* A hello that looks right but whose run id, or key, is not this run's. */
static void forged_hello(uint16_t port, bool other_run)
{
	struct { struct a8_rec_hdr h; struct a8_hello hello; } m;

	memset(&m, 0, sizeof(m));
	m.h.len = sizeof(m);
	m.h.type = A8_REC_HELLO;
	memcpy(m.hello.run_id, a8.run_id, 16);
	strcpy(m.hello.stream, "0");
	m.hello.variant_id = 2;
	m.hello.wire_version = A8_WIRE_VERSION;
	if (other_run)
		m.hello.run_id[0] ^= 1;
	m.hello.mac = 0x0123456789abcdefULL;	/* not made with the key */
	send_and_close(port, &m, sizeof(m));
}

static void stranger_then_follower(uint16_t port)
{
	static const char junk[] = "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n";

	send_and_close(port, junk, sizeof(junk));
	forged_hello(port, false);
	forged_hello(port, true);
	send_and_close(port, NULL, 0);
	a8.role = A8_ROLE_FOLLOWER;
	a8.variant_id = 2;
	_exit(a8_link_connect_leader(htonl(INADDR_LOOPBACK), port, 5000) ? 12 :
	      a8.vpid == 4242 && a8.vppid == 4241 ? 0 : 13);
}

static void test_send_to_gone_peer(void)
{
	int sv[2];

	signal(SIGPIPE, SIG_DFL);	/* as a program that never set it: it would kill us */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	a8.peers[0].fd = sv[0];
	CHECK(a8_link_send_now(0, "x", 1) < 0);
	close(sv[0]);
}

int main(void)
{
	uint16_t port;
	int lfd, status;
	pid_t pid;

	setup_state();
	lfd = a8_link_listen(htonl(INADDR_LOOPBACK), &port);
	CHECK(lfd >= 0);
	pid = fork();
	if (pid == 0)
		stranger_then_follower(port);
	CHECK_EQ(a8_link_accept_followers(lfd, 10000), 0);
	CHECK_EQ(a8.npeers, 1);
	CHECK_EQ(a8.peers[0].id, 2);
	CHECK_EQ(refusals, 4);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	test_send_to_gone_peer();
	return check_report();
}
