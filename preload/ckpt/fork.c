// SPDX-License-Identifier: MIT
/*
 * The fork engine's frozen copy (ckpt.h): forked at a checkpoint as the agent's child, it
 * waits on its own agent connection; told to resume, it puts back the kernel state it shares
 * with the dead process (file offsets, epoll interest sets, kept fds), forks its successor and
 * becomes the live process.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>

#include "a8/raw.h"
#include "ckpt.h"
#include "core/epoll.h"
#include "core/fdtab.h"
#include "core/util.h"
#include "exchange/link.h"
#include "interpose/interpose.h"


struct offset { int fd; long off; };
static struct offset *offsets;
static int noffsets;
static int copy_lfd = -1;		/* leader's copy: data listener for the followers' copies */
static uint16_t copy_port;

/* Offsets are shared with the dead process's open files: note them to put them back. */
static void save_offsets(void)
{
	int fd;

	if (!offsets)
		offsets = a8_mem_alloc(A8_CKPT_FDS * sizeof(*offsets));
	noffsets = 0;
	for (fd = 0; fd < A8_CKPT_FDS && noffsets < A8_CKPT_FDS; fd++) {
		int k = a8_fd_kind(fd);
		long off;

		if (k != FK_LOCAL && k != FK_REPL)
			continue;
		off = a8_sys3(SYS_lseek, fd, 0, SEEK_CUR);
		if (off >= 0)
			offsets[noffsets++] = (struct offset){ fd, off };
	}
}

static void restore_offsets(void)
{
	int i;

	for (i = 0; i < noffsets; i++)
		a8_sys3(SYS_lseek, offsets[i].fd, offsets[i].off, SEEK_SET);
}

/*
 * Sleep until the agent says something, serving the live process meanwhile (fds it keeps
 * here, fds it closes). False when the live process moved on to a newer copy (or died
 * without a rollback to come): this copy then just ends.
 */
static bool wait_command(void)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = a8.agent_fd, .events = POLLIN },
				       { .fd = a8_keep_channel_fd(), .events = POLLIN } };
		long r = a8_sys5(SYS_ppoll, p, p[1].fd >= 0 ? 2 : 1, NULL, NULL, 8);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return false;
		if (p[0].revents)
			return true;
		if (p[1].revents && !a8_keep_channel_serve())
			return false;
	}
}

/*
 * The frozen copy: it lets go of the live process's connections (so that the live one's
 * death is seen), registers with the agent and sleeps until told to resume. The agent closes
 * the connection of a copy it no longer needs: the copy then just ends.
 */
static void wait_resume(struct a8_resume_cmd *cmd, uint64_t seq)
{
	char line[128];

	a8_link_close();
	if (a8_agent_open() < 0)
		a8_sys1(SYS_exit_group, 0);
	/*
	 * The leader's copy listens before it is needed: the agents learn the port now and the
	 * followers' copies can connect as soon as a rollback starts, without a round trip.
	 */
	if (copy_lfd >= 0)
		a8_sys1(SYS_close, copy_lfd);
	copy_lfd = -1;
	copy_port = 0;
	if (a8.role == A8_ROLE_LEADER) {
		copy_lfd = a8_link_listen(a8.data_addr, &copy_port);
		if (copy_lfd < 0)
			a8_sys1(SYS_exit_group, 0);
	}
	a8_agent_event("checkpoint", "\"epoch\":%u,\"seq\":%llu,\"port\":%u", a8.epoch,
		       (unsigned long long)seq, copy_port);
	for (;;) {
		if (!wait_command() || !a8_ckpt_read_line(line, sizeof(line)))
			a8_sys1(SYS_exit_group, 0);
		if (a8_resume_parse(line, cmd))
			return;
		a8_log(A8_LOG_WARN, 0, "checkpoint copy: unknown command '%s'", line);
	}
}

/* When a resuming copy reached each step, for the agent's log (ns, monotonic). */
struct resume_times {
	uint64_t told, ready, connected, forked;
};

