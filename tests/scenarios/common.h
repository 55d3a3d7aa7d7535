/*
 * Helpers shared by the e2e scenario programs. Each scenario prints only what is the same on
 * every correct run (results, data read back, sizes, derived facts) so that a native run and a
 * multi-variant run can be compared byte for byte. Any unexpected result ends the program with
 * a message on stderr and exit status 1.
 */
#ifndef A8_SCENARIO_COMMON_H
#define A8_SCENARIO_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNUSED __attribute__((unused))

/* Stops the scenario: something happened that a correct run never sees. */
static UNUSED __attribute__((noreturn, format(printf, 3, 4))) void
fail_at(const char *file, int line, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "%s:%d: unexpected: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (errno %d: %s)\n", e, strerror(e));
	exit(1);
}
#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* Evaluates a call returning -1/negative on error; fails with its text if it does. */
#define SYS(expr) ({                                          \
		long _r = (long)(expr);                       \
		if (_r < 0) FAIL("%s returned %ld", #expr, _r); \
		_r;                                           \
	})

/* Fails unless the condition holds. */
#define EXPECT(cond) do { if (!(cond)) FAIL("expected %s", #cond); } while (0)

/* Prints and fails unless a call failed with the expected errno. */
#define EXPECT_ERR(expr, err) do {                                              \
		errno = 0;                                                      \
		long _r = (long)(expr);                                         \
		if (_r != -1 || errno != (err))                                 \
			FAIL("%s: wanted -1/%s, got %ld", #expr, errname(err), _r); \
	} while (0)

/* The symbolic name of the errno values the scenarios print. */
static UNUSED const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EAGAIN: return "EAGAIN";
	case EBADF: return "EBADF";
	case EINTR: return "EINTR";
	case EPIPE: return "EPIPE";
	case ECHILD: return "ECHILD";
	case EINVAL: return "EINVAL";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EACCES: return "EACCES";
	case ENOTCONN: return "ENOTCONN";
	case ECONNREFUSED: return "ECONNREFUSED";
	default: return "other";
	}
}

static UNUSED const char *yesno(int b) { return b ? "yes" : "no"; }

/*
 * Line-buffered stdout, so output written before a fork is not written twice by the child
 * and the order of lines from parent and children is the order they were produced in.
 */
static UNUSED void scenario_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Reads exactly n bytes unless EOF comes first; returns bytes read. */
static UNUSED size_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) FAIL("read(%d) after %zu of %zu bytes", fd, got, n);
		if (r == 0) break;
		got += (size_t)r;
	}
	return got;
}

/* Writes all n bytes. */
static UNUSED void write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t r = write(fd, (const char *)buf + put, n - put);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) FAIL("write(%d) after %zu of %zu bytes", fd, put, n);
		put += (size_t)r;
	}
}

/* FNV-1a, 64 bits: a checksum that is the same on every host. */
static UNUSED uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

/* Deterministic content: byte i of a stream seeded by `seed`. */
static UNUSED void fill_pattern(unsigned char *buf, size_t n, uint64_t offset, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = offset + i;
		buf[i] = (unsigned char)((x * 2654435761u + seed) >> 7 ^ (x >> 13));
	}
}

/* Waits for pid and returns its exit code; fails if it did not exit normally. */
static UNUSED int wait_exit(pid_t pid)
{
	int st;
	pid_t r;
	do r = waitpid(pid, &st, 0); while (r < 0 && errno == EINTR);
	if (r != pid) FAIL("waitpid(child)");
	if (!WIFEXITED(st)) FAIL("child did not exit normally (status 0x%x)", st);
	return WEXITSTATUS(st);
}

#endif
