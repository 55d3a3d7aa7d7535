// SPDX-License-Identifier: MIT
/*
 * The monitor's files in the run directory, which every user of the program may write to
 * (core/runfile.c): a symbolic link, a hard link and another user's file put under the name are
 * refused, never truncated through; the monitor's own file opens and is truncated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/runfile.h"

static char dir[] = "/tmp/a8-runfile-XXXXXX";

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static long size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(void)
{
	char victim[128], slink[128], hard[128], own[128], theirs[128];
	long fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(slink, sizeof(slink), "%s/replay-1", dir);
	snprintf(hard, sizeof(hard), "%s/replay-2", dir);
	snprintf(own, sizeof(own), "%s/replay-3", dir);
	snprintf(theirs, sizeof(theirs), "%s/replay-4", dir);
	put(victim, "not yours");
	CHECK_EQ(symlink(victim, slink), 0);
	CHECK_EQ(link(victim, hard), 0);

	CHECK_EQ(a8_run_file_open(slink, O_RDWR | O_CREAT | O_TRUNC), -ELOOP);
	CHECK_EQ(a8_run_file_open(hard, O_RDWR | O_CREAT | O_TRUNC), -EPERM);
	CHECK_EQ(size_of(victim), 9);	/* never truncated through either */

	put(own, "old bytes");
	fd = a8_run_file_open(own, O_RDWR | O_CREAT | O_TRUNC);
	CHECK(fd >= 0);
	CHECK_EQ(size_of(own), 0);
	close((int)fd);
	fd = a8_run_file_open(theirs, O_RDWR | O_CREAT);	/* made here: ours */
	CHECK(fd >= 0);
	close((int)fd);
	if (geteuid() == 0) {
		/* Another user's file under the name (root's own would be trusted). */
		CHECK_EQ(chown(theirs, 65534, 65534), 0);
		CHECK_EQ(a8_run_file_open(theirs, O_RDWR), -EPERM);
	} else {
		fprintf(stderr, "runfile_test: not root: another user's file is not tried\n");
	}
	unlink(slink);
	unlink(hard);
	unlink(own);
	unlink(theirs);
	unlink(victim);
	rmdir(dir);
	return check_report();
}
