/* SPDX-License-Identifier: MIT */
/* aarch64: the same accessors as arch/x86_64/arch.h, for the arm64 signal frame. */
#ifndef A8_ARCH_H
#define A8_ARCH_H

#include <ucontext.h>

#define A8_ISA "aarch64"
#define A8_SYSCALL_INSN_LEN 4	/* svc #0 */

#define A8_UC_ARG(uc, i) (((ucontext_t *)(uc))->uc_mcontext.regs[i])
#define A8_UC_RET(uc) (((ucontext_t *)(uc))->uc_mcontext.regs[0])
#define A8_UC_PC(uc) (((ucontext_t *)(uc))->uc_mcontext.pc)
#define A8_UC_SP(uc) (((ucontext_t *)(uc))->uc_mcontext.sp)
#define A8_UC_NR(uc) (((ucontext_t *)(uc))->uc_mcontext.regs[8])
#define A8_UC_SIGMASK(uc) (*(unsigned long *)&((ucontext_t *)(uc))->uc_sigmask)

#endif
