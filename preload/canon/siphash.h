/* SPDX-License-Identifier: MIT */
/*
 * SipHash-2-4, incremental: the keyed digest of canonical arguments. Keyed with the per-run
 * key so that a peer who does not hold it cannot make a digest that matches.
 */
#ifndef A8_SIPHASH_H
#define A8_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct a8_siphash {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;		/* bytes not yet folded in, little-endian */
	unsigned ntail;
	uint64_t total;
};

void a8_siphash_init(struct a8_siphash *h, const uint8_t key[16]);
void a8_siphash_update(struct a8_siphash *h, const void *data, size_t len);
uint64_t a8_siphash_final(struct a8_siphash *h);
uint64_t a8_siphash(const uint8_t key[16], const void *data, size_t len);

#endif
