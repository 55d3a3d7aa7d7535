// SPDX-License-Identifier: MIT
/*
 * Outputs a rollback must not make again (ckpt.h).
 *
 * A replaying leader takes recorded results and runs none of its replicated calls; an output
 * of its own it does run again only where that repeats nothing (a file with an offset gets the
 * same bytes at the same place). A follower rolled back from behind its leader (code policy)
 * must still make the outputs it never made: it remembers how far it ran.
 *
 * With the criu engine, a process of the tree other than the root has no replay: restored, it
 * goes on from the checkpoint (replay.c, replay_nothing) and makes again what it did since the
 * dump, on the leader and on the followers alike. CRIU put its pipes back, its connections are
 * closed, its files get the same bytes; but what it wrote to the variant's stdout or stderr,
 * outside the tree, would be printed twice. So such a process notes each stdio output
 * (position, digest of the call and its bytes, result) in a file of the run directory, which
 * a restore does not put back, and restored, it takes the noted result for the same output at
 * the same position instead of writing again. A different call there (it went another way: an
 * input it had read is gone) runs.
 */
#include <fcntl.h>
#include <string.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "ckpt.h"
#include "core/util.h"
#include "exchange/link.h"

/*
 * Follower: the furthest position at which this variant ran a call of its own, in memory no
 * rollback puts back. Under the code policy a follower can be rolled back from behind the
 * leader, and a retry replays the leader's whole log: a replayed output past this position is
 * one this variant never made, and it must make it now.
 */
static uint64_t *ran_upto;

struct out_done {
	uint64_t seq;
	uint64_t digest;
	int64_t ret;
};

/* The notes since the newest dump: a file mapping, as the log is under criu (ckpt.c). */
struct outs_head {
	uint64_t n;
	uint64_t pad;
};
#define OUTS_SIZE (1ul << 20)
#define OUTS_MAX ((OUTS_SIZE - sizeof(struct outs_head)) / sizeof(struct out_done))
static struct outs_head *outs;

/* A restored process's outputs of before the rollback, by position; the next one to meet. */
static struct out_done *done;
static size_t ndone, capdone, next_done;

void a8_replay_ran_init(void)
{
	if (a8.role == A8_ROLE_FOLLOWER && a8_ckpt_enabled() && !ran_upto)
		ran_upto = a8_ckpt_shared_map("ran", 4096);
}

void a8_replay_ran(uint64_t seq)
{
	if (ran_upto && seq > *ran_upto)
		*ran_upto = seq;
}

void a8_redo_detach(void)
{
	ran_upto = NULL;
	ndone = next_done = 0;
	if (outs)
		a8_sys2(SYS_munmap, outs, OUTS_SIZE);
	outs = NULL;
}

/*
 * A position replayed after a rollback wrote to a pipe, a terminal or an appending file of
 * this variant's own before the rollback: its reader has the bytes already, so the call is
 * not run again (it returns what it returned then). A file with an offset is written again
 * at the offset the checkpoint restored: the same bytes at the same place.
 */
bool a8_replay_output_done(const struct a8_call *c, const struct a8_rec_hdr *rec)
{
	long fl;

	if (!(rec->flags & A8_RECF_REPLAYED) && !a8_replaying())
		return false;
	if (!a8_replaying() && ran_upto && rec->seq > *ran_upto)
		return false;
	/* CRIU restores the tree's own pipes with their contents: only stdio stays outside. */
	if (a8_ckpt.engine == A8_CKPT_CRIU && c->a[0] > 2)
		return false;
	if (!((c->ci->flags | c->xflags) & F_OUTPUT) || c->ci->args[0].kind != AK_FD)
		return false;
	fl = a8_sys2(SYS_fcntl, c->a[0], F_GETFL);
	if (fl < 0)
		return false;
	return (fl & O_APPEND) || a8_sys3(SYS_lseek, c->a[0], 0, SEEK_CUR) < 0;
}

/* A process of a criu tree that is not its root: its notes, mapped on first use. */
static struct outs_head *outs_map(void)
{
	if (!outs && a8_ckpt.engine == A8_CKPT_CRIU && strcmp(a8.stream, "0"))
		outs = a8_ckpt_shared_map("outs", OUTS_SIZE);
	return outs;
}

/* A stdio output of a process of a criu tree that is not its root. */
static bool noted(const struct a8_call *c)
{
	return ((c->ci->flags | c->xflags) & F_OUTPUT) && c->ci->args[0].kind == AK_FD &&
	       c->a[0] >= 0 && c->a[0] <= 2 && outs_map();
}

void a8_redo_reset(void)
{
	if (outs_map())
		outs->n = 0;
}

/* By position, then digest; the same note twice once. */
static void sort_done(void)
{
	size_t i, j, n = 0;

	for (i = 1; i < ndone; i++) {
		struct out_done e = done[i];

		for (j = i; j > 0 && (done[j - 1].seq > e.seq ||
				      (done[j - 1].seq == e.seq && done[j - 1].digest > e.digest)); j--)
			done[j] = done[j - 1];
		done[j] = e;
	}
	for (i = 0; i < ndone; i++)
		if (!n || done[n - 1].seq != done[i].seq || done[n - 1].digest != done[i].digest)
			done[n++] = done[i];
	ndone = n;
}

/*
 * The notes of the log join those the restored image holds: the log has what was made since
 * the dump, the image what earlier lives had made past this position (a process restored twice
 * from one dump, or dumped again right after a restore, before it got as far as before).
 */
void a8_redo_collect(void)
{
	const struct out_done *e;
	uint64_t i, n;

	next_done = 0;
	if (!outs_map())
		return;
	e = (const struct out_done *)(outs + 1);
	n = outs->n < OUTS_MAX ? outs->n : OUTS_MAX;
	for (i = 0; i < n; i++) {
		if (ndone == capdone)
			done = a8_mem_grow(done, &capdone, ndone, sizeof(*done));
		done[ndone++] = e[i];
	}
	sort_done();
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

/* A full file stops the notes: what comes after may be printed twice by a rollback. */
void a8_redo_note(const struct a8_call *c, uint64_t seq, uint64_t digest, long ret)
{
	struct out_done *e;

	if (!a8_ckpt_standing() || !noted(c) || outs->n >= OUTS_MAX)
		return;
	e = (struct out_done *)(outs + 1) + outs->n;
	*e = (struct out_done){ .seq = seq, .digest = digest, .ret = ret };
	outs->n++;
}
