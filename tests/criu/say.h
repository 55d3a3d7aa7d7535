/* SPDX-License-Identifier: MIT */
/*
 * Progress lines of the CRIU test programs, read by tests/e2e/criu_programs.ts: one write per
 * line to log_fd (opened O_APPEND by the program), so a line lands whole whoever writes it,
 * and a restored process goes on appending where the file ends.
 */
#ifndef A8_CRIU_SAY_H
#define A8_CRIU_SAY_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int log_fd = -1;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line))
		_exit(1);
	if (write(log_fd, line, n) != n)
		_exit(1);
}

#endif
