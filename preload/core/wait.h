/* SPDX-License-Identifier: MIT */
/*
 * Leader: whether a call that may block (F_BLOCK) can wait this time. One that cannot (a
 * non-blocking socket, a regular file, events already there) needs neither the followers fed
 * before it nor the program's signals opened around it; under load most of a server's calls
 * are such, and each flush costs the followers a wake-up.
 */
#ifndef A8_WAIT_H
#define A8_WAIT_H

#include <stdbool.h>
#include "a8/monitor.h"

/*
 * Runs the call as native number nr when it cannot wait, or tries an event wait with a zero
 * timeout: true with *ret its result when that is the call's result. False: the call may
 * wait, run it as a wait.
 */
bool a8_ran_without_wait(struct a8_call *c, long nr, long *ret);

#endif
