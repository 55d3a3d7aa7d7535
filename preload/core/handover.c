// SPDX-License-Identifier: MIT
/* Files a process keeps open and hands over to its next image (handover.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "a8/raw.h"
#include "fdtab.h"
#include "handover.h"
#include "runfile.h"

#define KEPT_MAX 8
#define NAME_MAX_LEN 8

struct kept {
	char name[NAME_MAX_LEN];
	int fd;			/* -1: free */
	bool adopted;		/* handed over by the previous image, not yet opened here */
	bool inherit;		/* a fork child keeps it (a8_handover_inherit) */
};

static struct kept kept[KEPT_MAX] = { [0 ... KEPT_MAX - 1] = { .fd = -1 } };

static struct kept *find(const char *name)
{
	int i;

	for (i = 0; i < KEPT_MAX; i++)
		if (kept[i].fd >= 0 && !strncmp(kept[i].name, name, NAME_MAX_LEN))
			return &kept[i];
	return NULL;
}

static void drop(struct kept *k, bool close_it)
{
	if (close_it) {
		a8_sys1(SYS_close, k->fd);
		a8_fd_set(k->fd, FK_NONE);
	}
	k->fd = -1;
	k->adopted = false;
	k->inherit = false;
}

/* Takes fd (hidden) as name's, in place of an older one. */
static long keep(const char *name, long fd, bool adopted)
{
	struct kept *k = find(name);
	int i;

	if (k)
		drop(k, true);
	for (i = 0; i < KEPT_MAX && !k; i++)
		if (kept[i].fd < 0)
			k = &kept[i];
	if (!k) {
		a8_sys1(SYS_close, fd);
		return -ENFILE;
	}
	strncpy(k->name, name, NAME_MAX_LEN - 1);
	k->name[NAME_MAX_LEN - 1] = 0;
	k->fd = (int)fd;
	k->adopted = adopted;
	return fd;
}

long a8_handover_open(const char *name, const char *path, int flags)
{
	struct kept *k = find(name);
	long fd;

	if (k && k->adopted) {
		k->adopted = false;
		if (flags & O_TRUNC && a8_sys2(SYS_ftruncate, k->fd, 0) < 0) {
			drop(k, true);
			return -EIO;
		}
		return k->fd;
	}
	fd = a8_run_file_open(path, flags);
	if (fd < 0)
		return fd;
	fd = a8_fd_hide((int)fd);
	if (fd < 0)
		return fd;
	return keep(name, fd, false);
}

void a8_handover_release(const char *name)
{
	struct kept *k = find(name);

	if (k)
		drop(k, true);
}

void a8_handover_inherit(const char *name)
{
	struct kept *k = find(name);

	if (k)
		k->inherit = true;
}

void a8_handover_forget(bool in_child)
{
	int i;

	for (i = 0; i < KEPT_MAX; i++)
		if (kept[i].fd >= 0 && !(in_child && kept[i].inherit))
			drop(&kept[i], in_child);
}

int a8_handover_state(char *buf, int cap)
{
	int n = snprintf(buf, cap, "files=");
	int i, any = 0;

	for (i = 0; i < KEPT_MAX && n < cap; i++) {
		if (kept[i].fd < 0)
			continue;
		n += snprintf(buf + n, cap - n, "%s%s:%d", any++ ? "," : "", kept[i].name,
			      kept[i].fd);
	}
	if (!any && n < cap)
		n += snprintf(buf + n, cap - n, "-");
	return n < cap ? n : -1;
}

void a8_handover_adopt(const char *state)
{
	const char *p = state ? strstr(state, ";files=") : NULL;
	char name[NAME_MAX_LEN];
	int fd, used;

	if (!p)
		return;
	p += 7;
	while (sscanf(p, "%7[a-z]:%d%n", name, &fd, &used) == 2 && fd >= 0) {
		a8_fd_set(fd, FK_MON);
		a8_sys3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
		keep(name, fd, true);
		p += used;
		if (*p != ',')
			break;
		p++;
	}
}

void a8_handover_cloexec(bool cloexec)
{
	int i;

	for (i = 0; i < KEPT_MAX; i++)
		if (kept[i].fd >= 0)
			a8_sys3(SYS_fcntl, kept[i].fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
}
