/* SPDX-License-Identifier: MIT */
/* Small helpers of the monitor: logging through the agent, sleeping, reading user strings. */
#ifndef A8_UTIL_H
#define A8_UTIL_H

#include <stddef.h>
#include "a8/monitor.h"

__attribute__((format(printf, 3, 4)))
void a8_log(enum a8_loglevel level, long nr, const char *fmt, ...);
void a8_sleep_ms(int ms);
/* JSON string body of s (without quotes) into out; always NUL-terminates. */
void a8_json_escape(char *out, size_t cap, const char *s);

/* Events to the agent (docs/monitor-abi.md section 2). */
int a8_agent_connect(void);
int a8_agent_open(void);
__attribute__((format(printf, 2, 3)))
void a8_agent_event(const char *ev, const char *fmt, ...);
/* The stats file of this process's stream. */
int a8_stats_open(bool truncate);
void a8_ring_record(const struct a8_call *c, uint64_t seq, uint64_t digest,
		    const uint8_t *blob, uint32_t blob_len, uint32_t flags);

/* Fill in the result of the newest ring entry, if it is position seq. */
void a8_ring_finish(uint64_t seq, long ret, uint32_t flags);

const char *a8_nr_name(long nr);

#endif
