// SPDX-License-Identifier: MIT
/*
 * canon/table.c: the rows of calls.def are well formed, canonical ids are row indexes, the
 * native index finds rows and aliases (x86_64 numbers), aliases map arguments as aliases.def
 * says, and the table digest is stable.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#include "check.h"
#include "canon/table.h"

static const struct a8_callinfo *row_named(const char *name)
{
	unsigned i;

	for (i = 0; i < a8_ncalls; i++)
		if (!strcmp(a8_call_row(i)->name, name))
			return a8_call_row(i);
	return NULL;
}

/* Kinds whose parameter names another argument (as opposed to a byte size). */
static int p_is_index(unsigned kind)
{
	switch (kind) {
	case AK_IN: case AK_OUT: case AK_IOV_IN: case AK_IOV_OUT: case AK_ADDR_IN:
	case AK_ADDR_OUT: case AK_POLLFD: case AK_FDSET: case AK_OPTVAL:
		return 1;
	}
	return 0;
}

static void check_rows(void)
{
	unsigned i, j;
	int names = 1, routes = 1, kinds = 1, ids = 1, handlers = 1, params = 1, unique = 1;
	int indexed = 1;

	CHECK(a8_ncalls > 0);
	for (i = 0; i < a8_ncalls; i++) {
		const struct a8_callinfo *ci = a8_call_row(i);
		long nr = a8_call_nr(i);

		if (!ci) {
			CHECK(ci != NULL);
			return;
		}
		names &= ci->name && ci->name[0];
		routes &= ci->route <= R_SPECIAL;
		ids &= ci->cid == i;
		if (ci->route == R_SPECIAL || ci->route == R_VIRT)
			handlers &= ci->handler != NULL;
		else
			handlers &= ci->handler == NULL;	/* calls.def: "else 0" */
		for (j = 0; j < 6; j++) {
			kinds &= ci->args[j].kind < AK_AKLAST;
			if (p_is_index(ci->args[j].kind))
				params &= ci->args[j].p < 6 && ci->args[j].p != j &&
					  ci->args[ci->args[j].p].kind != AK_NONE;
			if (ci->args[j].kind == AK_INS || ci->args[j].kind == AK_OUTS ||
			    ci->args[j].kind == AK_INOUTS)
				params &= ci->args[j].p > 0;
		}
		for (j = 0; j < i; j++)
			unique &= strcmp(a8_call_row(j)->name, ci->name) != 0;
		/* A row this ISA has is what its own number finds (no alias shadows it). */
		if (nr >= 0) {
			const struct a8_native *n = a8_native_lookup(nr);

			indexed &= n && n->ci == ci && n->alias == NULL;
		}
		if (!(names && routes && kinds && ids && handlers && params && unique && indexed)) {
			fprintf(stderr, "row %u (%s) is the first bad one\n", i,
				ci->name ? ci->name : "?");
			break;
		}
	}
	CHECK(names);
	CHECK(routes);
	CHECK(kinds);
	CHECK(ids);
	CHECK(handlers);
	CHECK(params);
	CHECK(unique);
	CHECK(indexed);
	CHECK(a8_call_row(a8_ncalls) == NULL);
	CHECK(a8_call_row(~0u) == NULL);
	CHECK_EQ(a8_call_nr(a8_ncalls), (unsigned long long)-1);
	CHECK(!strcmp(a8_call_row(a8_execve_cid())->name, "execve"));
}

/* The canonical arguments of native call nr with args in. */
static void canon(long nr, const long in[6], long out[6])
{
	const struct a8_native *n = a8_native_lookup(nr);

	memset(out, 0x5a, 6 * sizeof(long));
	if (n)
		a8_canon_args(n, in, out);
}

