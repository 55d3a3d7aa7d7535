/* SPDX-License-Identifier: MIT */
/* aarch64 twin of arch/x86_64/stub.S. */
	.section .text.a8_stub, "ax", %progbits
	.globl a8_stub_start, a8_stub_end, a8_raw_syscall6, a8_sigreturn_restorer
	.hidden a8_stub_start, a8_stub_end, a8_raw_syscall6, a8_sigreturn_restorer
	.p2align 12
a8_stub_start:
a8_raw_syscall6:
	mov x8, x0
	mov x0, x1
	mov x1, x2
	mov x2, x3
	mov x3, x4
	mov x4, x5
	mov x5, x6
	svc #0
	ret
	.globl a8_raw_syscall6_intr, a8_intr_begin, a8_intr_insn, a8_intr_eintr
	.hidden a8_raw_syscall6_intr, a8_intr_begin, a8_intr_insn, a8_intr_eintr
	.p2align 4
a8_raw_syscall6_intr:
a8_intr_begin:
	adrp x9, a8_sig_queued
	ldr w9, [x9, :lo12:a8_sig_queued]
	cbnz w9, a8_intr_eintr
	adrp x9, a8_intr_cut
	ldr w9, [x9, :lo12:a8_intr_cut]
	cbnz w9, a8_intr_eintr
	mov x8, x0
	mov x0, x1
	mov x1, x2
	mov x2, x3
	mov x3, x4
	mov x4, x5
	mov x5, x6
a8_intr_insn:
	svc #0
	ret
a8_intr_eintr:
	mov x0, #-4
	ret
	.p2align 4
a8_sigreturn_restorer:
	mov x8, #139
	svc #0
	brk #0
	.p2align 4
a8_stub_end:
	nop
	.section .note.GNU-stack, "", %progbits
