/*
 * vuln_server: a small HTTP/1.1 server with a DELIBERATE format-string bug, the target of a8's
 * survivability tests and demo. One process, one thread, one epoll set (level-triggered),
 * non-blocking sockets, keep-alive, pipelined requests, Content-Length on every response.
 *
 *   vuln_server [-a ADDR] -p PORT       (ADDR: IPv4, default 0.0.0.0; PORT 0: any free port)
 *
 * Once listening it prints "listening on ADDR:PORT" (the bound port) to stdout, once.
 *
 * Routes (GET only; other methods get 405):
 *   /hello          200 "hello\n"
 *   /greet?name=X   200 "Hello, X\n", X percent-decoded ('+' is a space). THE BUG: X is used
 *                   as a printf format. "/greet?name=%25p.%25p.%25p" leaks register and stack
 *                   words (stack addresses, which ASLR places differently in every process),
 *                   so the variants of an a8 run write different bytes and a8 sees a
 *                   divergence at that write.
 *   /big?n=N        200, N bytes of BIG_PATTERN repeated (0 <= N <= BIG_MAX), for throughput
 *   anything else   404 "not found\n"
 * Malformed requests get 400, a head over IN_MAX bytes 431; both close the connection.
 *
 * The server must behave the same in every variant given the same input: it reads no clock,
 * no random bytes, no pid, logs nothing per request, and keys epoll by fd (not by a pointer).
 * Apart from the leak above its output depends only on what the clients sent. The calls it
 * makes while serving: epoll_wait, accept4, epoll_ctl, read, write, close, and shutdown (a
 * lingering close after an error response). At start: rt_sigaction, openat (/dev/null, a
 * spare fd for EMFILE), socket, setsockopt, bind, listen, getsockname, epoll_create1, write.
 * Connections are never timed out: that would need a clock.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD    1024          /* connections use fds below this; others are refused */
#define IN_MAX    8192          /* request head (line + headers) limit: more gets 431 */
#define OUT_MAX   16384         /* response buffer; /big bodies are generated into it */
#define GREET_NAME_MAX 128      /* decoded /greet name limit */
#define BIG_MAX   (1ULL << 30) /* /big?n= limit */
#define MAX_EVENTS 64
#define DRAIN_MAX (1 << 20)     /* a lingering close drops at most this much, then closes */

/* /big's body: byte i is BIG_PATTERN[i % 64] (tests/e2e/http_client.ts has the same). */
static const char BIG_PATTERN[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+\n";
#define BIG_PATTERN_LEN 64

struct conn {
	int open;
	int want_out;            /* registered for EPOLLOUT (a response is pending) */
	int close_after;         /* close once the pending response is written */
	int linger;              /* ...after draining what the client still sends (errors) */
	int draining;            /* half-closed: reading and dropping until the client closes */
	uint64_t drained;        /* bytes dropped while draining */
	size_t in_len;           /* request bytes buffered */
	size_t out_len, out_off; /* response bytes in out[], of which out_off written */
	uint64_t body_left;      /* /big bytes still to generate once out[] drains */
	uint64_t body_pos;       /* offset of the next /big byte */
	char in[IN_MAX];
	char out[OUT_MAX];
};

/* Indexed by fd: no allocation while serving, and nothing layout-dependent reaches a call. */
static struct conn conns[MAX_FD];
static int epfd = -1;
static int spare_fd = -1; /* closed to make room when accept4 fails with EMFILE */

/* A parsed request head. Pointers point into conn.in, strings are NUL-terminated there. */
struct request {
	const char *method;
	char *target;
	int keep_alive;
	int bad;          /* malformed or unsupported: answer 400 and close */
	int has_body;     /* Content-Length > 0 or Transfer-Encoding: bodies are not read */
	size_t head_len;  /* bytes of conn.in the head takes, "\r\n\r\n" included */
};

/* Prints why the server cannot go on and exits: only at start or on a broken invariant. */
static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: vuln_server [-a ADDR] -p PORT\n");
	exit(64);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	default: return "Error";
	}
}

/* ---------------------------------------------------------------------------------------- */
/* epoll and connections */

static int ep_set(int op, int fd, uint32_t events)
{
	/* All 64 bits of data set: the call's argument bytes are the same in every variant. */
	struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)fd };

	return epoll_ctl(epfd, op, fd, &ev);
}

