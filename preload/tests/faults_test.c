// SPDX-License-Identifier: MIT
/*
 * The fault injector (ckpt/faults.c) in a program of two processes, as a server's master and
 * the worker it forked: with every call set to fault, the worker faults until the master (the
 * root, where a8 sends stop signals) is told to stop, and not after, though nothing told the
 * worker (a master may tell its workers on a channel, which is no signal the worker's monitor
 * sees). A worker told to stop (a master recycling it) stops faulting alone. And when the
 * agent writes its word (A8_RUN_DIR/faults-off: it heard of a stop), no process faults.
 * The agent's word (it is ending the run) also stops the asking for checkpoints, and a stop
 * signal that comes later does not take it back; a stop signal alone does not. And a fault
 * strikes a position once at most.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * The worker: the exit status says whether it faulted before (bit 0) and after (bit 1) the
 * master's stop. With `self_stop` it is told to stop first, on its own.
 */
static int worker(int ready, int go, bool self_stop)
{
	char b;
	int st;

	strcpy(a8.stream, "0.1");
	if (self_stop)
		a8_faults_stop();
	st = faults_now() ? 1 : 0;
	if (write(ready, "r", 1) != 1 || read(go, &b, 1) != 1)
		return 4;
	return st | (faults_now() ? 2 : 0);
}

/* Runs a worker; what it exits with. The master stops after the worker's first call. */
static int run_worker(bool self_stop, bool master_stops)
{
	int ready[2], go[2], status = 0;
	char b;
	pid_t pid;

	if (pipe(ready) || pipe(go))
		return -1;
	pid = fork();
	if (pid == 0)
		_exit(worker(ready[1], go[0], self_stop));
	if (read(ready[0], &b, 1) != 1)
		return -1;
	if (master_stops)
		a8_faults_stop();	/* the master got SIGTERM */
	if (write(go[1], "x", 1) != 1)	/* it tells the worker on a channel */
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A fault strikes new work only: a position a number was drawn for does not fault again when
 * a rollback takes the process back before it (every process of a criu tree replays its log).
 * A forked child counts its own stream's positions from 0.
 */
static void test_new_work_only(void)
{
	uint64_t at = a8.seq;
	pid_t pid;
	int status = 0;

	CHECK(faults_now());
	a8.seq = at;	/* rolled back to before it */
	CHECK(!faults_now());
	CHECK(faults_now());	/* the next position is new */
	pid = fork();
	if (pid == 0) {
		a8_faults_in_child();
		a8.seq = 0;
		_exit(faults_now() ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	a8.seq = at;	/* the child's draws left the parent's page alone */
	CHECK(!faults_now());
}

/* The agent's word, as src/run/session.ts writes it: one byte, in place. */
static void agent_says(int fd, uint8_t v)
{
	CHECK(pwrite(fd, &v, 1, 0) == 1);
}

int main(void)
{
	char dir[] = "/tmp/a8-faults-test-XXXXXX", path[300];
	int word;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/faults-off", dir);
	word = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(word >= 0);
	agent_says(word, 0);
	snprintf(a8.run_dir, sizeof(a8.run_dir), "%s", dir);
	a8_table_init();
	a8.role = A8_ROLE_FOLLOWER;
	strcpy(a8.stream, "0");
	a8_faults_init();
	CHECK(faults_now());
	test_new_work_only();
	CHECK(!a8_run_ending());
	agent_says(word, A8_RUN_ENDING);
	CHECK(!faults_now());	/* the agent heard of a stop */
	CHECK(a8_run_ending());	/* no new checkpoint either */
	agent_says(word, 0);
	CHECK(faults_now());
	/* A worker recycled on its own: its stop is not the program's. */
	CHECK_EQ(run_worker(true, false), 0);
	CHECK(faults_now());
	/* The program told to stop: the worker stops faulting too. */
	CHECK_EQ(run_worker(false, true), 1);
	CHECK(!faults_now());
	CHECK(!a8_run_ending());	/* a program may go on after a stop signal of its own */
	agent_says(word, A8_RUN_ENDING);
	a8_faults_stop();
	CHECK(a8_run_ending());	/* a later stop signal does not take the agent's word back */
	close(word);
	unlink(path);
	rmdir(dir);
	return check_report();
}
