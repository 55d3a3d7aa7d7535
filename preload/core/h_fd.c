// SPDX-License-Identifier: MIT
/*
 * Calls whose treatment depends on a command argument (fcntl, ioctl, prctl) or on several fds
 * (sendfile, close_range, mmap of a file). The per-command treatment is data: one row per
 * command, read by the same code; a command without a row stops the run, naming it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "a8/raw.h"
#include "ckpt/ckpt.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "fdtab.h"
#include "epoll.h"
#include <sys/epoll.h>
#include "stream.h"
#include "util.h"

#define A(k, ...) { .kind = AK_##k, .p = (0 __VA_OPT__(+ __VA_ARGS__)) }
#define BY_FD 0xff	/* by the kind of fd arg 0 */

struct cmd_row {
	unsigned long cmd;
	uint8_t route;		/* BY_FD, R_EVERY, R_LEADER or R_LOCAL */
	uint16_t flags;
	struct a8_arg arg;	/* the argument after the command */
};

/* Run call c as its row says, with `arg` as the kind of argument `argi`. */
static void run_cmd(struct a8_call *c, const struct cmd_row *r, int argi)
{
	struct a8_callinfo row = *c->ci;

	row.args[argi] = r->arg;
	c->ci = &row;
	c->xflags = r->flags;
	if (r->route == R_LOCAL) {
		a8.stats->calls_local++;
		c->ret = a8_sys_args(c->nr, c->args);
		return;
	}
	c->route = r->route == BY_FD ? a8_resolve_route_fd(c->a[0]) : r->route;
	a8_stream_call(c);
}

static const struct cmd_row *find(const struct cmd_row *t, size_t n, unsigned long cmd)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].cmd == cmd)
			return &t[i];
	return NULL;
}

static const struct cmd_row fcntl_rows[] = {
	{ F_DUPFD, BY_FD, F_NEWFD, A(INT) },
	{ F_DUPFD_CLOEXEC, BY_FD, F_NEWFD, A(INT) },
	{ F_GETFD, R_EVERY, 0, A(NONE) },	/* placeholders mirror FD_CLOEXEC */
	{ F_SETFD, R_EVERY, 0, A(INT) },
	{ F_GETFL, BY_FD, 0, A(NONE) },
	{ F_SETFL, BY_FD, 0, A(INT) },
	{ F_GETLK, BY_FD, 0, A(INOUTS, sizeof(struct flock)) },
	{ F_SETLK, BY_FD, 0, A(INOUTS, sizeof(struct flock)) },
	{ F_SETLKW, BY_FD, F_BLOCK, A(INOUTS, sizeof(struct flock)) },
	{ F_OFD_GETLK, BY_FD, 0, A(INOUTS, sizeof(struct flock)) },
	{ F_OFD_SETLK, BY_FD, 0, A(INOUTS, sizeof(struct flock)) },
	{ F_OFD_SETLKW, BY_FD, F_BLOCK, A(INOUTS, sizeof(struct flock)) },
	{ F_SETOWN, BY_FD, 0, A(PID) },
	{ F_GETOWN, BY_FD, 0, A(NONE) },
	{ F_SETSIG, BY_FD, 0, A(INT) },
	{ F_GETSIG, BY_FD, 0, A(NONE) },
	{ F_SETPIPE_SZ, BY_FD, 0, A(INT) },
	{ F_GETPIPE_SZ, BY_FD, 0, A(NONE) },
	{ F_ADD_SEALS, BY_FD, 0, A(INT) },
	{ F_GET_SEALS, BY_FD, 0, A(NONE) },
};

void a8_h_fcntl(struct a8_call *c)
{
	const struct cmd_row *r = find(fcntl_rows, sizeof(fcntl_rows) / sizeof(fcntl_rows[0]),
				       (unsigned long)c->a[1]);

	if (!r)
		a8_fatal("unknown-call", "fcntl", c->nr, "fcntl command %ld is not supported",
			 c->a[1]);
	run_cmd(c, r, 2);
}

