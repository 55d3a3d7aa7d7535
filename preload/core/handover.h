/* SPDX-License-Identifier: MIT */
/*
 * The monitor's files in the run directory that a process keeps open for its next image: its
 * stats file and, with the criu engine, its replay log and notes (ckpt.c a8_ckpt_shared_map).
 * A process makes them as the user it starts as; once it changed user (setpriv, su-exec) and
 * called execve, the new image could not open them by name again (they are root's, mode
 * 0600). So each stays open out of the program's fd range, and its fd crosses execve in
 * A8_STATE ("files=stats:1020,replay:1021"; exec.c).
 */
#ifndef A8_HANDOVER_H
#define A8_HANDOVER_H

#include <stdbool.h>

/*
 * The file `name` (a short tag), opened by path with flags unless the previous image handed
 * it over (then truncated if flags ask). The fd stays the table's: the caller maps it and
 * does not close it. -errno if it cannot be had.
 */
long a8_handover_open(const char *name, const char *path, int flags);
/* Closes and forgets `name` (its mapping failed). */
void a8_handover_release(const char *name);
/* A fork child keeps `name` too: it is the run's, not the process's (the agent's stop word). */
void a8_handover_inherit(const char *name);
/*
 * A fork child (in_child): closes its parent's files but those inherited. A keeper, which
 * closed every fd already: forgets them all.
 */
void a8_handover_forget(bool in_child);
/* "files=..." for A8_STATE; "files=-" when none. -1 if it does not fit. */
int a8_handover_state(char *buf, int cap);
/* The new image takes the files the state string hands over (before any a8_handover_open). */
void a8_handover_adopt(const char *state);
/* Around execve: the kept fds open across it (false) or closed on it again (true). */
void a8_handover_cloexec(bool cloexec);

#endif
