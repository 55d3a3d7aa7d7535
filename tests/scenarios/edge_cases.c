/*
 * edge_cases: calls that a review of the monitor found mishandled once, each printing what a
 * correct kernel does: many forks in a row, a signal sent from inside another signal's
 * handler, a one-shot (SA_RESETHAND) handler, a sleep interrupted and resumed with the time
 * left, setpgid on a child, an fd passed over a unix socket, and sendmsg with msg_flags left
 * uninitialized.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t n_usr1, n_usr2, n_alrm;

static void on_usr2(int sig) { (void)sig; n_usr2++; }
static void on_usr1(int sig) { (void)sig; n_usr1++; if (n_usr1 == 1) kill(getpid(), SIGUSR2); }
static void on_alrm(int sig) { (void)sig; n_alrm++; }

static void many_forks(void)
{
	int ok = 0;

	for (int i = 0; i < 120; i++) {
		pid_t p = SYS(fork());
		int st;

		if (p == 0)
			_exit(i % 7);
		SYS(waitpid(p, &st, 0));
		ok += WIFEXITED(st) && WEXITSTATUS(st) == i % 7;
	}
	printf("120 forks, statuses right: %d\n", ok);
}

static void nested_signals(void)
{
	struct sigaction sa = { 0 };
	sigset_t cur;

	sa.sa_handler = on_usr1;
	SYS(sigaction(SIGUSR1, &sa, NULL));
	sa.sa_handler = on_usr2;
	SYS(sigaction(SIGUSR2, &sa, NULL));
	kill(getpid(), SIGUSR1);
	SYS(sigprocmask(SIG_BLOCK, NULL, &cur));
	printf("after a signal raised inside a handler: usr1 %d usr2 %d, usr1 still blocked: %s\n",
	       n_usr1, n_usr2, yesno(sigismember(&cur, SIGUSR1)));
	kill(getpid(), SIGUSR1);
	printf("second usr1 handled: %s\n", yesno(n_usr1 == 2));
}

static void one_shot_handler(void)
{
	struct sigaction sa = { 0 }, old;

	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_RESETHAND;
	SYS(sigaction(SIGUSR2, &sa, NULL));
	kill(getpid(), SIGUSR2);
	SYS(sigaction(SIGUSR2, NULL, &old));
	printf("SA_RESETHAND: handler reset to default after one signal: %s\n",
	       yesno(old.sa_handler == SIG_DFL));
}

static void resumed_sleep(void)
{
	struct sigaction sa = { 0 };
	struct itimerval it = { .it_value = { 0, 20000 } };
	struct timespec req = { 0, 120000000 }, rem;
	int interrupted = 0;

	sa.sa_handler = on_alrm;
	SYS(sigaction(SIGALRM, &sa, NULL));
	SYS(setitimer(ITIMER_REAL, &it, NULL));
	while (nanosleep(&req, &rem) == -1 && errno == EINTR) {
		interrupted++;
		req = rem;
	}
	printf("nanosleep interrupted %d time(s), then finished the time left\n", interrupted);
}

static void own_group(void)
{
	int st;
	pid_t p = SYS(fork());

	if (p == 0) {
		pause();
		_exit(0);
	}
	SYS(setpgid(p, p));
	printf("setpgid(child, child): child leads its group: %s\n", yesno(getpgid(p) == p));
	kill(p, SIGKILL);
	SYS(waitpid(p, &st, 0));
}

static void pass_fd(void)
{
	int sv[2], p[2], got = -1;
	char ctl[CMSG_SPACE(sizeof(int))], byte = 'f', buf[8];
	struct iovec iov = { &byte, 1 };
	struct msghdr m;
	struct cmsghdr *cm;

	SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	SYS(pipe(p));
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	m.msg_flags = (int)(long)&m;	/* ignored by sendmsg: left as garbage on purpose */
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
	SYS(sendmsg(sv[0], &m, 0));
	memset(ctl, 0, sizeof(ctl));
	SYS(recvmsg(sv[1], &m, 0));
	cm = CMSG_FIRSTHDR(&m);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
	SYS(write(p[1], "via-fd", 6));
	printf("fd passed over a unix socket reads: \"%.*s\"\n", (int)SYS(read(got, buf, 6)), buf);
}

int main(void)
{
	many_forks();
	nested_signals();
	one_shot_handler();
	resumed_sleep();
	own_group();
	pass_fd();
	printf("edge_cases: done\n");
	return 0;
}
