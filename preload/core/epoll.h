/* SPDX-License-Identifier: MIT */
/*
 * epoll_event.data is the program's own cookie (often a pointer): different on every variant.
 * Each monitor remembers which fd each cookie stands for, so the leader's events travel as
 * fds and every follower turns them back into its own cookies.
 */
#ifndef A8_EPOLL_H
#define A8_EPOLL_H

#include <stdbool.h>
#include <sys/epoll.h>
#include <stdint.h>

void a8_epoll_note(int epfd, int op, int fd, uint32_t events, uint64_t data);
void a8_epoll_forget_fd(int fd);
/* fds first..last were closed (close_range): as a8_epoll_forget_fd for each. */
void a8_epoll_forget_range(long first, long last);
/* Leader after a rollback: each instance gets the interest set it had at the checkpoint. */
void a8_epoll_rebuild(void);
/* Leader: drop events whose cookie no registration has (returns how many are left). */
long a8_epoll_drop_unknown(int epfd, struct epoll_event *ev, long n);
/* Leader: the fd registered in epfd with this cookie; -1 if none. */
int a8_epoll_fd_of(int epfd, uint64_t data);
/* Follower: this variant's cookie for fd in epfd; false if none. */
bool a8_epoll_data_of(int epfd, int fd, uint64_t *data);

#endif
