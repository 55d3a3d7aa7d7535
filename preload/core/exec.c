// SPDX-License-Identifier: MIT
/*
 * execve: a synchronous call (it changes the code). The monitor hands its state to the next
 * image in A8_STATE (and, on a follower, the data-plane bytes it already read in a memfd);
 * the next image's monitor resumes the same stream and, on the leader, records the execve's
 * success as its first act.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "a8/raw.h"
#include "canon/table.h"
#include "ckpt/ckpt.h"
#include "exchange/link.h"
#include "fdtab.h"
#include "handover.h"
#include "interpose/interpose.h"
#include "proc.h"
#include "signals.h"
#include <signal.h>
#include "stream.h"
#include "util.h"

#define ENV_MAX 4096

extern char **a8_saved_env;	/* the A8_* variables the agent gave (init.c) */

/* Can the monitor follow the program into this file? NULL if yes, else why not. */
static const char *exec_refusal(const char *path)
{
	static char why[160];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	long fd = a8_sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	int i, interp = 0;

	if (fd < 0)
		return NULL;	/* execve itself reports the error */
	if (a8_sys4(SYS_pread64, fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
		a8_sys1(SYS_close, fd);
		return NULL;	/* a script: its interpreter is checked when it runs */
	}
	for (i = 0; i < eh.e_phnum; i++)
		if (a8_sys4(SYS_pread64, fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) ==
		    sizeof(ph) && ph.p_type == PT_INTERP)
			interp = 1;
	a8_sys1(SYS_close, fd);
	if (interp)
		return NULL;
	snprintf(why, sizeof(why), "%s is statically linked: the monitor cannot be preloaded",
		 path);
	return why;
}

/* Appends to buf at n (-1: something before did not fit): the new length, or -1. */
__attribute__((format(printf, 4, 5)))
static int add_text(char *buf, size_t cap, int n, const char *fmt, ...)
{
	va_list ap;
	int m;

	if (n < 0 || n >= (int)cap)
		return -1;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
	return m < 0 || n + m >= (int)cap ? -1 : n + m;
}

/* The same with what a module writes of its own state (its length, or -1 if it did not fit). */
static int add_part(char *buf, size_t cap, int n, int (*part)(char *buf, int cap))
{
	int m = n >= 0 && n < (int)cap ? part(buf + n, (int)cap - n) : -1;

	return m < 0 || n + m >= (int)cap ? -1 : n + m;
}

static int state_string(char *buf, size_t cap, uint64_t digest, int rxfd)
{
	int n = add_text(buf, cap, 0,
			 "A8_STATE=stream=%s;seq=%llu;vpid=%ld;vppid=%ld;nch=%u;digest=%llu;"
			 "rxfd=%d;", a8.stream, (unsigned long long)a8.seq, a8.vpid, a8.vppid,
			 a8.nchildren, (unsigned long long)digest, rxfd);
	int i;

	n = add_part(buf, cap, n, a8_handover_state);
	n = add_text(buf, cap, n, ";");
	n = add_part(buf, cap, n, a8_redo_stdio_state);
	n = add_text(buf, cap, n, ";base=%ld;peers=", a8_fd_reserved_base());
	for (i = 0; i < a8.npeers; i++)
		n = add_text(buf, cap, n, "%d:%u,", a8.peers[i].fd, a8.peers[i].id);
	n = add_text(buf, cap, n, ";fds=");
	n = add_part(buf, cap, n, a8_fd_serialize);
	return n < 0 ? -1 : 0;
}

/* Follower: bytes of the leader's stream already read, for the next image. */
static int carry_rx(void)
{
	struct a8_rx *b = a8_rx_of(0);
	size_t n = b->end - b->start;
	long fd;

	if (!n)
		return -1;
	fd = a8_sys2(SYS_memfd_create, "a8-rx", 0);
	if (fd < 0)
		return -1;
	fd = a8_fd_hide((int)fd);
	a8_sys3(SYS_fcntl, fd, F_SETFD, 0);
	if (a8_sys3(SYS_write, fd, b->buf + b->start, n) != (long)n)
		return -1;
	return (int)fd;
}

/* The monitor's fds the next image takes over: open across execve (flags 0) or not. */
static void carry_fds(long flags)
{
	int i;

	for (i = 0; i < a8.npeers; i++)
		a8_sys3(SYS_fcntl, a8.peers[i].fd, F_SETFD, flags);
	a8_handover_cloexec(flags == FD_CLOEXEC);
}

static char **build_env(char *const *envp, char *state)
{
	static char *env[ENV_MAX];
	int n = 0, i;

	for (i = 0; envp && envp[i] && n < ENV_MAX - 64; i++)
		if (!a8_env_is_ours(envp[i]))
			env[n++] = envp[i];
	for (i = 0; a8_saved_env[i] && n < ENV_MAX - 2; i++)
		env[n++] = a8_saved_env[i];
	env[n++] = state;
	env[n] = NULL;
	return env;
}

void a8_h_execve(struct a8_call *c)
{
	static char state[65536];
	const char *path = (const char *)c->a[0];
	const char *why;
	struct a8_step s;
	int rxfd = -1;
	unsigned long prog_mask, all = ~0UL;
	long r;

	if (a8.interposer == A8_INTERPOSE_SECCOMP)
		a8_fatal("refused", "execve", c->nr,
			 "execve is not supported under the seccomp interposer yet "
			 "(its filter outlives the image); use interposer = \"sud\"");
	why = path ? exec_refusal(path) : NULL;
	if (why)
		a8_fatal("refused", "execve", c->nr, "%s", why);
	if (!a8_step_begin(c, &s))
		return;
	if (a8.role == A8_ROLE_FOLLOWER) {
		if (s.rec->ret < 0) {
			a8_step_follow(c, &s, false);
			return;
		}
		rxfd = carry_rx();
	}
	a8_tx_flush();
	carry_fds(0);
	if (state_string(state, sizeof(state), s.digest, rxfd))
		a8_fatal("internal", "execve", c->nr, "monitor state too large to hand over");
	a8_interpose_disarm_for_exec();
	/* The next image inherits the mask: the program's, not the monitor's all-blocked. */
	prog_mask = a8_sig_program_mask(c);
	a8_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &prog_mask, NULL, 8);
	r = a8_sys3(SYS_execve, path, c->a[1], build_env((char *const *)c->a[2], state));
	/* Still here: execve failed and the old image goes on. */
	a8_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
	a8_interpose_rearm_child();
	carry_fds(FD_CLOEXEC);
	if (rxfd >= 0)
		a8_sys1(SYS_close, rxfd);
	c->ret = r;
	if (a8.role == A8_ROLE_FOLLOWER)
		a8_diverged("result", "execve", s.seq, "execve failed here (%ld), not on the leader",
			    r);
	a8_step_commit(c, &s, a8_step_record(c, &s, false));
}
