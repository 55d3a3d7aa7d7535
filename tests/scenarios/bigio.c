/*
 * bigio: 8 MiB of deterministic content written and read back through a file (argv[1] is a
 * directory to put it in) and through a pipe from a child, in single large read/write calls of
 * 2-4 MiB. Prints sizes and checksums.
 */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>

#define TOTAL (8u << 20)
#define WCHUNK (4u << 20)
#define RCHUNK (2u << 20)

int main(int argc, char **argv)
{
	scenario_init();
	if (argc != 2) {
		fprintf(stderr, "usage: bigio TMPDIR\n");
		return 2;
	}
	unsigned char *data = malloc(TOTAL), *back = malloc(TOTAL);
	if (!data || !back) FAIL("malloc");
	fill_pattern(data, TOTAL, 0, 12345);
	uint64_t want = fnv1a(FNV_INIT, data, TOTAL);
	printf("content: %u bytes, fnv1a %016llx\n", TOTAL, (unsigned long long)want);

	char path[4200];
	snprintf(path, sizeof path, "%s/bigio.dat", argv[1]);
	int fd = SYS(open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	for (unsigned off = 0; off < TOTAL; off += WCHUNK) {
		ssize_t w = SYS(write(fd, data + off, WCHUNK));
		printf("file write of %u bytes returned %zd\n", WCHUNK, w);
		if ((size_t)w != WCHUNK) FAIL("short write to a file");
	}
	struct stat st;
	SYS(fstat(fd, &st));
	printf("file size: %ld\n", (long)st.st_size);
	SYS(lseek(fd, 0, SEEK_SET));
	memset(back, 0, TOTAL);
	for (unsigned off = 0; off < TOTAL; off += RCHUNK) {
		ssize_t r = SYS(read(fd, back + off, RCHUNK));
		printf("file read of %u bytes returned %zd\n", RCHUNK, r);
		if ((size_t)r != RCHUNK) FAIL("short read from a file");
	}
	printf("file read at EOF: %ld\n", (long)SYS(read(fd, back, RCHUNK)));
	printf("file content read back: fnv1a %016llx, matches %s\n",
	       (unsigned long long)fnv1a(FNV_INIT, back, TOTAL), yesno(memcmp(data, back, TOTAL) == 0));
	memset(back, 0, RCHUNK);
	ssize_t r = SYS(pread(fd, back, RCHUNK, TOTAL - RCHUNK / 2));
	printf("pread across EOF: %zd bytes, match %s\n", r,
	       yesno(memcmp(back, data + TOTAL - RCHUNK / 2, RCHUNK / 2) == 0));
	close(fd);
	SYS(unlink(path));

	int p[2];
	SYS(pipe(p));
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		close(p[0]);
		for (unsigned off = 0; off < TOTAL; off += WCHUNK) {
			/* A blocking pipe write returns only when all of it is written. */
			ssize_t w = write(p[1], data + off, WCHUNK);
			if (w != (ssize_t)WCHUNK) _exit(3);
		}
		_exit(0);
	}
	close(p[1]);
	memset(back, 0, TOTAL);
	size_t got = 0;
	for (;;) {
		size_t want_now = TOTAL - got < RCHUNK ? TOTAL - got : RCHUNK;
		if (want_now == 0) want_now = 1; /* one more read to see EOF */
		unsigned char extra;
		ssize_t n = read(p[0], got < TOTAL ? back + got : &extra, want_now);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) FAIL("read from pipe");
		if (n == 0) break;
		if (got >= TOTAL) FAIL("more than %u bytes from the pipe", TOTAL);
		got += (size_t)n;
	}
	close(p[0]);
	printf("pipe: %zu bytes, fnv1a %016llx, matches %s\n", got,
	       (unsigned long long)fnv1a(FNV_INIT, back, got),
	       yesno(got == TOTAL && memcmp(data, back, TOTAL) == 0));
	printf("writer exit status: %d\n", wait_exit(pid));
	free(data);
	free(back);
	printf("bigio: done\n");
	return 0;
}
