/*
 * tcp: a server and a client in one program. The parent listens on 127.0.0.1 port 0 and learns
 * the port with getsockname; a forked child connects, they exchange lines both ways and a
 * 1 MiB block, set and read back socket options, and shut down in order.
 */
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define BLOCK (1 << 20)

static int get_int_opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof v;
	SYS(getsockopt(fd, level, name, &v, &len));
	EXPECT(len == sizeof v);
	return v;
}

/* Reads one '\n'-terminated line (byte by byte: simple, and many small reads). */
static size_t read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) FAIL("read line");
		if (r == 0 || buf[n] == '\n') break;
		n++;
	}
	buf[n] = 0;
	return n;
}

static int client(uint16_t port)
{
	int fd = SYS(socket(AF_INET, SOCK_STREAM, 0));
	int one = 1;
	SYS(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	if (get_int_opt(fd, IPPROTO_TCP, TCP_NODELAY) == 0) return 10;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	SYS(connect(fd, (struct sockaddr *)&sa, sizeof sa));
	char line[128];
	for (int i = 0; i < 5; i++) {
		int len = snprintf(line, sizeof line, "request %d\n", i);
		write_full(fd, line, (size_t)len);
		read_line(fd, line, sizeof line);
		char want[64];
		snprintf(want, sizeof want, "response %d", i * i);
		if (strcmp(line, want)) return 11;
	}
	unsigned char *block = malloc(BLOCK);
	if (!block) return 12;
	fill_pattern(block, BLOCK, 0, 7);
	write_full(fd, block, BLOCK);
	SYS(shutdown(fd, SHUT_WR));
	read_line(fd, line, sizeof line);
	if (strncmp(line, "got ", 4)) return 13;
	char rest[16];
	if (read(fd, rest, sizeof rest) != 0) return 14;
	close(fd);
	free(block);
	return 0;
}

int main(void)
{
	scenario_init();
	int ls = SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	int one = 1;
	SYS(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	printf("SO_REUSEADDR reads back set: %s\n", yesno(get_int_opt(ls, SOL_SOCKET, SO_REUSEADDR)));
	printf("SO_TYPE is SOCK_STREAM: %s\n", yesno(get_int_opt(ls, SOL_SOCKET, SO_TYPE) == SOCK_STREAM));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	SYS(bind(ls, (struct sockaddr *)&sa, sizeof sa));
	SYS(listen(ls, 8));
	struct sockaddr_in bound;
	socklen_t blen = sizeof bound;
	SYS(getsockname(ls, (struct sockaddr *)&bound, &blen));
	printf("bound to 127.0.0.1 with a non-zero port: %s\n",
	       yesno(bound.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && bound.sin_port != 0));

	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		close(ls);
		_exit(client(ntohs(bound.sin_port)));
	}

	struct sockaddr_in peer;
	socklen_t plen = sizeof peer;
	int c;
	do c = accept4(ls, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	while (c < 0 && errno == EINTR);
	if (c < 0) FAIL("accept4");
	printf("accept4: peer is 127.0.0.1: %s, SOCK_CLOEXEC set: %s\n",
	       yesno(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK)),
	       yesno(SYS(fcntl(c, F_GETFD)) & FD_CLOEXEC));
	struct sockaddr_in local;
	socklen_t llen = sizeof local;
	SYS(getsockname(c, (struct sockaddr *)&local, &llen));
	printf("accepted socket's local port is the listening port: %s\n",
	       yesno(local.sin_port == bound.sin_port));
	SYS(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	printf("TCP_NODELAY reads back set: %s\n", yesno(get_int_opt(c, IPPROTO_TCP, TCP_NODELAY)));

	char line[128];
	for (int i = 0; i < 5; i++) {
		read_line(c, line, sizeof line);
		int k;
		if (sscanf(line, "request %d", &k) != 1) FAIL("bad request \"%s\"", line);
		printf("server got \"%s\"\n", line);
		int len = snprintf(line, sizeof line, "response %d\n", k * k);
		write_full(c, line, (size_t)len);
	}
	unsigned char *block = malloc(BLOCK + 1);
	if (!block) FAIL("malloc");
	size_t got = read_full(c, block, BLOCK + 1);
	unsigned char *want = malloc(BLOCK);
	if (!want) FAIL("malloc");
	fill_pattern(want, BLOCK, 0, 7);
	printf("block from client: %zu bytes, matches: %s, fnv1a %016llx\n", got,
	       yesno(got == BLOCK && memcmp(block, want, BLOCK) == 0),
	       (unsigned long long)fnv1a(FNV_INIT, block, got));
	int len = snprintf(line, sizeof line, "got %zu\n", got);
	write_full(c, line, (size_t)len);
	close(c);
	printf("client exit status: %d\n", wait_exit(pid));

	/* Nobody listens on the now-closed listener's port. */
	close(ls);
	int fd = SYS(socket(AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(connect(fd, (struct sockaddr *)&bound, sizeof bound), ECONNREFUSED);
	printf("connect to closed port: ECONNREFUSED\n");
	close(fd);
	free(block);
	free(want);
	printf("tcp: done\n");
	return 0;
}
