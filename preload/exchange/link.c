// SPDX-License-Identifier: MIT
/* Data-plane connections and record buffers (link.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "a8/raw.h"
#include "a8/monitor.h"
#include "canon/siphash.h"
#include "canon/table.h"
#include "ckpt/ckpt.h"
#include "core/fdtab.h"
#include "core/util.h"
#include "link.h"

/*
 * How many times a reader retries a non-blocking read before it sleeps in ppoll. A sleeping
 * reader costs a wake-up (~40 µs on these VMs) when the peer answers; a short spin catches
 * answers that are already on their way. A8_SPIN sets it (0 = never spin).
 */
int a8_spin_reads = 0;

static uint8_t *tx;
static size_t tx_len, tx_cap;
static size_t tx_rec_start;
static struct a8_rx rx[A8_MAX_FOLLOWERS];

void *a8_mem_alloc(size_t n)
{
	long p = a8_sys6(SYS_mmap, 0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);

	if (p < 0 && p > -4096)
		a8_fatal("internal", "", 0, "out of memory for %zu bytes", n);
	return (void *)p;
}

void a8_mem_free(void *p, size_t n)
{
	if (p)
		a8_sys2(SYS_munmap, p, n);
}

void *a8_mem_grow(void *old, size_t *cap, size_t used, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	void *n = a8_mem_alloc(ncap * elem);

	if (old) {
		memcpy(n, old, used * elem);
		a8_mem_free(old, *cap * elem);
	}
	*cap = ncap;
	return n;
}

static void grow(uint8_t **buf, size_t *cap, size_t used, size_t need)
{
	size_t ncap = *cap ? *cap : 65536;
	uint8_t *nb;

	if (need <= *cap)
		return;
	while (ncap < need)
		ncap *= 2;
	nb = a8_mem_alloc(ncap);
	if (*buf) {
		memcpy(nb, *buf, used);
		a8_mem_free(*buf, *cap);
	}
	*buf = nb;
	*cap = ncap;
}

static int set_nodelay(int fd)
{
	int one = 1;
	int big = 4 << 20;

	a8_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	a8_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return (int)a8_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
	long r;

	do
		r = a8_sys5(SYS_ppoll, &p, 1, timeout_ms < 0 ? NULL : &ts, NULL, 8);
	while (r == -EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	return r < 0 ? (int)r : 0;
}

/* A peer whose process a rollback killed costs no SIGPIPE (a8_send). */
static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		long w = a8_send(fd, p, n);

		if (w == -EINTR)
			continue;
		if (w == -EAGAIN) {
			wait_fd(fd, POLLOUT, -1);
			continue;
		}
		if (w <= 0)
			return w < 0 ? (int)w : -EPIPE;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int a8_link_listen(uint32_t addr, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr };
	socklen_t len = sizeof(sin);
	long fd = a8_fd_socket(AF_INET, SOCK_STREAM);

	if (fd < 0)
		return (int)fd;
	if (a8_sys3(SYS_bind, fd, &sin, sizeof(sin)) < 0 || a8_sys2(SYS_listen, fd, 64) < 0 ||
	    a8_sys3(SYS_getsockname, fd, &sin, &len) < 0) {
		a8_sys1(SYS_close, fd);
		return -EADDRNOTAVAIL;
	}
	*port = ntohs(sin.sin_port);
	return (int)fd;
}

static void hello_mac(struct a8_hello *h)
{
	h->mac = a8_siphash(a8.key, h, offsetof(struct a8_hello, mac));
}

static int read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *p = buf;

	while (n) {
		long r;
		int err = wait_fd(fd, POLLIN, timeout_ms);

		if (err)
			return err;
		r = a8_sys3(SYS_read, fd, p, n);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r <= 0)
			return r < 0 ? (int)r : -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One follower's hello: checked field by field, so the log can say what was wrong. */
static const char *check_hello(const struct a8_hello *h)
{
	struct a8_hello copy = *h;

	hello_mac(&copy);
	if (copy.mac != h->mac)
		return "bad authentication code (wrong key?)";
	if (memcmp(h->run_id, a8.run_id, 16))
		return "different run id";
	if (h->wire_version != A8_WIRE_VERSION)
		return "different data-plane version";
	if (h->table_digest != a8_table_digest())
		return "different call table";
	if (strncmp(h->stream, a8.stream, sizeof(h->stream)))
		return "different stream";
	return NULL;
}

