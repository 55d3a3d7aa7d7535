// SPDX-License-Identifier: MIT
/*
 * exchange/link.c's section reader on hostile input: a8_sec_next returns 1 per well-formed
 * section, 0 at the end of the record, -1 when malformed (link.h), and never reads outside
 * [first section, record end). Every case runs twice: from an exact-size heap copy (for
 * valgrind) and ending right at a PROT_NONE guard page (an over-read faults).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "exchange/link.h"
#include "exchange/wire.h"

static uint8_t *guard_page_end;	/* first byte of the PROT_NONE page */

/*
 * Walk the sections of bytes[0..n) (no record header); the last a8_sec_next result.
 * *nsec counts the sections returned; every one must lie inside the bytes.
 */
static int walk_at(const uint8_t *buf, size_t n, int *nsec, int *inside)
{
	struct a8_sec_reader r = { .p = buf, .end = buf + n };
	const uint8_t *d;
	uint32_t tag, len;
	int ret, k;

	*nsec = 0;
	*inside = 1;
	for (k = 0; k < 1000; k++) {
		ret = a8_sec_next(&r, &tag, &d, &len);
		if (ret != 1)
			return ret;
		(*nsec)++;
		*inside &= d >= buf + 8 && d <= buf + n && len <= (size_t)(buf + n - d);
	}
	return 99;	/* no progress: a reader that loops */
}

/* Both placements must agree; returns the result, or 98 if they differ. */
static int walk(const void *bytes, size_t n, int *nsec)
{
	uint8_t *heap = malloc(n ? n : 1);
	int r1, r2, n1, n2, in1, in2;

	memcpy(heap, bytes, n);
	r1 = walk_at(heap, n, &n1, &in1);
	free(heap);
	memcpy(guard_page_end - n, bytes, n);
	r2 = walk_at(guard_page_end - n, n, &n2, &in2);
	CHECK(in1 && in2);
	*nsec = n1;
	return r1 == r2 && n1 == n2 ? r1 : 98;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void test_hostile(void)
{
	uint8_t b[64];
	int nsec, i;

	/* Zero sections. */
	CHECK(walk(b, 0, &nsec) == 0 && nsec == 0);

	/* A truncated section header: 1..7 bytes left. */
	put32(b, A8_SEC_OUT);
	put32(b + 4, 0);
	for (i = 1; i < 8; i++)
		CHECK(walk(b, (size_t)i, &nsec) == -1 && nsec == 0);

	/* A zero-length section is whole; then the end. */
	CHECK(walk(b, 8, &nsec) == 0 && nsec == 1);

	/* One good section, then a truncated header. */
	put32(b + 8, A8_SEC_OUT);
	CHECK(walk(b, 12, &nsec) == -1 && nsec == 1);

	/* A length beyond the record end: by one byte, by a lot, by one padded word. */
	put32(b, A8_SEC_OUT);
	put32(b + 4, 17);
	memset(b + 8, 'x', 16);
	CHECK(walk(b, 8 + 16, &nsec) == -1 && nsec == 0);
	put32(b + 4, 4000);
	CHECK(walk(b, 8 + 16, &nsec) == -1 && nsec == 0);
	put32(b + 4, 24);
	CHECK(walk(b, 8 + 16, &nsec) == -1 && nsec == 0);
	put32(b + 4, 16);
	CHECK(walk(b, 8 + 16, &nsec) == 0 && nsec == 1);	/* exactly fits */

	/* The padding is part of the section: 5 bytes with no room for 3 more is malformed. */
	put32(b + 4, 5);
	CHECK(walk(b, 8 + 5, &nsec) == -1 && nsec == 0);
	CHECK(walk(b, 8 + 8, &nsec) == 0 && nsec == 1);

	/* Lengths whose padded size wraps around 32 bits. */
	for (i = 0; i < 8; i++) {
		put32(b + 4, 0xffffffffu - (uint32_t)i);
		CHECK(walk(b, sizeof(b), &nsec) == -1 && nsec == 0);
	}
	put32(b + 4, A8_REC_MAX + 1);
	CHECK(walk(b, sizeof(b), &nsec) == -1 && nsec == 0);
}

/* A length > A8_REC_MAX is refused even when that many bytes really follow. */
static void test_over_max(void)
{
	size_t n = (size_t)A8_REC_MAX + 64;
	uint8_t *big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			    MAP_NORESERVE, -1, 0);
	struct a8_sec_reader r;
	const uint8_t *d;
	uint32_t tag, len;

	CHECK(big != MAP_FAILED);
	if (big == MAP_FAILED)
		return;
	put32(big, A8_SEC_OUT);
	put32(big + 4, A8_REC_MAX + 1);
	r.p = big;
	r.end = big + n;
	CHECK(a8_sec_next(&r, &tag, &d, &len) == -1);
	CHECK(r.p == big);	/* a refused section is not consumed */
	munmap(big, n);
}

/* Records as the writer builds them read back; their header bounds the reader. */
static void test_records(void)
{
	static const char data[] = "abcdefghijklmnopqrstuvwxyz";
	struct a8_rec_hdr *h, bad;
	struct a8_sec_reader r;
	const uint8_t *d;
	uint32_t tag, len;
	uint8_t *copy;

	a8_link_reset();
	h = a8_rec_begin(A8_REC_CALL, 7, 42);
	a8_sec_put(A8_SEC_OUT, data, 5);
	a8_sec_put(A8_SEC_ABSENT, NULL, 0);
	a8_sec_put(A8_SEC_OUT, data, 26);
	a8_rec_end(h);
	h = a8_rec_current();
	CHECK_EQ(h->len, sizeof(*h) + (8 + 8) + 8 + (8 + 32));
	CHECK(h->type == A8_REC_CALL && h->cid == 7 && h->seq == 42);

	/* Read from an exact-size copy so valgrind sees any read past h->len. */
	copy = malloc(h->len);
	memcpy(copy, h, h->len);
	a8_sec_begin(&r, (const struct a8_rec_hdr *)copy);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 1 && tag == A8_SEC_OUT && len == 5 &&
	      !memcmp(d, "abcde", 5));
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 1 && tag == A8_SEC_ABSENT && len == 0);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 1 && tag == A8_SEC_OUT && len == 26 &&
	      !memcmp(d, data, 26));
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 0);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 0);	/* the end stays the end */

	/* The same record cut short by its header: the last section now runs past the end. */
	((struct a8_rec_hdr *)copy)->len -= 8;
	a8_sec_begin(&r, (const struct a8_rec_hdr *)copy);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 1);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 1);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == -1);
	free(copy);

	/* A header alone: no sections. */
	memset(&bad, 0, sizeof(bad));
	bad.len = sizeof(bad);
	copy = malloc(sizeof(bad));
	memcpy(copy, &bad, sizeof(bad));
	a8_sec_begin(&r, (const struct a8_rec_hdr *)copy);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == 0);

	/* A header claiming less than itself: malformed, nothing read. */
	((struct a8_rec_hdr *)copy)->len = 8;
	a8_sec_begin(&r, (const struct a8_rec_hdr *)copy);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == -1);
	((struct a8_rec_hdr *)copy)->len = 0;
	a8_sec_begin(&r, (const struct a8_rec_hdr *)copy);
	CHECK(a8_sec_next(&r, &tag, &d, &len) == -1);
	free(copy);
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *two = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (two == MAP_FAILED || mprotect(two + pg, (size_t)pg, PROT_NONE)) {
		perror("guard page");
		return 2;
	}
	guard_page_end = two + pg;

	test_hostile();
	test_over_max();
	test_records();
	return check_report();
}
