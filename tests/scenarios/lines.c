/*
 * lines: the process prints line after line to the variant's stdout, pausing between them (a
 * wait for nothing, where checkpoints are taken). Under a8 with injected divergences each
 * rollback replays the lines printed since the checkpoint: none may be printed twice, whatever
 * the stdout is (a pipe, a terminal, a file: a file outside CRIU's image keeps its offset).
 */
#include "common.h"
#include <poll.h>

#define LINES 200

int main(void)
{
	scenario_init();
	setvbuf(stdout, NULL, _IONBF, 0);	/* one write per line, as it happens */
	for (int i = 0; i < LINES; i++) {
		printf("line %d\n", i);
		poll(NULL, 0, 3);
	}
	printf("lines: done\n");
	return 0;
}
