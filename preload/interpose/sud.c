// SPDX-License-Identifier: MIT
/*
 * Syscall User Dispatch (Linux >= 5.11, x86_64): every call from outside the monitor's stub
 * raises SIGSYS. The selector stays at BLOCK: the monitor's own calls pass because they come
 * from the stub's address range, which the kernel exempts.
 */
#include <sys/prctl.h>

#include "a8/raw.h"
#include "interpose.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

static volatile char a8_sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;

int a8_sud_arm(void)
{
	unsigned long start = (unsigned long)a8_stub_start;
	unsigned long len = (unsigned long)a8_stub_end - start + 16;

	a8_sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	return (int)a8_sys5(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, start,
			    len, &a8_sud_selector);
}

int a8_sud_disarm(void)
{
	return (int)a8_sys5(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
}
