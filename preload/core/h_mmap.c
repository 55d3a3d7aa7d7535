// SPDX-License-Identifier: MIT
/*
 * mmap. Memory is each variant's own and stays out of the stream, with one exception: a
 * file only the leader has open (a replicated fd). The leader maps it and sends the bytes;
 * a follower fills an anonymous mapping with them.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "a8/raw.h"
#include "canon/table.h"
#include "fdtab.h"
#include "stream.h"
#include "util.h"

static bool is_error(long r)
{
	return r < 0 && r > -4096;
}

/* Bytes of the mapping that the file backs (the rest reads as zeros). */
static size_t backed_bytes(const struct a8_call *c)
{
	struct stat st;
	long off = c->a[5];

	if (a8_sys2(SYS_fstat, c->a[4], &st) < 0 || st.st_size <= off)
		return 0;
	return (size_t)st.st_size - (size_t)off < (size_t)c->a[1] ?
		       (size_t)st.st_size - (size_t)off : (size_t)c->a[1];
}

static void follow_mapping(struct a8_call *c, struct a8_step *s)
{
	const uint8_t *d;
	uint32_t tag, n;
	long addr;

	c->ret = s->rec->ret;
	if (is_error(c->ret)) {
		a8_ring_finish(s->seq, c->ret, A8_RING_LEADER_RESULT);
		return;
	}
	addr = a8_sys6(SYS_mmap, c->a[0], c->a[1], PROT_READ | PROT_WRITE,
		       (c->a[3] & ~(MAP_SHARED | MAP_SHARED_VALIDATE)) | MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (is_error(addr))
		a8_diverged("result", "mmap", s->seq, "cannot map %ld bytes here", c->a[1]);
	if (a8_sec_next(&s->sections, &tag, &d, &n) == 1 && tag == A8_SEC_OUT &&
	    n <= (uint64_t)c->a[1])
		memcpy((void *)addr, d, n);
	a8_sys3(SYS_mprotect, addr, c->a[1], c->a[2]);
	c->ret = addr;
	a8_ring_finish(s->seq, c->ret, A8_RING_LEADER_RESULT);
}

void a8_h_mmap(struct a8_call *c)
{
	struct a8_step s;
	struct a8_rec_hdr *h;

	if (c->a[3] & MAP_ANONYMOUS || a8_fd_kind(c->a[4]) != FK_REPL) {
		a8.stats->calls_local++;
		c->ret = a8_sys_args(c->nr, c->args);
		return;
	}
	if (c->a[2] & PROT_EXEC)
		a8_fatal("refused", "mmap", c->nr,
			 "executable mapping of a file only the leader opens (add its directory "
			 "to local_paths)");
	if (c->a[3] & MAP_SHARED && c->a[2] & PROT_WRITE)
		a8_fatal("refused", "mmap", c->nr,
			 "writable shared mapping of a file only the leader opens");
	c->route = R_LEADER;
	if (!a8_step_begin(c, &s))
		return;
	a8.stats->calls_replicated++;
	if (a8.role == A8_ROLE_FOLLOWER) {
		follow_mapping(c, &s);
		return;
	}
	c->ret = a8_sys_args(c->nr, c->args);
	if (!is_error(c->ret) && backed_bytes(c) > A8_REC_MAX - 4096)
		a8_fatal("refused", "mmap", c->nr,
			 "a %zu-byte mapping of a file only the leader opens is larger than a record "
			 "(%u bytes): add its directory to local_paths", backed_bytes(c), A8_REC_MAX);
	h = a8_step_record(c, &s, false);
	if (!is_error(c->ret))
		a8_sec_put(A8_SEC_OUT, (const void *)c->ret, (uint32_t)backed_bytes(c));
	a8_step_commit(c, &s, h);
}
