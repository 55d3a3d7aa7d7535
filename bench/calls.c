/*
 * calls: per-call cost of a few system calls, natively or under a8.
 *
 *   calls [ITERATIONS [ROUNDS]]      (defaults 100000 and 5)
 *
 * For each call it runs ROUNDS timed loops of ITERATIONS calls (after one untimed warm-up
 * loop) and prints one JSON object on stdout: per call the median and the minimum over the
 * rounds, in ns per call. The calls:
 *   getpid            raw syscall(SYS_getpid) (glibc may cache or wrap; the raw call cannot)
 *   read_dev_zero     read(2) of 1 byte from /dev/zero, opened once by path. Under a8 a path
 *                     outside local_paths is opened by the leader only, so this fd is a leader
 *                     fd: the leader reads and sends the byte to the followers (replicated).
 *                     Measured as it is, with the default local_paths.
 *   getcwd            raw syscall(SYS_getcwd)
 *   sched_yield       raw syscall(SYS_sched_yield)
 *   clock_gettime     clock_gettime(CLOCK_MONOTONIC) through libc: the vDSO natively (no
 *                     kernel entry); under a8 the monitor patches the vDSO, so it is a real,
 *                     trapped call that the leader runs and replicates
 *   clock_gettime_raw raw syscall(SYS_clock_gettime): the kernel entry the vDSO saves natively
 *
 * How the timings survive a8's output check: every variant prints this JSON, and a8 compares
 * the variants' writes (stdout is an output), so the printed numbers must be the same on every
 * variant even though the variants run at different speeds. They are, because the times are
 * read with clock_gettime, which under a8 only the leader runs: the followers get the leader's
 * clock values, so every variant computes the leader's timings and prints the same bytes.
 * (Writing the figures to a file instead would not help: the write's contents are compared
 * too.) So under a8 the figures are the leader's, which is what counts: the followers run
 * concurrently on the other core.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 64

static int zero_fd = -1;

static int64_t now_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("clock_gettime");
		exit(1);
	}
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Each body makes one call and fails loudly if it did not do what it should. */
static void do_getpid(void)
{
	if (syscall(SYS_getpid) <= 0) {
		perror("getpid");
		exit(1);
	}
}

static void do_read(void)
{
	char c = 1;
	if (read(zero_fd, &c, 1) != 1 || c != 0) {
		perror("read /dev/zero");
		exit(1);
	}
}

static void do_getcwd(void)
{
	char buf[4096];
	if (syscall(SYS_getcwd, buf, sizeof buf) <= 0) {
		perror("getcwd");
		exit(1);
	}
}

static void do_sched_yield(void)
{
	if (syscall(SYS_sched_yield) != 0) {
		perror("sched_yield");
		exit(1);
	}
}

static void do_clock_gettime(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("clock_gettime");
		exit(1);
	}
}

static void do_clock_gettime_raw(void)
{
	struct timespec ts;
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0) {
		perror("clock_gettime (raw)");
		exit(1);
	}
}

struct bench {
	const char *name;
	void (*fn)(void);
};

static const struct bench benches[] = {
	{ "getpid", do_getpid },
	{ "read_dev_zero", do_read },
	{ "getcwd", do_getcwd },
	{ "sched_yield", do_sched_yield },
	{ "clock_gettime", do_clock_gettime },
	{ "clock_gettime_raw", do_clock_gettime_raw },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 5;
	if (iterations < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: %s [ITERATIONS>=1 [ROUNDS 1..%d]]\n", argv[0], MAX_ROUNDS);
		return 64;
	}
	zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zero_fd < 0) {
		perror("open /dev/zero");
		return 1;
	}

	printf("{\"iterations\":%ld,\"rounds\":%ld,\"calls\":{", iterations, rounds);
	for (size_t b = 0; b < sizeof benches / sizeof benches[0]; b++) {
		void (*fn)(void) = benches[b].fn;
		long warm = iterations / 10 + 1;
		for (long i = 0; i < warm; i++) fn();
		double per_call[MAX_ROUNDS];
		for (long r = 0; r < rounds; r++) {
			int64_t t0 = now_ns();
			for (long i = 0; i < iterations; i++) fn();
			int64_t t1 = now_ns();
			per_call[r] = (double)(t1 - t0) / (double)iterations;
		}
		qsort(per_call, (size_t)rounds, sizeof per_call[0], cmp_double);
		double median = rounds % 2 ? per_call[rounds / 2]
					   : (per_call[rounds / 2 - 1] + per_call[rounds / 2]) / 2;
		printf("%s\"%s\":{\"ns\":%.1f,\"min_ns\":%.1f}", b ? "," : "", benches[b].name, median,
		       per_call[0]);
	}
	printf("}}\n");
	close(zero_fd);
	return 0;
}
