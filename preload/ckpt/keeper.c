// SPDX-License-Identifier: MIT
/*
 * The criu engine's keeper of fds (ckpt.h). CRIU restores the fds the process had at the dump,
 * not those it made since, and those are what a replay needs (a file a server keeps open in its
 * cache, a connection accepted since). So right after each dump the leader forks a keeper: a
 * process of the agent's, out of the tree's session (a rollback kills the tree, not the
 * keeper), that holds, of the program's fds, only the dump's TCP sockets (CRIU restores its
 * connections closed), and serves the same channel as a frozen copy (keep.c). Every leader
 * process of a tree has one (keeper_fork says how it gets out of the tree). A restored leader
 * connects to it by its keyed path in A8_KEEP_DIR (keeper_addr), says where its replay stops and
 * takes the fds made before that, and the dump's sockets; the keeper goes on serving it (a
 * retry restores the same dump and needs them again) until the next checkpoint retires it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "a8/raw.h"
#include "canon/siphash.h"
#include "ckpt.h"
#include "core/epoll.h"
#include "core/fdtab.h"
#include "core/handover.h"
#include "core/util.h"
#include "keep_chan.h"

/* The dump's connections a keeper holds at most (more are restored closed, as before). */
#define KEEPER_CONNS 1024

/*
 * The path of the keeper of process pid's checkpoint epoch. Keyed: every user sees the keepers'
 * paths in /proc/net/unix, and one who could tell the next could bind it first, or leave a file
 * there that a keeper of another user could not remove (the directory is sticky), and so deny
 * the process its checkpoints. Per epoch: an older keeper of the same pid may have been root's.
 */
static int keeper_addr(struct sockaddr_un *sun, long pid, uint32_t epoch)
{
	struct {
		int64_t pid;
		uint32_t epoch;
		char tag[4];
	} what = { pid, epoch, "keep" };
	const char *dir = a8.keep_dir[0] ? a8.keep_dir : a8.run_dir;
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/k-%016llx", dir,
		     (unsigned long long)a8_siphash(a8.key, &what, sizeof(what)));
	return n > 0 && n < (int)sizeof(sun->sun_path) ? 0 : -ENAMETOOLONG;
}

/* The keeper's own socket, removed when it ends: one is made per checkpoint. */
static char listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static __attribute__((noreturn)) void keeper_end(void)
{
	if (listen_path[0])
		a8_sys1(SYS_unlink, listen_path);
	a8_sys1(SYS_exit_group, 0);
	__builtin_unreachable();
}

static int keeper_listen(long pid, uint32_t epoch)
{
	struct sockaddr_un sun;
	long fd;
	int err = keeper_addr(&sun, pid, epoch);

	if (err)
		return err;
	a8_sys1(SYS_unlink, sun.sun_path);	/* an older keeper's */
	/* Out of the program's range, where a message about a program fd could name it. */
	fd = a8_fd_socket(AF_UNIX, SOCK_SEQPACKET);
	if (fd < 0)
		return (int)fd;
	err = (int)a8_sys3(SYS_bind, fd, &sun, sizeof(sun));
	if (!err)
		memcpy(listen_path, sun.sun_path, sizeof(listen_path));
	if (!err)
		err = (int)a8_sys2(SYS_listen, fd, 4);
	if (err) {
		a8_sys1(SYS_close, fd);
		return err;
	}
	return (int)fd;
}

/* Wait up to ms for fd to be readable: 1, 0 on time-out, or -errno. */
static long wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	long r;

	do
		r = a8_sys5(SYS_ppoll, &p, 1, &ts, NULL, 8);
	while (r == -EINTR);
	return r;
}

/*
 * A restored leader connected: it says where its replay stops; it gets the fds made before
 * that and the others are let go (a later retry stops there or earlier). Then its connection
 * is the channel this keeper serves.
 */
static void keeper_take(int conn, uint32_t epoch)
{
	struct chan_msg m, end = { 0, 0, CHAN_END };
	int held = -1;
	long n;

	/* The dead process's last messages are queued before its end: take them first. */
	a8_keep_channel_drain();
	if (wait_in(conn, a8.timeout_ms > 0 ? a8.timeout_ms : 5000) != 1 ||
	    a8_chan_recv(conn, &m, &held, MSG_DONTWAIT) != sizeof(m) || m.kind != CHAN_TAKE) {
		if (held >= 0)
			a8_sys1(SYS_close, held);
		a8_sys1(SYS_close, conn);
		return;
	}
	if ((uint32_t)m.fd != epoch) {
		end.fd = -ESTALE;
		a8_send(conn, &end, sizeof(end));
		a8_sys1(SYS_close, conn);
		return;
	}
	a8_keep_drop_from(m.seq);
	n = a8_keep_send_kept(conn);
	end.fd = (int32_t)n;
	if (n < 0 || a8_send(conn, &end, sizeof(end)) != sizeof(end)) {
		a8_sys1(SYS_close, conn);
		return;
	}
	a8_keep_serve_on(conn);
}