static void conn_close(int fd)
{
	struct conn *c = &conns[fd];

	/* close() also removes fd from the epoll set: no EPOLL_CTL_DEL needed. */
	if (close(fd) < 0)
		perror("close");
	c->open = 0;
}

/* Switches between waiting to read a request and waiting to write a response. */
static int conn_want_out(int fd, int on)
{
	struct conn *c = &conns[fd];

	if (c->want_out == on)
		return 0;
	if (ep_set(EPOLL_CTL_MOD, fd, on ? EPOLLOUT : EPOLLIN) < 0) {
		perror("epoll_ctl MOD");
		return -1;
	}
	c->want_out = on;
	return 0;
}

/*
 * The last response of a connection is written. After an error the client may still be
 * sending (a too-long head, a body): closing with unread bytes makes the kernel send a reset,
 * which can destroy the response before the client reads it. So then half-close and drop what
 * comes until the client closes (a "lingering close"); otherwise close at once.
 */
static void conn_finish(int fd)
{
	struct conn *c = &conns[fd];

	if (!c->linger) {
		conn_close(fd);
		return;
	}
	if (shutdown(fd, SHUT_WR) < 0 || conn_want_out(fd, 0) < 0) {
		conn_close(fd);
		return;
	}
	c->draining = 1;
}

/* Reads and drops bytes from a half-closed connection; closes at EOF, error or DRAIN_MAX. */
static void drain(int fd)
{
	struct conn *c = &conns[fd];
	ssize_t n = read(fd, c->in, sizeof c->in);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (c->drained += (uint64_t)n) > DRAIN_MAX)
		conn_close(fd);
}

