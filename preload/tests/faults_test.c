// SPDX-License-Identifier: MIT
/*
 * The fault injector (ckpt/faults.c) in a program of two processes, as a server's master and
 * the worker it forked: with every call set to fault, the worker faults until the master is
 * told to stop, and not after, though nothing told the worker (a master may tell its workers
 * on a channel, which is no signal the worker's monitor sees).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "a8/monitor.h"
#include "canon/table.h"
#include "check.h"
#include "ckpt/ckpt.h"

struct a8_ckpt_conf a8_ckpt = { .engine = A8_CKPT_FORK, .fault_p = 1.0, .fault_seed = 1 };

/* What faults.c asks of the rest of the monitor: a checkpoint stands, no replay runs. */
bool a8_ckpt_standing(void) { return true; }
bool a8_replaying(void) { return false; }

void *a8_ckpt_shared_map(const char *what, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	(void)what;
	return p == MAP_FAILED ? NULL : p;
}

static bool faults_now(void)
{
	struct a8_call c = { .ci = a8_call_row(A8_CID_read) };

	a8.seq++;
	return a8_fault_now(&c);
}

/* The worker: the exit status says whether it faulted before (bit 0) and after (bit 1). */
static int worker(int ready, int go)
{
	char b;
	int st = faults_now() ? 1 : 0;

	if (write(ready, "r", 1) != 1 || read(go, &b, 1) != 1)
		return 4;
	return st | (faults_now() ? 2 : 0);
}

int main(void)
{
	int ready[2], go[2], status = 0;
	char b;
	pid_t pid;

	a8_table_init();
	a8.role = A8_ROLE_FOLLOWER;
	a8_faults_init();
	CHECK(faults_now());
	CHECK(pipe(ready) == 0 && pipe(go) == 0);
	pid = fork();
	if (pid == 0)
		_exit(worker(ready[1], go[0]));
	CHECK(read(ready[0], &b, 1) == 1);
	a8_faults_stop();	/* the master got SIGTERM */
	CHECK(!faults_now());
	CHECK(write(go[1], "x", 1) == 1);	/* it tells the worker on a channel */
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 1);	/* faulted before the stop, not after */
	return check_report();
}