static void connect_data(const struct a8_resume_cmd *cmd, struct resume_times *t)
{
	int err;

	if (a8.role == A8_ROLE_FOLLOWER) {
		err = a8_link_connect_leader(a8.leader_addr, (uint16_t)cmd->port, a8.timeout_ms);
	} else {
		err = a8_link_accept_followers(copy_lfd, a8.timeout_ms);
		a8_sys1(SYS_close, copy_lfd);
		copy_lfd = -1;
	}
	if (err)
		a8_fatal("peer-lost", "", 0, "data plane not re-established after rollback (%d)",
			 err);
	t->connected = a8_ckpt_now_ns();
}

static void tell_resumed(const struct resume_times *t)
{
	a8_agent_event("resumed",
		       "\"epoch\":%u,\"port\":%u,\"us_ready\":%llu,\"us_fork\":%llu,"
		       "\"us_connect\":%llu,\"mono_us\":%llu",
		       a8.epoch, copy_port, (unsigned long long)(t->ready - t->told) / 1000,
		       (unsigned long long)(t->forked - t->ready) / 1000,
		       (unsigned long long)(t->connected - t->ready) / 1000,
		       (unsigned long long)(a8_ckpt_now_ns() / 1000));
}

static long fork_copy(void)
{
	int err = a8_keep_channel_new();

	if (err < 0)
		a8_fatal("internal", "", 0, "no channel for a checkpoint copy (%d)", err);
	a8_ckpt_mark_shared_fds();
	/* The agent's child, not the program's: the program's wait() never sees a copy. */
	return a8_sys5(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
}

/* A resuming copy puts back the kernel state it shares with the dead process. */
static void prepare_state(const struct a8_resume_cmd *cmd)
{
	a8_ckpt_resumed_at(cmd->diverged_at);
	if (cmd->quiet)
		a8_faults_stop();
	a8_keep_channel_drain();
	if (a8.role == A8_ROLE_LEADER) {
		a8_live_settle();
		a8_replay_prepare(cmd->mode, cmd->diverged_at);
	} else {
		a8_ran_settle();
	}
	restore_offsets();
	if (a8.role == A8_ROLE_LEADER)
		a8_epoll_rebuild();
}

/*
 * In a copy told to resume: fix the shared kernel state, fork the next copy of the same
 * epoch (a retry needs one), then become the live process. The leader forks while its
 * followers are on their way; a follower connects first, since the leader waits for it.
 */
static void resume(uint64_t seq)
{
	struct resume_times t = { 0 };
	struct a8_resume_cmd cmd;
	long pid;

	for (;;) {
		wait_resume(&cmd, seq);
		t.told = a8_ckpt_now_ns();
		prepare_state(&cmd);
		t.ready = a8_ckpt_now_ns();
		if (a8.role == A8_ROLE_FOLLOWER)
			connect_data(&cmd, &t);
		pid = fork_copy();
		if (pid < 0)
			a8_fatal("internal", "", 0, "cannot fork the next checkpoint copy (%ld)", pid);
		if (pid == 0) {
			a8_keep_channel_frozen();
			continue;
		}
		break;
	}
	t.forked = a8_ckpt_now_ns();
	if (a8.stats)
		a8.stats->pid = (uint32_t)a8_sys0(SYS_getpid);
	a8_keep_channel_live();
	a8_interpose_rearm_child();
	if (a8.role == A8_ROLE_LEADER)
		connect_data(&cmd, &t);
	tell_resumed(&t);
	if (a8.role == A8_ROLE_LEADER)
		a8_replay_start();
	a8_log(A8_LOG_INFO, 0, "rolled back to epoch %u (position %llu), mode %u", a8.epoch,
	       (unsigned long long)seq, cmd.mode);
}

enum a8_taken a8_fork_take(uint64_t seq)
{
	uint64_t t0 = a8_ckpt_now_ns();
	long pid;

	save_offsets();
	pid = fork_copy();
	if (pid < 0) {
		a8_log(A8_LOG_WARN, 0, "checkpoint at %llu skipped: fork failed (%ld)",
		       (unsigned long long)seq, pid);
		return A8_SKIPPED;
	}
	if (pid == 0) {
		a8_keep_channel_frozen();
		resume(seq);
		return A8_RESUMED;
	}
	a8_keep_channel_live();
	a8_agent_event("checkpoint-taken", "\"epoch\":%u,\"seq\":%llu,\"us\":%llu", a8.epoch,
		       (unsigned long long)seq,
		       (unsigned long long)((a8_ckpt_now_ns() - t0) / 1000));
	return A8_TAKEN;
}
