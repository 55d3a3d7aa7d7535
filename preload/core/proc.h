/* SPDX-License-Identifier: MIT */
/* Processes: the monitor's own start, fork children's streams, execve hand-over, exit. */
#ifndef A8_PROC_H
#define A8_PROC_H

#include "a8/monitor.h"

/* Constructor work (init.c): returns false when the process is not monitored. */
bool a8_init(void);
/* After execve: the state the previous image handed over (A8_STATE). */
bool a8_resume_from_exec(const char *state);
/* Patch the vDSO so time calls become real, interposed calls. */
void a8_vdso_patch(void);
/* After a CRIU restore (a pristine vDSO again): patch it as it was; fatal when it cannot be. */
void a8_vdso_repatch(void);

/* Is this environment entry one the agent set for the monitor? */
bool a8_env_is_ours(const char *entry);

/* Follower: the local pid behind a pid in the leader's numbering (unchanged if unknown). */
long a8_pid_local(long vpid);

#endif
