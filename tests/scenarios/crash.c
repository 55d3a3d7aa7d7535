/*
 * crash: the variant whose environment has CRASH_HERE set dereferences a null pointer in the
 * middle of its work, as a variant hit by a memory-corruption attack would. The others go on.
 * Under a8 the crash is a divergence, whichever variant it hits.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

int main(void)
{
	char buf[16];
	int p[2];

	printf("before the crash\n");
	fflush(stdout);
	SYS(pipe(p));
	SYS(write(p[1], "x", 1));
	if (getenv("CRASH_HERE"))
		*(volatile int *)(uintptr_t)(buf[0] & 0) = 1;
	SYS(read(p[0], buf, 1));
	printf("after the crash point\n");
	printf("crash: done\n");
	return 0;
}
