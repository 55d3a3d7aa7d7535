/* SPDX-License-Identifier: MIT */
/*
 * What each fd number of the program is. The program sees the same numbers on every variant:
 * where the leader holds a socket, a follower holds a placeholder at the same number, so the
 * kernel's lowest-free allocation agrees on every variant and no translation is needed.
 * The monitor's own fds live high up and are refused to the program.
 */
#ifndef A8_FDTAB_H
#define A8_FDTAB_H

#include <stdbool.h>

enum a8_fdkind {
	FK_NONE = 0,	/* not open (as far as the monitor knows) */
	FK_LOCAL,	/* each variant has its own: stdio, libraries, local_paths files */
	FK_REPL,	/* the leader's is real, followers hold a placeholder */
	FK_MON,		/* the monitor's own */
};

/*
 * The monitor's fds are moved to [A8_FD_MON_BASE, ...), or just under the hard fd limit when
 * that is lower. Every variant refuses the program every fd at or above the lowest base of
 * all variants (agreed at the data-plane hello), so a refusal is the same everywhere.
 */
#define A8_FD_MON_BASE 30000
int a8_fd_own_base(void);
long a8_fd_reserved_base(void);
void a8_fd_agree_base(long base);

int a8_fd_kind(long fd);
int a8_fd_set(long fd, enum a8_fdkind kind);
/* Move a monitor fd out of the program's range; returns the new fd or -errno. */
int a8_fd_hide(int fd);
/* A socket of the monitor's own (close-on-exec, out of the program's range), or -errno. */
int a8_fd_socket(int domain, int type);
/* Follower: put a placeholder at fd (closing what is there). */
int a8_fd_placeholder(int fd, bool cloexec);
/* Encode / decode the table for the next image (execve): "0L1L2L5R...". */
int a8_fd_serialize(char *buf, int cap);
void a8_fd_deserialize(const char *s);
/* Forget fds that execve closes (FD_CLOEXEC). */
void a8_fd_drop_cloexec(void);
void a8_fd_forget_range(long first, long last);

#endif
