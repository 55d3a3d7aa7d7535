/* SPDX-License-Identifier: MIT */
/*
 * The monitor's shared types: one trapped call, and the per-process state every part reads.
 * The monitor is single-threaded by construction (threads are refused), so the state is a
 * plain global; the SIGSYS handler never nests (SIGSYS stays blocked while it runs).
 */
#ifndef A8_MONITOR_H
#define A8_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "a8/abi.h"

struct a8_callinfo;

/* One trapped call, as the interposer hands it to the dispatcher. */
struct a8_call {
	long nr;				/* this ISA's number */
	long args[6];
	long ret;
	long a[6];				/* canonical arguments (through the alias) */
	int route;				/* resolved route: R_EVERY, R_LEADER, ... */
	uint16_t xflags;			/* F_* added to the row's by a handler */
	uint32_t cap[6];			/* leader: output capacities the kernel
						 * overwrites with full lengths (socklen) */
	const struct a8_callinfo *ci;		/* canonical row */
	const struct a8_alias *alias;		/* how the native call maps to it, or NULL */
	void *uc;				/* signal frame, NULL for a direct entry */
	bool restart;				/* re-execute the call after returning */
};

enum a8_role { A8_ROLE_NONE, A8_ROLE_LEADER, A8_ROLE_FOLLOWER };
enum a8_policy { A8_POLICY_LOCKSTEP, A8_POLICY_OUTPUTS, A8_POLICY_CODE, A8_NPOLICIES };
/* The config's names of the policies (A8_POLICY), by enum a8_policy. */
extern const char *const a8_policy_names[A8_NPOLICIES];
enum a8_interposer { A8_INTERPOSE_SUD, A8_INTERPOSE_SECCOMP };
enum a8_loglevel { A8_LOG_ERROR, A8_LOG_WARN, A8_LOG_INFO, A8_LOG_DEBUG };

#define A8_MAX_FOLLOWERS 8
#define A8_STREAM_KEY 32

struct a8_peer {
	int fd;				/* data connection (monitor fd range) */
	uint32_t id;
};

struct a8_state {
	enum a8_role role;
	enum a8_policy policy;
	enum a8_interposer interposer;
	enum a8_loglevel loglevel;
	uint32_t variant_id;
	uint8_t run_id[16];
	uint8_t key[16];
	char stream[A8_STREAM_KEY];	/* "0", "0.1", ... */
	uint32_t nchildren;		/* children forked so far: names the next stream */
	uint64_t seq;			/* last stream position used */
	uint32_t epoch;
	long vpid, vppid;		/* the pids the program sees (the leader's) */
	uint32_t data_addr;		/* leader: IPv4 its listeners bind to (network order) */
	uint32_t leader_addr;		/* follower: leader's address (network order) */
	uint16_t leader_port;
	int nfollowers;			/* leader: how many followers connect */
	struct a8_peer peers[A8_MAX_FOLLOWERS];	/* leader: followers; follower: [0] = leader */
	int npeers;
	int agent_fd;			/* unix socket to the agent */
	int placeholder_fd;		/* follower: /dev/null, dup'ed where the leader has a socket */
	size_t batch_bytes;
	int timeout_ms;
	char run_dir[256];
	char keep_dir[128];		/* the criu engine keepers' sockets (A8_KEEP_DIR) */
	char agent_sock[108];
	char agent_token[40];	/* shown first on every agent connection (A8_AGENT_TOKEN) */
	char local_paths[1024];		/* ':'-separated prefixes */
	char preload[256];		/* LD_PRELOAD value, re-added on execve */
	struct a8_stats *stats;
	bool armed;
};

extern struct a8_state a8;

/* Entry from an interposer: decides and performs the call, sets c->ret. */
void a8_dispatch(struct a8_call *c);

/* Stop the process: report to the agent, exit with A8_EXIT_FATAL or A8_EXIT_DIVERGENCE. */
__attribute__((noreturn)) void a8_fatal(const char *reason, const char *call, long nr,
					const char *fmt, ...);
__attribute__((noreturn)) void a8_diverged(const char *reason, const char *call, uint64_t seq,
					   const char *fmt, ...);

/* A peer stopped first: wait for the agent to stop this process with the peer's reason. */
__attribute__((noreturn)) void a8_peer_stopped(bool diverged, const char *call, uint64_t seq,
					       const char *why);

/* Follower: the leader's process ended without a word (SIGKILL): end this one alike. */
__attribute__((noreturn)) void a8_leader_vanished(const char *call, uint64_t seq);

#endif
