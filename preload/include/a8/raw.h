/* SPDX-License-Identifier: MIT */
/*
 * The monitor's own system calls. They all go through the stub in arch/<isa>/stub.S, the one
 * place the interposers let through; nothing in the monitor may call a libc function that makes
 * a system call once the interposer is armed.
 */
#ifndef A8_RAW_H
#define A8_RAW_H

#include <sys/syscall.h>

long a8_raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
void a8_sigreturn_restorer(void);
/* Like a8_raw_syscall6, but returns -EINTR without running if a signal is queued for the
 * program (a8_sig_queued != 0), the agent's checkpoint request came for this wait
 * (a8_intr_cut != 0, ckpt/cut.c), or a signal arrives before the call starts. */
long a8_raw_syscall6_intr(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
extern char a8_intr_begin[], a8_intr_insn[], a8_intr_eintr[];
extern volatile int a8_sig_queued, a8_intr_cut;
extern char a8_stub_start[], a8_stub_end[];

#define a8_sys0(nr) a8_raw_syscall6((nr), 0, 0, 0, 0, 0, 0)
#define a8_sys1(nr, a) a8_raw_syscall6((nr), (long)(a), 0, 0, 0, 0, 0)
#define a8_sys2(nr, a, b) a8_raw_syscall6((nr), (long)(a), (long)(b), 0, 0, 0, 0)
#define a8_sys3(nr, a, b, c) a8_raw_syscall6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define a8_sys4(nr, a, b, c, d) \
	a8_raw_syscall6((nr), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define a8_sys5(nr, a, b, c, d, e) \
	a8_raw_syscall6((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define a8_sys6(nr, a, b, c, d, e, f) \
	a8_raw_syscall6((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* A call whose six arguments are in an array (a8_call's args or canonical a). */
static inline long a8_sys_args(long nr, const long a[6])
{
	return a8_raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/*
 * A write to a socket whose peer may be gone (a killed process, an agent that ended): no
 * SIGPIPE, which the monitor would take for the program's own, and the program die of.
 */
#define A8_MSG_NOSIGNAL 0x4000	/* MSG_NOSIGNAL, the same on every Linux ISA */
static inline long a8_send(int fd, const void *p, unsigned long n)
{
	return a8_raw_syscall6(SYS_sendto, fd, (long)p, (long)n, A8_MSG_NOSIGNAL, 0, 0);
}

/* Kernel-ABI sigaction (not glibc's): 8-byte mask, restorer field. */
struct a8_ksigaction {
	void *handler;
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

#endif
