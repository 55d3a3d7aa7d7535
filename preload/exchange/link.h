/* SPDX-License-Identifier: MIT */
/*
 * Connections between the monitors of one stream, and the buffers records travel in.
 * The leader batches records and sends them to every follower; a follower reads them in order.
 */
#ifndef A8_LINK_H
#define A8_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct a8_rx {
	uint8_t *buf;
	size_t cap, start, end;
};

/* A listening socket on addr (network order), port 0; returns the fd, *port its port. */
int a8_link_listen(uint32_t addr, uint16_t *port);
/* Leader: accept a8.nfollowers connections on lfd and check their hellos. */
int a8_link_accept_followers(int lfd, int timeout_ms);
/* Follower: connect to the leader's listener for this stream and say hello. */
int a8_link_connect_leader(uint32_t addr, uint16_t port, int timeout_ms);

/* Append bytes to the outgoing batch. */
void *a8_tx_reserve(size_t n);
size_t a8_tx_pending(void);
/* Send the batch: leader to every follower, follower to the leader. */
void a8_tx_flush(void);
/* Forget buffered bytes (a forked child starts its own stream). */
void a8_link_reset(void);
/* Close every data connection and forget their buffers (a child, a copy, a restored tree). */
void a8_link_close(void);
/* Put bytes read by the previous image (a memfd) back in front of peer i's stream. */
void a8_link_preload_rx(int peer, int fd, long size);

/*
 * The next whole record from peer i, blocking; timeout_ms < 0 waits forever. Returns 0, or
 * -ETIMEDOUT, or -EPIPE when the peer closed; a malformed record stops the process.
 */
int a8_rx_next(int peer, const struct a8_rec_hdr **hdr, int timeout_ms);
/* Bytes received but not yet consumed (handed to the next image across execve). */
struct a8_rx *a8_rx_of(int peer);

/* Send a small record to peer i right away, outside the batch. */
int a8_link_send_now(int peer, const void *p, size_t n);

/* Sections of a record being built / read. */
void a8_sec_put(uint32_t tag, const void *p, uint32_t len);
void *a8_sec_reserve(uint32_t tag, uint32_t len);
struct a8_sec_reader {
	const uint8_t *p, *end;
};
void a8_sec_begin(struct a8_sec_reader *r, const struct a8_rec_hdr *h);
/* The next section; 0 at the end, -1 if malformed. */
int a8_sec_next(struct a8_sec_reader *r, uint32_t *tag, const uint8_t **data, uint32_t *len);

/* Start and finish a record in the outgoing batch. */
struct a8_rec_hdr *a8_rec_begin(uint16_t type, uint16_t cid, uint64_t seq);
void a8_rec_end(struct a8_rec_hdr *h);
/* The record being built (the batch may have moved since a8_rec_begin). */
struct a8_rec_hdr *a8_rec_current(void);

/* Grow-only anonymous memory for the monitor (never malloc). */
void *a8_mem_alloc(size_t n);
void a8_mem_free(void *p, size_t n);
/* An array of used elements of elem bytes, twice as large (*cap updated). */
void *a8_mem_grow(void *old, size_t *cap, size_t used, size_t elem);

#endif
