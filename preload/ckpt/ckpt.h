/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints and rollback, fork engine (docs/monitor-abi.md section 4).
 *
 * The leader places a checkpoint at a stream position (a CKPT record); every variant forks a
 * frozen copy of itself there, which waits on its own agent connection. On a divergence the
 * agents kill the live processes and resume the copies of one epoch. Kernel state the copy
 * shares with the dead process is put back (file offsets, epoll interest sets); the leader's
 * sockets are not rolled back: the leader replays what it recorded since the checkpoint (its
 * own records and the fds its calls made) so that clients see the same bytes only once.
 */
#ifndef A8_CKPT_H
#define A8_CKPT_H

#include <stdbool.h>
#include <stdint.h>

#include "a8/monitor.h"
#include "canon/table.h"
#include "exchange/wire.h"

enum a8_ckpt_engine { A8_CKPT_NONE, A8_CKPT_FORK, A8_CKPT_CRIU };

struct a8_ckpt_conf {
	enum a8_ckpt_engine engine;
	uint64_t every_calls;	/* a checkpoint at least this many calls apart ... */
	uint64_t every_ms;	/* ... or this much time, at a quiescent point */
	double fault_p;		/* [faults] divergence_probability, per checked call */
	uint64_t fault_seed;
};
extern struct a8_ckpt_conf a8_ckpt;

/* Settings from A8_CKPT* and A8_FAULT*; shared state the fault injector needs. */
void a8_ckpt_init(void);
bool a8_ckpt_enabled(void);
/* Shared memory that no rollback puts back (criu: a file A8_RUN_DIR/<what>-<pid>). */
void *a8_ckpt_shared_map(const char *what, size_t size);

/* The program is about to wait for events (epoll, poll, select, sigsuspend): nothing half done. */
static inline bool a8_quiescent(const struct a8_call *c)
{
	uint16_t f = c->ci->flags | c->xflags;

	return (f & F_BLOCK) && (f & F_NORESTART);
}

/* Leader: should the call about to run at seq be preceded by a checkpoint? */
bool a8_ckpt_due(const struct a8_call *c);
/*
 * criu engine, leader: the agent asked for a checkpoint of the whole tree (signal
 * A8_SIG_CUT with the epoch) and this process has not taken it yet.
 */
bool a8_ckpt_cut_wanted(void);
/* The call returned -EINTR for that request (not for a signal of the program's). */
bool a8_ckpt_cut_interrupted(const struct a8_call *c);
/*
 * Around a wait the leader makes with the program's signals open (ckpt/cut.c): begin, with
 * signals still blocked, says whether the request may interrupt it (a wait for events); a
 * request already there, or one that arrives (a8_ckpt_cut_arrived, from the signal handler)
 * before the syscall begins, makes the stub return -EINTR without running it.
 */
void a8_ckpt_wait_begin(bool quiescent);
void a8_ckpt_cut_arrived(void);
void a8_ckpt_wait_end(void);
/*
 * Take a checkpoint before the call at position seq (leader: announce it first, then wait for
 * every follower's copy). Returns true in a copy that was resumed after a rollback: the caller
 * runs the position again from the start.
 */
bool a8_ckpt_leader(struct a8_call *c, uint64_t seq);
bool a8_ckpt_follower(struct a8_call *c, uint64_t seq, uint32_t epoch);

/* Forking or exec'ing after a checkpoint makes it useless to the fork engine: say so. */
void a8_ckpt_drop(const char *why);
void a8_ckpt_child_born(void);
/* In a forked child: none of the parent's checkpoint state applies. */
void a8_ckpt_in_child(void);
void a8_log_detach(void);
void a8_ckpt_child_reaped(void);

/* Between the files of ckpt/. */
enum a8_taken { A8_TAKEN, A8_SKIPPED, A8_RESUMED };

/* The program's fd numbers a checkpoint keeps track of (offsets, fds the copy holds). */
#define A8_CKPT_FDS 4096
uint64_t a8_ckpt_now_ns(void);
/* A checkpoint stands by for this process. */
bool a8_ckpt_standing(void);
/* The fds the newest copy (or a criu keeper) holds too: all open ones, or none. */
void a8_ckpt_mark_shared_fds(void);
void a8_ckpt_forget_shared_fds(void);
/* criu leader: the TCP connections open at the dump are the ones its keeper holds. */
void a8_ckpt_mark_shared_conns(void);
bool a8_ckpt_is_shared(int fd);
/*
 * sock_kind.c: a connected (not listening) TCP socket over IPv4 or IPv6; a listening one; one
 * end of a unix stream socketpair (nginx's channels between its master and workers).
 */