static void check_native(void)
{
	static const long in[6] = { 0x1000, 0x2001, 0x3002, 0x4003, 0x5004, 0x6005 };
	const struct a8_native *n;
	long out[6];

	/* Unknown and out-of-range numbers. */
	CHECK(a8_native_lookup(-1) == NULL);
	CHECK(a8_native_lookup(A8_NR_MAX) == NULL);
	CHECK(a8_native_lookup(100000) == NULL);
	CHECK(a8_native_lookup(A8_NR_MAX - 1) == NULL);
#ifdef __x86_64__
	CHECK(a8_native_lookup(335) == NULL);	/* unassigned on x86_64 */
	CHECK(a8_native_lookup(175) == NULL);	/* init_module: not in the table */

	/* Plain rows, by x86_64's numbers. */
	n = a8_native_lookup(0);
	CHECK(n && n->ci == row_named("read") && n->alias == NULL);
	n = a8_native_lookup(1);
	CHECK(n && n->ci == row_named("write") && n->alias == NULL);
	n = a8_native_lookup(257);
	CHECK(n && n->ci == row_named("openat") && n->alias == NULL);
	canon(257, in, out);
	CHECK(!memcmp(in, out, sizeof(out)));	/* no alias: arguments unchanged */
	CHECK_EQ(a8_call_nr(row_named("openat")->cid), 257);
	CHECK_EQ(a8_call_nr(row_named("read")->cid), 0);

	/* open(path, flags, mode) is openat(AT_FDCWD, path, flags, mode). */
	n = a8_native_lookup(2);
	CHECK(n && n->ci == row_named("openat") && n->alias != NULL);
	canon(2, in, out);
	CHECK_EQ(out[0], (long)AT_FDCWD);
	CHECK_EQ(out[1], in[0]);
	CHECK_EQ(out[2], in[1]);
	CHECK_EQ(out[3], in[2]);

	/* stat(path, buf) is newfstatat(AT_FDCWD, path, buf, 0). */
	n = a8_native_lookup(4);
	CHECK(n && n->ci == row_named("newfstatat") && n->alias != NULL);
	canon(4, in, out);
	CHECK_EQ(out[0], (long)AT_FDCWD);
	CHECK_EQ(out[1], in[0]);
	CHECK_EQ(out[2], in[1]);
	CHECK_EQ(out[3], 0);

	/* lstat adds AT_SYMLINK_NOFOLLOW. */
	canon(6, in, out);
	CHECK(a8_native_lookup(6) && a8_native_lookup(6)->ci == row_named("newfstatat"));
	CHECK_EQ(out[3], AT_SYMLINK_NOFOLLOW);

	/* dup2(old, new) is dup3(old, new, 0). */
	n = a8_native_lookup(33);
	CHECK(n && n->ci == row_named("dup3") && n->alias != NULL);
	canon(33, in, out);
	CHECK_EQ(out[0], in[0]);
	CHECK_EQ(out[1], in[1]);
	CHECK_EQ(out[2], 0);
	CHECK(a8_native_lookup(292) && a8_native_lookup(292)->ci == row_named("dup3") &&
	      a8_native_lookup(292)->alias == NULL);

	/* rename(old, new) is renameat2(AT_FDCWD, old, AT_FDCWD, new, 0). */
	n = a8_native_lookup(82);
	CHECK(n && n->ci == row_named("renameat2") && n->alias != NULL);
	canon(82, in, out);
	CHECK_EQ(out[0], (long)AT_FDCWD);
	CHECK_EQ(out[1], in[0]);
	CHECK_EQ(out[2], (long)AT_FDCWD);
	CHECK_EQ(out[3], in[1]);
	CHECK_EQ(out[4], 0);

	/* renameat(a, b, c, d) is renameat2(a, b, c, d, 0). */
	canon(264, in, out);
	CHECK(a8_native_lookup(264) && a8_native_lookup(264)->ci == row_named("renameat2"));
	CHECK(!memcmp(out, in, 4 * sizeof(long)));
	CHECK_EQ(out[4], 0);

	/* vfork() is clone(CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0); fork without CLONE_VM. */
	n = a8_native_lookup(58);
	CHECK(n && n->ci == row_named("clone") && n->alias != NULL);
	canon(58, in, out);
	CHECK_EQ(out[0], CLONE_VM | CLONE_VFORK | SIGCHLD);
	CHECK_EQ(out[1], 0);
	CHECK_EQ(out[2], 0);
	CHECK_EQ(out[3], 0);
	CHECK_EQ(out[4], 0);
	canon(57, in, out);
	CHECK(a8_native_lookup(57) && a8_native_lookup(57)->ci == row_named("clone"));
	CHECK_EQ(out[0], SIGCHLD);
	CHECK(a8_native_lookup(56) && a8_native_lookup(56)->ci == row_named("clone") &&
	      a8_native_lookup(56)->alias == NULL);

	/* creat(path, mode) is openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode). */
	canon(85, in, out);
	CHECK_EQ(out[0], (long)AT_FDCWD);
	CHECK_EQ(out[1], in[0]);
	CHECK_EQ(out[2], O_CREAT | O_WRONLY | O_TRUNC);
	CHECK_EQ(out[3], in[1]);

	/* epoll_wait(ep, ev, max, timeout) is epoll_pwait(ep, ev, max, timeout, NULL, 8). */
	canon(232, in, out);
	CHECK(a8_native_lookup(232) && a8_native_lookup(232)->ci == row_named("epoll_pwait"));
	CHECK(!memcmp(out, in, 4 * sizeof(long)));
	CHECK_EQ(out[4], 0);
	CHECK_EQ(out[5], 8);
#else
	(void)n;
	(void)in;
	(void)out;
	fprintf(stderr, "not x86_64: native-number checks skipped\n");
#endif
}

int main(void)
{
	uint64_t d1, d2;

	a8_table_init();
	d1 = a8_table_digest();
	check_rows();
	check_native();

	a8_table_init();
	d2 = a8_table_digest();
	CHECK_EQ(d1, d2);
	CHECK(d1 != 0);
	check_rows();	/* a second init leaves a table as good as the first */
	return check_report();
}
