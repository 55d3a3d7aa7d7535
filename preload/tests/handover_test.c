// SPDX-License-Identifier: MIT
/*
 * Files a process keeps for its next image (core/handover.c). A process that changed user
 * and then called execve could not open its root-owned files by name again: the new image
 * takes the fds the old one handed over instead, truncated when asked, and opens nothing. A
 * fork child lets go of its parent's, but not of the run's (the agent's stop word).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/fdtab.h"
#include "core/handover.h"

static char dir[] = "/tmp/a8-handover-XXXXXX";

static long size_of_fd(long fd)
{
	struct stat st;

	return fstat((int)fd, &st) == 0 ? (long)st.st_size : -1;
}

static bool is_open(long fd)
{
	return fcntl((int)fd, F_GETFD) >= 0;
}

int main(void)
{
	char stats[128], replay[128], state[256];
	long sfd, rfd, again;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(stats, sizeof(stats), "%s/stats.bin", dir);
	snprintf(replay, sizeof(replay), "%s/replay-1", dir);

	/* Opened by path, out of the program's range, and kept. */
	sfd = a8_handover_open("stats", stats, O_RDWR | O_CREAT);
	rfd = a8_handover_open("replay", replay, O_RDWR | O_CREAT | O_TRUNC);
	CHECK(sfd >= a8_fd_own_base() && rfd >= a8_fd_own_base());
	CHECK_EQ(a8_fd_kind(sfd), FK_MON);
	CHECK(fcntl((int)sfd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ(write((int)rfd, "logged", 6), 6);
	CHECK_EQ(write((int)sfd, "counts", 6), 6);

	/* Handed over: the string names both; around execve they are open across it. */
	CHECK(a8_handover_state(state, sizeof(state)) > 0);
	CHECK(strstr(state, "files=") == state);
	CHECK(strstr(state, "stats:") != NULL && strstr(state, "replay:") != NULL);
	CHECK_EQ(a8_handover_state(state, 8), -1);	/* does not fit: said so */
	a8_handover_state(state, sizeof(state));
	a8_handover_cloexec(false);
	CHECK_EQ(fcntl((int)sfd, F_GETFD) & FD_CLOEXEC, 0);

	/* The new image: the table is empty, the fds are open, the names unusable. */
	a8_handover_forget(false);
	CHECK_EQ(unlink(stats), 0);
	CHECK_EQ(unlink(replay), 0);
	{
		char line[300];

		snprintf(line, sizeof(line), "stream=0;seq=9;rxfd=-1;%s;base=900;peers=", state);
		a8_handover_adopt(line);
	}
	CHECK(fcntl((int)sfd, F_GETFD) & FD_CLOEXEC);	/* hidden again at once */
	again = a8_handover_open("stats", stats, O_RDWR | O_CREAT);
	CHECK_EQ(again, sfd);
	CHECK_EQ(size_of_fd(again), 6);	/* the counts go on */
	again = a8_handover_open("replay", replay, O_RDWR | O_CREAT | O_TRUNC);
	CHECK_EQ(again, rfd);
	CHECK_EQ(size_of_fd(again), 0);	/* a new log, as by name */
	CHECK_EQ(access(stats, F_OK), -1);	/* nothing opened by name */

	/* A second open in the same image is by name, and lets the older fd go. */
	again = a8_handover_open("replay", replay, O_RDWR | O_CREAT | O_TRUNC);
	CHECK(again >= 0 && again != rfd);
	CHECK(!is_open(rfd));

	/* A mapping that failed: released and closed. */
	a8_handover_release("replay");
	CHECK(!is_open(again));

	/* A fork child: its parent's files are closed, but the run's (inherited) kept. */
	{
		char stop[128];
		long wfd;

		snprintf(stop, sizeof(stop), "%s/faults-off", dir);
		wfd = a8_handover_open("stop", stop, O_RDWR | O_CREAT);
		CHECK(wfd >= 0);
		a8_handover_inherit("stop");
		a8_handover_forget(true);
		CHECK(!is_open(sfd));
		CHECK(is_open(wfd));
		a8_handover_state(state, sizeof(state));
		CHECK(strstr(state, "stop:") != NULL && strstr(state, "stats:") == NULL);
		a8_handover_release("stop");
		CHECK(!is_open(wfd));
		unlink(stop);
	}
	a8_handover_state(state, sizeof(state));
	CHECK_EQ(strcmp(state, "files=-"), 0);
	a8_handover_adopt(";files=-;base=1");	/* takes nothing */
	a8_handover_state(state, sizeof(state));
	CHECK_EQ(strcmp(state, "files=-"), 0);

	unlink(replay);
	rmdir(dir);
	return check_report();
}
