/*
 * poll: poll, ppoll, select and pselect on pipes: timeouts, readiness after a write, POLLHUP
 * after the writer closes, POLLNVAL on a closed fd, and a wake-up by a forked child.
 */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec ts;
	SYS(clock_gettime(CLOCK_MONOTONIC, &ts));
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *revents(short r)
{
	static char bufs[2][64];
	static int which;
	char *s = bufs[which ^= 1];
	snprintf(s, 64, "%s%s%s%s%s", r & POLLIN ? " IN" : "", r & POLLOUT ? " OUT" : "",
		 r & POLLHUP ? " HUP" : "", r & POLLNVAL ? " NVAL" : "", r & POLLERR ? " ERR" : "");
	return r ? s : " none";
}

/* Forks a child that writes `msg` to fd after `ms` milliseconds. */
static pid_t late_writer(int fd, int rfd, int ms, const char *msg)
{
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		close(rfd);
		struct timespec d = { 0, ms * 1000L * 1000L };
		nanosleep(&d, NULL);
		write_full(fd, msg, strlen(msg));
		_exit(0);
	}
	close(fd);
	return pid;
}

static void with_poll(void)
{
	int p[2];
	char buf[32];
	SYS(pipe(p));
	struct pollfd fds[2] = { { .fd = p[0], .events = POLLIN }, { .fd = p[1], .events = POLLOUT } };
	long t0 = now_ms();
	int n = SYS(poll(fds, 1, 50));
	printf("poll empty pipe, 50 ms: %d ready, lasted >= 40 ms: %s\n", n, yesno(now_ms() - t0 >= 40));
	n = SYS(poll(fds, 2, 0));
	printf("poll both ends: %d ready, read end%s, write end%s\n", n, revents(fds[0].revents),
	       revents(fds[1].revents));
	write_full(p[1], "data", 4);
	n = SYS(poll(fds, 2, 1000));
	printf("poll after write: %d ready, read end%s, write end%s\n", n, revents(fds[0].revents),
	       revents(fds[1].revents));
	SYS(read(p[0], buf, sizeof buf));
	close(p[1]);
	n = SYS(poll(fds, 1, 1000));
	printf("poll after writer closed: %d ready, read end%s\n", n, revents(fds[0].revents));
	close(p[0]);
	fds[0].fd = p[0];
	n = SYS(poll(fds, 1, 0));
	printf("poll on a closed fd: %d ready,%s\n", n, revents(fds[0].revents));
	fds[0].fd = -1;
	n = SYS(poll(fds, 1, 0));
	printf("poll on fd -1: %d ready,%s\n", n, revents(fds[0].revents));

	SYS(pipe(p));
	pid_t pid = late_writer(p[1], p[0], 100, "wake");
	fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	t0 = now_ms();
	do n = poll(fds, 1, -1);
	while (n < 0 && errno == EINTR);
	/* POLLHUP may or may not be there yet (the child exits right after writing). */
	printf("poll without timeout woken by child: %d ready, POLLIN %s, waited >= 80 ms: %s\n", n,
	       yesno(fds[0].revents & POLLIN), yesno(now_ms() - t0 >= 80));
	printf("child exit status: %d\n", wait_exit(pid));
	close(p[0]);
}

static void with_ppoll(void)
{
	int p[2];
	SYS(pipe(p));
	struct pollfd fd = { .fd = p[0], .events = POLLIN };
	struct timespec ts = { 0, 30 * 1000 * 1000 };
	sigset_t mask;
	sigemptyset(&mask);
	long t0 = now_ms();
	int n = SYS(ppoll(&fd, 1, &ts, &mask));
	printf("ppoll empty, 30 ms: %d ready, lasted >= 25 ms: %s\n", n, yesno(now_ms() - t0 >= 25));
	write_full(p[1], "x", 1);
	n = SYS(ppoll(&fd, 1, NULL, NULL));
	printf("ppoll after write: %d ready,%s\n", n, revents(fd.revents));
	close(p[0]);
	close(p[1]);
}

static void with_select(void)
{
	int p[2], q[2];
	char buf[32];
	SYS(pipe(p));
	SYS(pipe(q));
	int maxfd = (p[0] > q[0] ? p[0] : q[0]) + 1;
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	FD_SET(q[0], &rd);
	struct timeval tv = { 0, 40 * 1000 };
	long t0 = now_ms();
	int n = SYS(select(maxfd, &rd, NULL, NULL, &tv));
	printf("select two empty pipes, 40 ms: %d ready, lasted >= 30 ms: %s\n", n,
	       yesno(now_ms() - t0 >= 30));
	write_full(q[1], "q", 1);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	FD_SET(q[0], &rd);
	fd_set wr;
	FD_ZERO(&wr);
	FD_SET(p[1], &wr);
	tv = (struct timeval){ 1, 0 };
	n = SYS(select((maxfd > p[1] + 1 ? maxfd : p[1] + 1), &rd, &wr, NULL, &tv));
	printf("select after write to second: %d ready, first %s, second %s, first's write end %s\n",
	       n, yesno(FD_ISSET(p[0], &rd)), yesno(FD_ISSET(q[0], &rd)), yesno(FD_ISSET(p[1], &wr)));
	SYS(read(q[0], buf, sizeof buf));

	pid_t pid = late_writer(p[1], p[0], 100, "late");
	/* The late writer closed our copy of p[1]; p[0] stays ours. */
	sigset_t mask;
	sigemptyset(&mask);
	struct timespec ts = { 5, 0 };
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	t0 = now_ms();
	do n = pselect(maxfd, &rd, NULL, NULL, &ts, &mask);
	while (n < 0 && errno == EINTR);
	if (n < 0) FAIL("pselect");
	printf("pselect woken by child: %d ready, first %s, waited >= 80 ms: %s\n", n,
	       yesno(FD_ISSET(p[0], &rd)), yesno(now_ms() - t0 >= 80));
	ssize_t r = SYS(read(p[0], buf, sizeof buf));
	printf("read: \"%.*s\"\n", (int)r, buf);
	printf("child exit status: %d\n", wait_exit(pid));
	close(p[0]);
	close(q[0]);
	close(q[1]);
}

int main(void)
{
	scenario_init();
	with_poll();
	with_ppoll();
	with_select();
	printf("poll: done\n");
	return 0;
}
