/*
 * monitor_fds: the program reaches for fds it never opened, as a careless or hostile program
 * would: it closes every fd above stderr up to 65536, closes them again with close_range, then
 * does I/O through a pipe and a dup2'ed fd. Natively none of those fds is open; under a8 the
 * monitor's own fds live there and must stay out of the program's reach (EBADF) while the
 * run goes on undisturbed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common.h"

int main(void)
{
	int closed = 0, open_seen = 0, p[2];
	char buf[8];

	for (int fd = 3; fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			open_seen++;
	for (int fd = 3; fd < 65536; fd++)
		if (close(fd) == 0)
			closed++;
	printf("fds above stderr the program can see: %d, closed: %d\n", open_seen, closed);
	printf("close_range(3, ~0): %d\n", close_range(3, ~0U, 0));
	EXPECT_ERR(dup2(1, 70000), EBADF);
	printf("dup2 beyond the fd limit: EBADF\n");
	SYS(dup2(1, 500));
	SYS(write(500, "written through fd 500\n", 23));
	SYS(close(500));
	SYS(pipe(p));
	SYS(write(p[1], "ping", 4));
	printf("pipe after all that: %zd bytes\n", SYS(read(p[0], buf, sizeof(buf))));
	printf("monitor_fds: done\n");
	return 0;
}
