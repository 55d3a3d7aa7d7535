// SPDX-License-Identifier: MIT
/*
 * The epoll cookie table (core/epoll.c): what each registration's cookie stands for, and what
 * closing fds (close, close_range, dup onto an fd) takes out of it. An entry left for a closed
 * fd would be put back by a rollback's rebuild, under the old cookie, for whatever file has the
 * number then.
 */
#include <stdlib.h>
#include <sys/epoll.h>

#include "check.h"
#include "core/epoll.h"

/* The monitor's allocator (exchange/link.c), from libc here. */
void *a8_mem_alloc(size_t n)
{
	return calloc(1, n);
}

void a8_mem_free(void *p, size_t n)
{
	(void)n;
	free(p);
}

static void test_cookies(void)
{
	uint64_t d = 0;

	a8_epoll_note(4, EPOLL_CTL_ADD, 5, EPOLLIN, 0x55);
	a8_epoll_note(4, EPOLL_CTL_ADD, 9, EPOLLIN, 0x99);
	CHECK_EQ(a8_epoll_fd_of(4, 0x55), 5);
	CHECK(a8_epoll_data_of(4, 9, &d) && d == 0x99);
	a8_epoll_note(4, EPOLL_CTL_MOD, 9, EPOLLOUT, 0x98);
	CHECK_EQ(a8_epoll_fd_of(4, 0x99), -1);
	CHECK_EQ(a8_epoll_fd_of(4, 0x98), 9);
	a8_epoll_note(4, EPOLL_CTL_DEL, 9, 0, 0);
	CHECK_EQ(a8_epoll_fd_of(4, 0x98), -1);
	a8_epoll_forget_fd(5);
	CHECK_EQ(a8_epoll_fd_of(4, 0x55), -1);
}

static void test_forget_range(void)
{
	uint64_t d = 0;

	a8_epoll_note(4, EPOLL_CTL_ADD, 5, EPOLLIN, 0x55);
	a8_epoll_note(4, EPOLL_CTL_ADD, 6, EPOLLIN, 0x66);
	a8_epoll_note(4, EPOLL_CTL_ADD, 9, EPOLLIN, 0x99);
	a8_epoll_note(12, EPOLL_CTL_ADD, 9, EPOLLIN, 0x1299);
	a8_epoll_forget_range(5, 6);
	CHECK_EQ(a8_epoll_fd_of(4, 0x55), -1);
	CHECK_EQ(a8_epoll_fd_of(4, 0x66), -1);
	CHECK_EQ(a8_epoll_fd_of(4, 0x99), 9);
	/* An epoll instance in the range goes with all it watched. */
	a8_epoll_forget_range(10, 20);
	CHECK(!a8_epoll_data_of(12, 9, &d));
	CHECK(a8_epoll_data_of(4, 9, &d) && d == 0x99);
	a8_epoll_forget_range(0, 100);
	CHECK(!a8_epoll_data_of(4, 9, &d));
}

int main(void)
{
	test_cookies();
	test_forget_range();
	return check_report();
}
