/* SPDX-License-Identifier: MIT */
/*
 * open(2) flags whose values differ between ISAs, in canonical form. x86_64's values are the
 * canonical ones: nothing to translate here (arch/aarch64/flags.h has the table).
 */
#ifndef A8_ARCH_FLAGS_H
#define A8_ARCH_FLAGS_H

struct a8_flag_map {
	unsigned long native, canon;
};

static const struct a8_flag_map a8_oflag_map[] = { { 0, 0 } };
#define A8_OFLAG_MAP_N 0

#endif
