/*
 * pipes: pipe/pipe2, data across a pipe within one process and from a forked child, EOF when
 * the last writer closes, O_NONBLOCK (EAGAIN on empty and on full), EPIPE with no reader.
 */
#include "common.h"
#include <fcntl.h>
#include <signal.h>

int main(void)
{
	scenario_init();
	int p[2];
	char buf[4096];

	SYS(pipe(p));
	write_full(p[1], "abc", 3);
	ssize_t n = SYS(read(p[0], buf, sizeof buf));
	printf("pipe round trip: %zd bytes \"%.*s\"\n", n, (int)n, buf);
	close(p[1]);
	printf("read after writer closed: %ld (EOF)\n", (long)SYS(read(p[0], buf, sizeof buf)));
	close(p[0]);

	SYS(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	printf("pipe2 O_CLOEXEC: %s, O_NONBLOCK: %s\n",
	       yesno(SYS(fcntl(p[0], F_GETFD)) & FD_CLOEXEC),
	       yesno(SYS(fcntl(p[1], F_GETFL)) & O_NONBLOCK));
	EXPECT_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	printf("nonblocking read on empty pipe: EAGAIN\n");
	long cap = SYS(fcntl(p[1], F_GETPIPE_SZ));
	long filled = 0;
	memset(buf, 'z', sizeof buf);
	for (;;) {
		ssize_t w = write(p[1], buf, sizeof buf);
		if (w < 0 && errno == EAGAIN) break;
		if (w <= 0) FAIL("write to nonblocking pipe");
		filled += w;
	}
	printf("nonblocking writes until EAGAIN fill the pipe's capacity: %s\n", yesno(filled == cap));
	long drained = 0;
	for (;;) {
		ssize_t r = read(p[0], buf, sizeof buf);
		if (r < 0 && errno == EAGAIN) break;
		if (r <= 0) FAIL("read from nonblocking pipe");
		drained += r;
	}
	printf("drained what was written: %s\n", yesno(drained == filled));
	close(p[0]);
	close(p[1]);

	/* A child writes numbered lines in several writes; the parent reads to EOF. */
	SYS(pipe(p));
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		close(p[0]);
		for (int i = 0; i < 50; i++) {
			char line[64];
			int len = snprintf(line, sizeof line, "line %02d from the child\n", i);
			write_full(p[1], line, (size_t)len);
		}
		_exit(0);
	}
	close(p[1]);
	uint64_t h = FNV_INIT;
	long total = 0;
	int lines = 0;
	for (;;) {
		n = read(p[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) FAIL("read from child pipe");
		if (n == 0) break;
		h = fnv1a(h, buf, (size_t)n);
		for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
		total += n;
	}
	close(p[0]);
	printf("from child: %ld bytes, %d lines, fnv1a %016llx, then EOF\n", total, lines,
	       (unsigned long long)h);
	printf("child exit status: %d\n", wait_exit(pid));

	/* Parent writes, child reads and answers on a second pipe. */
	int up[2], down[2];
	SYS(pipe(up));
	SYS(pipe(down));
	fflush(stdout);
	pid = SYS(fork());
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		char q[32];
		size_t got = read_full(down[0], q, 5);
		if (got != 5 || memcmp(q, "hello", 5)) _exit(3);
		write_full(up[1], "HELLO", 5);
		if (read(down[0], q, sizeof q) != 0) _exit(4);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	write_full(down[1], "hello", 5);
	n = (ssize_t)read_full(up[0], buf, 5);
	printf("child answered: \"%.*s\"\n", (int)n, buf);
	close(down[1]);
	printf("child saw EOF and exited: %d\n", wait_exit(pid));
	close(up[0]);

	signal(SIGPIPE, SIG_IGN);
	SYS(pipe(p));
	close(p[0]);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	printf("write with no reader: EPIPE\n");
	close(p[1]);
	printf("pipes: done\n");
	return 0;
}