static const struct cmd_row ioctl_rows[] = {
	{ 0x5401 /* TCGETS */, R_LEADER, 0, A(OUTS, 36) },
	{ 0x5402 /* TCSETS */, BY_FD, F_OUTPUT, A(INS, 36) },
	{ 0x5413 /* TIOCGWINSZ */, R_LEADER, 0, A(OUTS, 8) },
	{ 0x540f /* TIOCGPGRP */, R_LEADER, 0, A(OUTS, 4) },
	{ 0x541b /* FIONREAD */, BY_FD, 0, A(OUTS, 4) },
	{ 0x5421 /* FIONBIO */, BY_FD, 0, A(INS, 4) },
	{ 0x5452 /* FIOASYNC */, BY_FD, 0, A(INS, 4) },
	{ 0x5451 /* FIOCLEX */, R_EVERY, 0, A(NONE) },
	{ 0x5450 /* FIONCLEX */, R_EVERY, 0, A(NONE) },
	{ 0x40049409 /* FICLONE */, BY_FD, F_OUTPUT, A(INT) },
};

void a8_h_ioctl(struct a8_call *c)
{
	const struct cmd_row *r = find(ioctl_rows, sizeof(ioctl_rows) / sizeof(ioctl_rows[0]),
				       (unsigned long)(unsigned int)c->a[1]);

	if (!r)
		a8_fatal("unknown-call", "ioctl", c->nr, "ioctl request 0x%lx is not supported",
			 (unsigned long)c->a[1]);
	run_cmd(c, r, 2);
}

static const struct cmd_row prctl_rows[] = {
	{ 1 /* PR_SET_PDEATHSIG */, R_LOCAL, 0, A(INT) },
	{ 2 /* PR_GET_PDEATHSIG */, R_LOCAL, 0, A(PTR) },
	{ 3 /* PR_GET_DUMPABLE */, R_LOCAL, 0, A(INT) },
	{ 4 /* PR_SET_DUMPABLE */, R_LOCAL, 0, A(INT) },
	{ 7 /* PR_GET_KEEPCAPS */, R_EVERY, 0, A(INT) },
	{ 8 /* PR_SET_KEEPCAPS */, R_EVERY, F_CODE, A(INT) },
	{ 15 /* PR_SET_NAME */, R_LOCAL, 0, A(PTR) },
	{ 16 /* PR_GET_NAME */, R_LOCAL, 0, A(PTR) },
	{ 23 /* PR_CAPBSET_READ */, R_EVERY, 0, A(INT) },
	{ 24 /* PR_CAPBSET_DROP */, R_EVERY, F_CODE, A(INT) },
	{ 29 /* PR_SET_TIMERSLACK */, R_LOCAL, 0, A(INT) },
	{ 30 /* PR_GET_TIMERSLACK */, R_LOCAL, 0, A(INT) },
	{ 36 /* PR_SET_CHILD_SUBREAPER */, R_EVERY, 0, A(INT) },
	{ 38 /* PR_SET_NO_NEW_PRIVS */, R_EVERY, F_CODE, A(INT) },
	{ 39 /* PR_GET_NO_NEW_PRIVS */, R_EVERY, 0, A(INT) },
};

void a8_h_prctl(struct a8_call *c)
{
	const struct cmd_row *r;

	/* The interposers own these: a second filter or dispatcher would blind the monitor. */
	if (c->a[0] == 22 /* PR_SET_SECCOMP */ || c->a[0] == 59 /* SYSCALL_USER_DISPATCH */) {
		a8_log(A8_LOG_WARN, c->nr, "refused prctl %ld: a8 owns system call interposition",
		       c->a[0]);
		c->ret = -EINVAL;
		return;
	}
	r = find(prctl_rows, sizeof(prctl_rows) / sizeof(prctl_rows[0]), (unsigned long)c->a[0]);
	if (!r)
		a8_fatal("unknown-call", "prctl", c->nr, "prctl option %ld is not supported",
			 c->a[0]);
	run_cmd(c, r, 1);
}

/*
 * A follower's own end of a copy the leader ran: a local fd used without an offset pointer
 * moves as the leader's did, or the follower's next read of it would see other bytes.
 */
static void follow_offsets(struct a8_call *c)
{
	int i;

	if (a8.role != A8_ROLE_FOLLOWER || c->route != R_LEADER || c->ret <= 0)
		return;
	for (i = 0; i < 6; i++) {
		bool no_offset = i + 1 >= 6 || c->ci->args[i + 1].kind != AK_INOUTS || !c->a[i + 1];

		if (c->ci->args[i].kind == AK_FD && a8_fd_kind(c->a[i]) == FK_LOCAL && no_offset)
			a8_sys3(SYS_lseek, c->a[i], c->ret, SEEK_CUR);
	}
}