int a8_link_accept_followers(int lfd, int timeout_ms)
{
	long base = a8_fd_reserved_base();
	int i;

	for (i = 0; i < a8.nfollowers; i++) {
		struct { struct a8_rec_hdr h; struct a8_hello hello; } in;
		const char *why;
		long fd;
		int err = wait_fd(lfd, POLLIN, timeout_ms);

		if (err)
			return err;
		fd = a8_sys4(SYS_accept4, lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return (int)fd;
		fd = a8_fd_hide((int)fd);
		err = read_exact((int)fd, &in, sizeof(in), timeout_ms);
		why = err ? "no hello" : in.h.type != A8_REC_HELLO || in.h.len != sizeof(in) ?
			"not a hello" : check_hello(&in.hello);
		if (why) {
			a8_log(A8_LOG_WARN, 0, "data connection refused: %s", why);
			a8_sys1(SYS_close, fd);
			i--;
			continue;
		}
		set_nodelay((int)fd);
		a8.peers[i].fd = (int)fd;
		a8.peers[i].id = in.hello.variant_id;
		rx[i].start = rx[i].end = 0;
		if (in.hello.mon_base && in.hello.mon_base < base)
			base = in.hello.mon_base;
	}
	a8_fd_agree_base(base);
	/* Accepted only once every follower is here: all learn the same fd base. */
	for (i = 0; i < a8.nfollowers; i++) {
		struct a8_rec_hdr ok = { .len = sizeof(ok), .type = A8_REC_HELLO_OK,
					 .cid = (uint16_t)a8.variant_id, .ret = a8.vpid,
					 .digest = (uint64_t)a8.vppid, .seq = (uint64_t)base };

		if (write_all(a8.peers[i].fd, (uint8_t *)&ok, sizeof(ok)))
			return -EPIPE;
	}
	a8.npeers = a8.nfollowers;
	return 0;
}

int a8_link_connect_leader(uint32_t addr, uint16_t port, int timeout_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = addr };
	struct { struct a8_rec_hdr h; struct a8_hello hello; } out;
	struct a8_rec_hdr ok;
	long fd, r;

	/*
	 * The leader's listener exists before its port is announced (a fork record, or the
	 * agent's start message), so a refusal means the leader's process is gone: no retry.
	 */
	fd = a8_fd_socket(AF_INET, SOCK_STREAM);
	if (fd < 0)
		return (int)fd;
	r = a8_sys3(SYS_connect, fd, &sin, sizeof(sin));
	if (r) {
		a8_sys1(SYS_close, fd);
		return (int)r;
	}
	set_nodelay((int)fd);
	memset(&out, 0, sizeof(out));
	out.h.len = sizeof(out);
	out.h.type = A8_REC_HELLO;
	memcpy(out.hello.run_id, a8.run_id, 16);
	strncpy(out.hello.stream, a8.stream, sizeof(out.hello.stream) - 1);
	out.hello.variant_id = a8.variant_id;
	out.hello.wire_version = A8_WIRE_VERSION;
	out.hello.table_digest = a8_table_digest();
	out.hello.mon_base = (uint32_t)a8_fd_reserved_base();
	a8_sys3(SYS_getrandom, out.hello.nonce, 16, 0);
	hello_mac(&out.hello);
	if (write_all((int)fd, (uint8_t *)&out, sizeof(out)))
		return -EPIPE;
	if (read_exact((int)fd, &ok, sizeof(ok), timeout_ms) || ok.type != A8_REC_HELLO_OK)
		return -ECONNREFUSED;
	a8.vpid = ok.ret;
	a8.vppid = (long)ok.digest;
	a8_fd_agree_base((long)ok.seq);
	if (a8.stats)
		a8.stats->vpid = (uint32_t)a8.vpid;
	a8.peers[0].id = ok.cid;
	a8.peers[0].fd = (int)fd;
	a8.npeers = 1;
	rx[0].start = rx[0].end = 0;
	return 0;
}

void *a8_tx_reserve(size_t n)
{
	void *p;

	grow(&tx, &tx_cap, tx_len, tx_len + n);
	p = tx + tx_len;
	tx_len += n;
	return p;
}

size_t a8_tx_pending(void)
{
	return tx_len;
}

void a8_tx_flush(void)
{
	int i;

	if (!tx_len)
		return;
	for (i = 0; i < a8.npeers; i++) {
		if (write_all(a8.peers[i].fd, tx, tx_len)) {
			tx_len = 0;
			a8_peer_stopped(false, "", a8.seq, "a data connection broke");
		}
		if (a8.stats)
			a8.stats->bytes_sent += tx_len;
	}
	tx_len = 0;
}

struct a8_rec_hdr *a8_rec_begin(uint16_t type, uint16_t cid, uint64_t seq)
{
	struct a8_rec_hdr *h;

	tx_rec_start = tx_len;
	h = a8_tx_reserve(sizeof(*h));
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->cid = cid;
	h->seq = seq;
	h->epoch = a8.epoch;
	return h;
}

void a8_rec_end(struct a8_rec_hdr *h)
{
	(void)h;
	((struct a8_rec_hdr *)(tx + tx_rec_start))->len = (uint32_t)(tx_len - tx_rec_start);
	/* Logged when complete, not when sent: a leader killed with a batch unsent has made
	 * those calls all the same, and a replay must know it. */
	a8_log_tx(tx + tx_rec_start, tx_len - tx_rec_start);
}

