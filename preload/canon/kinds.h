/* SPDX-License-Identifier: MIT */
/*
 * What a row of the call table is made of: where a call runs (route), how it is treated
 * (flags) and what each argument is (kind). canon/calls.def is the table itself.
 */
#ifndef A8_CANON_KINDS_H
#define A8_CANON_KINDS_H

#include <stdint.h>
#include "a8/monitor.h"

enum a8_route {
	R_LOCAL,	/* each variant runs it, no stream record (memory, futex, ...) */
	R_VIRT,		/* answered by the monitor itself, no stream record */
	R_EVERY,	/* each variant runs it; arguments cross-checked */
	R_LEADER,	/* the leader runs it; followers get its results */
	R_FD,		/* by the kind of fd arg 0: local fd -> R_EVERY, replicated -> R_LEADER */
	R_PATH,		/* by path arg 0: a local_paths prefix -> R_EVERY, else R_LEADER */
	R_AT,		/* by dirfd arg 0 and path arg 1, as R_FD / R_PATH */
	R_SPECIAL,	/* the row's handler does everything */
};

enum a8_flag {
	F_BLOCK = 1 << 0,	/* may block: if it can (core/wait.h), flush before, signals open */
	F_OUTPUT = 1 << 1,	/* an output: synchronous under the outputs policy */
	F_CODE = 1 << 2,	/* changes code or privileges: always synchronous */
	F_NEWFD = 1 << 3,	/* the result is a new fd */
	F_CLOSEFD = 1 << 4,	/* closes fd arg 0 on success */
	F_FLUSH = 1 << 5,	/* the leader sends its batch right after the call */
	F_NOCHECK = 1 << 6,	/* arguments are not compared (they legitimately differ) */
	F_NORESTART = 1 << 7,	/* never restarted after a handler, even with SA_RESTART */
	F_WRITEOPEN = 1 << 8,	/* an output when its open flags (arg 2) write or create */
	F_END = 1 << 9,		/* ends the process: no rollback can follow it */
};

enum a8_argkind {
	AK_NONE,
	AK_INT,		/* a value, compared */
	AK_FD,		/* an fd, compared (numbers agree across variants) */
	AK_PID,		/* a pid in a8's numbering */
	AK_PTR,		/* an address: not compared, not replicated */
	AK_STR,		/* NUL-terminated input string (a path) */
	AK_IN,		/* input buffer, length in arg p */
	AK_OUT,		/* output buffer, capacity arg p, filled length = result */
	AK_OUT4,	/* output array of result 4-byte items */
	AK_INS,		/* input struct of p bytes (NULL allowed) */
	AK_OUTS,	/* output struct of p bytes, filled when the result is >= 0 */
	AK_INOUTS,	/* struct of p bytes read and written */
	AK_IOV_IN,	/* struct iovec[arg p], contents compared */
	AK_IOV_OUT,	/* struct iovec[arg p], result bytes replicated */
	AK_ADDR_IN,	/* struct sockaddr, length in arg p */
	AK_ADDR_OUT,	/* struct sockaddr out, socklen_t * in arg p */
	AK_LEN_INOUT,	/* socklen_t * (in: capacity; out: length) */
	AK_MSG_IN,	/* struct msghdr to send */
	AK_MSG_OUT,	/* struct msghdr to receive into */
	AK_SIGSET,	/* kernel sigset in (8 bytes), NULL allowed */
	AK_EPOLL_IN,	/* struct epoll_event in (layout differs per ISA) */
	AK_EPOLL_OUT,	/* struct epoll_event[result] out */
	AK_POLLFD,	/* struct pollfd[arg p]: fds/events in, revents out */
	AK_FDSET,	/* fd_set of arg p bits, in and out */
	AK_FDPAIR,	/* int[2] of new fds out */
	AK_STAT,	/* struct stat out (layout differs per ISA) */
	AK_OPTVAL,	/* getsockopt value out, socklen_t * in arg p */
	AK_OFLAGS,	/* open(2) flags: compared in canonical (x86_64) values */
	AK_AKLAST,
};

struct a8_arg {
	uint8_t kind;
	uint16_t p;
};

typedef void (*a8_handler_fn)(struct a8_call *c);

struct a8_callinfo {
	const char *name;
	uint16_t cid;		/* canonical id: the row index in calls.def */
	uint8_t route;
	uint16_t flags;
	struct a8_arg args[6];
	a8_handler_fn handler;	/* R_SPECIAL and R_VIRT rows */
};

/* A native call that is another call in canonical form (open is openat(AT_FDCWD, ...)). */
#define A8_MAP_CONST 0x80	/* argmap entry: a constant from consts[] follows */
struct a8_alias {
	const char *name;
	long nr;
	uint16_t cid;		/* the canonical row */
	uint8_t argmap[6];	/* canonical arg i = native arg argmap[i], or a constant */
	long consts[6];
};

#endif
