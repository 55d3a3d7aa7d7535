// SPDX-License-Identifier: MIT
/*
 * The agent's request for a checkpoint of the whole tree (criu engine, a signal: ckpt/criu.c)
 * against a wait for events that is about to begin. The leader checks for a request before
 * the wait, with the program's signals open; a request that came after that check and before
 * the wait's syscall began used to be missed: the process slept until the program's next
 * event, and the agent gave the round up after 3 s. So the signal handler also sets
 * a8_intr_cut, which the stub reads inside its interruptible window (arch/<isa>/stub.S): the
 * call returns -EINTR without running, the checkpoint is taken and the wait begins again.
 * During the syscall, the signal itself interrupts it.
 */
#include <stdbool.h>

#include "a8/raw.h"
#include "ckpt.h"

volatile int a8_intr_cut;
static volatile bool cut_may_interrupt;

void a8_ckpt_wait_begin(bool quiescent)
{
	cut_may_interrupt = quiescent;
	a8_intr_cut = quiescent && a8_ckpt_cut_wanted();
}

void a8_ckpt_cut_arrived(void)
{
	if (cut_may_interrupt && a8_ckpt_cut_wanted())
		a8_intr_cut = 1;
}

void a8_ckpt_wait_end(void)
{
	cut_may_interrupt = false;
	a8_intr_cut = 0;
}
