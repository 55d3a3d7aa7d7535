/*
 * epoll: epoll_create1, epoll_ctl add/mod/del, epoll_wait and epoll_pwait with timeouts, on
 * pipes and sockets: level and edge triggering, EPOLLOUT, EPOLLRDHUP, a wake-up by a forked
 * child, and the ctl errors.
 */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec ts;
	SYS(clock_gettime(CLOCK_MONOTONIC, &ts));
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void ctl(int ep, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };
	SYS(epoll_ctl(ep, op, fd, &ev));
}

/* Waits and prints the events as "tag:flags" sorted by tag. */
static int wait_print(int ep, int timeout, const char *label)
{
	struct epoll_event evs[8];
	int n;
	do n = epoll_wait(ep, evs, 8, timeout);
	while (n < 0 && errno == EINTR);
	if (n < 0) FAIL("epoll_wait");
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && evs[j - 1].data.u64 > evs[j].data.u64; j--) {
			struct epoll_event t = evs[j];
			evs[j] = evs[j - 1];
			evs[j - 1] = t;
		}
	printf("%s: %d event%s", label, n, n == 1 ? "" : "s");
	for (int i = 0; i < n; i++) {
		uint32_t e = evs[i].events;
		printf(" [tag %llu%s%s%s%s%s]", (unsigned long long)evs[i].data.u64,
		       e & EPOLLIN ? " IN" : "", e & EPOLLOUT ? " OUT" : "", e & EPOLLHUP ? " HUP" : "",
		       e & EPOLLRDHUP ? " RDHUP" : "", e & EPOLLERR ? " ERR" : "");
	}
	printf("\n");
	return n;
}

int main(void)
{
	scenario_init();
	int ep = SYS(epoll_create1(EPOLL_CLOEXEC));
	printf("epoll_create1 EPOLL_CLOEXEC: %s\n", yesno(SYS(fcntl(ep, F_GETFD)) & FD_CLOEXEC));
	int p[2];
	char buf[64];
	SYS(pipe2(p, O_NONBLOCK));
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1);
	long t0 = now_ms();
	wait_print(ep, 50, "empty pipe, 50 ms timeout");
	printf("timeout lasted at least 40 ms: %s\n", yesno(now_ms() - t0 >= 40));
	wait_print(ep, 0, "empty pipe, timeout 0");

	write_full(p[1], "xy", 2);
	wait_print(ep, 1000, "after write");
	wait_print(ep, 0, "level-triggered, data still there");
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 2);
	wait_print(ep, 0, "after MOD to edge-triggered");
	wait_print(ep, 0, "edge-triggered, no new data");
	write_full(p[1], "z", 1);
	wait_print(ep, 0, "edge-triggered, new data");
	printf("read: %ld bytes\n", (long)SYS(read(p[0], buf, sizeof buf)));

	ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 3);
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 2);
	wait_print(ep, 0, "write end added for EPOLLOUT");
	ctl(ep, EPOLL_CTL_DEL, p[1], 0, 0);
	wait_print(ep, 0, "write end deleted");
	struct epoll_event ev = { .events = EPOLLIN };
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], &ev), ENOENT);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT);
	printf("ctl errors: ADD twice EEXIST, DEL/MOD unregistered ENOENT\n");
	close(p[1]);
	wait_print(ep, 0, "writer closed");
	ctl(ep, EPOLL_CTL_DEL, p[0], 0, 0);
	close(p[0]);

	int sv[2];
	SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	ctl(ep, EPOLL_CTL_ADD, sv[0], EPOLLIN | EPOLLRDHUP, 10);
	ctl(ep, EPOLL_CTL_ADD, sv[1], EPOLLIN | EPOLLOUT, 11);
	wait_print(ep, 0, "socket pair");
	SYS(send(sv[1], "hi", 2, 0));
	wait_print(ep, 0, "after send from 11");
	SYS(recv(sv[0], buf, sizeof buf, 0));
	SYS(shutdown(sv[1], SHUT_WR));
	wait_print(ep, 0, "after shutdown of 11's write side");
	close(sv[0]);
	close(sv[1]);

	/* A child writes after a delay; epoll_pwait (with a signal mask) sleeps until then. */
	SYS(pipe(p));
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 20);
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		struct timespec d = { 0, 100 * 1000 * 1000 };
		nanosleep(&d, NULL);
		write_full(p[1], "late", 4);
		_exit(0);
	}
	close(p[1]);
	sigset_t mask;
	sigemptyset(&mask);
	struct epoll_event evs[4];
	t0 = now_ms();
	int n;
	do n = epoll_pwait(ep, evs, 4, 5000, &mask);
	while (n < 0 && errno == EINTR);
	if (n < 0) FAIL("epoll_pwait");
	printf("epoll_pwait woken by child: %d event, tag %llu, waited >= 80 ms: %s\n", n,
	       (unsigned long long)evs[0].data.u64, yesno(now_ms() - t0 >= 80));
	printf("child exit status: %d\n", wait_exit(pid));
	ssize_t r = SYS(read(p[0], buf, sizeof buf));
	printf("read from child: \"%.*s\"\n", (int)r, buf);
	wait_print(ep, 1000, "child's end closed");
	close(p[0]);
	close(ep);
	printf("epoll: done\n");
	return 0;
}
