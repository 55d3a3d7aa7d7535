// SPDX-License-Identifier: MIT
/*
 * fork/clone, wait4, execve and exit. A forked child gets its own stream: the leader's child
 * listens on a fresh port that its parent's fork record announces, and each follower's child
 * connects there, so children are matched by creation order without asking the agents.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "a8/raw.h"
#include "arch.h"
#include "canon/table.h"
#include "ckpt/ckpt.h"
#include "exchange/link.h"
#include "fdtab.h"
#include "handover.h"
#include "interpose/interpose.h"
#include "proc.h"
#include "signals.h"
#include "stream.h"
#include "util.h"

/* Follower: the local pid of each child, by the pid the program knows (the leader's). */
struct child { long vpid, pid; };
static struct child *children;
static size_t nchild, capchild;

static void child_add(long vpid, long pid)
{
	if (nchild == capchild) {
		size_t ncap = capchild ? capchild * 2 : 64;
		struct child *n = a8_mem_alloc(ncap * sizeof(*n));

		if (children) {
			memcpy(n, children, nchild * sizeof(*n));
			a8_mem_free(children, capchild * sizeof(*n));
		}
		children = n;
		capchild = ncap;
	}
	children[nchild].vpid = vpid;
	children[nchild++].pid = pid;
}

static long child_take(long vpid)
{
	size_t i;

	for (i = 0; i < nchild; i++)
		if (children[i].vpid == vpid) {
			long pid = children[i].pid;

			children[i] = children[--nchild];
			return pid;
		}
	return -1;
}

/* Follower: the local pid behind a pid the program knows (the leader's numbering). */
long a8_pid_local(long vpid)
{
	size_t i;

	if (vpid <= 0)
		return vpid;
	/* A leader resumed from a checkpoint copy has a pid of its own, too. */
	if (vpid == a8.vpid)
		return a8_sys0(SYS_getpid);
	if (a8.role != A8_ROLE_FOLLOWER)
		return vpid;
	for (i = 0; i < nchild; i++)
		if (children[i].vpid == vpid)
			return children[i].pid;
	return vpid;
}

void a8_h_getpid(struct a8_call *c)
{
	c->ret = a8.vpid;
}

void a8_h_getppid(struct a8_call *c)
{
	c->ret = a8.vppid;
}

void a8_h_set_tid_address(struct a8_call *c)
{
	a8_sys1(SYS_set_tid_address, c->a[0]);
	c->ret = a8.vpid;
}

void a8_h_clone3(struct a8_call *c)
{
	c->ret = -ENOSYS;	/* glibc falls back to clone, which the monitor handles */
}

/* The child's half of a fork: new stream, own connections, interposer armed again. */
static void become_child(struct a8_call *c, long vpid, uint16_t port, int lfd, long newsp)
{
	int err;

	a8_interpose_rearm_child();
	a8_handover_forget(true);	/* the parent's files: this process makes its own */
	a8_ckpt_in_child();
	a8_link_close();
	nchild = 0;
	snprintf(a8.stream + strlen(a8.stream), sizeof(a8.stream) - strlen(a8.stream), ".%u",
		 a8.nchildren);
	a8.nchildren = 0;
	a8.seq = 0;
	a8.vppid = a8.vpid;
	a8.vpid = vpid;
	a8_stats_open(true);
	/*
	 * No agent to take our hello: the run is over (it ended as we were forked; the agent
	 * kills what it knows of). We must not run on unmonitored.
	 */
	if (a8_agent_connect() < 0)
		a8_sys2(SYS_kill, a8_sys0(SYS_getpid), SIGKILL);
	if (a8.role == A8_ROLE_LEADER) {
		err = a8_link_accept_followers(lfd, a8.timeout_ms);
		a8_sys1(SYS_close, lfd);
	} else {
		err = a8_link_connect_leader(a8.leader_addr, port, a8.timeout_ms);
	}
	if (err && a8.role == A8_ROLE_FOLLOWER)
		a8_leader_vanished("clone", 0);	/* the leader's child died before we met */
	if (err)
		a8_fatal("peer-lost", "clone", c->nr, "child stream %s: no data connection (%d)",
			 a8.stream, err);
	if (newsp)
		A8_UC_SP(c->uc) = (unsigned long)newsp;
	c->ret = 0;
}