/* Accepts one connection: level-triggered, so another wakeup follows if more are waiting. */
static void accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			/*
			 * Out of fds: the pending connection would wake us forever. Use the
			 * spare fd to accept and drop it, then take the spare back.
			 */
			if (spare_fd >= 0 && close(spare_fd) < 0)
				perror("close spare");
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0 && close(fd) < 0)
				perror("close refused");
			spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			return;
		}
		/* EAGAIN, ECONNABORTED, EINTR, ENOBUFS...: this one connection is lost. */
		if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
			perror("accept4");
		return;
	}
	if (fd >= MAX_FD) {
		fprintf(stderr, "vuln_server: fd %d over the limit, connection refused\n", fd);
		if (close(fd) < 0)
			perror("close");
		return;
	}
	struct conn *c = &conns[fd];

	c->open = 1;
	c->want_out = 0;
	c->close_after = 0;
	c->linger = c->draining = 0;
	c->drained = 0;
	c->in_len = 0;
	c->out_len = c->out_off = 0;
	c->body_left = c->body_pos = 0;
	if (ep_set(EPOLL_CTL_ADD, fd, EPOLLIN) < 0) {
		perror("epoll_ctl ADD");
		conn_close(fd);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Responses */

/* Starts a response: status line and headers into out[]; the body follows from the caller. */
static void begin_response(struct conn *c, int status, uint64_t body_len, int keep_alive)
{
	int n = snprintf(c->out, sizeof c->out,
			 "HTTP/1.1 %d %s\r\n"
			 "Server: vuln_server\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: %llu\r\n"
			 "Connection: %s\r\n"
			 "\r\n",
			 status, reason(status), (unsigned long long)body_len,
			 keep_alive ? "keep-alive" : "close");

	/* The head is ~150 bytes: it always fits. */
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->body_left = 0;
	c->body_pos = 0;
	c->close_after = !keep_alive;
}

/* A whole response with a small body held in memory. */
static void respond(struct conn *c, int status, const char *body, size_t len, int keep_alive)
{
	begin_response(c, status, len, keep_alive);
	if (len > sizeof c->out - c->out_len)
		len = sizeof c->out - c->out_len; /* bodies here are < 1 KiB: never happens */
	memcpy(c->out + c->out_len, body, len);
	c->out_len += len;
}

static void respond_str(struct conn *c, int status, const char *body, int keep_alive)
{
	respond(c, status, body, strlen(body), keep_alive);
}

/* An error after which the connection is closed, lingering (see conn_finish). */
static void respond_error(struct conn *c, int status, const char *body)
{
	respond_str(c, status, body, 0);
	c->linger = 1;
}

/* Appends as much of the pending /big body as fits after what out[] holds. */
static void fill_big(struct conn *c)
{
	while (c->body_left > 0 && c->out_len < sizeof c->out) {
		c->out[c->out_len++] = BIG_PATTERN[c->body_pos % BIG_PATTERN_LEN];
		c->body_pos++;
		c->body_left--;
	}
}

/*
 * Writes what is pending. Returns 1 when all of the response is written, 0 when the socket is
 * full (wait for EPOLLOUT), -1 when the connection failed (the caller closes it).
 */
static int flush_out(int fd)
{
	struct conn *c = &conns[fd];

	for (;;) {
		if (c->out_off == c->out_len) {
			c->out_len = c->out_off = 0;
			fill_big(c);
			if (c->out_len == 0)
				return 1;
		}
		ssize_t n = write(fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1; /* EPIPE, ECONNRESET: the client went away */
		c->out_off += (size_t)n;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Routes */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes src[0..len) into dst (cap bytes, NUL-terminated); '+' is a space. Returns
 * -1 on a bad escape, an encoded NUL or a result that does not fit.
 */
static int url_decode(char *dst, size_t cap, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int ch = (unsigned char)src[i];

		if (ch == '%') {
			if (i + 2 >= len)
				return -1;
			int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);

			if (hi < 0 || lo < 0)
				return -1;
			ch = hi * 16 + lo;
			i += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		if (ch == 0 || o + 1 >= cap)
			return -1;
		dst[o++] = (char)ch;
	}
	dst[o] = 0;
	return 0;
}

/* Finds query parameter `key` in "a=1&b=2"; points val and len at its raw value. */
static int query_param(const char *query, const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);

		if (plen > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			*val = p + klen + 1;
			*len = plen - klen - 1;
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -1;
}

static void route_greet(struct conn *c, const char *query, int keep_alive)
{
	char name[GREET_NAME_MAX];
	char msg[512];
	char body[sizeof msg + 16];
	const char *raw;
	size_t raw_len;

	if (!query || query_param(query, "name", &raw, &raw_len) < 0) {
		respond_str(c, 400, "missing name\n", keep_alive);
		return;
	}
	if (url_decode(name, sizeof name, raw, raw_len) < 0) {
		respond_str(c, 400, "bad name\n", keep_alive);
		return;
	}
	/*
	 * DELIBERATE VULNERABILITY (CWE-134), the reason this server exists: the client's name
	 * is the format. "%p" prints whatever the variadic argument registers and stack slots
	 * hold, which includes addresses that ASLR places differently in every process. Built
	 * with -Wno-format-security so the compiler lets it through. Which registers hold what
	 * here depends on the compiler; vuln_server_test.ts checks that two runs leak different
	 * values. The fix would be snprintf(msg, sizeof msg, "%s", name). Do not copy this.
	 */
	snprintf(msg, sizeof msg, name);
	int n = snprintf(body, sizeof body, "Hello, %s\n", msg);

	if (n < 0)
		n = 0; /* an encoding error: answer an empty body rather than garbage */
	respond(c, 200, body, (size_t)n < sizeof body ? (size_t)n : sizeof body - 1, keep_alive);
}

/* Parses a decimal count with no sign, spaces or overflow. */
static int parse_count(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static void route_big(struct conn *c, const char *query, int keep_alive)
{
	const char *raw;
	size_t raw_len;
	uint64_t n;

	if (!query || query_param(query, "n", &raw, &raw_len) < 0 ||
	    parse_count(raw, raw_len, BIG_MAX, &n) < 0) {
		respond_str(c, 400, "bad n\n", keep_alive);
		return;
	}
	begin_response(c, 200, n, keep_alive);
	c->body_left = n;
	fill_big(c);
}

/* Answers one parsed request: the response is left in c->out for flush_out. */
static void route(struct conn *c, struct request *rq)
{
	if (rq->bad) {
		respond_error(c, 400, "bad request\n");
		return;
	}
	/* Request bodies are not read: close rather than take the body for the next request. */
	if (strcmp(rq->method, "GET")) {
		respond_error(c, 405, "method not allowed\n");
		return;
	}
	if (rq->has_body) {
		respond_error(c, 400, "bad request\n");
		return;
	}
	char *query = strchr(rq->target, '?');

	if (query)
		*query++ = 0;
	if (!strcmp(rq->target, "/hello"))
		respond_str(c, 200, "hello\n", rq->keep_alive);
	else if (!strcmp(rq->target, "/greet"))
		route_greet(c, query, rq->keep_alive);
	else if (!strcmp(rq->target, "/big"))
		route_big(c, query, rq->keep_alive);
	else
		respond_str(c, 404, "not found\n", rq->keep_alive);
}

/* ---------------------------------------------------------------------------------------- */
/* Request parsing */

/* Whether a comma-separated header value holds `token` (case-insensitive). */
static int has_token(const char *value, const char *token)
{
	size_t tlen = strlen(token);

	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, ", \t");

		if (n == tlen && !strncasecmp(p, token, tlen))
			return 1;
		p += n;
	}
	return 0;
}

/* Splits off the next "\r\n"-terminated line at *pos (within the head); NUL-terminates it. */
static char *next_line(char *head, size_t *pos)
{
	char *line = head + *pos;
	char *eol = strstr(line, "\r\n");

	*eol = 0; /* the head ends in "\r\n\r\n", so there is always one */
	*pos = (size_t)(eol - head) + 2;
	return line;
}

/* Parses "METHOD SP TARGET SP HTTP/1.x". Sets rq->bad when it is not that. */
static void parse_request_line(char *line, struct request *rq, int *http11)
{
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || sp1[1] != '/') {
		rq->bad = 1;
		return;
	}
	*sp1 = *sp2 = 0;
	rq->method = line;
	rq->target = sp1 + 1;
	if (!strcmp(sp2 + 1, "HTTP/1.1"))
		*http11 = 1;
	else if (!strcmp(sp2 + 1, "HTTP/1.0"))
		*http11 = 0;
	else
		rq->bad = 1;
}

/* Looks at one header line: Connection decides keep-alive; a request body is noted. */
static void parse_header(char *line, struct request *rq, int *conn_close, int *conn_keep)
{
	char *colon = strchr(line, ':');

	if (!colon || colon == line) {
		rq->bad = 1;
		return;
	}
	*colon = 0;
	char *value = colon + 1;

	value += strspn(value, " \t");
	if (!strcasecmp(line, "Connection")) {
		*conn_close |= has_token(value, "close");
		*conn_keep |= has_token(value, "keep-alive");
	} else if (!strcasecmp(line, "Transfer-Encoding")) {
		rq->has_body = 1;
	} else if (!strcasecmp(line, "Content-Length") && strcmp(value, "0")) {
		rq->has_body = 1;
	}
}

/*
 * Parses the request head at the start of c->in if all of it has arrived. Returns 1 and fills
 * rq, 0 when more bytes are needed, -1 when the head cannot fit in the buffer.
 */
static int parse_request(struct conn *c, struct request *rq)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);

	if (!end)
		return c->in_len == sizeof c->in ? -1 : 0;
	/* The head becomes a C string: a NUL byte inside it is malformed. */
	size_t head_len = (size_t)(end - c->in) + 4;
	char *head = c->in;
	int http11 = 0, conn_close = 0, conn_keep = 0;
	size_t pos = 0;

	memset(rq, 0, sizeof *rq);
	rq->head_len = head_len;
	if (memchr(head, 0, head_len)) {
		rq->bad = 1;
		return 1;
	}
	end[2] = 0; /* keeps the last header's "\r\n", drops the blank line */
	parse_request_line(next_line(head, &pos), rq, &http11);
	while (!rq->bad && pos < head_len - 2)
		parse_header(next_line(head, &pos), rq, &conn_close, &conn_keep);
	rq->keep_alive = http11 ? !conn_close : conn_keep && !conn_close;
	return 1;
}

