/* SPDX-License-Identifier: MIT */
/*
 * Interposers send every system call the program makes into a8_dispatch(). Each backend arms
 * one mechanism; the SIGSYS handler they share lives in sigsys.c.
 */
#ifndef A8_INTERPOSE_H
#define A8_INTERPOSE_H

#include "a8/monitor.h"

/* Install the SIGSYS handler and arm the chosen mechanism for this process. */
int a8_interpose_arm(enum a8_interposer which);
/* After fork, in the child: mechanisms that are not inherited are armed again. */
int a8_interpose_rearm_child(void);
/* Before execve: mechanisms that would outlive the image are switched off (0 on success). */
int a8_interpose_disarm_for_exec(void);

int a8_sud_arm(void);
int a8_sud_disarm(void);
int a8_seccomp_arm(void);
int a8_sigsys_install(void);

#endif
