/*
 * child_pipe: a child prints line after line into a pipe on its fd 1 (as in a shell
 * pipeline), pausing between them, while its parent waits for the pipe with poll and counts
 * what it reads. With the criu engine a rollback restores both with the pipe as it was at the
 * dump: the child must write again what it wrote since (unlike lines to the variant's own
 * stdout, child_stdout), or the parent would miss them.
 */
#include "common.h"
#include <poll.h>

#define LINES 150

static void child(int wfd)
{
	SYS(dup2(wfd, 1));
	SYS(close(wfd));
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 0; i < LINES; i++) {
		printf("line %d\n", i);
		poll(NULL, 0, 4);
	}
	_exit(0);
}

int main(void)
{
	int p[2], st = 0;
	long lines = 0, sum = 0, n;
	char buf[4096];

	scenario_init();
	SYS(pipe(p));
	pid_t kid = SYS(fork());
	if (kid == 0) {
		close(p[0]);
		child(p[1]);
	}
	SYS(close(p[1]));
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };

		SYS(poll(&pf, 1, -1));
		n = SYS(read(p[0], buf, sizeof(buf)));
		if (n == 0)
			break;
		for (long i = 0; i < n; i++) {
			lines += buf[i] == '\n';
			sum += (unsigned char)buf[i];
		}
	}
	SYS(waitpid(kid, &st, 0));
	printf("read %ld lines from the child, byte sum %ld, child exit %d\n", lines, sum,
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	printf("child_pipe: done\n");
	return 0;
}