/*
 * The dump's TCP connections and, of a root without children, its listening sockets (marked
 * shared by the leader before the fork): held under their program numbers, made at 0. CRIU
 * restores the connections closed; a restored leader takes these live ones instead, so that
 * its clients see a delay, not a reset. A listener held here keeps its port's clients queued
 * while the tree is restored (the restore binds the port beside it: SO_REUSEPORT, ckpt.c).
 */
static size_t keeper_hold_conns(int *held, size_t cap)
{
	size_t n = 0;
	int fd;

	for (fd = 0; fd < A8_CKPT_FDS && n < cap; fd++) {
		int h;

		if (!a8_ckpt_is_shared(fd))
			continue;
		h = a8_fd_hide(fd);
		if (h < 0)
			continue;
		a8_kept_add(0, fd, h);
		held[n++] = h;
	}
	return n;
}

/* Close every fd but the n in keep (which it sorts). */
static int close_all_but(int *keep, size_t n)
{
	unsigned lo = 0;
	size_t i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if ((unsigned)keep[i] > lo &&
		    a8_sys3(SYS_close_range, lo, (unsigned)keep[i] - 1, 0) < 0)
			return -1;
		lo = (unsigned)keep[i] + 1;
	}
	return a8_sys3(SYS_close_range, lo, ~0u, 0) < 0 ? -1 : 0;
}

/* The keeper's life: serve the live leader, and each restored one, until retired. */
static __attribute__((noreturn)) void keeper_main(long leader, uint32_t epoch)
{
	char ready = 1;
	int lfd, chan, keep[1 + KEEPER_CONNS];

	/*
	 * Out of the tree's session and group first: a rollback kills those (the agent waits for
	 * our criu-keeper before it may start one, criu_rounds.ts), and restores the pids.
	 */
	if (a8_sys0(SYS_setsid) < 0)
		a8_sys1(SYS_exit_group, 0);
	a8_keep_channel_frozen();
	/* Of the program's fds, only the TCP sockets the leader marked. */
	chan = a8_keep_channel_fd();
	keep[0] = chan;
	if (close_all_but(keep, 1 + keeper_hold_conns(keep + 1, KEEPER_CONNS)))
		a8_sys1(SYS_exit_group, 0);
	a8.agent_fd = -1;
	a8_handover_forget(false);	/* closed with the rest: the numbers may come back */
	lfd = keeper_listen(leader, epoch);
	if (lfd < 0 || a8_agent_open() < 0 || a8.agent_fd < 0)
		keeper_end();
	/*
	 * Ready before the agent hears of us: once it has, it may kill the tree (a rollback waits
	 * for the round's keepers), and a keeper that then failed to tell its dead process would
	 * end, leaving the checkpoint it was counted for without one.
	 */
	if (a8_send(chan, &ready, 1) != 1)
		keeper_end();
	a8_agent_event("criu-keeper", "\"epoch\":%u", epoch);
	for (;;) {
		struct pollfd p[3] = { { .fd = a8.agent_fd, .events = POLLIN },
				       { .fd = lfd, .events = POLLIN },
				       { .fd = a8_keep_channel_fd(), .events = POLLIN } };
		long r = a8_sys5(SYS_ppoll, p, p[2].fd >= 0 ? 3 : 2, NULL, NULL, 8);

		if (r == -EINTR)
			continue;
		/* The agent closes our connection when it does not need us any more. */
		if (r < 0 || p[0].revents)
			keeper_end();
		if (p[1].revents) {
			long conn = a8_fd_hide((int)a8_sys4(SYS_accept4, lfd, NULL, NULL,
							   SOCK_CLOEXEC));

			if (conn >= 0)
				keeper_take((int)conn, epoch);
			continue;
		}
		if (p[2].revents && !a8_keep_channel_serve())
			keeper_end();
	}
}

/* The go-between of a keeper_fork that is not the root's: the keeper waits until it ended. */
static long go_between;

