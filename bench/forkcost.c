// SPDX-License-Identifier: MIT
/*
 * What this machine charges for the fork engine's two costs, printed as one JSON line:
 * the fork of a process with `pages` private pages touched (the copy of its page tables),
 * and a copy-on-write fault (the first write to each of those pages after the fork, in the
 * parent, as the live process does after each checkpoint). Medians of `rounds` rounds.
 * On a VM whose page faults go through the hypervisor the second is tens of microseconds,
 * and each checkpoint and rollback costs the pages written since times that.
 * Usage: forkcost [pages] [rounds]
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), by_value);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	long pages = argc > 1 ? atol(argv[1]) : 1024, page = sysconf(_SC_PAGESIZE);
	int rounds = argc > 2 ? atoi(argv[2]) : 7, r;
	double fork_us[64], fault_us[64];
	char *mem;

	if (pages < 1 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: forkcost [pages >= 1] [rounds 1..64]\n");
		return 2;
	}
	mem = mmap(NULL, (size_t)(pages * page), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(mem, 1, (size_t)(pages * page));
	for (r = 0; r < rounds; r++) {
		double t0 = now_us(), t1, t2;
		pid_t child = fork();
		long i;

		if (child < 0) {
			perror("fork");
			return 1;
		}
		if (child == 0) {
			pause();	/* holds the pages shared until killed */
			_exit(0);
		}
		t1 = now_us();
		for (i = 0; i < pages; i++)
			mem[i * page] = (char)r;
		t2 = now_us();
		fork_us[r] = t1 - t0;
		fault_us[r] = (t2 - t1) / (double)pages;
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	printf("{\"pages\":%ld,\"rounds\":%d,\"fork_us\":%.0f,\"cow_fault_us\":%.2f}\n", pages,
	       rounds, median(fork_us, rounds), median(fault_us, rounds));
	return 0;
}
