// SPDX-License-Identifier: MIT
/*
 * a8-probe sud|seccomp: does this kernel really trap a system call with that mechanism?
 * Runs the attempt in a child, so a kernel that kills instead of trapping only kills the
 * child. Exit 0: it trapped; 1: it did not (the reason on stderr).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

static volatile char selector = SYSCALL_DISPATCH_FILTER_ALLOW;
static volatile int traps;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	selector = SYSCALL_DISPATCH_FILTER_ALLOW;
	if (si->si_syscall == SYS_getppid)
		traps++;
}

static int try_sud(void)
{
	if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, &selector)) {
		fprintf(stderr, "prctl(PR_SET_SYSCALL_USER_DISPATCH): %s\n", strerror(errno));
		return 1;
	}
	selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	syscall(SYS_getppid);
	selector = SYSCALL_DISPATCH_FILTER_ALLOW;
	return traps == 1 ? 0 : 1;
}

static int try_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		fprintf(stderr, "seccomp(SECCOMP_SET_MODE_FILTER): %s\n", strerror(errno));
		return 1;
	}
	syscall(SYS_getppid);
	return traps == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int status;
	pid_t pid;

	if (argc != 2 || (strcmp(argv[1], "sud") && strcmp(argv[1], "seccomp"))) {
		fprintf(stderr, "usage: a8-probe sud|seccomp\n");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		_exit(strcmp(argv[1], "sud") ? try_seccomp() : try_sud());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "the probe was killed by signal %d\n", WTERMSIG(status));
		return 1;
	}
	return WEXITSTATUS(status);
}