bool a8_tcp_connection(int fd);
bool a8_tcp_listener(int fd);
bool a8_unix_stream_pair(int fd);
/* fork.c: fork the frozen copy; A8_RESUMED in a copy resumed after a rollback. */
enum a8_taken a8_fork_take(uint64_t seq);
/* faults.c */
void a8_faults_init(void);
void a8_faults_in_child(void);
void a8_faults_resumed_at(uint64_t diverged_at);
/* A stop signal reached the program: no more faults. */
void a8_faults_stop(void);
/*
 * The variant's word A8_RUN_DIR/faults-off: 1 once a stop signal reached the program's root,
 * A8_RUN_ENDING once the agent heard of a stop (it kills the program after shutdown_ms). Any
 * value ends the faults; the agent's also ends the asking for new checkpoints (a8_ckpt_due):
 * a shutdown is no service to protect, and a criu round of a tree whose processes are exiting
 * cannot complete. A process the agent asks for a round already begun still takes part.
 */
#define A8_RUN_ENDING 2
bool a8_run_ending(void);

/*
 * criu.c: stop where CRIU can dump us, then go on after the dump (TAKEN), or without one
 * (SKIPPED: the agent gave up on the round), or resume after a restore (RESUMED).
 */
enum a8_taken a8_criu_take(uint64_t seq);
/* criu.c: tell the agent this process will not stand still for the round (a follower could not). */
void a8_criu_skip(uint64_t seq);
/* criu.c: the last dump held this process alone: its listening sockets are its own. */
bool a8_criu_dumped_alone(void);
/* criu.c: take A8_SIG_CUT, the agent's request for a checkpoint of the tree. */
int a8_criu_init(void);
/* The agent's request: sigqueue(A8_SIG_CUT, epoch) to every leader process of the tree. */
#define A8_SIG_CUT 64
void a8_ckpt_cut_requested(uint32_t epoch);
bool a8_ckpt_read_line(char *buf, size_t cap);

/*
 * The agent's command to a checkpoint that is to become the live process (fork: a copy; criu:
 * the restored tree): "resume MODE DIVERGED_AT PORT QUIET" (docs/monitor-abi.md).
 */
struct a8_resume_cmd {
	unsigned mode;			/* the replay's: a retry, or drop the input's connection */
	unsigned long long diverged_at;	/* the position the divergence was found at */
	unsigned port;			/* follower: the leader's data listener */
	unsigned quiet;			/* the run is stopping: no more injected faults */
};
bool a8_resume_parse(const char *line, struct a8_resume_cmd *cmd);

/* Fault injection: true when this checked call should diverge on purpose. */
bool a8_fault_now(const struct a8_call *c);
/* A rollback answers a divergence at this position: no fault is injected before it again. */
void a8_ckpt_resumed_at(uint64_t diverged_at);

/* Replay (replay.c). The leader logs what it sends and the fds its calls make. */
void a8_log_tx(const void *p, size_t n);
void a8_log_fd_use(uint64_t seq, long fd, bool input);
void a8_log_newfd(uint64_t seq, int fd);
/* Leader: the call on one of its fds, before it runs (done false) and after (done true). */
void a8_log_call(const struct a8_call *c, uint64_t seq, bool done);
void a8_log_reset(void);
/* The leader logs since a checkpoint (false: nothing to note). */
bool a8_log_active(void);
bool a8_log_open(void);

/*
 * A live process and its output in flight (retire.c), in memory shared by the live process
 * and its copies (the leader's log header, a follower's note of how far it ran), which
 * outlives a rollback.
 */
struct a8_live_mark {
	uint64_t out_seq;	/* an output made or being made, not noted yet; or 0 */
	int32_t live_pid;	/* the process that notes it */
	uint32_t retired;	/* a copy took over: stop once the output is noted */
};
/*
 * here: this process is the live one now (it maps the mark, resumes or is restored), no output
 * in flight; set: before an output's syscall; clear: noted (stops if retired).
 */
void a8_mark_here(struct a8_live_mark *m);
void a8_mark_set(struct a8_live_mark *m, uint64_t seq);
void a8_mark_clear(struct a8_live_mark *m);
/* A resuming copy: let the stopped live process finish and note the output it marked. */
void a8_mark_settle(struct a8_live_mark *m);
/* Whether a settle retired this process (it is woken only to note its output, then stops). */
bool a8_retired(void);
void a8_marks_forget(void);
extern uint64_t a8_settle_ns;	/* how long each of its two waits may take */
struct a8_live_mark *a8_log_mark(void);
/*
 * Live leader, around an output: from before its syscall to its logged record.
 * begin is false when there is no log to mark (no checkpoint stands): then no end either.
 */
bool a8_out_begin(uint64_t seq);
void a8_out_end(void);
/* This process is the live one now (after a checkpoint, or resumed from one). */
void a8_live_here(void);
/* A resuming copy, before it reads the log: let a stopped live process log its output. */
void a8_live_settle(void);

/* In a resumed leader: true while positions are replayed from the log. */
bool a8_replaying(void);
/* This process ends now: what a replay in course owes its followers is settled first. */
void a8_replay_ending(void);
/* The recorded record for position seq; 0, or -ENOENT when replay is over. */
int a8_replay_next(uint64_t seq, const struct a8_rec_hdr **h);
/* keep.c. Replay: the real fd a recorded call made at seq with number fd (now the caller's),
 * or -1. Send one to the copy; let go of those made from position from on (0: all). */
