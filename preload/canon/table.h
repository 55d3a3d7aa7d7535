/* SPDX-License-Identifier: MIT */
/* Looking up the canonical row of a native call. */
#ifndef A8_CANON_TABLE_H
#define A8_CANON_TABLE_H

#include "kinds.h"

#define A8_NR_MAX 512

/* Canonical ids by name: A8_CID_read, ... (a row's position in calls.def). */
enum {
#define CALL(name, ...) A8_CID_##name,
#include "calls.def"
#undef CALL
	A8_NCALLS
};

struct a8_native {
	const struct a8_callinfo *ci;	/* canonical row */
	const struct a8_alias *alias;	/* how native args become canonical ones, or NULL */
};

const struct a8_callinfo *a8_call_row(unsigned cid);
/* This ISA's number of a canonical call (-1 if it has none). */
long a8_call_nr(unsigned cid);
uint16_t a8_execve_cid(void);
extern const unsigned a8_ncalls;

void a8_table_init(void);
const struct a8_native *a8_native_lookup(long nr);
/* A digest of the table's shape: variants whose tables differ refuse each other. */
uint64_t a8_table_digest(void);
/* Canonical arguments of a call, through its alias if it has one. */
void a8_canon_args(const struct a8_native *n, const long native[6], long canon[6]);

/* Handlers named in calls.def. */
#define HANDLER(h) void h(struct a8_call *c);
HANDLER(a8_h_close_range) HANDLER(a8_h_dup3) HANDLER(a8_h_fcntl) HANDLER(a8_h_ioctl)
HANDLER(a8_h_sendfile) HANDLER(a8_h_unsupported) HANDLER(a8_h_mmap) HANDLER(a8_h_getpid)
HANDLER(a8_h_getppid) HANDLER(a8_h_set_tid_address) HANDLER(a8_h_clone) HANDLER(a8_h_clone3)
HANDLER(a8_h_execve) HANDLER(a8_h_exit) HANDLER(a8_h_wait4) HANDLER(a8_h_kill)
HANDLER(a8_h_prctl) HANDLER(a8_h_sigaction) HANDLER(a8_h_sigprocmask) HANDLER(a8_h_sigsuspend)
HANDLER(a8_h_sigreturn) HANDLER(a8_h_epoll_ctl) HANDLER(a8_h_rlimit) HANDLER(a8_h_capset)
#undef HANDLER

#endif