/* Drops the first n bytes of c->in (a served request) and keeps any pipelined rest. */
static void consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/*
 * Acts on what flush_out returned. Returns 1 when the connection may take its next request;
 * 0 when it waits for EPOLLOUT, is draining, or is closed.
 */
static int after_flush(int fd, int done)
{
	struct conn *c = &conns[fd];

	if (done < 0) {
		conn_close(fd);
		return 0;
	}
	if (done == 0) {
		if (conn_want_out(fd, 1) < 0)
			conn_close(fd);
		return 0;
	}
	if (c->close_after) {
		conn_finish(fd);
		return 0;
	}
	if (conn_want_out(fd, 0) < 0) {
		conn_close(fd);
		return 0;
	}
	return 1;
}

/*
 * Serves the requests buffered on fd, one at a time: a request is only taken once the
 * previous response is fully written, so out[] holds one response at most.
 */
static void serve(int fd)
{
	struct conn *c = &conns[fd];
	struct request rq;

	for (;;) {
		int r = parse_request(c, &rq);

		if (r == 0)
			return;
		if (r < 0) {
			respond_error(c, 431, "request too long\n");
			c->in_len = 0;
		} else {
			route(c, &rq);
			consume(c, rq.head_len);
		}
		if (!after_flush(fd, flush_out(fd)))
			return;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Events */

static void on_readable(int fd)
{
	struct conn *c = &conns[fd];
	ssize_t n = read(fd, c->in + c->in_len, sizeof c->in - c->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return; /* level-triggered: we are woken again */
	if (n <= 0) {
		/* EOF or ECONNRESET: an unfinished request is dropped with the connection. */
		conn_close(fd);
		return;
	}
	c->in_len += (size_t)n;
	serve(fd);
}

static void on_writable(int fd)
{
	if (after_flush(fd, flush_out(fd)))
		serve(fd); /* pipelined requests that arrived meanwhile */
}

static void on_event(int lfd, struct epoll_event *ev)
{
	int fd = (int)ev->data.u64;

	if (fd == lfd) {
		accept_one(lfd);
		return;
	}
	/* A stale event for an fd closed earlier in this batch. */
	if (fd < 0 || fd >= MAX_FD || !conns[fd].open)
		return;
	/* EPOLLHUP/EPOLLERR come with either: the read or write then fails and closes. */
	if (conns[fd].draining)
		drain(fd);
	else if (conns[fd].want_out)
		on_writable(fd);
	else
		on_readable(fd);
}

/* ---------------------------------------------------------------------------------------- */
/* Start */

static int listen_on(const char *addr, int port, struct sockaddr_in *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof *bound;
	int one = 1;
	int fd;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "vuln_server: bad IPv4 address %s\n", addr);
		exit(64);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	/* Restarts (and rollbacks) must not wait for TIME_WAIT sockets of the last run. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("setsockopt SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(fd, 128) < 0)
		die("listen");
	/* With port 0 the kernel chose: print the real one so clients can find it. */
	if (getsockname(fd, (struct sockaddr *)bound, &len) < 0)
		die("getsockname");
	return fd;
}

static void announce(const struct sockaddr_in *bound)
{
	char text[INET_ADDRSTRLEN];

	if (!inet_ntop(AF_INET, &bound->sin_addr, text, sizeof text))
		die("inet_ntop");
	printf("listening on %s:%d\n", text, ntohs(bound->sin_port));
	if (fflush(stdout) == EOF)
		die("fflush stdout");
}

static void parse_args(int argc, char **argv, const char **addr, int *port)
{
	int opt;
	char *end;

	while ((opt = getopt(argc, argv, "a:p:")) != -1) {
		switch (opt) {
		case 'a':
			*addr = optarg;
			break;
		case 'p':
			errno = 0;
			long v = strtol(optarg, &end, 10);

			if (errno || *end || end == optarg || v < 0 || v > 65535)
				usage();
			*port = (int)v;
			break;
		default:
			usage();
		}
	}
	if (*port < 0 || optind != argc)
		usage();
}

int main(int argc, char **argv)
{
	const char *addr = "0.0.0.0";
	int port = -1;
	struct sockaddr_in bound;
	struct epoll_event evs[MAX_EVENTS];
	struct sigaction sa = { .sa_handler = SIG_IGN };

	parse_args(argc, argv, &addr, &port);
	/* A client that leaves mid-response must cost a write error (EPIPE), not the process. */
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		die("sigaction SIGPIPE");
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (spare_fd < 0)
		die("open /dev/null");
	int lfd = listen_on(addr, port, &bound);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	if (ep_set(EPOLL_CTL_ADD, lfd, EPOLLIN) < 0)
		die("epoll_ctl ADD listener");
	announce(&bound);
	for (;;) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++)
			on_event(lfd, &evs[i]);
	}
}
