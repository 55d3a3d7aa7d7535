// SPDX-License-Identifier: MIT
/*
 * The monitor's start in each image: read what the agent gave (docs/monitor-abi.md), join the
 * stream (root process) or resume it (after execve), arm the interposer. Also the two ways a
 * monitored process stops: a fatal condition and a divergence.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>

#include "a8/raw.h"
#include "ckpt/ckpt.h"
#include "canon/table.h"
#include "exchange/link.h"
#include "fdtab.h"
#include "handover.h"
#include "interpose/interpose.h"
#include "proc.h"
#include "signals.h"
#include "util.h"

struct a8_state a8 = { .agent_fd = -1, .placeholder_fd = -1 };
char **a8_saved_env;
static char *saved_env_store[32];
extern char **environ;

static int hexbytes(const char *s, uint8_t *out, int n)
{
	int i;

	if (!s || (int)strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "";
}

/* The variables the agent sets (docs/monitor-abi.md); the program's own A8_* are its own. */
static const char *const agent_vars[] = {
	"A8_ID=", "A8_LEADER=", "A8_FOLLOWERS=", "A8_RUN_ID=", "A8_KEY=", "A8_AGENT_SOCK=",
	"A8_AGENT_TOKEN=",
	"A8_RUN_DIR=", "A8_DATA_ADDR=", "A8_LEADER_DATA=", "A8_POLICY=", "A8_INTERPOSER=",
	"A8_BATCH=", "A8_TIMEOUT_MS=", "A8_LOG=", "A8_LOCAL_PATHS=", "A8_STATE=", "LD_PRELOAD=",
	"A8_SPIN=", "A8_KEEP_DIR=", "A8_CKPT=", "A8_CKPT_CALLS=", "A8_CKPT_MS=", "A8_FAULT_P=",
	"A8_FAULT_SEED=",
};

bool a8_env_is_ours(const char *entry)
{
	size_t i;

	for (i = 0; i < sizeof(agent_vars) / sizeof(agent_vars[0]); i++)
		if (!strncmp(entry, agent_vars[i], strlen(agent_vars[i])))
			return true;
	return false;
}

/*
 * Keep what the agent put in the environment (A8_* and LD_PRELOAD) for the next execve, and
 * take it out of the program's sight: the program sees the environment it would natively.
 */
static void take_env(void)
{
	int n = 0, i;

	for (i = 0; environ[i] && n < 31; i++)
		if (a8_env_is_ours(environ[i]) && strncmp(environ[i], "A8_STATE=", 9))
			saved_env_store[n++] = strdup(environ[i]);
	saved_env_store[n] = NULL;
	a8_saved_env = saved_env_store;
	for (i = 0; saved_env_store[i]; i++) {
		char name[64];
		const char *eq = strchr(saved_env_store[i], '=');
		size_t len = eq ? (size_t)(eq - saved_env_store[i]) : 0;

		if (!len || len >= sizeof(name))
			continue;
		memcpy(name, saved_env_store[i], len);
		name[len] = 0;
		unsetenv(name);
	}
	unsetenv("A8_STATE");
}

const char *const a8_policy_names[A8_NPOLICIES] = {
	[A8_POLICY_LOCKSTEP] = "lockstep", [A8_POLICY_OUTPUTS] = "outputs", [A8_POLICY_CODE] = "code",
};

static int parse_settings(void)
{
	const char *v;
	int i;
	char addr[64];
	unsigned port;

	a8.variant_id = (uint32_t)atoi(env("A8_ID"));
	a8.role = atoi(env("A8_LEADER")) ? A8_ROLE_LEADER : A8_ROLE_FOLLOWER;
	a8.nfollowers = atoi(env("A8_FOLLOWERS"));
	if (a8.nfollowers < 1 || a8.nfollowers > A8_MAX_FOLLOWERS)
		return -1;
	if (hexbytes(getenv("A8_RUN_ID"), a8.run_id, 16) || hexbytes(getenv("A8_KEY"), a8.key, 16))
		return -1;
	strncpy(a8.agent_sock, env("A8_AGENT_SOCK"), sizeof(a8.agent_sock) - 1);
	strncpy(a8.agent_token, env("A8_AGENT_TOKEN"), sizeof(a8.agent_token) - 1);
	strncpy(a8.run_dir, env("A8_RUN_DIR"), sizeof(a8.run_dir) - 1);
	strncpy(a8.keep_dir, env("A8_KEEP_DIR"), sizeof(a8.keep_dir) - 1);
	strncpy(a8.local_paths, env("A8_LOCAL_PATHS"), sizeof(a8.local_paths) - 1);
	a8.policy = A8_POLICY_OUTPUTS;
	for (i = 0; i < A8_NPOLICIES; i++)
		if (!strcmp(env("A8_POLICY"), a8_policy_names[i]))
			a8.policy = i;
	a8.interposer = !strcmp(env("A8_INTERPOSER"), "seccomp") ? A8_INTERPOSE_SECCOMP :
								    A8_INTERPOSE_SUD;
	v = env("A8_LOG");
	a8.loglevel = !strcmp(v, "debug") ? A8_LOG_DEBUG : !strcmp(v, "info") ? A8_LOG_INFO :
		      !strcmp(v, "error") ? A8_LOG_ERROR : A8_LOG_WARN;
	a8.batch_bytes = (size_t)atol(env("A8_BATCH"));
	if (a8.batch_bytes < 4096)
		a8.batch_bytes = 65536;
	if (getenv("A8_SPIN")) {
		extern int a8_spin_reads;

		a8_spin_reads = atoi(env("A8_SPIN"));
	}
	a8.timeout_ms = atoi(env("A8_TIMEOUT_MS"));
	if (a8.timeout_ms <= 0)
		a8.timeout_ms = 30000;
	if (inet_pton(AF_INET, env("A8_DATA_ADDR"), &a8.data_addr) != 1)
		a8.data_addr = htonl(INADDR_LOOPBACK);
	if (a8.role == A8_ROLE_FOLLOWER) {
		if (sscanf(env("A8_LEADER_DATA"), "%63[^:]:%u", addr, &port) != 2 ||
		    inet_pton(AF_INET, addr, &a8.leader_addr) != 1)
			return -1;
		a8.leader_port = (uint16_t)port;
	}
	return 0;
}

