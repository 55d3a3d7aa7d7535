// SPDX-License-Identifier: MIT
/*
 * What the monitor tells its agent: events on a unix socket (one JSON line each, per process,
 * never per call) and counters plus the last calls in a shared stats file the agent can read
 * at any time, also after the process died.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "a8/raw.h"
#include "canon/kinds.h"
#include "arch.h"
#include "fdtab.h"
#include "handover.h"
#include "util.h"

/*
 * The socket is open to every user the program may become (src/run/run_dirs.ts): the agent
 * takes a connection's events once its first line shows the run's token.
 */
static int show_token(int fd)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "A8-AUTH %s\n", a8.agent_token);

	if (n <= 0 || n >= (int)sizeof(line))
		return -EINVAL;
	return a8_send(fd, line, (unsigned long)n) == n ? 0 : -EIO;
}

/* A new connection of this process to the agent; the old one (if any) is let go. */
int a8_agent_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long fd;

	if (a8.agent_fd >= 0)
		a8_sys1(SYS_close, a8.agent_fd);
	a8.agent_fd = -1;
	if (!a8.agent_sock[0])
		return 0;
	strncpy(sun.sun_path, a8.agent_sock, sizeof(sun.sun_path) - 1);
	fd = a8_fd_socket(AF_UNIX, SOCK_STREAM);
	if (fd < 0 || a8_sys3(SYS_connect, fd, &sun, sizeof(sun)) < 0 || show_token((int)fd) < 0) {
		if (fd >= 0)
			a8_sys1(SYS_close, fd);
		return -ECONNREFUSED;
	}
	a8.agent_fd = (int)fd;
	return 0;
}

int a8_agent_connect(void)
{
	int err = a8_agent_open();

	if (err || a8.agent_fd < 0)
		return err;
	a8_agent_event("hello", "\"abi\":%d,\"isa\":\"%s\",\"interposer\":\"%s\",\"policy\":\"%s\"",
		       A8_ABI_VERSION, A8_ISA,
		       a8.interposer == A8_INTERPOSE_SUD ? "sud" : "seccomp",
		       a8_policy_names[a8.policy]);
	return 0;
}

void a8_agent_event(const char *ev, const char *fmt, ...)
{
	char line[2048];
	int n;
	va_list ap;

	if (a8.agent_fd < 0)
		return;
	n = snprintf(line, sizeof(line),
		     "{\"ev\":\"%s\",\"stream\":\"%s\",\"pid\":%ld,\"vpid\":%ld%s", ev, a8.stream,
		     a8_sys0(SYS_getpid), a8.vpid, fmt && *fmt ? "," : "");
	va_start(ap, fmt);
	if (fmt && n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '}';
	line[n++] = '\n';
	a8_send(a8.agent_fd, line, (unsigned long)n);
}

void a8_json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			n += snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n] = 0;
}

void a8_log(enum a8_loglevel level, long nr, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char msg[768], esc[1024];
	va_list ap;

	if (level > a8.loglevel)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a8_json_escape(esc, sizeof(esc), msg);
	if (a8.agent_fd < 0) {
		char line[1200];
		int n = snprintf(line, sizeof(line), "a8 monitor %s v%u stream=%s nr=%ld: %s\n",
				 names[level], a8.variant_id, a8.stream, nr, msg);

		a8_sys3(SYS_write, 2, line, n < (int)sizeof(line) ? n : (int)sizeof(line));
		return;
	}
	a8_agent_event("log", "\"level\":\"%s\",\"nr\":%ld,\"msg\":\"%s\"", names[level], nr, esc);
}

void a8_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	a8_sys2(SYS_nanosleep, &ts, NULL);
}

/* The stats file open as fd, mapped; NULL if it cannot be. */
static struct a8_stats *map_stats_fd(long fd, long *err)
{
	void *p;

	*err = a8_sys2(SYS_ftruncate, fd, sizeof(struct a8_stats));
	if (*err)
		return NULL;
	p = (void *)a8_sys6(SYS_mmap, 0, sizeof(struct a8_stats), PROT_READ | PROT_WRITE,
			    MAP_SHARED, fd, 0);
	if ((long)p < 0 && (long)p > -4096) {
		*err = (long)p;
		return NULL;
	}
	return p;
}

/* Kept open for a later image (handover.h): after a change of user it could not open it. */
static struct a8_stats *open_stats_file(bool truncate, long *err)
{
	char path[400];
	long fd;
	struct a8_stats *p;

	snprintf(path, sizeof(path), "%s/stats/%s.bin", a8.run_dir, a8.stream);
	fd = a8_handover_open("stats", path, O_RDWR | O_CREAT | (truncate ? O_TRUNC : 0));
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	p = map_stats_fd(fd, err);
	if (!p)
		a8_handover_release("stats");
	return p;
}

/*
 * Counted in memory of our own when the file cannot be had: the program goes on, and only its
 * stats are missing from the reports. The counters are never NULL.
 */
int a8_stats_open(bool truncate)
{
	long err = 0;

	if (a8.stats) {
		a8_sys2(SYS_munmap, a8.stats, sizeof(struct a8_stats));
		a8.stats = NULL;
	}
	if (a8.run_dir[0])
		a8.stats = open_stats_file(truncate, &err);
	if (!a8.stats) {
		long p = a8_sys6(SYS_mmap, 0, sizeof(struct a8_stats), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p < 0 && p > -4096)
			a8_fatal("internal", "", 0, "no memory for the call counters");
		a8.stats = (struct a8_stats *)p;
		if (a8.run_dir[0])
			a8_log(A8_LOG_WARN, 0, "no stats file for stream %s (%ld): its calls are "
			       "not in the reports", a8.stream, err);
	}
	memcpy(a8.stats->magic, A8_STATS_MAGIC, 8);
	a8.stats->abi = A8_ABI_VERSION;
	a8.stats->ring_slots = A8_RING_SLOTS;
	a8.stats->pid = (uint32_t)a8_sys0(SYS_getpid);
	a8.stats->vpid = (uint32_t)a8.vpid;
	strncpy(a8.stats->stream, a8.stream, sizeof(a8.stats->stream) - 1);
	return (int)err;
}

void a8_ring_record(const struct a8_call *c, uint64_t seq, uint64_t digest,
		    const uint8_t *blob, uint32_t blob_len, uint32_t flags)
{
	struct a8_ring_entry *e;
	int i;

	if (!a8.stats)
		return;
	e = &a8.stats->ring[a8.stats->ring_head % A8_RING_SLOTS];
	e->seq = seq;
	strncpy(e->name, c->ci ? c->ci->name : "?", sizeof(e->name));
	e->nr = c->nr;
	for (i = 0; i < 6; i++)
		e->args[i] = (uint64_t)c->a[i];
	e->digest = digest;
	e->ret = c->ret;
	e->blob_len = blob_len > A8_RING_BLOB ? A8_RING_BLOB : blob_len;
	if (blob)
		memcpy(e->blob, blob, e->blob_len);
	e->flags = flags;
	a8.stats->ring_head++;
	a8.stats->seq = seq;
}

void a8_ring_finish(uint64_t seq, long ret, uint32_t flags)
{
	struct a8_ring_entry *e;

	if (!a8.stats || !a8.stats->ring_head)
		return;
	e = &a8.stats->ring[(a8.stats->ring_head - 1) % A8_RING_SLOTS];
	if (e->seq != seq)
		return;
	e->ret = ret;
	e->flags = flags;
}
