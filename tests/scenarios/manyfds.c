/*
 * manyfds: 2000 descriptors open at once (RLIMIT_NOFILE's soft limit raised to the hard limit
 * when needed), a write through the last, all closed again. argv[1] is a directory for the
 * file they refer to. Prints counts, never fd numbers.
 */
#include "common.h"
#include <fcntl.h>
#include <sys/resource.h>

#define COUNT 2000

int main(int argc, char **argv)
{
	scenario_init();
	if (argc != 2) {
		fprintf(stderr, "usage: manyfds TMPDIR\n");
		return 2;
	}
	struct rlimit rl;
	SYS(getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur < COUNT + 64) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < COUNT + 64)
			FAIL("hard RLIMIT_NOFILE %llu is below %d", (unsigned long long)rl.rlim_max,
			     COUNT + 64);
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? COUNT + 64 : rl.rlim_max;
		SYS(setrlimit(RLIMIT_NOFILE, &rl));
	}
	SYS(getrlimit(RLIMIT_NOFILE, &rl));
	printf("soft RLIMIT_NOFILE allows %d more: %s\n", COUNT, yesno(rl.rlim_cur >= COUNT + 64));

	char path[4200];
	snprintf(path, sizeof path, "%s/manyfds.dat", argv[1]);
	static int fds[COUNT];
	int distinct = 1;
	for (int i = 0; i < COUNT; i++) {
		fds[i] = SYS(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
		if (i && fds[i] <= fds[i - 1]) distinct = 0;
	}
	printf("opened %d fds, each new one higher than the last: %s\n", COUNT, yesno(distinct));
	const char msg[] = "written through the last fd\n";
	write_full(fds[COUNT - 1], msg, sizeof msg - 1);
	char buf[64] = { 0 };
	ssize_t n = SYS(pread(fds[0], buf, sizeof buf, 0));
	printf("read through the first: %zd bytes \"%.*s\"\n", n, (int)n - 1, buf);
	int dups = 0;
	for (int i = 0; i < 100; i++) {
		int d = SYS(dup(fds[i]));
		close(d);
		dups++;
	}
	int closed = 0;
	for (int i = COUNT - 1; i >= 0; i--) {
		SYS(close(fds[i]));
		closed++;
	}
	printf("dup/close round trips: %d, closed: %d\n", dups, closed);
	int again = SYS(open(path, O_RDONLY));
	printf("after closing all, open reuses the lowest fd: %s\n", yesno(again == fds[0]));
	close(again);
	int bad = 0;
	for (int i = 0; i < COUNT; i += 100)
		if (fcntl(fds[i], F_GETFD) == -1 && errno == EBADF) bad++;
	printf("sampled closed fds report EBADF: %d of %d\n", bad, COUNT / 100);
	printf("manyfds: done\n");
	/*
	 * Last: a CRIU image with the file open cannot be restored once it is unlinked
	 * (src/checkpoint/dumped_files.ts), and an injected fault at the output before, with the
	 * last checkpoint taken while the fds were open, ended the run (1 run in 7 one day).
	 */
	SYS(unlink(path));
	return 0;
}
