/*
 * child_stdout: a child prints line after line to the variant's stdout, pausing between them
 * (a wait for nothing, where checkpoints are taken), while its parent polls for its end. With
 * the criu engine a rollback restores the child as it was at the dump, and the child goes on
 * from there without a replay: each line it printed since must not be printed again.
 */
#include "common.h"
#include <poll.h>

#define LINES 150

int main(void)
{
	scenario_init();
	setvbuf(stdout, NULL, _IONBF, 0);	/* one write per line, as it happens */
	pid_t kid = SYS(fork());
	if (kid == 0) {
		for (int i = 0; i < LINES; i++) {
			printf("child line %d\n", i);
			poll(NULL, 0, 4);
		}
		_exit(0);
	}
	int st = 0;
	while (SYS(waitpid(kid, &st, WNOHANG)) == 0)
		poll(NULL, 0, 20);
	printf("parent: the child exited with %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	printf("child_stdout: done\n");
	return 0;
}
