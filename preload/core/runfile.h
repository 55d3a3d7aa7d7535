/* SPDX-License-Identifier: MIT */
/* The monitor's files in the run directory, which every user of the program may write to. */
#ifndef A8_RUNFILE_H
#define A8_RUNFILE_H

/*
 * open(path, flags) of a file of the run directory (A8_RUN_DIR; src/run/run_dirs.ts): never
 * through a symbolic link, and only a plain file with one link that is this process's user's
 * or root's. O_CREAT makes it with mode 0600. The fd, or -errno (-EPERM: a file someone else
 * put there).
 */
long a8_run_file_open(const char *path, int flags);

#endif
