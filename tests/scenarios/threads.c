/*
 * threads: starts one pthread and joins it. a8 does not support threads yet: under a8 the
 * monitor must refuse with "threads are not supported yet" (exit 87) instead of running it.
 */
#include "common.h"
#include <pthread.h>

static void *worker(void *arg)
{
	*(int *)arg = 42;
	return arg;
}

int main(void)
{
	scenario_init();
	printf("before the thread\n");
	int value = 0;
	pthread_t t;
	int r = pthread_create(&t, NULL, worker, &value);
	if (r) {
		errno = r;
		FAIL("pthread_create");
	}
	void *ret;
	r = pthread_join(t, &ret);
	if (r) {
		errno = r;
		FAIL("pthread_join");
	}
	printf("thread ran: %s, value %d\n", yesno(ret == &value), value);
	printf("threads: done\n");
	return 0;
}
