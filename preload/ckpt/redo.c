// SPDX-License-Identifier: MIT
/*
 * Outputs a rollback must not make again (ckpt.h).
 *
 * A replaying leader takes recorded results and runs none of its replicated calls; an output
 * of its own it does run again only where that repeats nothing (a file with an offset gets the
 * same bytes at the same place). A follower rolled back from behind its leader (code policy)
 * must still make the outputs it never made: it remembers how far it ran.
 *
 * With the criu engine, a process of the tree other than the root has no note of how far it ran
 * (the mapping is its parent's): a follower's, restored, runs again what it did since the dump,
 * following its leader's replay. CRIU put its pipes back and its files get the same bytes; but
 * what it wrote to the variant's stdout or stderr, outside the tree, would be printed twice. So
 * such a process (a leader's too: its replay makes no output anyway) notes each stdio output
 * (position, digest of the call and its bytes, result) in a file of the run directory, which
 * a restore does not put back, and restored, it takes the noted result for the same output at
 * the same position instead of writing again. A different call there (it went another way: an
 * input it had read is gone) runs.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "canon/table.h"
#include "ckpt.h"
#include "core/util.h"
#include "exchange/link.h"

/*
 * Follower: the furthest position at which this variant ran a call of its own, in memory no
 * rollback puts back. Under the code policy a follower can be rolled back from behind the
 * leader, and a retry replays the leader's whole log: a replayed output past this position is
 * one this variant never made, and it must make it now.
 */
struct ran {
	uint64_t upto;
	uint64_t unused;
	struct a8_live_mark mark;	/* an output between its syscall and upto */
};
_Static_assert(offsetof(struct ran, mark) == 16, "output_settle.ts reads the mark at 16");
static struct ran *ran;

struct out_done {
	uint64_t seq;
	uint64_t digest;
	int64_t ret;
};

/*
 * The notes, in a file mapping of the run directory (a restore does not put it back). They
 * are kept from the oldest of the last KEEP_DUMPS dumps on: a follower may be restored to a
 * dump older than its newest (one its leader gave up on).
 */
#define KEEP_DUMPS 4
struct outs_head {
	uint64_t n;
	uint64_t unused;
	/*
	 * A write between its syscall and its note, where the log's header has it (retire.c):
	 * the agent lets a process it stopped there finish the note (output_settle.ts).
	 */
	struct a8_live_mark mark;
	uint64_t dumps[KEEP_DUMPS];	/* positions of the last dumps, newest first */
};
_Static_assert(offsetof(struct outs_head, mark) == 16, "output_settle.ts reads the mark at 16");
#define OUTS_SIZE (1ul << 20)
#define OUTS_MAX ((OUTS_SIZE - sizeof(struct outs_head)) / sizeof(struct out_done))
static struct outs_head *outs;
static bool outs_full_said;

/* The variant's own stdio (the root's fds 0-2 at its start; a fork child inherits it). */
static struct {
	uint64_t dev, ino;
	bool known;
} stdio_id[3];

/* A restored process's notes from its position on, sorted; the next one to meet. */
static struct out_done *done;
static size_t ndone, capdone, next_done;

void a8_replay_ran_init(void)
{
	if (a8.role == A8_ROLE_FOLLOWER && a8_ckpt_enabled() && !ran) {
		ran = a8_ckpt_shared_map("ran", 4096);
		if (ran)
			a8_mark_here(&ran->mark);
	}
}

/* Stopped between an output and the note, it would make the output again after a rollback. */
bool a8_ran_begin(const struct a8_call *c, uint64_t seq)
{
	if (!ran || !((c->ci->flags | c->xflags) & F_OUTPUT))
		return false;
	a8_mark_set(&ran->mark, seq);
	return true;
}

void a8_replay_ran(uint64_t seq, bool marked)
{
	if (ran && seq > ran->upto)
		ran->upto = seq;
	if (marked)
		a8_mark_clear(&ran->mark);
}

/* A resuming copy: the dead process's output settled, this one is the live one (not retired). */
void a8_ran_settle(void)
{
	if (!ran)
		return;
	a8_mark_settle(&ran->mark);
	a8_mark_here(&ran->mark);
}

