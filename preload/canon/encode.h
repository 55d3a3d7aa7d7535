/* SPDX-License-Identifier: MIT */
/*
 * The canonical form of a call's arguments and results. Inputs are folded into a keyed digest
 * (compared between variants); outputs are written into a record by the leader and copied into
 * the follower's memory. Both walk the canonical row's argument kinds, so x86_64's open and
 * aarch64's openat produce the same bytes.
 */
#ifndef A8_ENCODE_H
#define A8_ENCODE_H

#include <stdint.h>

#include "a8/monitor.h"
#include "exchange/link.h"

/* open(2) flags in canonical (x86_64) values. */
unsigned long a8_oflags_canon(unsigned long native);
/* Keyed digest of the canonical inputs; the first bytes of the encoding go to blob. */
uint64_t a8_digest_call(const struct a8_call *c, uint8_t *blob, uint32_t *blob_len);
/* Leader, before the call runs: remember the output capacities the kernel overwrites. */
void a8_note_capacities(struct a8_call *c);
/* Leader: append one section per output argument of a call that ran. */
void a8_put_outputs(const struct a8_call *c);
/* Follower: copy the leader's outputs into this variant's memory; 0 or a reason. */
const char *a8_apply_outputs(const struct a8_call *c, struct a8_sec_reader *r);
#define A8_NEWFD_MAX 64
/* New fds the call made (result fd, fd pairs, fds received in SCM_RIGHTS); how many. */
int a8_new_fds(const struct a8_call *c, long fds[A8_NEWFD_MAX]);

#endif