void *a8_sec_reserve(uint32_t tag, uint32_t len)
{
	uint32_t *p = a8_tx_reserve(8 + ((len + 7) & ~7u));

	p[0] = tag;
	p[1] = len;
	return p + 2;
}

void a8_sec_put(uint32_t tag, const void *data, uint32_t len)
{
	void *p = a8_sec_reserve(tag, len);

	if (len)
		memcpy(p, data, len);
}

void a8_sec_begin(struct a8_sec_reader *r, const struct a8_rec_hdr *h)
{
	r->p = (const uint8_t *)(h + 1);
	r->end = (const uint8_t *)h + h->len;
}

int a8_sec_next(struct a8_sec_reader *r, uint32_t *tag, const uint8_t **data, uint32_t *len)
{
	uint32_t hdr[2], padded;

	if (r->p == r->end)
		return 0;
	if (r->end - r->p < 8)
		return -1;
	memcpy(hdr, r->p, 8);
	padded = (hdr[1] + 7) & ~7u;
	if (hdr[1] > A8_REC_MAX || (size_t)(r->end - r->p - 8) < padded)
		return -1;
	*tag = hdr[0];
	*len = hdr[1];
	*data = r->p + 8;
	r->p += 8 + padded;
	return 1;
}

struct a8_rx *a8_rx_of(int peer)
{
	return &rx[peer];
}

/*
 * Read more bytes into rx[peer]; 0, -ETIMEDOUT or -EPIPE. Consumed bytes are dropped first
 * (the buffer only grows for a record larger than it), so memory stays at the largest record.
 */
static int fill(int peer, size_t need, int timeout_ms)
{
	struct a8_rx *b = &rx[peer];
	int fd = a8.peers[peer].fd;
	size_t want = need > 65536 ? need : 65536;
	int spins = 0;

	if (b->start == b->end) {
		b->start = b->end = 0;
	} else if (b->start && b->cap - b->end < want) {
		memmove(b->buf, b->buf + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
	if (b->cap - b->end < want)
		grow(&b->buf, &b->cap, b->end, b->end + want);
	for (;;) {
		/* Never a blocking read: waiting is ppoll's, which honours the timeout. */
		long r = a8_sys6(SYS_recvfrom, fd, b->buf + b->end, b->cap - b->end, MSG_DONTWAIT,
				 NULL, NULL);

		if (r > 0) {
			b->end += (size_t)r;
			if (a8.stats)
				a8.stats->bytes_received += (uint64_t)r;
			return 0;
		}
		if (r == 0)
			return -EPIPE;
		if (r == -EINTR)
			continue;
		if (r != -EAGAIN)
			return -EPIPE;
		if (spins++ < a8_spin_reads)
			continue;
		r = wait_fd(fd, POLLIN, timeout_ms);
		if (r)
			return (int)r;
	}
}

int a8_rx_next(int peer, const struct a8_rec_hdr **hdr, int timeout_ms)
{
	struct a8_rx *b = &rx[peer];
	const struct a8_rec_hdr *h;
	int err;

	while (b->end - b->start < sizeof(*h))
		if ((err = fill(peer, sizeof(*h), timeout_ms)))
			return err;
	h = (const void *)(b->buf + b->start);
	if (h->len < sizeof(*h) || h->len > A8_REC_MAX)
		a8_fatal("protocol", "", 0, "record of %u bytes from variant %u", h->len,
			 a8.peers[peer].id);
	while (b->end - b->start < ((const struct a8_rec_hdr *)(b->buf + b->start))->len) {
		uint32_t len = ((const struct a8_rec_hdr *)(b->buf + b->start))->len;

		if ((err = fill(peer, len - (b->end - b->start), timeout_ms)))
			return err;
	}
	h = (const void *)(b->buf + b->start);
	b->start += h->len;
	*hdr = h;
	return 0;
}

int a8_link_send_now(int peer, const void *p, size_t n)
{
	if (a8.stats)
		a8.stats->bytes_sent += n;
	return write_all(a8.peers[peer].fd, p, n);
}

struct a8_rec_hdr *a8_rec_current(void)
{
	return (struct a8_rec_hdr *)(tx + tx_rec_start);
}

void a8_link_reset(void)
{
	int i;

	tx_len = 0;
	for (i = 0; i < A8_MAX_FOLLOWERS; i++)
		rx[i].start = rx[i].end = 0;
}

void a8_link_close(void)
{
	int i;

	for (i = 0; i < a8.npeers; i++)
		a8_sys1(SYS_close, a8.peers[i].fd);
	a8.npeers = 0;
	a8_link_reset();
}

void a8_link_preload_rx(int peer, int fd, long size)
{
	struct a8_rx *b = &rx[peer];

	if (size <= 0)
		return;
	grow(&b->buf, &b->cap, 0, (size_t)size + 65536);
	b->start = 0;
	b->end = (size_t)a8_sys4(SYS_pread64, fd, b->buf, size, 0);
	if ((long)b->end < 0)
		b->end = 0;
}
