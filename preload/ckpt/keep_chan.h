/* SPDX-License-Identifier: MIT */
/*
 * What keep.c (the channel between a live process and what keeps its fds) shares with
 * keeper.c (the criu engine's keeper), and nothing else in the monitor uses.
 */
#ifndef A8_KEEP_CHAN_H
#define A8_KEEP_CHAN_H

#include <stdint.h>
#include <stddef.h>

/*
 * What travels from the live process to its frozen copy or keeper (CLOSE_QUIET: let go
 * without an answer, a regular file, nobody waits for its close); TAKE (seq: where replay
 * stops, fd: the epoch) and END (fd: how many fds came, or -errno) between a restored leader
 * and the keeper.
 */
enum {
	CHAN_KEEP = 1, CHAN_CLOSE = 2, CHAN_RETIRE = 3, CHAN_TAKE = 4, CHAN_END = 5,
	CHAN_CLOSE_QUIET = 6,
};
struct chan_msg {
	uint64_t seq;
	int32_t fd;
	int32_t kind;
};

/* A KEEP message: the fd held, known to the program as number fd, made at seq. */
long a8_chan_send_fd(int chan, uint64_t seq, int fd, int held, int flags);
/* One message from chan; with a KEEP message, *held is the fd that came with it (else -1). */
long a8_chan_recv(int chan, struct chan_msg *m, int *held, int flags);
void a8_kept_add(uint64_t seq, int fd, int held);
long a8_keep_send_kept(int conn);
/* Any fd kept as made at seq: the held fd (its number for the program in *fd), or -1. */
int a8_keep_take_any(uint64_t seq, int *fd);
int a8_keep_live_fd(void);
void a8_keep_serve_on(int chan);
void a8_keep_live_on(int chan);

#endif
