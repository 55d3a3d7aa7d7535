// SPDX-License-Identifier: MIT
/*
 * canon/siphash.c against SipHash-2-4's reference vectors (Aumasson and Bernstein, the paper's
 * appendix / vectors table: key 00 01 .. 0f, message i = 00 01 .. i-1), and the incremental
 * interface fed in pieces of every size against a single update.
 */
#define _GNU_SOURCE
#include <string.h>

#include "check.h"
#include "canon/siphash.h"

/* Outputs as the table prints them: the 8 bytes of the 64-bit result, little-endian. */
static const struct {
	unsigned len;
	uint8_t out[8];
} vectors[] = {
	{ 0, { 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 } },
	{ 1, { 0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74 } },
	{ 2, { 0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d } },
	{ 3, { 0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85 } },
	{ 4, { 0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf } },
	{ 5, { 0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18 } },
	{ 6, { 0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb } },
	{ 7, { 0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab } },
	{ 8, { 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 } },	/* one whole block */
	{ 9, { 0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e } },
	{ 10, { 0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a } },
	{ 11, { 0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4 } },
	{ 15, { 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 } },	/* block + 7-byte tail */
};

static uint64_t le64(const uint8_t b[8])
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static uint64_t in_pieces(const uint8_t key[16], const uint8_t *msg, size_t len,
			  const size_t *sizes, size_t nsizes)
{
	struct a8_siphash h;
	size_t off = 0, k = 0;

	a8_siphash_init(&h, key);
	while (off < len) {
		size_t n = sizes[k++ % nsizes];

		if (n > len - off)
			n = len - off;
		a8_siphash_update(&h, msg + off, n);
		off += n;
	}
	return a8_siphash_final(&h);
}

int main(void)
{
	uint8_t key[16], msg[200];
	unsigned i;
	size_t len, piece;

	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;

	/* The reference vectors, one-shot and through init/update/final. */
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct a8_siphash h;
		uint64_t want = le64(vectors[i].out);

		CHECK_EQ(a8_siphash(key, msg, vectors[i].len), want);
		a8_siphash_init(&h, key);
		a8_siphash_update(&h, msg, vectors[i].len);
		CHECK_EQ(a8_siphash_final(&h), want);
	}
	/* The value the brief states independently of the table. */
	CHECK_EQ(a8_siphash(key, msg, 15), 0xa129ca6149be45e5ULL);

	/* Byte-at-a-time and with empty updates in between give the vectors too. */
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct a8_siphash h;
		unsigned j;

		a8_siphash_init(&h, key);
		a8_siphash_update(&h, msg, 0);
		for (j = 0; j < vectors[i].len; j++) {
			a8_siphash_update(&h, msg + j, 1);
			a8_siphash_update(&h, msg + j, 0);
		}
		CHECK_EQ(a8_siphash_final(&h), le64(vectors[i].out));
	}

	/* Every length 0..199 cut in every piece size 1..17 equals one update. */
	for (len = 0; len < sizeof(msg); len++) {
		uint64_t whole = a8_siphash(key, msg, len);
		int same = 1;

		for (piece = 1; piece <= 17; piece++)
			same &= in_pieces(key, msg, len, &piece, 1) == whole;
		CHECK(same);
	}
	/* Irregular odd pieces crossing block boundaries at every offset. */
	{
		static const size_t odd[] = { 3, 5, 7, 1, 9, 13, 11, 15, 2 };

		for (len = 0; len < sizeof(msg); len += 7)
			CHECK_EQ(in_pieces(key, msg, len, odd, sizeof(odd) / sizeof(odd[0])),
				 a8_siphash(key, msg, len));
	}

	/* The length byte matters: a message and the same with a trailing zero differ. */
	{
		uint8_t z[9] = { 0 };

		CHECK(a8_siphash(key, z, 8) != a8_siphash(key, z, 9));
		CHECK(a8_siphash(key, z, 0) != a8_siphash(key, z, 1));
	}
	/* The key matters. */
	{
		uint8_t other[16];

		memcpy(other, key, 16);
		other[15] ^= 1;
		CHECK(a8_siphash(other, msg, 15) != a8_siphash(key, msg, 15));
	}
	return check_report();
}
