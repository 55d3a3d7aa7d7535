/*
 * A TCP client for the CRIU tests: `tcp_client PORT`.
 *
 * Becomes a session leader (so CRIU can dump it without --shell-job), connects to
 * 127.0.0.1:PORT and sends "<n>\n" for n = 1, 2, 3, ..., each after the server's one-byte
 * answer to the one before. n lives only in memory, and the connection is the one opened at
 * start: a server that sees the numbers go on without a gap after a dump and restore has seen
 * both the memory and the established connection restored. Exits EXIT_DONE when the server
 * closes the connection, 1 on any error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXIT_DONE 42
#define TICK_NS (10 * 1000 * 1000)
#define MAX_TICKS 6000

static void __attribute__((noreturn)) die(const char *what)
{
	perror(what);
	exit(1);
}

static int connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

static void send_count(int fd, unsigned long n)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "%lu\n", n);

	if (len < 0 || len >= (int)sizeof(line))
		die("snprintf");
	if (send(fd, line, len, MSG_NOSIGNAL) != len)
		die("send");
}

/* The server's answer: 1 when it acknowledged, 0 when it closed the connection. */
static int read_ack(int fd)
{
	char c;
	ssize_t r;

	do
		r = recv(fd, &c, 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("recv");
	return r == 1;
}

static void tick_sleep(void)
{
	struct timespec ts = { 0, TICK_NS };

	/* A dump or restore may interrupt the sleep; a short tick does no harm. */
	if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
		die("nanosleep");
}

int main(int argc, char **argv)
{
	unsigned long n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 64;
	}
	/* setsid(1) may have made it a session leader already. */
	if (getsid(0) != getpid() && setsid() < 0)
		die("setsid");
	fd = connect_to(atoi(argv[1]));
	for (n = 1; n <= MAX_TICKS; n++) {
		send_count(fd, n);
		if (!read_ack(fd))
			return EXIT_DONE;
		tick_sleep();
	}
	fprintf(stderr, "no close from the server after %d counts\n", MAX_TICKS);
	return 1;
}