static void mark_stdio(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (a8_sys2(SYS_fcntl, fd, F_GETFD) >= 0)
			a8_fd_set(fd, FK_LOCAL);
	a8_redo_stdio_init();
}

static int open_placeholder(void)
{
	long fd = a8_sys4(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC, 0);

	if (fd < 0)
		return (int)fd;
	a8.placeholder_fd = a8_fd_hide((int)fd);
	return a8.placeholder_fd < 0 ? a8.placeholder_fd : 0;
}

/* The root process joins the stream: the leader listens, the followers connect. */
static int join_root(void)
{
	uint16_t port;
	int lfd, err;

	strcpy(a8.stream, "0");
	/*
	 * The variant's processes form one process group, so the agent can stop them all,
	 * including a child forked after the last event it saw. Every variant does the same.
	 */
	a8_sys2(SYS_setpgid, 0, 0);
	a8.vpid = a8_sys0(SYS_getpid);
	a8.vppid = a8_sys0(SYS_getppid);
	a8_stats_open(true);
	a8_agent_connect();
	if (a8.role == A8_ROLE_FOLLOWER)
		return a8_link_connect_leader(a8.leader_addr, a8.leader_port, a8.timeout_ms);
	lfd = a8_link_listen(a8.data_addr, &port);
	if (lfd < 0)
		return lfd;
	a8_agent_event("ready", "\"port\":%u", port);
	err = a8_link_accept_followers(lfd, a8.timeout_ms);
	a8_sys1(SYS_close, lfd);
	return err;
}

__attribute__((constructor(101))) static void a8_constructor(void)
{
	const char *state;
	int err;

	if (!getenv("A8_ID"))
		return;		/* preloaded outside a run: stay out of the way */
	state = getenv("A8_STATE");
	state = state ? strdup(state) : NULL;
	if (parse_settings()) {
		a8_log(A8_LOG_ERROR, 0, "incomplete A8_* settings: start programs with a8 run");
		a8_sys1(SYS_exit_group, A8_EXIT_FATAL);
	}
	a8_handover_adopt(state);	/* before a8_ckpt_init maps its files */
	a8_ckpt_init();
	take_env();
	a8_table_init();
	if (open_placeholder() < 0)
		a8_fatal("internal", "", 0, "cannot open /dev/null");
	if (state)
		err = a8_resume_from_exec(state) ? 0 : -EINVAL;
	else {
		mark_stdio();
		err = join_root();
	}
	if (err)
		a8_fatal("peer-lost", "", 0, "data plane not established (%d)", err);
	a8_vdso_patch();
	a8_signals_init();
	err = a8_interpose_arm(a8.interposer);
	if (err)
		a8_fatal("refused", "", 0, "cannot arm the %s interposer (%d)",
			 a8.interposer == A8_INTERPOSE_SUD ? "sud" : "seccomp", err);
	a8.armed = true;
	if (a8.role == A8_ROLE_LEADER)
		a8_tx_flush();	/* the execve record of a resumed stream */
}

static void stop_event(const char *ev, const char *reason, const char *call, long nr,
		       uint64_t seq, const char *fmt, va_list ap)
{
	char msg[512], esc[700];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	a8_json_escape(esc, sizeof(esc), msg);
	a8_agent_event(ev, "\"reason\":\"%s\",\"call\":\"%s\",\"nr\":%ld,\"seq\":%llu,"
		       "\"detail\":\"%s\"", reason, call ? call : "", nr,
		       (unsigned long long)seq, esc);
	if (a8.agent_fd < 0)
		a8_log(A8_LOG_ERROR, nr, "%s: %s (%s)", ev, msg, reason);
}

void a8_fatal(const char *reason, const char *call, long nr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	stop_event("fatal", reason, call, nr, a8.seq, fmt, ap);
	va_end(ap);
	a8_sys1(SYS_exit_group, A8_EXIT_FATAL);
	__builtin_unreachable();
}

