// SPDX-License-Identifier: MIT
/*
 * The one SIGSYS handler both interposers trap into. It turns the signal frame into a
 * struct a8_call, hands it to the dispatcher and writes the result back, or rewinds the
 * program counter when the dispatcher wants the call executed again (a signal was delivered
 * first).
 */
#include <signal.h>
#include <string.h>

#include "a8/raw.h"
#include "interpose.h"
#include "arch.h"

static void a8_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct a8_call c;
	int i;

	(void)sig;
	c.nr = si->si_syscall;
	for (i = 0; i < 6; i++)
		c.args[i] = A8_UC_ARG(uc, i);
	c.ret = -38; /* ENOSYS */
	c.ci = NULL;
	c.uc = uc;
	c.restart = false;
	a8_dispatch(&c);
	if (c.restart) {
		A8_UC_PC(uc) -= A8_SYSCALL_INSN_LEN;
		A8_UC_NR(uc) = c.nr;
		return;
	}
	A8_UC_RET(uc) = c.ret;
}

/*
 * All signals stay blocked while the monitor runs, so nothing of the program's runs in the
 * middle of it; the dispatcher unblocks them around calls that may block.
 */
int a8_sigsys_install(void)
{
	struct a8_ksigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.handler = (void *)a8_sigsys;
	sa.flags = SA_SIGINFO | SA_RESTORER;
	sa.restorer = a8_sigreturn_restorer;
	sa.mask = ~0UL;
	return (int)a8_sys4(SYS_rt_sigaction, SIGSYS, &sa, NULL, 8);
}

int a8_interpose_arm(enum a8_interposer which)
{
	int err = a8_sigsys_install();

	if (err)
		return err;
	return which == A8_INTERPOSE_SUD ? a8_sud_arm() : a8_seccomp_arm();
}

int a8_interpose_rearm_child(void)
{
	/* seccomp filters are inherited; Syscall User Dispatch is not. */
	return a8.interposer == A8_INTERPOSE_SUD ? a8_sud_arm() : 0;
}

int a8_interpose_disarm_for_exec(void)
{
	/* A seccomp filter cannot be removed and would trap the next image's loader. */
	return a8.interposer == A8_INTERPOSE_SUD ? a8_sud_disarm() : -1;
}