int a8_keep_take(uint64_t seq, int fd);
long a8_keep_send(uint64_t seq, int fd);
void a8_keep_drop_from(uint64_t from);
/* Replay: the fd call c made goes back at its number, or a copy is made again (replay.c). */
bool a8_replay_install(const struct a8_call *c, int fd, int cloexec);
/* keeper.c: a restored criu root puts its keeper's sockets of the dump back (lost: shut down). */
void a8_keep_install_dump_conns(bool lost);
/* Outputs a rollback must not make again (redo.c). */
/*
 * Follower: remember the furthest position it ran a call of its own at. An output is marked
 * from before its syscall (begin: true when marked) to that note; a resuming copy settles it.
 */
void a8_replay_ran_init(void);
bool a8_ran_begin(const struct a8_call *c, uint64_t seq);
void a8_replay_ran(uint64_t seq, bool marked);
void a8_ran_settle(void);
/* Follower or replaying leader: a replayed output whose effect already happened, not run again. */
bool a8_replay_output_done(const struct a8_call *c, const struct a8_rec_hdr *rec);
/*
 * criu, a process of the tree other than the root: a write to the variant's stdio it made
 * before the rollback at this position, with these bytes (true: *ret is its result, not run
 * again); the note of one it made. The root notes the variant's stdio at its start
 * (stdio_init); a process maps its notes before a dump and keeps those of the last dumps
 * (dumped); a restored process takes them in (collect); a forked child lets go (detach).
 */
bool a8_redo_skip(const struct a8_call *c, uint64_t seq, uint64_t digest, long *ret);
/* fd is the variant's own stdin, stdout or stderr (the root's at its start). */
bool a8_redo_own_stdio(int fd);
/*
 * pipes.c, the pipes and socketpairs between processes of a criu tree after a rollback: what a
 * replayed read of one took comes again, and is dropped then (a8_pipe_read_begin before the
 * read; a8_pipe_trim after it: true when nothing is left and the read must run again); what a
 * replayed write of one wrote is written again (its reader went back to the dump).
 */
void a8_pipe_replayed(const struct a8_call *c, long ret);
void a8_pipe_replay_write(const struct a8_call *c, long logged);
void a8_pipe_read_begin(const struct a8_call *c);
bool a8_pipe_trim(struct a8_call *c);
void a8_pipe_forget(int fd);
void a8_pipe_reset(void);
/* fd was put back at a replay from the copy or keeper (made since the checkpoint). */
bool a8_ckpt_made_since(int fd);
/*
 * A tree child's write to the variant's stdio is marked from before its syscall (begin: true
 * when marked) to its note, which ends the mark.
 */
bool a8_redo_begin(const struct a8_call *c, uint64_t seq);
void a8_redo_note(uint64_t seq, uint64_t digest, long ret, bool marked);
void a8_redo_stdio_init(void);
/*
 * Across execve (A8_STATE "stdio=dev:ino,..."): the next image cannot tell the variant's
 * stdio from its fds 0-2, which the program may have pointed elsewhere before the call.
 */
int a8_redo_stdio_state(char *buf, int cap);
void a8_redo_stdio_adopt(const char *state);
void a8_redo_before_dump(void);
void a8_redo_dumped(uint64_t seq);
void a8_redo_collect(void);
void a8_redo_detach(void);
/* Before a position: ends replay when the log has no record for it. */
void a8_replay_check(uint64_t seq);
/* Called in the frozen copy: take the log and the kept fds, decide where replay stops. */
void a8_replay_prepare(unsigned attempt, uint64_t diverged_at);
/* Called in the resumed live leader: begin replaying (role follower of the log). */
void a8_replay_start(void);
/* Before the fork of a new frozen copy: a fresh channel for the fds to keep. */
int a8_keep_channel_new(void);
/* Live: its copy is not needed any more (it ends at once). */
void a8_keep_channel_retire(void);
/* Live: the channel goes; its copy or keeper stays for a rollback until the agent drops it. */
void a8_keep_channel_detach(void);
/* In a frozen copy right after the fork: its end of the channel. */
void a8_keep_channel_frozen(void);
/* The copy's end, and serving what arrives on it while frozen (false: live end gone). */
int a8_keep_channel_fd(void);
/* A copy told to resume: take what the live process sent, then close the channel. */
void a8_keep_channel_drain(void);
bool a8_keep_channel_serve(void);
/* Live: fd is about to be closed; the copy lets go of its reference first (ckpt.c decides). */
void a8_keep_before_close(int fd, uint64_t made_at);
/* Live: about to close (or dup onto) fd; its copy lets go first if it holds it too. */
void a8_ckpt_before_close(long fd);
/* Live: fd, made at position made_at, was sent to the copy (it holds it too). */
void a8_ckpt_shared(int fd, uint64_t made_at);
/* In the live process right after the fork: the copy's end is the copy's alone. */
void a8_keep_channel_live(void);
/* criu: after a dump, fork the keeper of the fds made from now on (keeper.c). */
int a8_keep_keeper_start(uint32_t epoch);
/* criu, a restored leader: the fds made before stop since checkpoint epoch, from its keeper. */
int a8_keep_fetch(uint32_t epoch, uint64_t stop);

#endif
