// SPDX-License-Identifier: MIT
/*
 * What kind of socket a program fd is (ckpt.h), for what a checkpoint keeps of it: a criu
 * leader's keeper holds TCP connections and listening sockets (keeper.c), and a rollback
 * catches up on the socketpairs between the processes of a tree (pipes.c).
 */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "a8/raw.h"
#include "ckpt.h"

static int sockopt(int fd, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return a8_sys5(SYS_getsockopt, fd, SOL_SOCKET, name, &v, &len) < 0 ? -1 : v;
}

static bool of_kind(int fd, int domain, int type)
{
	return sockopt(fd, SO_DOMAIN) == domain && sockopt(fd, SO_TYPE) == type;
}

static bool tcp_socket(int fd)
{
	return of_kind(fd, AF_INET, SOCK_STREAM) || of_kind(fd, AF_INET6, SOCK_STREAM);
}

bool a8_tcp_connection(int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	/* Connected: a socket between bind and listen would be held, and the restore not bind. */
	return tcp_socket(fd) && sockopt(fd, SO_ACCEPTCONN) == 0 &&
	       a8_sys3(SYS_getpeername, fd, &peer, &len) == 0;
}

bool a8_tcp_listener(int fd)
{
	return tcp_socket(fd) && sockopt(fd, SO_ACCEPTCONN) == 1;
}

/* An address with no name: a socketpair's ends (a named socket's peer may be outside). */
static bool unnamed(int fd, long nr)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);

	return a8_sys3(nr, fd, &a, &len) == 0 && len <= offsetof(struct sockaddr_un, sun_path);
}

bool a8_unix_stream_pair(int fd)
{
	return of_kind(fd, AF_UNIX, SOCK_STREAM) && unnamed(fd, SYS_getsockname) &&
	       unnamed(fd, SYS_getpeername);
}
