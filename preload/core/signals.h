/* SPDX-License-Identifier: MIT */
/*
 * Signals reach the program only at call boundaries, at the same stream position on every
 * variant. The kernel delivers a handled signal to the monitor's trampoline; on the leader the
 * trampoline queues it and the stream records where it is delivered; followers deliver the
 * leader's signals there and drop their own.
 */
#ifndef A8_SIGNALS_H
#define A8_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "a8/monitor.h"

struct a8_sigrec {
	uint32_t signo;
	uint32_t pad;
	uint8_t info[128];	/* siginfo_t as the kernel gave it */
};

/* Leader: a signal waits to be delivered. */
bool a8_sig_due(void);
/* Leader: take all queued signals into the record being built (SIGNAL sections). */
int a8_sig_record_queued(void);
/* Deliver every queued signal when the current trap returns, and empty the queue. */
void a8_sig_deliver_queued(struct a8_call *c);
/* The first queued signal's number. */
uint32_t a8_sig_first(void);
/* Deliver one signal when the current trap returns; mask_after is the program's mask then. */
void a8_sig_deliver(struct a8_call *c, const struct a8_sigrec *s);
/* Would the kernel restart call c after this signal's handler? */
bool a8_sig_restarts(const struct a8_call *c, uint32_t signo);
/* Dequeue a signal the program sent itself during this call (kill, raise) into the queue. */
void a8_sig_collect_self(unsigned long mask);
/* Program-visible mask during a trap (the frame's). */
unsigned long a8_sig_program_mask(const struct a8_call *c);
void a8_sig_set_program_mask(struct a8_call *c, unsigned long mask);

/* Catch the signals whose default action is fatal (constructor). */
void a8_signals_init(void);
/*
 * The monitor takes sig for itself (handler, SA_RESTART, everything blocked while it runs):
 * the program can neither block nor handle it from now on.
 */
int a8_sig_reserve(int sig, void (*handler)(int, siginfo_t *, void *));

#endif
