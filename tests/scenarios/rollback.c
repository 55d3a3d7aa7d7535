/*
 * rollback: what a rollback must give back. A loop that waits (poll: where checkpoints go), reads
 * the clock (clock_gettime and gettimeofday: the vDSO, which the monitor patches into real calls)
 * and reads a byte of a file it opened after its first wait and keeps open. Under a8 with
 * checkpoints and injected divergences, steps are rolled back and replayed: the clock calls must
 * still be interposed after a restore, and the file must still be open. Prints a checksum of the
 * bytes read. Argument: a directory for the data file.
 */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/time.h>
#include <time.h>

#define STEPS 150
#define SIZE 256

int main(int argc, char **argv)
{
	unsigned char data[SIZE], c;
	char path[4096];
	struct timespec ts;
	struct timeval tv;
	int64_t prev = 0, now;
	uint64_t sum = FNV_INIT;
	int fd = -1, mono = 1;

	scenario_init();
	if (argc != 2)
		FAIL("usage: rollback DIR");
	snprintf(path, sizeof(path), "%s/data", argv[1]);
	fill_pattern(data, SIZE, 0, 7);
	fd = (int)SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	write_full(fd, data, SIZE);
	SYS(close(fd));
	fd = -1;
	for (int i = 0; i < STEPS; i++) {
		SYS(poll(NULL, 0, 1));
		SYS(clock_gettime(CLOCK_MONOTONIC, &ts));
		now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		if (now < prev)
			mono = 0;
		prev = now;
		SYS(gettimeofday(&tv, NULL));
		if (fd < 0)
			fd = (int)SYS(open(path, O_RDONLY | O_CLOEXEC));
		EXPECT(SYS(pread(fd, &c, 1, (i * 37) % SIZE)) == 1);
		EXPECT(c == data[(i * 37) % SIZE]);
		sum = fnv1a(sum, &c, 1);
	}
	SYS(close(fd));
	printf("rollback: %d steps, clock monotonic: %s, checksum %016llx\n", STEPS, yesno(mono),
	       (unsigned long long)sum);
	printf("rollback: done\n");
	return 0;
}
