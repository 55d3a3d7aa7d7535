/* SPDX-License-Identifier: MIT */
/* open(2) flags that aarch64 numbers differently from x86_64 (canonical): octal values. */
#ifndef A8_ARCH_FLAGS_H
#define A8_ARCH_FLAGS_H

struct a8_flag_map {
	unsigned long native, canon;
};

static const struct a8_flag_map a8_oflag_map[] = {
	{ 040000, 0200000 },	/* O_DIRECTORY */
	{ 0100000, 0400000 },	/* O_NOFOLLOW */
	{ 0200000, 040000 },	/* O_DIRECT */
	{ 0400000, 0100000 },	/* O_LARGEFILE */
};
#define A8_OFLAG_MAP_N 4

#endif