void a8_redo_detach(void)
{
	ran = NULL;
	ndone = next_done = 0;
	if (outs)
		a8_sys2(SYS_munmap, outs, OUTS_SIZE);
	outs = NULL;
}

void a8_redo_stdio_init(void)
{
	struct stat st;
	int fd;

	for (fd = 0; fd < 3; fd++) {
		stdio_id[fd].known = a8_sys2(SYS_fstat, fd, &st) == 0;
		stdio_id[fd].dev = st.st_dev;
		stdio_id[fd].ino = st.st_ino;
	}
}

static bool tree_child(void)
{
	return a8_ckpt.engine == A8_CKPT_CRIU && strcmp(a8.stream, "0");
}

/*
 * A write to the variant's own stdout or stderr (or stdin's terminal): the file outside the
 * tree that the restore hands over as it is. Not a pipe of the tree's own on fd 1 (a shell
 * pipeline): CRIU puts that back with its contents, and the reader needs the bytes again.
 */
static bool noted(const struct a8_call *c)
{
	return tree_child() && (c->ci->cid == A8_CID_write || c->ci->cid == A8_CID_writev) &&
	       c->a[0] >= 0 && c->a[0] <= 2 && a8_redo_own_stdio((int)c->a[0]);
}

/*
 * A position replayed after a rollback wrote to a pipe, a terminal or an appending file of
 * this variant's own before the rollback: its reader has the bytes already, so the call is
 * not run again (it returns what it returned then). A file with an offset is written again
 * at the offset the checkpoint restored: the same bytes at the same place; not the variant's
 * stdio under CRIU, whose offset the restore does not put back.
 */
bool a8_replay_output_done(const struct a8_call *c, const struct a8_rec_hdr *rec)
{
	long fl;

	if (!(rec->flags & A8_RECF_REPLAYED) && !a8_replaying())
		return false;
	if (!a8_replaying() && ran && rec->seq > ran->upto)
		return false;
	/* CRIU restores the tree's own pipes with their contents: only stdio stays outside. */
	if (a8_ckpt.engine == A8_CKPT_CRIU && c->a[0] > 2)
		return false;
	if (!((c->ci->flags | c->xflags) & F_OUTPUT) || c->ci->args[0].kind != AK_FD)
		return false;
	/* Another process of a tree notes its stdio outputs: the notes say (a8_redo_skip). */
	if (noted(c))
		return false;
	/*
	 * The variant's own stdio stays outside CRIU's image, offset and all: a file there has
	 * the bytes already, and a write again would add them after.
	 */
	if (a8_ckpt.engine == A8_CKPT_CRIU && a8_redo_own_stdio((int)c->a[0]))
		return true;
	fl = a8_sys2(SYS_fcntl, c->a[0], F_GETFL);
	if (fl < 0)
		return false;
	return (fl & O_APPEND) || a8_sys3(SYS_lseek, c->a[0], 0, SEEK_CUR) < 0;
}

int a8_redo_stdio_state(char *buf, int cap)
{
	int n = snprintf(buf, cap, "stdio="), fd;

	for (fd = 0; fd < 3 && n < cap; fd++) {
		if (stdio_id[fd].known)
			n += snprintf(buf + n, cap - n, "%s%llx:%llx", fd ? "," : "",
				      (unsigned long long)stdio_id[fd].dev,
				      (unsigned long long)stdio_id[fd].ino);
		else
			n += snprintf(buf + n, cap - n, "%s-", fd ? "," : "");
	}
	return n < cap ? n : -1;
}

void a8_redo_stdio_adopt(const char *state)
{
	const char *p = state ? strstr(state, ";stdio=") : NULL;
	unsigned long long dev, ino;
	int fd, used;

	if (!p)
		return;
	p += 7;
	for (fd = 0; fd < 3; fd++) {
		stdio_id[fd].known = sscanf(p, "%llx:%llx%n", &dev, &ino, &used) == 2;
		if (stdio_id[fd].known) {
			stdio_id[fd].dev = dev;
			stdio_id[fd].ino = ino;
			p += used;
		} else if (*p == '-') {
			p++;
		}
		if (*p != ',')
			break;
		p++;
	}
}

