/*
 * unknown_call: makes a system call that a8's call table does not have (kcmp). Natively it
 * just runs; under a8 the run must stop on every variant with a message naming the call.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int main(void)
{
	printf("before kcmp\n");
	fflush(stdout);
	syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0);
	printf("after kcmp\n");
	return 0;
}
