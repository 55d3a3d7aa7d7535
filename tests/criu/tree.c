/*
 * A two-process tree for the CRIU tests: `tree LOG STOPFILE`.
 *
 * The root becomes a session leader (so CRIU can dump the tree without --shell-job), forks one
 * child, and both count ticks in memory. Every tick each appends "<role> <pid> <ppid> <count>"
 * to LOG with one write(2), so the lines of the two never mix. After a dump and restore the
 * counts must go on from where they were: a count that starts again at 1 means the state was
 * lost. Each process also keeps a buffer whose contents it checks at the end.
 *
 * When STOPFILE exists, the child checks its buffer and exits 0; the root waits for it, checks
 * its own buffer and the child's status, and exits EXIT_DONE. Any failure exits 1 with a line
 * in LOG. Neither runs longer than MAX_TICKS ticks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "say.h"

#define EXIT_DONE 42
#define TICK_NS (10 * 1000 * 1000)
#define MAX_TICKS 6000
#define BUF_SIZE (1 << 20)

static void __attribute__((noreturn)) die(const char *what)
{
	say("error %d %s: %s\n", getpid(), what, strerror(errno));
	exit(1);
}

/* The pattern depends on the role, so a buffer swapped between processes shows too. */
static unsigned char pattern(size_t i, unsigned seed)
{
	return (unsigned char)((i * 2654435761u) >> 13) ^ (unsigned char)seed;
}

static unsigned char *fill_buffer(unsigned seed)
{
	unsigned char *buf = malloc(BUF_SIZE);
	size_t i;

	if (!buf)
		die("malloc");
	for (i = 0; i < BUF_SIZE; i++)
		buf[i] = pattern(i, seed);
	return buf;
}

static int buffer_intact(const unsigned char *buf, unsigned seed)
{
	size_t i;

	for (i = 0; i < BUF_SIZE; i++)
		if (buf[i] != pattern(i, seed))
			return 0;
	return 1;
}

static int stop_requested(const char *stopfile)
{
	if (access(stopfile, F_OK) == 0)
		return 1;
	if (errno != ENOENT)
		die("access(stopfile)");
	return 0;
}

static void tick_sleep(void)
{
	struct timespec ts = { 0, TICK_NS };

	/* A dump or restore may interrupt the sleep; a short tick does no harm. */
	if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
		die("nanosleep");
}

/* Counts until STOPFILE appears; returns whether it did (not MAX_TICKS). */
static int count(const char *role, const char *stopfile)
{
	unsigned long n;

	for (n = 1; n <= MAX_TICKS; n++) {
		say("%s %d %d %lu\n", role, getpid(), getppid(), n);
		if (stop_requested(stopfile))
			return 1;
		tick_sleep();
	}
	return 0;
}

static void __attribute__((noreturn)) child_main(const char *stopfile)
{
	unsigned char *buf = fill_buffer(2);

	if (!count("child", stopfile)) {
		say("error %d child: no stop file after %d ticks\n", getpid(), MAX_TICKS);
		exit(1);
	}
	if (!buffer_intact(buf, 2)) {
		say("error %d child: buffer changed\n", getpid());
		exit(1);
	}
	exit(0);
}

static int child_ok(pid_t child)
{
	int status;

	if (waitpid(child, &status, 0) != child)
		die("waitpid(child)");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	say("error %d root: child status 0x%x\n", getpid(), status);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *buf;
	pid_t child;
	int stopped;

	if (argc != 3) {
		fprintf(stderr, "usage: %s LOG STOPFILE\n", argv[0]);
		return 64;
	}
	log_fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		perror(argv[1]);
		return 1;
	}
	/* setsid(1) may have made it a session leader already. */
	if (getsid(0) != getpid() && setsid() < 0)
		die("setsid");
	buf = fill_buffer(1);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		child_main(argv[2]);
	stopped = count("root", argv[2]);
	if (!child_ok(child) || !stopped || !buffer_intact(buf, 1)) {
		say("error %d root: stopped %d\n", getpid(), stopped);
		return 1;
	}
	say("done %d\n", getpid());
	return EXIT_DONE;
}
