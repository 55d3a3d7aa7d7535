/*
 * random: getrandom (32 bytes, 1 MiB, GRND_NONBLOCK) and /dev/urandom. Under a8 followers get
 * the leader's bytes, but native and a8 runs differ: print only that it worked and the sizes.
 */
#include "common.h"
#include <fcntl.h>
#include <sys/random.h>

static size_t get_all(unsigned char *buf, size_t n, unsigned flags)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, flags);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) FAIL("getrandom(%zu, %u)", n - got, flags);
		got += (size_t)r;
	}
	return got;
}

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i]) return 0;
	return 1;
}

int main(void)
{
	scenario_init();
	unsigned char a[32] = { 0 }, b[32] = { 0 };
	ssize_t r = SYS(getrandom(a, sizeof a, 0));
	if (r != 32 || all_zero(a, 32)) FAIL("getrandom 32 bytes gave %zd bytes or all zeros", r);
	printf("getrandom 32 bytes: ok\n");
	get_all(b, sizeof b, GRND_NONBLOCK);
	printf("getrandom GRND_NONBLOCK 32 bytes: ok, differs from the first: %s\n",
	       yesno(memcmp(a, b, 32) != 0));

	size_t big = 1 << 20;
	unsigned char *m = calloc(big, 1);
	if (!m) FAIL("calloc");
	size_t got_big = get_all(m, big, 0);
	if (all_zero(m + big - 4096, 4096)) FAIL("getrandom 1 MiB: the last 4 KiB are zeros");
	printf("getrandom %zu bytes: ok\n", got_big);
	int counts[256] = { 0 };
	for (size_t i = 0; i < big; i++) counts[m[i]]++;
	int lo = (int)big, hi = 0;
	for (int i = 0; i < 256; i++) {
		if (counts[i] < lo) lo = counts[i];
		if (counts[i] > hi) hi = counts[i];
	}
	/* 4096 expected per value; a real source stays far inside these bounds. */
	printf("1 MiB byte histogram looks uniform: %s\n", yesno(lo > 3500 && hi < 4700));

	int fd = SYS(open("/dev/urandom", O_RDONLY | O_CLOEXEC));
	memset(m, 0, 65536);
	size_t got = read_full(fd, m, 65536);
	if (got != 65536 || all_zero(m + 65536 - 64, 64)) FAIL("/dev/urandom gave %zu bytes or zeros", got);
	printf("/dev/urandom read %zu bytes: ok\n", got);
	close(fd);
	free(m);
	printf("random: done\n");
	return 0;
}