/* sendfile, copy_file_range, splice: the leader's if either end is replicated. */
void a8_h_sendfile(struct a8_call *c)
{
	int i;

	c->route = R_EVERY;
	for (i = 0; i < 6; i++)
		if (c->ci->args[i].kind == AK_FD && a8_fd_kind(c->a[i]) == FK_REPL)
			c->route = R_LEADER;
	a8_stream_call(c);
	if (!c->restart)
		follow_offsets(c);
}

void a8_h_close_range(struct a8_call *c)
{
	unsigned long first = (unsigned long)c->a[0], last = (unsigned long)c->a[1], fd;
	bool closing;

	/* The monitor's fds sit above the program's range and stay open. */
	if (last >= (unsigned long)a8_fd_reserved_base())
		c->a[1] = last = (unsigned long)a8_fd_reserved_base() - 1;
	c->route = R_EVERY;
	if (first > last) {
		c->ret = 0;
		return;
	}
	closing = !(c->a[2] & 4 /* CLOSE_RANGE_CLOEXEC */);
	/* A checkpoint copy (or keeper) holding one of them lets go first, as for close. */
	for (fd = first; closing && fd <= last && fd < A8_CKPT_FDS; fd++)
		if (a8_fd_kind((long)fd) != FK_NONE)
			a8_ckpt_before_close((long)fd);
	a8_stream_call(c);
	if (c->ret == 0 && closing) {
		a8_fd_forget_range((long)first, (long)last);
		a8_epoll_forget_range((long)first, (long)last);
	}
}

void a8_h_unsupported(struct a8_call *c)
{
	a8_fatal("unknown-call", c->ci->name, c->nr, "%s is not supported yet", c->ci->name);
}

/* fds a and b are one open file (kcmp; without it, one inode: the ends of a pipe too). */
static bool same_file(long a, long b)
{
	long pid = a8_sys0(SYS_getpid), r = a8_sys5(SYS_kcmp, pid, pid, 0 /* KCMP_FILE */, a, b);
	struct stat sa, sb;

	if (r >= 0)
		return r == 0;
	return a8_sys2(SYS_fstat, a, &sa) == 0 && a8_sys2(SYS_fstat, b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* dup2(fd, fd) returns fd where dup3 refuses: keep the native call's meaning. */
void a8_h_dup3(struct a8_call *c)
{
	bool replaced;

	if (!c->alias || c->a[0] != c->a[1]) {
		c->route = a8_resolve_route_fd(c->a[0]);
		/*
		 * A follower's replicated fds are placeholders, all one file: it keeps the entry
		 * (the leader, which forgets it, sends no events for it).
		 */
		replaced = a8_fd_kind(c->a[1]) != FK_NONE &&
			   (a8.role == A8_ROLE_LEADER || a8_replaying()) &&
			   !same_file(c->a[0], c->a[1]);
		a8_ckpt_before_close(c->a[1]);	/* dup onto an open fd closes it */
		a8_stream_call(c);
		/* The file that was there is closed: the kernel drops its registrations. */
		if (replaced && c->ret == c->a[1] && !c->restart)
			a8_epoll_forget_fd((int)c->a[1]);
		return;
	}
	c->ret = a8_sys2(SYS_fcntl, c->a[0], F_GETFD) < 0 ? -EBADF : c->a[0];
}

/* epoll_ctl: as its fd says, and each variant remembers its own cookie (epoll.h). */
void a8_h_epoll_ctl(struct a8_call *c)
{
	const struct epoll_event *ev = (const struct epoll_event *)c->a[3];

	c->route = a8_resolve_route_fd(c->a[0]);
	a8_stream_call(c);
	/*
	 * A replaying leader takes the recorded result, but the epoll instance is the one the
	 * rollback rebuilt as it was at the checkpoint: it must see the change too.
	 */
	if (a8_replaying() && c->route == R_LEADER && c->ret == 0 && !c->restart)
		a8_sys4(SYS_epoll_ctl, c->a[0], c->a[1], c->a[2], c->a[3]);
	if (c->ret == 0 && !c->restart)
		a8_epoll_note((int)c->a[0], (int)c->a[1], (int)c->a[2], ev ? ev->events : 0,
			      ev ? ev->data.u64 : 0);
}
