// SPDX-License-Identifier: MIT
/*
 * The agent's checkpoint request against a wait that is about to begin (ckpt/cut.c and the
 * stub's interruptible window, arch/<isa>/stub.S), on a real pipe with nothing to read: a
 * request that comes between the leader's check and the wait's syscall makes the call return
 * -EINTR instead of sleeping. The signal is a real one, delivered in that gap: it is held
 * blocked while the wait begins, and arrives when it is unblocked, as the program's signals
 * are opened before the syscall. A call that wrongly blocks is killed by alarm(2): the test
 * fails, never hangs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include "a8/raw.h"
#include "check.h"
#include "ckpt/ckpt.h"

/* What cut.c asks of ckpt.c: whether the agent's request is for this process. */
static volatile bool wanted;
bool a8_ckpt_cut_wanted(void) { return wanted; }

static int pipe_fds[2];

/* The wait: a read of a pipe nothing writes to, through the interruptible stub. */
static long wait_for_events(void)
{
	char b;

	return a8_raw_syscall6_intr(SYS_read, pipe_fds[0], (long)&b, 1, 0, 0, 0);
}

/* The criu engine's signal handler, reduced to what matters here. */
static void on_cut(int sig)
{
	(void)sig;
	wanted = true;
	a8_ckpt_cut_arrived();
}

static void test_stub_reads_the_word(void)
{
	char b = 'x';

	a8_intr_cut = 1;
	CHECK_EQ(wait_for_events(), -EINTR);
	a8_intr_cut = 0;
	CHECK_EQ(write(pipe_fds[1], &b, 1), 1);
	CHECK_EQ(wait_for_events(), 1);	/* the call runs when nothing asks */
}

static void test_request_before_the_wait(void)
{
	wanted = true;
	a8_ckpt_wait_begin(true);
	CHECK_EQ(wait_for_events(), -EINTR);
	a8_ckpt_wait_end();
	CHECK_EQ(a8_intr_cut, 0);
	wanted = false;
}

/* A wait that is no quiet point (a blocking read mid-request) is not cut short. */
static void test_not_quiescent(void)
{
	char b = 'y';

	wanted = true;
	a8_ckpt_wait_begin(false);
	a8_ckpt_cut_arrived();
	CHECK_EQ(a8_intr_cut, 0);
	CHECK_EQ(write(pipe_fds[1], &b, 1), 1);
	CHECK_EQ(wait_for_events(), 1);
	a8_ckpt_wait_end();
	wanted = false;
}

static void test_request_in_the_gap(void)
{
	sigset_t usr1, old;

	signal(SIGUSR1, on_cut);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	a8_ckpt_wait_begin(true);	/* checks: nothing asked yet */
	CHECK_EQ(a8_intr_cut, 0);
	raise(SIGUSR1);			/* held until the signals open */
	sigprocmask(SIG_SETMASK, &old, NULL);	/* on_cut runs here, before the syscall */
	CHECK(wanted);
	CHECK_EQ(wait_for_events(), -EINTR);
	a8_ckpt_wait_end();
	/* After the wait, a request no longer touches the next one. */
	on_cut(SIGUSR1);
	CHECK_EQ(a8_intr_cut, 0);
	wanted = false;
}

int main(void)
{
	if (pipe(pipe_fds))
		return 2;
	alarm(5);
	test_stub_reads_the_word();
	test_request_before_the_wait();
	test_not_quiescent();
	test_request_in_the_gap();
	return check_report();
}