/* Whether our parent is the agent: the peer of our connection to it (still the process's). */
static bool agents_child(void)
{
	struct ucred peer;
	socklen_t len = sizeof(peer);

	if (a8.agent_fd < 0 ||
	    a8_sys5(SYS_getsockopt, a8.agent_fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
		return a8_sys1(SYS_getpgid, a8_sys0(SYS_getppid)) != a8_sys1(SYS_getpgid, 0);
	return peer.pid == a8_sys0(SYS_getppid);
}

/*
 * A keeper is the agent's child, out of the tree, and the program's wait() never sees it. The
 * root's parent is the agent: CLONE_PARENT. Another process's parent is in the tree, so it
 * forks a go-between that the kernel does not report to the program (no exit signal, and a
 * wait without __WCLONE or __WALL passes it over) and that the monitor reaps: it forks the
 * keeper and ends, and the orphaned keeper goes to the agent, a child subreaper. 0 in the
 * keeper; in the process, > 0 or -errno.
 */
static long keeper_fork(void)
{
	long mid, pid, r;
	int st = 0;

	if (!strcmp(a8.stream, "0"))
		return a8_sys5(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	mid = a8_sys5(SYS_clone, 0, 0, 0, 0, 0);
	if (mid == 0) {
		go_between = a8_sys0(SYS_getpid);
		pid = a8_sys5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
		if (pid == 0)
			return 0;
		a8_sys1(SYS_exit_group, pid < 0);
	}
	if (mid < 0)
		return mid;
	do
		r = a8_sys4(SYS_wait4, mid, &st, __WCLONE, NULL);
	while (r == -EINTR);
	if (r < 0)
		return r;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? mid : -ECHILD;
}

int a8_keep_keeper_start(uint32_t epoch)
{
	long leader = a8_sys0(SYS_getpid), pid, r;
	char ready;
	int err = a8_keep_channel_new();

	if (err < 0)
		return err;
	pid = keeper_fork();
	if (pid < 0) {
		a8_keep_channel_live();	/* the keeper's end */
		a8_keep_channel_retire();
		return (int)pid;
	}
	if (pid == 0) {
		/* Registered while still the go-between's child, the agent could not reap it. */
		while (go_between && a8_sys0(SYS_getppid) == go_between)
			a8_sys0(SYS_sched_yield);
		/*
		 * A process of the program that made itself a child subreaper took it in: that one
		 * would wait() for it, and a rollback would kill it with the tree. No keeper then.
		 */
		if (go_between && !agents_child())
			a8_sys1(SYS_exit_group, 0);
		keeper_main(leader, epoch);
	}
	a8_keep_channel_live();
	r = wait_in(a8_keep_live_fd(), a8.timeout_ms > 0 ? a8.timeout_ms : 5000);
	if (r == 1)
		r = a8_sys3(SYS_read, a8_keep_live_fd(), &ready, 1);
	if (r != 1) {
		a8_keep_channel_retire();
		return r < 0 ? (int)r : -ETIMEDOUT;
	}
	return 0;
}

int a8_keep_fetch(uint32_t epoch, uint64_t stop)
{
	size_t got = 0;
	struct chan_msg m = { stop, (int32_t)epoch, CHAN_TAKE };
	struct sockaddr_un sun;
	int held, err;
	long fd, r;

	a8_keep_drop_from(0);
	err = keeper_addr(&sun, a8_sys0(SYS_getpid), epoch);
	if (err)
		return err;
	fd = a8_fd_socket(AF_UNIX, SOCK_SEQPACKET);
	if (fd < 0)
		return (int)fd;
	r = a8_sys3(SYS_connect, fd, &sun, sizeof(sun));
	if (!r)
		r = a8_send(fd, &m, sizeof(m)) == sizeof(m) ? 0 : -EIO;
	while (!r) {
		r = wait_in((int)fd, a8.timeout_ms > 0 ? a8.timeout_ms : 5000);
		if (r != 1) {
			r = r ? r : -ETIMEDOUT;
			break;
		}
		r = a8_chan_recv((int)fd, &m, &held, MSG_DONTWAIT);
		if (r != sizeof(m)) {
			r = r < 0 ? r : -EPIPE;
			break;
		}
		if (m.kind == CHAN_END) {
			r = m.fd < 0 ? m.fd : 1;
			break;
		}
		r = 0;
		if (m.kind != CHAN_KEEP || held < 0) {
			if (held >= 0)
				a8_sys1(SYS_close, held);
			r = -EPROTO;
			break;
		}
		held = a8_fd_hide(held);
		if (held < 0) {
			r = held;
			break;
		}
		a8_kept_add(m.seq, m.fd, held);
		got++;
	}
	if (r < 0) {
		a8_sys1(SYS_close, fd);
		a8_keep_drop_from(0);
		return (int)r;
	}
	a8_keep_live_on((int)fd);
	a8_log(A8_LOG_DEBUG, 0, "the keeper of checkpoint %u gave back %zu fds", epoch, got);
	return 0;
}

/*
 * criu leader process, restored: CRIU made the dump's TCP connections anew, closed; the
 * keeper's live ones (fetched as made at 0) go in their place, as a frozen copy's would (a
 * client sees a delay, not a reset), and so do its listening sockets. The epoll instances lost
 * those registrations with the closed files: they get the checkpoint's set. lost: the replay
 * log overflowed, so calls on the connections are missing and they are shut down instead.
 */
void a8_keep_install_dump_conns(bool lost)
{
	unsigned n = 0;
	int fd, held;

	while ((held = a8_keep_take_any(0, &fd)) >= 0) {
		long fl = a8_sys2(SYS_fcntl, fd, F_GETFD);
		/* A listening socket serves everyone: never shut down (replay.c is_connection). */
		bool listener = a8_tcp_listener(held);

		if ((!lost || listener) && fl >= 0 &&
		    a8_sys3(SYS_dup3, held, fd, (fl & FD_CLOEXEC) ? O_CLOEXEC : 0) == fd) {
			/* The keeper holds it too: it lets go when the program closes it. */
			a8_ckpt_shared(fd, 0);
			n++;
		} else if (!listener) {
			a8_sys2(SYS_shutdown, held, SHUT_RDWR);	/* nobody serves it now */
		}
		a8_sys1(SYS_close, held);
	}
	if (n)
		a8_epoll_rebuild();
	a8_log(A8_LOG_DEBUG, 0, "%u sockets of checkpoint %u are live again", n, a8.epoch);
}