bool a8_redo_own_stdio(int fd)
{
	struct stat st;
	int i;

	if (a8_sys2(SYS_fstat, fd, &st) < 0)
		return false;
	for (i = 0; i < 3; i++)
		if (stdio_id[i].known && st.st_dev == stdio_id[i].dev &&
		    st.st_ino == stdio_id[i].ino)
			return true;
	return false;
}

/* Mapped before this process's first dump, so a restored image has it (a fork child anew). */
static struct outs_head *outs_map(void)
{
	if (!outs && tree_child()) {
		outs = a8_ckpt_shared_map("outs", OUTS_SIZE);
		if (outs)
			a8_mark_here(&outs->mark);
	}
	return outs;
}

void a8_redo_before_dump(void)
{
	outs_map();
}

static int by_seq(const void *a, const void *b)
{
	const struct out_done *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->digest < y->digest ? -1 : x->digest > y->digest;
}

/* A dump at seq was taken: notes older than the oldest kept dump go. */
void a8_redo_dumped(uint64_t seq)
{
	struct out_done *e;
	uint64_t i, n = 0, oldest;

	if (!outs_map())
		return;
	memmove(&outs->dumps[1], &outs->dumps[0], (KEEP_DUMPS - 1) * sizeof(outs->dumps[0]));
	outs->dumps[0] = seq;
	oldest = outs->dumps[KEEP_DUMPS - 1];
	e = (struct out_done *)(outs + 1);
	for (i = 0; i < outs->n && i < OUTS_MAX; i++)
		if (e[i].seq >= oldest)
			e[n++] = e[i];
	outs->n = n;
}

/*
 * Restored: the notes from here on, sorted (a process restored twice may have noted out of
 * order); the marks of an output in flight (its notes', a follower root's) are the dead
 * process's, settled by the agent: this process starts with them clear.
 */
void a8_redo_collect(void)
{
	const struct out_done *e;
	uint64_t i, n;

	ndone = next_done = 0;
	if (ran)	/* a follower root: the agent settled its mark */
		a8_mark_here(&ran->mark);
	if (!outs_map())
		return;
	a8_mark_here(&outs->mark);
	e = (const struct out_done *)(outs + 1);
	n = outs->n < OUTS_MAX ? outs->n : OUTS_MAX;
	for (i = 0; i < n; i++) {
		if (e[i].seq < a8.seq)
			continue;
		if (ndone == capdone)
			done = a8_mem_grow(done, &capdone, ndone, sizeof(*done));
		done[ndone++] = e[i];
	}
	qsort(done, ndone, sizeof(*done), by_seq);
}

bool a8_redo_skip(const struct a8_call *c, uint64_t seq, uint64_t digest, long *ret)
{
	size_t i;

	if (!ndone || !noted(c))
		return false;
	while (next_done < ndone && done[next_done].seq < seq)
		next_done++;
	for (i = next_done; i < ndone && done[i].seq == seq; i++) {
		if (done[i].digest == digest) {
			*ret = (long)done[i].ret;
			return true;
		}
	}
	return false;
}

bool a8_redo_begin(const struct a8_call *c, uint64_t seq)
{
	if (!outs || !noted(c))
		return false;
	a8_mark_set(&outs->mark, seq);
	return true;
}

/* Only bytes that went out: an error or an interrupted call is made again. */
void a8_redo_note(uint64_t seq, uint64_t digest, long ret, bool marked)
{
	struct out_done *e;

	if (!marked)	/* a8_redo_begin found nothing to note */
		return;
	if (ret > 0 && outs->n >= OUTS_MAX && !outs_full_said) {
		a8_log(A8_LOG_WARN, 0, "stdio notes full: a rollback may print lines again");
		outs_full_said = true;
	}
	if (ret > 0 && outs->n < OUTS_MAX) {
		e = (struct out_done *)(outs + 1) + outs->n;
		*e = (struct out_done){ .seq = seq, .digest = digest, .ret = ret };
		__atomic_store_n(&outs->n, outs->n + 1, __ATOMIC_SEQ_CST);
	}
	a8_mark_clear(&outs->mark);	/* noted, or not needed: the agent let it finish */
}
