/*
 * clock: clock_gettime (REALTIME, MONOTONIC, BOOTTIME), clock_getres, gettimeofday, time(),
 * nanosleep and clock_nanosleep (relative and absolute). Prints only invariants: the values
 * themselves differ on every run.
 */
#include "common.h"
#include <sys/time.h>
#include <time.h>

static int64_t ns(clockid_t c)
{
	struct timespec ts;
	SYS(clock_gettime(c, &ts));
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void)
{
	scenario_init();
	int64_t prev = ns(CLOCK_MONOTONIC);
	int ok = 1;
	for (int i = 0; i < 1000; i++) {
		int64_t t = ns(CLOCK_MONOTONIC);
		if (t < prev) ok = 0;
		prev = t;
	}
	printf("clock monotonic non-decreasing over 1000 reads: %s\n", yesno(ok));
	int64_t mono = ns(CLOCK_MONOTONIC), boot = ns(CLOCK_BOOTTIME);
	printf("boottime >= monotonic: %s\n", yesno(boot >= mono));
	struct timespec res;
	SYS(clock_getres(CLOCK_MONOTONIC, &res));
	printf("monotonic resolution at most 1 ms: %s\n", yesno(res.tv_sec == 0 && res.tv_nsec <= 1000000));

	int64_t real = ns(CLOCK_REALTIME);
	time_t t = time(NULL);
	struct timeval tv;
	SYS(gettimeofday(&tv, NULL));
	int64_t tod = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
	printf("realtime after 2020: %s\n", yesno(real / 1000000000 > 1577836800));
	printf("time() within 2 s of realtime: %s\n", yesno(llabs((int64_t)t - real / 1000000000) <= 2));
	printf("gettimeofday within 1 s of realtime: %s\n", yesno(llabs(tod - real) <= 1000000000));
	printf("time(&t) stores what it returns: %s\n", yesno(({ time_t s; time_t r = time(&s); r == s; })));

	struct timespec d = { 0, 20 * 1000 * 1000 };
	int64_t a = ns(CLOCK_MONOTONIC);
	SYS(nanosleep(&d, NULL));
	int64_t b = ns(CLOCK_MONOTONIC);
	printf("nanosleep 20 ms lasted at least 20 ms: %s, less than 2 s: %s\n",
	       yesno(b - a >= 20000000), yesno(b - a < 2000000000));

	a = ns(CLOCK_MONOTONIC);
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
	if (r) FAIL("clock_nanosleep relative: %d", r);
	b = ns(CLOCK_MONOTONIC);
	printf("clock_nanosleep relative 20 ms lasted at least 20 ms: %s\n", yesno(b - a >= 20000000));

	struct timespec until;
	SYS(clock_gettime(CLOCK_MONOTONIC, &until));
	until.tv_nsec += 30 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
	if (r) FAIL("clock_nanosleep absolute: %d", r);
	b = ns(CLOCK_MONOTONIC);
	printf("clock_nanosleep TIMER_ABSTIME woke at or after the deadline: %s\n",
	       yesno(b >= (int64_t)until.tv_sec * 1000000000 + until.tv_nsec));

	a = ns(CLOCK_REALTIME);
	d.tv_nsec = 10 * 1000 * 1000;
	r = clock_nanosleep(CLOCK_REALTIME, 0, &d, NULL);
	if (r) FAIL("clock_nanosleep realtime: %d", r);
	printf("realtime advanced across a 10 ms sleep: %s\n", yesno(ns(CLOCK_REALTIME) > a));
	printf("clock: done\n");
	return 0;
}