/* Tell the peers right away, so nobody waits for a record that will not come. */
static void send_diverge(uint64_t seq)
{
	struct a8_rec_hdr h = { .len = sizeof(h), .type = A8_REC_DIVERGE, .epoch = a8.epoch,
				.seq = seq };
	int i;

	for (i = 0; i < a8.npeers; i++)
		a8_link_send_now(i, &h, sizeof(h));
}

void a8_diverged(const char *reason, const char *call, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (a8.stats) {
		a8.stats->divergences++;
		a8.stats->seq = seq;
	}
	a8_tx_flush();
	send_diverge(seq);
	va_start(ap, fmt);
	stop_event("divergence", reason, call, 0, seq, fmt, ap);
	va_end(ap);
	/* With checkpoints the agents may roll back: they end this process either way. */
	if (a8_ckpt_enabled())
		a8_sleep_ms(a8.timeout_ms);
	a8_sys1(SYS_exit_group, A8_EXIT_DIVERGENCE);
	__builtin_unreachable();
}

/* "stream=0.1;seq=57;...": the previous image's monitor state. */
bool a8_resume_from_exec(const char *s)
{
	char peers[256] = "", fds[60000] = "";
	unsigned long long seq, digest;
	long base;
	int rxfd, n = 0;
	const char *p;

	/* files=: a8_handover_adopt took them already; stdio= comes next */
	if (sscanf(s, "stream=%31[^;];seq=%llu;vpid=%ld;vppid=%ld;nch=%u;digest=%llu;rxfd=%d;"
		   "files=%*[^;];stdio=%*[^;];base=%ld;peers=%255[^;];fds=%59999s", a8.stream, &seq,
		   &a8.vpid, &a8.vppid, &a8.nchildren, &digest, &rxfd, &base, peers, fds) < 8)
		return false;
	a8_redo_stdio_adopt(s);
	/* The fd range all variants agreed on stays agreed across the image change. */
	a8_fd_agree_base(base);
	a8.seq = seq;
	for (p = peers; *p && n < A8_MAX_FOLLOWERS; n++) {
		int fd;
		unsigned id;

		if (sscanf(p, "%d:%u", &fd, &id) != 2)
			return false;
		a8.peers[n].fd = fd;
		a8.peers[n].id = id;
		a8_fd_set(fd, FK_MON);
		a8_sys3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	a8.npeers = n;
	a8_fd_deserialize(fds);
	a8_stats_open(false);
	a8_agent_connect();
	/*
	 * Copies of the previous image cannot stand for this one (fork: the root's), nor can a
	 * tree's dump (criu: any process's), which would bring back the program before the exec.
	 */
	if (a8_ckpt_enabled() && (a8_ckpt.engine == A8_CKPT_CRIU || !strcmp(a8.stream, "0")))
		a8_agent_event("checkpoint-drop", "\"why\":\"execve\"");
	if (rxfd >= 0) {
		struct a8_rx *b = a8_rx_of(0);
		long size = a8_sys3(SYS_lseek, rxfd, 0, SEEK_END);

		a8_link_preload_rx(0, rxfd, size);
		a8_sys1(SYS_close, rxfd);
		(void)b;
	}
	if (a8.role == A8_ROLE_LEADER) {
		/* The previous image's execve succeeded: that is the record for its position. */
		struct a8_rec_hdr *h = a8_rec_begin(A8_REC_CALL, a8_execve_cid(), a8.seq);

		h->digest = digest;
		h->ret = 0;
		a8_rec_end(h);
	}
	return true;
}

/*
 * A peer stopped first (it found a divergence, or died): its agent tells ours, and ours stops
 * this process with the peer's reason. Wait for that instead of reporting a second, vaguer
 * cause; if no agent acts in time, stop with our own view.
 */
void a8_peer_stopped(bool diverged, const char *call, uint64_t seq, const char *why)
{
	struct timespec ts = { a8.timeout_ms / 1000, (a8.timeout_ms % 1000) * 1000000L };

	a8_log(A8_LOG_INFO, 0, "%s at position %llu; waiting for the agent", why,
	       (unsigned long long)seq);
	a8_tx_flush();
	while (a8_sys2(SYS_nanosleep, &ts, &ts) == -EINTR)
		;
	if (diverged)
		a8_diverged("peer", call, seq, "%s", why);
	a8_fatal("peer-lost", call, 0, "%s", why);
}

/*
 * The leader's side of this stream closed without a last record: its process was killed by a
 * signal nothing can catch (SIGKILL), or its monitor stopped (its agent reports why). Die the
 * same way; the parents' wait4 replication and the agents carry on from there.
 */
void a8_leader_vanished(const char *call, uint64_t seq)
{
	a8_log(A8_LOG_INFO, 0, "the leader's process ended at %s (position %llu); ending this one",
	       call, (unsigned long long)seq);
	a8_sys2(SYS_kill, a8_sys0(SYS_getpid), SIGKILL);
	a8_peer_stopped(false, call, seq, "the leader is gone");
}
