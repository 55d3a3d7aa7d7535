/*
 * A TCP server for the CRIU driver tests: `tcp_server PORTFILE LOG [reuseport]`.
 *
 * Becomes a session leader (so CRIU can dump it without --shell-job), listens on 127.0.0.1 at a
 * port the kernel picks and writes that port to PORTFILE (through a rename, so a reader never
 * sees half a number). It serves any number of connections with poll(2): each other line a
 * client sends (the commands are below) is answered with "<n>\n", where n is one counter in memory shared by all connections
 * (1, 2, 3, ...). After a dump and a restore the counter must go on from its dumped value: a
 * counter that goes on from a later value means the restore brought back the wrong state.
 *
 * LOG gets one line per event, each with one write(2): "listen <port>", "accept <fd>",
 * "closed <fd> <how>" when a connection ends (how: "eof", "hup" or the errno's name, e.g. after
 * a restore with --tcp-close), "done" on a line starting with 'q' (quit), then exit EXIT_DONE.
 * A line starting with 'b' (busy) gets no answer: the server logs "busy", sleeps BUSY_MS
 * without accepting anything, so a client that connects meanwhile waits in the listening
 * socket's queue (what CRIU calls an in-flight connection), and logs "awake".
 * With "reuseport" its listening socket has SO_REUSEPORT, as a8's monitor sets it on a root's
 * listeners before a dump (a restore can then bind the port while the live socket is held).
 * Any failure exits 1 with an "error" line; 60 s without any event exits 1 too.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "say.h"

#define EXIT_DONE 42
#define MAX_CONNS 16
#define IDLE_MS 60000
#define BUSY_MS 1000

static void __attribute__((noreturn)) die(const char *what)
{
	say("error %s: %s\n", what, strerror(errno));
	exit(1);
}

static int listen_any(int reuseport)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, sizeof(reuseport)) < 0)
		die("setsockopt");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(fd, 16) < 0)
		die("listen");
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname");
	return ntohs(sa.sin_port);
}

static void write_port(const char *path, int port)
{
	char tmp[4096], text[16];
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || n >= (int)sizeof(tmp))
		die("port file name");
	n = snprintf(text, sizeof(text), "%d\n", port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open(port file)");
	if (write(fd, text, n) != n || close(fd) < 0)
		die("write(port file)");
	if (rename(tmp, path) < 0)
		die("rename(port file)");
}

struct conn {
	int fd;
	int at_line_start;
};

static struct conn conns[MAX_CONNS];
static int nconns;
static unsigned long counter;

static void drop(int i, const char *how)
{
	say("closed %d %s\n", conns[i].fd, how);
	close(conns[i].fd);
	conns[i] = conns[--nconns];
}

static void reply(int fd)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "%lu\n", ++counter);

	if (len < 0 || len >= (int)sizeof(line))
		die("snprintf");
	/* Replies are tiny: a full send buffer would be the client's fault; treat it as gone. */
	if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) != len)
		say("short send %d: %s\n", fd, strerror(errno));
}

static void busy(void)
{
	struct timespec left = { BUSY_MS / 1000, (BUSY_MS % 1000) * 1000000L };

	say("busy\n");
	/* A dump or restore interrupts the sleep: sleep what is left. */
	while (nanosleep(&left, &left) < 0)
		if (errno != EINTR)
			die("nanosleep");
	say("awake\n");
}

/* Serves connection i's readable data; returns 0 when it ended (and was dropped). */
static int serve(int i)
{
	char buf[512];
	ssize_t r, k;

	do
		r = recv(conns[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		drop(i, "eof");
		return 0;
	}
	if (r < 0) {
		if (errno == EAGAIN)
			return 1;
		drop(i, strerrorname_np(errno) ? strerrorname_np(errno) : "error");
		return 0;
	}
	for (k = 0; k < r; k++) {
		if (conns[i].at_line_start && buf[k] == 'q') {
			say("done\n");
			exit(EXIT_DONE);
		}
		if (conns[i].at_line_start && buf[k] == 'b')
			busy();
		else if (conns[i].at_line_start && buf[k] != '\n')
			reply(conns[i].fd);
		conns[i].at_line_start = buf[k] == '\n';
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_CONNS + 1];
	int lfd, i, n;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "reuseport"))) {
		fprintf(stderr, "usage: %s PORTFILE LOG [reuseport]\n", argv[0]);
		return 64;
	}
	log_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		perror(argv[2]);
		return 1;
	}
	/* setsid(1) may have made it a session leader already. */
	if (getsid(0) != getpid() && setsid() < 0)
		die("setsid");
	lfd = listen_any(argc == 4);
	say("listen %d\n", port_of(lfd));
	write_port(argv[1], port_of(lfd));
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (i = 0; i < nconns; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		n = poll(pfd, nconns + 1, IDLE_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("poll");
		if (n == 0) {
			say("error idle for %d ms\n", IDLE_MS);
			return 1;
		}
		/* Connections first, from the end, so that dropping one moves only served ones. */
		for (i = nconns - 1; i >= 0; i--) {
			short ev = pfd[i + 1].revents;

			if (ev & POLLIN)
				serve(i);
			else if (ev & (POLLHUP | POLLERR | POLLNVAL))
				drop(i, ev & POLLNVAL ? "nval" : "hup");
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0) {
				if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
					die("accept");
			} else if (nconns == MAX_CONNS) {
				say("closed %d full\n", fd);
				close(fd);
			} else {
				conns[nconns++] = (struct conn){ .fd = fd, .at_line_start = 1 };
				say("accept %d\n", fd);
			}
		} else if (pfd[0].revents) {
			errno = 0;
			die("listening socket");
		}
	}
}
