// SPDX-License-Identifier: MIT
/*
 * Fault injection for measurement (`[faults]`, ckpt.h): a follower's checked call diverges on
 * purpose with probability A8_FAULT_P, only where a rollback can follow and only on new work.
 * And whether the agent is ending the run, which ends the checkpoints too.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "a8/raw.h"

#include "ckpt.h"
#include "core/handover.h"
#include "core/util.h"

/*
 * In memory a rollback does not put back, per process: the generator's state (a replay draws
 * new numbers), and the highest position a number was drawn for.
 */
struct fault_page {
	uint64_t state;
	uint64_t drawn_upto;
};
static struct fault_page *faults;
static uint64_t no_fault_before;	/* positions an earlier attempt got through already */
static bool stopping;			/* this process was told to stop */
/*
 * The variant's word, A8_RUN_DIR/faults-off: non-zero once the program was told to stop. Its
 * agent sets it when it hears of a stop: a follower learns of the stop signal only when its
 * stream reaches it, up to a batch of calls late (the code policy), and a fault there came
 * after the leader's shutdown had changed files, which no rollback could restore. The root
 * process sets it when the stop signal reaches it (one sent to the program directly): nginx's
 * master tells its workers to stop on a channel, not by a signal, and a worker faulting then was
 * rolled back with the tree, which, replaying the master's writes to the channel without making
 * them, never ended. Another process told to stop (a worker its master recycles) stops alone.
 */
static uint8_t *stop_word;

static uint64_t first_state(void)
{
	return a8_ckpt.fault_seed * 0x9e3779b97f4a7c15ull + a8.variant_id + 1;
}

static void map_stop_word(void)
{
	char path[320];
	long fd, p;

	if (snprintf(path, sizeof(path), "%s/faults-off", a8.run_dir) >= (int)sizeof(path))
		return;
	/* Kept like the process's own files (handover.h), and by its children: it is root's. */
	fd = a8_handover_open("stop", path, O_RDWR);
	if (fd < 0)
		return;
	p = a8_sys6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p < 0 && p > -4096) {
		a8_handover_release("stop");
		return;
	}
	a8_handover_inherit("stop");
	stop_word = (uint8_t *)p;
}

/* This process's page (a8_ckpt_shared_map), starting from `state`. */
static void map_fault_page(uint64_t state)
{
	faults = a8_ckpt_shared_map("faults", 4096);
	if (!faults)
		a8_fatal("internal", "", 0, "no memory for fault injection");
	faults->state = state;
	faults->drawn_upto = 0;
}

void a8_faults_init(void)
{
	/* Checkpoints heed the agent's word too (a8_run_ending), faults or not. */
	if (a8_ckpt.engine != A8_CKPT_NONE && !stop_word)
		map_stop_word();
	if (a8_ckpt.fault_p > 0 && !faults)
		map_fault_page(first_state());
}

/* A forked child counts positions of a stream of its own: a page of its own, same numbers. */
void a8_faults_in_child(void)
{
	uint64_t state;

	if (!faults)
		return;
	state = faults->state ^ (uint64_t)a8_sys0(SYS_getpid);
	map_fault_page(state);
}

/*
 * The faults measure what recovery costs while a program serves. Its shutdown is no service,
 * and a shutdown cannot always be rolled back (a restore needs the files the dump saw, and a
 * stopping server truncates its pid file): no fault after a stop signal.
 */
void a8_faults_stop(void)
{
	uint8_t zero = 0;

	stopping = true;
	/* 1, unless the agent's 2 is there already: that one says more (a8_run_ending). */
	if (stop_word && !strcmp(a8.stream, "0"))
		__atomic_compare_exchange_n(stop_word, &zero, 1, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
}

void a8_faults_resumed_at(uint64_t diverged_at)
{
	if (diverged_at > no_fault_before)
		no_fault_before = diverged_at;
}

bool a8_run_ending(void)
{
	return stop_word && __atomic_load_n(stop_word, __ATOMIC_RELAXED) == A8_RUN_ENDING;
}

bool a8_fault_now(const struct a8_call *c)
{
	uint64_t x;

	/*
	 * Only where a rollback can follow: after a checkpoint this process still stands by,
	 * and not at a fork or an exec (the leader's runs on and the checkpoint goes with it),
	 * nor at the process's end (the leader's is gone).
	 */
	if (!faults || stopping || (stop_word && __atomic_load_n(stop_word, __ATOMIC_RELAXED)) ||
	    a8.role != A8_ROLE_FOLLOWER ||
	    a8_replaying() || !a8_ckpt_standing())
		return false;
	if ((c->ci->flags | c->xflags) & (F_FLUSH | F_CODE | F_END))
		return false;
	/*
	 * A fault strikes new work: positions before the divergence a rollback answers were
	 * run right already, and so were those a process of the tree had run before it (each
	 * replays its log, and else no replay longer than 1/p calls would ever get through).
	 */
	if (a8.seq < no_fault_before || a8.seq <= faults->drawn_upto)
		return false;
	faults->drawn_upto = a8.seq;
	/* xorshift64*, shared with the copies so that a replay draws new numbers */
	x = faults->state;
	/* Zero is xorshift's fixed point (a page a process made anew, O_TRUNC, under criu). */
	if (!x)
		x = first_state();
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	faults->state = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0 < a8_ckpt.fault_p;
}