static void port_section(struct a8_step *s, uint16_t *port)
{
	const uint8_t *d;
	uint32_t tag, n, v;

	while (a8_sec_next(&s->sections, &tag, &d, &n) == 1)
		if (tag == A8_SEC_PORT && n == 4) {
			memcpy(&v, d, 4);
			*port = (uint16_t)v;
		}
}

void a8_h_clone(struct a8_call *c)
{
	unsigned long flags = (unsigned long)c->a[0];
	long newsp = c->a[1], r;
	uint16_t port = 0;
	int lfd = -1;
	struct a8_step s;

	if (flags & CLONE_THREAD || (flags & CLONE_VM && !(flags & CLONE_VFORK)))
		a8_fatal("threads", "clone", c->nr,
			 "threads are not supported yet: the program started a thread");
	/* vfork shares memory and stack with the parent: run it as a fork instead. */
	flags &= ~(unsigned long)(CLONE_VM | CLONE_VFORK);
	if (!a8_step_begin(c, &s))
		return;
	if (a8.role == A8_ROLE_FOLLOWER) {
		if (s.rec->ret < 0) {
			a8_step_follow(c, &s, false);
			return;
		}
		port_section(&s, &port);
	} else {
		lfd = a8_link_listen(a8.data_addr, &port);
		if (lfd < 0)
			a8_fatal("internal", "clone", c->nr, "no data listener for a child (%d)", lfd);
	}
	a8.nchildren++;
	a8_ckpt_child_born();
	r = a8_sys5(SYS_clone, flags, 0, c->a[2], c->a[3], c->a[4]);
	if (r == 0) {
		become_child(c, a8.role == A8_ROLE_LEADER ? a8_sys0(SYS_getpid) : s.rec->ret,
			     port, lfd, newsp);
		return;
	}
	if (a8.role == A8_ROLE_FOLLOWER) {
		if (r > 0)
			child_add(s.rec->ret, r);
		else
			a8_diverged("result", "clone", s.seq, "fork failed here (%ld)", r);
		c->ret = s.rec->ret;
		a8_ring_finish(s.seq, c->ret, A8_RING_LEADER_RESULT);
		return;
	}
	a8_sys1(SYS_close, lfd);
	c->ret = r;
	{
		struct a8_rec_hdr *h = a8_step_record(c, &s, false);
		uint32_t p32 = port;

		a8_sec_put(A8_SEC_PORT, &p32, 4);
		a8_step_commit(c, &s, h);
	}
}

void a8_h_wait4(struct a8_call *c)
{
	struct a8_step s;

	c->route = R_LEADER;
	a8_replay_check(a8.seq + 1);	/* the role below is the one step_begin will use */
	if (a8.role == A8_ROLE_LEADER) {
		a8_stream_call(c);
		if (c->ret > 0)
			a8_ckpt_child_reaped();
		return;
	}
	if (!a8_step_begin(c, &s))
		return;
	a8.stats->calls_replicated++;
	if (s.rec->ret > 0)
		a8_ckpt_child_reaped();
	/* Reap this variant's own child that matches the one the leader reaped. */
	if (s.rec->ret > 0) {
		long pid = child_take(s.rec->ret);
		int st;

		if (pid > 0)
			while (a8_sys4(SYS_wait4, pid, &st, __WALL, NULL) == -EINTR)
				;
	}
	a8_step_follow(c, &s, true);
}

void a8_h_exit(struct a8_call *c)
{
	struct a8_step s;

	if (a8_step_begin(c, &s)) {
		if (a8.role == A8_ROLE_LEADER) {
			struct a8_rec_hdr *h;

			c->ret = 0;
			h = a8_step_record(c, &s, false);
			a8_step_commit(c, &s, h);
		} else {
			a8_ring_finish(s.seq, c->ret, A8_RING_LEADER_RESULT);
		}
	}
	if (c->restart)
		return;
	a8_replay_ending();
	a8_tx_flush();
	a8_agent_event("exit", "\"status\":%ld,\"calls\":%llu", c->a[0] & 0xff,
		       (unsigned long long)a8.stats->calls_seen);
	a8_sys1(SYS_exit_group, c->a[0]);
}
