// SPDX-License-Identifier: MIT
/*
 * The call table (calls.def, aliases.def) compiled into arrays, and the native-number index
 * the dispatcher uses. Everything here is data; behaviour lives with the route and handlers.
 */
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <string.h>

#include "nr_compat.h"
#include "table.h"
#include "siphash.h"

#define A(k, ...) { .kind = AK_##k, .p = (0 __VA_OPT__(+ __VA_ARGS__)) }

#define CALL(name, route, handler, flags, ...) \
	{ #name, 0, route, flags, { __VA_ARGS__ }, handler },
static const struct a8_callinfo a8_calls_init[] = {
#include "calls.def"
};
#undef CALL

/* Writable copy whose cid fields are filled in at init. */
static struct a8_callinfo calls[A8_NCALLS];
const unsigned a8_ncalls = A8_NCALLS;

static const long call_nr[A8_NCALLS] = {
#define CALL(name, ...) __NR_##name,
#include "calls.def"
#undef CALL
};

/* An alias row keeps, per canonical arg, either the native index or a constant. */
#define ALIAS(nat, canon, ...) { #nat, __NR_##nat, A8_CID_##canon, { 0 }, { 0 } },
static struct a8_alias aliases[] = {
#include "aliases.def"
};
#undef ALIAS

/*
 * The maps and constants, parsed from the same rows with other meanings of N and K. An entry
 * a row does not list is all zeros: the constant 0.
 */
struct mapent { int native_plus1; long value; };
#define N(i) { (i) + 1, 0 }
#define K(v) { 0, (long)(v) }
#define ALIAS(nat, canon, ...) { __VA_ARGS__ },
static const struct mapent alias_maps[][6] = {
#include "aliases.def"
};
#undef ALIAS
#undef N
#undef K

static struct a8_native native[A8_NR_MAX];
static uint64_t digest;

const struct a8_callinfo *a8_call_row(unsigned cid)
{
	return cid < A8_NCALLS ? &calls[cid] : NULL;
}

static void index_native(long nr, const struct a8_callinfo *ci, const struct a8_alias *al)
{
	if (nr >= 0 && nr < A8_NR_MAX) {
		native[nr].ci = ci;
		native[nr].alias = al;
	}
}

void a8_table_init(void)
{
	struct a8_siphash h;
	unsigned i, j;
	static const uint8_t zero_key[16];

	a8_siphash_init(&h, zero_key);
	for (i = 0; i < A8_NCALLS; i++) {
		calls[i] = a8_calls_init[i];
		calls[i].cid = (uint16_t)i;
		index_native(call_nr[i], &calls[i], NULL);
		a8_siphash_update(&h, calls[i].name, strlen(calls[i].name) + 1);
		a8_siphash_update(&h, &calls[i].route, 1);
		a8_siphash_update(&h, &calls[i].flags, sizeof(calls[i].flags));
		a8_siphash_update(&h, calls[i].args, sizeof(calls[i].args));
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		for (j = 0; j < 6; j++) {
			const struct mapent *m = &alias_maps[i][j];

			aliases[i].argmap[j] = m->native_plus1 ? (uint8_t)(m->native_plus1 - 1) :
								 A8_MAP_CONST;
			aliases[i].consts[j] = m->value;
		}
		index_native(aliases[i].nr, &calls[aliases[i].cid], &aliases[i]);
	}
	digest = a8_siphash_final(&h);
}

long a8_call_nr(unsigned cid)
{
	return cid < A8_NCALLS ? call_nr[cid] : -1;
}

const struct a8_native *a8_native_lookup(long nr)
{
	if (nr < 0 || nr >= A8_NR_MAX || !native[nr].ci)
		return NULL;
	return &native[nr];
}

uint64_t a8_table_digest(void)
{
	return digest;
}

void a8_canon_args(const struct a8_native *n, const long in[6], long out[6])
{
	int i;

	if (!n->alias) {
		memcpy(out, in, 6 * sizeof(long));
		return;
	}
	for (i = 0; i < 6; i++) {
		uint8_t m = n->alias->argmap[i];

		out[i] = m == A8_MAP_CONST ? n->alias->consts[i] : in[m];
	}
}

uint16_t a8_execve_cid(void)
{
	return A8_CID_execve;
}
