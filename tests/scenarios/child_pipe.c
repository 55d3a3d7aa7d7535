/*
 * child_pipe: a child prints line after line into a pipe on its fd 1 (as in a shell
 * pipeline), pausing between them, while its parent waits for the pipe with poll and counts
 * what it reads; after every tenth line the child waits for the parent's answer on a second
 * pipe. With the criu engine a rollback restores both processes with the pipes as they were
 * at the dump, and each replays its log, which reads nothing from a pipe and writes nothing to
 * one: each writes again what it wrote since, and drops as many bytes from its next reads as
 * its replay read. The parent must count each line once, and the child get each answer once.
 */
#include "common.h"
#include <poll.h>

#define LINES 150
#define EVERY 10

static void child(int out, int in)
{
	char ping[8];
	long got = 0, sum = 0;

	/* A first checkpoint while the child waits here: every rollback to it replays the dup2. */
	poll(NULL, 0, 150);
	SYS(dup2(out, 1));
	SYS(close(out));
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i <= LINES; i++) {
		printf("line %d\n", i);
		poll(NULL, 0, 4);
		if (i % EVERY)
			continue;
		if (SYS(read(in, ping, sizeof(ping))) != sizeof(ping))
			_exit(3);
		got++;
		sum += atol(ping + 4);
	}
	printf("child got %ld answers, sum %ld\n", got, sum);
	_exit(0);
}

int main(void)
{
	int up[2], down[2], st = 0;
	long lines = 0, sum = 0, answered = 0, n;
	char buf[4096], last[128] = "";
	size_t lastlen = 0;

	scenario_init();
	SYS(pipe(up));
	SYS(pipe(down));
	pid_t kid = SYS(fork());
	if (kid == 0) {
		close(up[0]);
		close(down[1]);
		child(up[1], down[0]);
	}
	SYS(close(up[1]));
	SYS(close(down[0]));
	for (;;) {
		struct pollfd pf = { .fd = up[0], .events = POLLIN };

		SYS(poll(&pf, 1, -1));
		n = SYS(read(up[0], buf, sizeof(buf)));
		if (n == 0)
			break;
		for (long i = 0; i < n; i++) {
			sum += (unsigned char)buf[i];
			if (lastlen < sizeof(last) - 1)
				last[lastlen++] = buf[i];
			if (buf[i] != '\n')
				continue;
			lines++;
			last[lastlen] = 0;
			lastlen = 0;
			if (lines % EVERY == 0 && lines <= LINES) {
				char ping[24];

				snprintf(ping, sizeof(ping), "ans%04ld", ++answered % 10000);
				SYS(write(down[1], ping, 8));
			}
		}
	}
	SYS(waitpid(kid, &st, 0));
	printf("read %ld lines from the child, byte sum %ld, its last: %s", lines, sum, last);
	printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	printf("child_pipe: done\n");
	return 0;
}
