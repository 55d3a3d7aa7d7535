// SPDX-License-Identifier: MIT
/*
 * A live process stopped in the middle of an output (ckpt/retire.c), with real processes: the
 * test is the agent, a forked "live" process marks an output and is stopped (SIGSTOP, as a
 * rollback stops it) before it logged the record; a forked "copy" resumes and must let it log
 * the record, find it stopped again, and not see it run any further. A live process that is
 * not in an output is left alone.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ckpt/ckpt.h"

/* What the live process did, in memory the test and both processes share. */
struct shared {
	struct a8_live_mark mark;
	struct a8_live_mark ran_mark;	/* a follower's, set and settled through the same calls */
	volatile int logged;	/* the record is in the log */
	volatile int ran_on;	/* the live process went on after its output */
	volatile int release;	/* the output in progress may complete */
	volatile int retired_before, retired_after;	/* a8_retired() before and after the stop */
};
static struct shared *sh;

/* What retire.c asks of the rest of the monitor. */
struct a8_live_mark *a8_log_mark(void) { return &sh->mark; }
bool a8_log_active(void) { return true; }
uint64_t a8_ckpt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void live(bool in_output)
{
	a8_live_here();
	sh->retired_before = a8_retired();
	if (in_output)
		a8_out_begin(42);
	raise(SIGSTOP);		/* the rollback stops it here: output made, record not logged */
	/* Woken by the copy's SIGCONT: a signal the program must not get (signals.c). */
	sh->retired_after = a8_retired();
	sh->logged = 1;
	if (in_output)
		a8_out_end();
	sh->ran_on = 1;
	_exit(0);
}

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p ? p[2] : 0;
}

static pid_t start_live(bool in_output)
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		live(in_output);
	waitpid(pid, &st, WUNTRACED);	/* stopped: the rollback's SIGSTOP */
	return pid;
}

/* The copy: settles, then reports what it found through its exit status. */
static void copy(pid_t live_pid, bool expect_logged, struct a8_live_mark *m)
{
	if (m)
		a8_mark_settle(m);
	else
		a8_live_settle();
	if (sh->logged != expect_logged)
		_exit(1);
	usleep(20000);	/* a live process let go would run on meanwhile */
	_exit(sh->ran_on ? 2 : state_of(live_pid) == 'T' ? 0 : 3);
}

static int exit_code(pid_t pid)
{
	int st;

	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int copy_settles(pid_t live_pid, bool expect_logged)
{
	pid_t pid = fork();

	if (pid == 0)
		copy(live_pid, expect_logged, NULL);
	return exit_code(pid);
}

static void finish(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_stopped_in_output(void)
{
	pid_t pid;

	sh->logged = sh->ran_on = 0;
	sh->retired_before = sh->retired_after = -1;
	pid = start_live(true);
	CHECK_EQ(sh->mark.out_seq, 42);
	CHECK_EQ(copy_settles(pid, true), 0);
	CHECK_EQ(sh->mark.out_seq, 0);
	CHECK_EQ(sh->retired_before, 0);
	CHECK_EQ(sh->retired_after, 1);
	finish(pid);
}

/*
 * Only the live process of a retired mark is retired: not the copy that resumes (it is the
 * live one now), nor a child the live process forked (it forgets its parent's marks).
 */
static void test_retired_is_the_live_one(void)
{
	pid_t pid;

	a8_live_here();
	CHECK(!a8_retired());
	sh->mark.retired = 1;	/* as a settle does before its SIGCONT */
	CHECK(a8_retired());
	pid = fork();
	if (pid == 0) {
		a8_marks_forget();
		_exit(a8_retired() ? 1 : 0);
	}
	CHECK_EQ(exit_code(pid), 0);
	pid = fork();
	if (pid == 0)
		_exit(a8_retired() ? 1 : 0);	/* not the mark's live pid */
	CHECK_EQ(exit_code(pid), 0);
	a8_live_here();	/* a copy resuming */
	CHECK(!a8_retired());
}

static void test_stopped_elsewhere(void)
{
	pid_t pid;

	sh->logged = sh->ran_on = 0;
	pid = start_live(false);
	CHECK_EQ(copy_settles(pid, false), 0);	/* not woken: nothing to log */
	finish(pid);
}

/* A follower's output, still going on (the process runs) when the rollback's stop is sent. */
static void live_in_output_running(void)
{
	a8_mark_here(&sh->ran_mark);	/* the live one, as it maps its mark */
	a8_mark_set(&sh->ran_mark, 7);
	while (!sh->release)
		;
	sh->logged = 1;
	a8_mark_clear(&sh->ran_mark);
	sh->ran_on = 1;
	_exit(0);
}

/*
 * The agent's SIGSTOP takes effect only when the process next leaves the kernel: a copy that
 * looks before then sees it running, and must wait for the stop rather than take it for a
 * process that is not in an output.
 */
static void test_stop_still_pending(void)
{
	pid_t pid, cp;

	sh->logged = sh->ran_on = sh->release = 0;
	a8_settle_ns = 5ull * 1000 * 1000 * 1000;	/* the usleep below may take long here */
	pid = fork();
	if (pid == 0)
		live_in_output_running();
	while (!__atomic_load_n(&sh->ran_mark.out_seq, __ATOMIC_SEQ_CST))
		sched_yield();
	CHECK_EQ(sh->ran_mark.live_pid, pid);
	cp = fork();
	if (cp == 0)
		copy(pid, true, &sh->ran_mark);
	usleep(1000);	/* the copy finds it running */
	kill(pid, SIGSTOP);
	/*
	 * Stopped, or already let go by the copy (which saw it stopped: waitpid could then miss
	 * the stop and wait for ever). Its syscall would complete once it runs again.
	 */
	while (state_of(pid) != 'T' && !__atomic_load_n(&sh->ran_mark.retired, __ATOMIC_SEQ_CST))
		sched_yield();
	sh->release = 1;
	CHECK_EQ(exit_code(cp), 0);
	CHECK_EQ(sh->ran_mark.out_seq, 0);
	finish(pid);
}

int main(void)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	alarm(10);
	test_stopped_in_output();
	test_stopped_elsewhere();
	test_stop_still_pending();
	test_retired_is_the_live_one();
	return check_report();
}
