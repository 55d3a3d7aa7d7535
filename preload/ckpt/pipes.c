// SPDX-License-Identifier: MIT
/*
 * Pipes between the root and another process of a criu tree, after a rollback (ckpt.h).
 * CRIU restores such a pipe with what it held at the dump, and the other process, which is
 * not replayed, goes on from the dump: it writes again what it wrote since, and reads again
 * what the root wrote since. The root replays its calls since the dump from the log, so:
 *   - the bytes its replay read come down the pipe again: they are a debt, dropped from its
 *     next reads of that pipe once the replay is over;
 *   - the bytes its replay wrote, the other process needs again (it waits for them): the
 *     replay writes them again.
 * The other process redoes what it did from the same state, so the bytes are the same ones
 * (one that reads the clock or a socket may write others: as many are dropped). Only read and
 * write of an anonymous pipe that is not the variant's own stdio (which stays outside the
 * tree, handed over as it is).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "ckpt.h"
#include "core/util.h"

#define DEBTS 16

static struct { int fd; uint64_t bytes; } debt[DEBTS];

/* A named FIFO's writer may be outside the tree: it writes nothing again. */
#define PIPEFS_MAGIC 0x50495045

static bool tree_pipe(const struct a8_call *c, unsigned cid)
{
	struct statfs fs;
	struct stat st;

	if (a8_ckpt.engine != A8_CKPT_CRIU || c->ci->cid != cid || strcmp(a8.stream, "0"))
		return false;
	return a8_sys2(SYS_fstat, c->a[0], &st) == 0 && S_ISFIFO(st.st_mode) &&
	       a8_sys2(SYS_fstatfs, c->a[0], &fs) == 0 && fs.f_type == PIPEFS_MAGIC &&
	       !a8_redo_own_stdio((int)c->a[0]);
}

static int debt_slot(int fd, bool make)
{
	int i, free_slot = -1;

	for (i = 0; i < DEBTS; i++) {
		if (debt[i].bytes && debt[i].fd == fd)
			return i;
		if (!debt[i].bytes && free_slot < 0)
			free_slot = i;
	}
	return make ? free_slot : -1;
}

void a8_pipe_replayed(const struct a8_call *c, long ret)
{
	int i;

	if (ret <= 0 || !tree_pipe(c, A8_CID_read))
		return;
	i = debt_slot((int)c->a[0], true);
	if (i < 0) {
		a8_log(A8_LOG_WARN, 0, "too many pipes to catch up on: fd %ld may read %ld bytes twice",
		       c->a[0], ret);
		return;
	}
	debt[i].fd = (int)c->a[0];
	debt[i].bytes += (uint64_t)ret;
}

void a8_pipe_replay_write(const struct a8_call *c, long logged)
{
	const char *p = (const char *)c->a[1];
	long r = 0;

	if (logged <= 0 || !tree_pipe(c, A8_CID_write))
		return;
	while (logged > 0) {
		r = a8_sys3(SYS_write, c->a[0], p, logged);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		p += r;
		logged -= r;
	}
	if (logged > 0)
		a8_log(A8_LOG_WARN, 0, "fd %ld: %ld bytes the replay wrote are lost (%ld)", c->a[0],
		       logged, r);
}

bool a8_pipe_trim(struct a8_call *c)
{
	uint64_t drop;
	int i;

	if (c->ci->cid != A8_CID_read || c->ret <= 0)
		return false;
	i = debt_slot((int)c->a[0], false);
	if (i < 0)
		return false;
	drop = debt[i].bytes < (uint64_t)c->ret ? debt[i].bytes : (uint64_t)c->ret;
	debt[i].bytes -= drop;
	c->ret -= (long)drop;
	if (c->ret)
		memmove((char *)c->a[1], (char *)c->a[1] + drop, (size_t)c->ret);
	if (!debt[i].bytes)
		a8_log(A8_LOG_DEBUG, 0, "fd %ld caught up with the rollback", c->a[0]);
	return c->ret == 0;
}

void a8_pipe_forget(int fd)
{
	int i = debt_slot(fd, false);

	if (i >= 0)
		debt[i].bytes = 0;
}
