// SPDX-License-Identifier: MIT
/*
 * A rollback stops the live leader process wherever it is (the agent's SIGSTOP), and the copy
 * that resumes replays the log the live process wrote. An output the live process had made
 * (bytes to a pipe, a terminal, a socket) but not logged yet when it stopped would be made
 * again by the replay, and its reader would get the bytes twice. So the live process marks each
 * output, replicated or its own, from before its syscall until its record is in the log, and a
 * copy that resumes and finds the mark lets the live process finish the call (SIGCONT): it logs
 * the record, sees that it was retired, and stops itself again. The marks live in the log's
 * header, memory the live process and its copies share (fork engine). With the criu engine the
 * log is a file, and the agent does the copy's part before it kills the tree
 * (output_settle.ts). A follower marks its own outputs the same way, until it has noted how far
 * it ran (redo.c); so does a criu tree's child, until it has noted its write to stdio.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "a8/raw.h"
#include "ckpt.h"
#include "core/util.h"

/*
 * How long a copy waits for the live process to stop, and then lets it finish its output;
 * then it goes on without (a unit test on a busy machine may allow longer).
 */
uint64_t a8_settle_ns = 20ull * 1000 * 1000;

/* A store, no syscall, per output: the live process's pid is there since a8_mark_here. */
void a8_mark_set(struct a8_live_mark *m, uint64_t seq)
{
	__atomic_store_n(&m->out_seq, seq, __ATOMIC_SEQ_CST);
}

void a8_mark_clear(struct a8_live_mark *m)
{
	__atomic_store_n(&m->out_seq, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->retired, __ATOMIC_SEQ_CST))
		a8_sys2(SYS_kill, a8_sys0(SYS_getpid), SIGSTOP);
}

/*
 * The marks this process was the live one of: a settle (a8_mark_settle, output_settle.ts)
 * retires it and wakes it with SIGCONT, which a program that handles SIGCONT must not get.
 */
#define MARKS_HELD 4
static struct a8_live_mark *held[MARKS_HELD];

static void hold(struct a8_live_mark *m)
{
	size_t i;

	for (i = 0; i < MARKS_HELD; i++) {
		if (held[i] == m)
			return;
		if (!held[i]) {
			held[i] = m;
			return;
		}
	}
}

/* A fork child: its parent's marks are not its own, and their mappings are let go. */
void a8_marks_forget(void)
{
	memset(held, 0, sizeof(held));
}

bool a8_retired(void)
{
	int32_t me = (int32_t)a8_sys0(SYS_getpid);
	size_t i;

	/* A fork child inherits its parent's list: only a mark it is the live one of counts. */
	for (i = 0; i < MARKS_HELD && held[i]; i++)
		if (__atomic_load_n(&held[i]->retired, __ATOMIC_SEQ_CST) &&
		    __atomic_load_n(&held[i]->live_pid, __ATOMIC_SEQ_CST) == me)
			return true;
	return false;
}

void a8_mark_here(struct a8_live_mark *m)
{
	hold(m);
	__atomic_store_n(&m->live_pid, (int32_t)a8_sys0(SYS_getpid), __ATOMIC_SEQ_CST);
	__atomic_store_n(&m->out_seq, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&m->retired, 0, __ATOMIC_SEQ_CST);
}

bool a8_out_begin(uint64_t seq)
{
	struct a8_live_mark *m = a8_log_mark();

	if (!m || !a8_log_active())
		return false;
	a8_mark_set(m, seq);
	return true;
}

void a8_out_end(void)
{
	a8_mark_clear(a8_log_mark());
}

void a8_live_here(void)
{
	struct a8_live_mark *m = a8_log_mark();

	if (m)
		a8_mark_here(m);
}

/* The state letter of `pid` if it is our sibling (the agent's child, as every root is), else 0. */
static char sibling_state(int pid)
{
	char path[32], buf[512], *p;
	long fd, n, ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = a8_sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	n = a8_sys3(SYS_read, fd, buf, sizeof(buf) - 1);
	a8_sys1(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return 0;
	ppid = strtol(p + 4, NULL, 10);
	return ppid == a8_sys0(SYS_getppid) ? p[2] : 0;
}

/*
 * The agent's SIGSTOP takes effect when the live process next leaves the kernel: one that was
 * preempted with its stop pending still shows 'R' (or 'S'), and may be in the middle of its
 * output. Wait until it has stopped (or is gone) before reading its mark for good.
 */
static char stopped_state(int pid, uint64_t t0)
{
	char st;

	while ((st = sibling_state(pid)) != 0 && st != 'T' && st != 't' && st != 'Z') {
		if (a8_ckpt_now_ns() - t0 > a8_settle_ns)
			break;
		a8_sys0(SYS_sched_yield);
	}
	return st;
}

void a8_mark_settle(struct a8_live_mark *m)
{
	uint64_t seq, t0 = a8_ckpt_now_ns();
	int pid;

	if (!__atomic_load_n(&m->out_seq, __ATOMIC_SEQ_CST))
		return;
	pid = __atomic_load_n(&m->live_pid, __ATOMIC_SEQ_CST);
	/* Only a sibling: a pid of a process that is gone may name another one now. */
	if (pid <= 0 || pid == a8_sys0(SYS_getpid) || stopped_state(pid, t0) != 'T')
		return;
	/* It may have finished the output (and logged it) on its way to the stop. */
	seq = __atomic_load_n(&m->out_seq, __ATOMIC_SEQ_CST);
	if (!seq)
		return;
	__atomic_store_n(&m->retired, 1, __ATOMIC_SEQ_CST);
	a8_sys2(SYS_kill, pid, SIGCONT);
	t0 = a8_ckpt_now_ns();
	while (__atomic_load_n(&m->out_seq, __ATOMIC_SEQ_CST)) {
		char st = sibling_state(pid);

		if (st == 0 || st == 'Z' || a8_ckpt_now_ns() - t0 > a8_settle_ns)
			break;
		a8_sys0(SYS_sched_yield);
	}
	/* Stopped again, by itself or here (a call that blocked, or a process that hangs). */
	a8_sys2(SYS_kill, pid, SIGSTOP);
	a8_log(A8_LOG_DEBUG, 0, "the live process %d %s its output at %llu before it stopped", pid,
	       __atomic_load_n(&m->out_seq, __ATOMIC_SEQ_CST) ? "did not finish" : "finished",
	       (unsigned long long)seq);
}

void a8_live_settle(void)
{
	struct a8_live_mark *m = a8_log_mark();

	if (m)
		a8_mark_settle(m);
}
