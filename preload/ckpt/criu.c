// SPDX-License-Identifier: MIT
/*
 * The criu engine's side in the monitor (ckpt.h). At a checkpoint position the process gets
 * out of CRIU's way: it tells its agent, lets go of the agent's unix socket (CRIU cannot dump
 * one end of a stream connection to a process outside the tree), switches Syscall User
 * Dispatch off (CRIU cannot dump a task with it armed) and waits for a signal. The agent dumps
 * the tree, leaving it running, and sends the signal: the monitor reconnects and asks what
 * happened. "live": the dump is done, go on; "skip": the agent gave up on this checkpoint (not
 * every process of the tree could stand still, or a dump failed), go on without it. "resume MODE
 * SEQ PORT QUIET": this is a restored tree after a rollback; its TCP connections came back
 * closed (the data plane is made anew; each leader process takes its clients' live
 * connections from its keeper, keeper.c) and each leader process replays its log, a file
 * mapping whose contents CRIU does not roll back.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "a8/raw.h"
#include "arch.h"
#include "ckpt.h"
#include "core/proc.h"
#include "core/signals.h"
#include "core/util.h"
#include "exchange/link.h"
#include "interpose/interpose.h"

/* The agent's wake-up call: a signal programs leave alone (a coprocessor stack fault). */
#define WAKE SIGSTKFLT

static void sleep_until_woken(void)
{
	unsigned long set = 1UL << (WAKE - 1);

	while (a8_sys4(SYS_rt_sigtimedwait, &set, NULL, NULL, 8) != WAKE)
		;
}

/*
 * The agent asks every leader process of the tree for checkpoint EPOCH (sigqueue). A process
 * waiting for events is interrupted (the wait runs again after the checkpoint); caught just
 * before the wait's syscall, the call returns -EINTR without running, as for the program's
 * own signals (ckpt/cut.c).
 */
static void on_cut(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	if (si->si_code != SI_QUEUE || si->si_value.sival_int <= 0)
		return;
	a8_ckpt_cut_requested((uint32_t)si->si_value.sival_int);
	a8_ckpt_cut_arrived();
	if ((char *)A8_UC_PC(uc) >= a8_intr_begin && (char *)A8_UC_PC(uc) <= a8_intr_insn)
		A8_UC_PC(uc) = (unsigned long)a8_intr_eintr;
}

int a8_criu_init(void)
{
	return a8_sig_reserve(A8_SIG_CUT, on_cut);
}

static int command(char *line, size_t cap)
{
	if (a8_agent_open() < 0 || a8.agent_fd < 0)
		return -1;
	a8_agent_event("criu-awake", "\"epoch\":%u", a8.epoch);
	return a8_ckpt_read_line(line, cap) ? 0 : -1;
}

static void reconnect(unsigned port)
{
	uint16_t lport;
	int lfd, err;

	a8_link_close();
	if (a8.role == A8_ROLE_FOLLOWER) {
		err = a8_link_connect_leader(a8.leader_addr, (uint16_t)port, a8.timeout_ms);
	} else {
		lfd = a8_link_listen(a8.data_addr, &lport);
		if (lfd < 0)
			a8_fatal("peer-lost", "", 0, "no data listener after a restore (%d)", lfd);
		a8_agent_event("criu-listening", "\"epoch\":%u,\"port\":%u", a8.epoch, lport);
		err = a8_link_accept_followers(lfd, a8.timeout_ms);
		a8_sys1(SYS_close, lfd);
	}
	if (err)
		a8_fatal("peer-lost", "", 0, "data plane not re-established after a restore (%d)",
			 err);
}

/* The last dump held this process alone (the agent says "live solo"). */
static bool dumped_alone;

bool a8_criu_dumped_alone(void)
{
	return dumped_alone;
}

void a8_criu_skip(uint64_t seq)
{
	a8_agent_event("criu-dump", "\"epoch\":%u,\"seq\":%llu,\"skip\":1", a8.epoch,
		       (unsigned long long)seq);
}

enum a8_taken a8_criu_take(uint64_t seq)
{
	char line[128];
	struct a8_resume_cmd cmd;
	int err;

	a8_tx_flush();
	a8_agent_event("criu-dump", "\"epoch\":%u,\"seq\":%llu,\"skip\":0", a8.epoch,
		       (unsigned long long)seq);
	if (a8.interposer == A8_INTERPOSE_SUD) {
		err = a8_interpose_disarm_for_exec();
		if (err)
			a8_fatal("internal", "", 0, "cannot disarm the interposer for CRIU (%d)",
				 err);
	}
	a8_sys1(SYS_close, a8.agent_fd);
	a8.agent_fd = -1;
	sleep_until_woken();
	if (command(line, sizeof(line)))
		a8_fatal("peer-lost", "", 0, "the agent did not answer after checkpoint %u", a8.epoch);
	err = a8_interpose_rearm_child();
	if (err)
		a8_fatal("internal", "", 0, "cannot arm the interposer again (%d)", err);
	dumped_alone = !strcmp(line, "live solo");
	if (dumped_alone || !strcmp(line, "live"))
		return A8_TAKEN;
	if (!strcmp(line, "skip"))
		return A8_SKIPPED;
	if (!a8_resume_parse(line, &cmd))
		a8_fatal("protocol", "", 0, "unknown command from the agent: '%s'", line);
	if (cmd.quiet)
		a8_faults_stop();
	/* CRIU gave us the kernel's vDSO again: without this, time calls would not trap. */
	a8_vdso_repatch();
	if (a8.stats)
		a8.stats->pid = (uint32_t)a8_sys0(SYS_getpid);
	a8_ckpt_resumed_at(cmd.diverged_at);
	a8_redo_collect();
	if (a8.role == A8_ROLE_LEADER)
		a8_replay_prepare(cmd.mode, cmd.diverged_at);
	reconnect(cmd.port);
	a8_agent_event("resumed", "\"epoch\":%u,\"port\":0,\"mono_us\":%llu", a8.epoch,
		       (unsigned long long)(a8_ckpt_now_ns() / 1000));
	if (a8.role == A8_ROLE_LEADER)
		a8_replay_start();
	a8_log(A8_LOG_INFO, 0, "restored by CRIU at epoch %u (position %llu), mode %u", a8.epoch,
	       (unsigned long long)seq, cmd.mode);
	return A8_RESUMED;
}
