// SPDX-License-Identifier: MIT
/*
 * seccomp-bpf interposer: a filter that allows calls whose instruction pointer lies in the
 * monitor's stub and traps everything else. Works on x86_64 and aarch64, is inherited by
 * children and survives CRIU; it can never be removed, which is why execve is refused under it.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

#include "a8/raw.h"
#include "interpose.h"

#if defined(__x86_64__)
#define A8_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define A8_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define IP_LO offsetof(struct seccomp_data, instruction_pointer)
#define IP_HI (offsetof(struct seccomp_data, instruction_pointer) + 4)

int a8_seccomp_arm(void)
{
	unsigned long start = (unsigned long)a8_stub_start;
	unsigned long end = (unsigned long)a8_stub_end + 16;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, A8_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, IP_HI),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(start >> 32), 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, IP_LO),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)start, 0, 1),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)end, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	long err;

	/* The stub is one page-aligned run: it never straddles a 4 GiB line, but check. */
	if ((start >> 32) != (end >> 32))
		return -22;
	err = a8_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
	if (err == -13 /* EACCES: no CAP_SYS_ADMIN */) {
		a8_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		err = a8_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
	}
	return (int)err;
}
