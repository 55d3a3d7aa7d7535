/* SPDX-License-Identifier: MIT */
/*
 * x86_64: where a trapped call's number, arguments, result and resume address live in the
 * signal frame, and how long the syscall instruction is (to re-execute a call).
 */
#ifndef A8_ARCH_H
#define A8_ARCH_H

#include <ucontext.h>

#define A8_ISA "x86_64"
#define A8_SYSCALL_INSN_LEN 2	/* 0f 05 */

#define A8_UC_ARG(uc, i) (((ucontext_t *)(uc))->uc_mcontext.gregs[a8_arg_reg[i]])
#define A8_UC_RET(uc) (((ucontext_t *)(uc))->uc_mcontext.gregs[REG_RAX])
#define A8_UC_PC(uc) (((ucontext_t *)(uc))->uc_mcontext.gregs[REG_RIP])
#define A8_UC_SP(uc) (((ucontext_t *)(uc))->uc_mcontext.gregs[REG_RSP])
/* The register a re-executed call takes its number from. */
#define A8_UC_NR(uc) (((ucontext_t *)(uc))->uc_mcontext.gregs[REG_RAX])

static const int a8_arg_reg[6] = { REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9 };

/* The kernel's sigset for rt_sigprocmask is 8 bytes; glibc's sigset_t is 128. */
#define A8_UC_SIGMASK(uc) (*(unsigned long *)&((ucontext_t *)(uc))->uc_sigmask)

#endif
