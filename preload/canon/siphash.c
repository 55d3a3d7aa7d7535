// SPDX-License-Identifier: MIT
/* SipHash-2-4 (Aumasson and Bernstein), written from the paper's description. */
#include <string.h>

#include "siphash.h"

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static inline void sipround(struct a8_siphash *h)
{
	h->v0 += h->v1; h->v1 = ROTL(h->v1, 13); h->v1 ^= h->v0; h->v0 = ROTL(h->v0, 32);
	h->v2 += h->v3; h->v3 = ROTL(h->v3, 16); h->v3 ^= h->v2;
	h->v0 += h->v3; h->v3 = ROTL(h->v3, 21); h->v3 ^= h->v0;
	h->v2 += h->v1; h->v1 = ROTL(h->v1, 17); h->v1 ^= h->v2; h->v2 = ROTL(h->v2, 32);
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);	/* both supported ISAs are little-endian */
	return v;
}

static inline void absorb(struct a8_siphash *h, uint64_t m)
{
	h->v3 ^= m;
	sipround(h);
	sipround(h);
	h->v0 ^= m;
}

void a8_siphash_init(struct a8_siphash *h, const uint8_t key[16])
{
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);

	h->v0 = k0 ^ 0x736f6d6570736575ULL;
	h->v1 = k1 ^ 0x646f72616e646f6dULL;
	h->v2 = k0 ^ 0x6c7967656e657261ULL;
	h->v3 = k1 ^ 0x7465646279746573ULL;
	h->tail = 0;
	h->ntail = 0;
	h->total = 0;
}

void a8_siphash_update(struct a8_siphash *h, const void *data, size_t len)
{
	const uint8_t *p = data;

	h->total += len;
	while (len && h->ntail) {
		h->tail |= (uint64_t)*p++ << (8 * h->ntail);
		len--;
		if (++h->ntail == 8) {
			absorb(h, h->tail);
			h->tail = 0;
			h->ntail = 0;
		}
	}
	for (; len >= 8; len -= 8, p += 8)
		absorb(h, load_le64(p));
	while (len--)
		h->tail |= (uint64_t)*p++ << (8 * h->ntail++);
}

uint64_t a8_siphash_final(struct a8_siphash *h)
{
	uint64_t b = (h->total & 0xff) << 56 | h->tail;

	absorb(h, b);
	h->v2 ^= 0xff;
	sipround(h);
	sipround(h);
	sipround(h);
	sipround(h);
	return h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
}

uint64_t a8_siphash(const uint8_t key[16], const void *data, size_t len)
{
	struct a8_siphash h;

	a8_siphash_init(&h, key);
	a8_siphash_update(&h, data, len);
	return a8_siphash_final(&h);
}
