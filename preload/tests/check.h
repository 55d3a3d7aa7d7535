/* SPDX-License-Identifier: MIT */
/*
 * The C unit tests' whole framework: CHECK counts, and prints file:line and the expression
 * on failure (to stderr); check_report() prints the one summary line and gives the exit status.
 */
#ifndef A8_TEST_CHECK_H
#define A8_TEST_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(expr)                                                                    \
	do {                                                                           \
		if (expr) {                                                            \
			check_passed++;                                                \
		} else {                                                               \
			check_failed++;                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#expr);                                                \
		}                                                                      \
	} while (0)

/* Like CHECK(a == b), and shows both values when they differ. */
#define CHECK_EQ(a, b)                                                                 \
	do {                                                                           \
		unsigned long long check_a_ = (unsigned long long)(a);                 \
		unsigned long long check_b_ = (unsigned long long)(b);                 \
		if (check_a_ == check_b_) {                                            \
			check_passed++;                                                \
		} else {                                                               \
			check_failed++;                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (0x%llx != 0x%llx)\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);       \
		}                                                                      \
	} while (0)

/* Print "N passed, M failed"; the exit status of the test program. */
static inline int check_report(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	fflush(stdout);
	return check_failed > 0;
}

#endif
