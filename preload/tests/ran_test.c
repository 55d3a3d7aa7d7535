// SPDX-License-Identifier: MIT
/*
 * A follower's own outputs across a rollback (ckpt/redo.c with ckpt/retire.c), with real
 * processes: the test is the agent; a "live" follower is stopped in the middle of an output
 * of its own (made, not noted); its "copy" resumes, lets it note the output, and is the live
 * follower from then on: its own outputs must not stop it (the settle retired the dead
 * process's mark, and the copy shares it).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "canon/table.h"
#include "check.h"
#include "ckpt/ckpt.h"

struct a8_ckpt_conf a8_ckpt = { .engine = A8_CKPT_FORK };

/* What redo.c and retire.c ask of the rest of the monitor. */
bool a8_ckpt_enabled(void) { return true; }
bool a8_replaying(void) { return false; }
bool a8_log_active(void) { return false; }
struct a8_live_mark *a8_log_mark(void) { return NULL; }

void *a8_ckpt_shared_map(const char *what, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	(void)what;
	return p == MAP_FAILED ? NULL : p;
}

void *a8_mem_grow(void *p, size_t *cap, size_t n, size_t size)
{
	(void)p;
	(void)cap;
	(void)n;
	(void)size;
	abort();	/* collect() only, not called here */
}

uint64_t a8_ckpt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct a8_call write_call(void)
{
	return (struct a8_call){ .ci = a8_call_row(A8_CID_write) };
}

static void live(void)
{
	struct a8_call c = write_call();
	bool marked = a8_ran_begin(&c, 5);

	raise(SIGSTOP);	/* the rollback stops it here: output made, not noted */
	a8_replay_ran(5, marked);
	_exit(0);
}

/* The copy: settles, then makes an output of its own; 0 if it ran through. */
static void copy(void)
{
	struct a8_call c = write_call();
	bool marked;

	a8_ran_settle();
	marked = a8_ran_begin(&c, 9);
	a8_replay_ran(9, marked);
	_exit(marked ? 0 : 1);
}

int main(void)
{
	pid_t lp, cp;
	int st = 0;

	a8_table_init();
	a8.role = A8_ROLE_FOLLOWER;
	a8_replay_ran_init();
	lp = fork();
	if (lp == 0)
		live();
	waitpid(lp, &st, WUNTRACED);
	CHECK(WIFSTOPPED(st));
	cp = fork();
	if (cp == 0)
		copy();
	alarm(10);
	/* Stopped (it took the retired mark for its own), or exited through. */
	CHECK_EQ(waitpid(cp, &st, WUNTRACED), cp);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (WIFSTOPPED(st))
		kill(cp, SIGKILL);
	kill(lp, SIGKILL);
	waitpid(lp, NULL, 0);
	waitpid(cp, NULL, 0);
	return check_report();
}
