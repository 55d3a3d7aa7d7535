// SPDX-License-Identifier: MIT
/*
 * The run directory is sticky and open to every user (like /tmp), so that a process of the
 * program that left root may still make its files there. Another user may put a symbolic link
 * or a file of theirs under a name a monitor will use (stats/<stream>.bin, replay-<pid>): a
 * monitor running as root would then truncate, or map and write, what it points to.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "a8/raw.h"
#include "runfile.h"

static bool trusted(int fd)
{
	struct stat st;
	long uid = a8_sys0(SYS_geteuid);

	return a8_sys2(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	       ((long)st.st_uid == uid || st.st_uid == 0);
}

/* O_TRUNC only once the file is known to be ours: a hard link to another file is not. */
long a8_run_file_open(const char *path, int flags)
{
	long fd = a8_sys4(SYS_openat, AT_FDCWD, path, (flags & ~O_TRUNC) | O_NOFOLLOW | O_CLOEXEC,
			  0600);

	if (fd < 0)
		return fd;
	if (!trusted((int)fd) || ((flags & O_TRUNC) && a8_sys2(SYS_ftruncate, fd, 0) < 0)) {
		a8_sys1(SYS_close, fd);
		return -EPERM;
	}
	return fd;
}
