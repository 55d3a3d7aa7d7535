/* SPDX-License-Identifier: MIT */
/*
 * The monitor's only syscall instructions. Syscall User Dispatch and the seccomp filter let
 * calls through when they come from between a8_stub_start and a8_stub_end, and trap the rest.
 * The signal restorer lives here too: rt_sigreturn must come from the allowed range.
 */
	.section .text.a8_stub, "ax", @progbits
	.globl a8_stub_start, a8_stub_end, a8_raw_syscall6, a8_sigreturn_restorer
	.hidden a8_stub_start, a8_stub_end, a8_raw_syscall6, a8_sigreturn_restorer
	.p2align 12
a8_stub_start:
/* long a8_raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5) */
a8_raw_syscall6:
	movq %rdi, %rax
	movq %rsi, %rdi
	movq %rdx, %rsi
	movq %rcx, %rdx
	movq %r8, %r10
	movq %r9, %r8
	movq 8(%rsp), %r9
	syscall
	ret
/*
 * A call that may block, made with the program's signals open. A signal that arrives before
 * the syscall instruction makes the call return -EINTR without running (the monitor's signal
 * handler moves the PC to a8_intr_eintr); one that arrives during it interrupts it.
 */
	.globl a8_raw_syscall6_intr, a8_intr_begin, a8_intr_insn, a8_intr_eintr
	.hidden a8_raw_syscall6_intr, a8_intr_begin, a8_intr_insn, a8_intr_eintr
	.p2align 4
a8_raw_syscall6_intr:
a8_intr_begin:
	cmpl $0, a8_sig_queued(%rip)
	jne a8_intr_eintr
	cmpl $0, a8_intr_cut(%rip)
	jne a8_intr_eintr
	movq %rdi, %rax
	movq %rsi, %rdi
	movq %rdx, %rsi
	movq %rcx, %rdx
	movq %r8, %r10
	movq %r9, %r8
	movq 8(%rsp), %r9
a8_intr_insn:
	syscall
	ret
a8_intr_eintr:
	movq $-4, %rax
	ret
	.p2align 4
a8_sigreturn_restorer:
	movq $15, %rax
	syscall
	hlt
	.p2align 4
a8_stub_end:
	nop
	.section .note.GNU-stack, "", @progbits
