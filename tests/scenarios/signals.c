/*
 * signals: handlers (sigaction, SA_SIGINFO) for SIGUSR1, SIGUSR2, SIGCHLD and SIGALRM;
 * kill(getpid()), raise, sigprocmask with pending signals delivered at unblock, sigpending,
 * sigsuspend, setitimer/alarm, SIG_IGN, SA_RESTART vs EINTR on a blocking pipe read, and a
 * child killed by its parent. Prints counts and the order of delivery.
 */
#include "common.h"
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t count_usr1, count_usr2, count_chld, count_alrm;
static volatile sig_atomic_t order[16];
static volatile sig_atomic_t norder;
static volatile sig_atomic_t last_code, last_pid_is_me;
static pid_t me;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	switch (sig) {
	case SIGUSR1: count_usr1++; break;
	case SIGUSR2: count_usr2++; break;
	case SIGCHLD: count_chld++; break;
	case SIGALRM: count_alrm++; break;
	}
	if (norder < 16) order[norder++] = sig;
	last_code = si->si_code;
	last_pid_is_me = si->si_pid == me;
}

static void handle(int sig, int flags)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | flags };
	sigemptyset(&sa.sa_mask);
	SYS(sigaction(sig, &sa, NULL));
}

static const char *signame(int sig)
{
	switch (sig) {
	case SIGUSR1: return "USR1";
	case SIGUSR2: return "USR2";
	case SIGCHLD: return "CHLD";
	case SIGALRM: return "ALRM";
	default: return "?";
	}
}

static void print_order(const char *label)
{
	printf("%s:", label);
	for (int i = 0; i < norder; i++) printf(" %s", signame(order[i]));
	printf("\n");
	norder = 0;
}

static void timer_ms(int ms)
{
	struct itimerval it = { .it_value = { 0, ms * 1000 } };
	SYS(setitimer(ITIMER_REAL, &it, NULL));
}

/* Blocking read on a pipe that a child fills after `ms`, with SIGALRM arriving first. */
static void read_interrupted(int restart)
{
	int p[2];
	char c;
	SYS(pipe(p));
	handle(SIGALRM, restart ? SA_RESTART : 0);
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		close(p[0]);
		struct timespec d = { 0, 400 * 1000 * 1000 };
		nanosleep(&d, NULL);
		write_full(p[1], "x", 1);
		_exit(0);
	}
	close(p[1]);
	int before = count_alrm;
	timer_ms(50);
	ssize_t r = read(p[0], &c, 1);
	int e = errno;
	if (restart)
		printf("SA_RESTART: read returned %zd after the handler ran (%d time)\n", r,
		       count_alrm - before);
	else
		printf("no SA_RESTART: read returned %zd %s, handler ran %d time\n", r,
		       r < 0 ? errname(e) : "", count_alrm - before);
	if (r < 0) EXPECT(read_full(p[0], &c, 1) == 1);
	wait_exit(pid);
	close(p[0]);
	norder = 0;
}

int main(void)
{
	scenario_init();
	me = getpid();
	handle(SIGUSR1, 0);
	handle(SIGUSR2, 0);

	SYS(kill(getpid(), SIGUSR1));
	printf("kill(self, USR1): handled %d, si_code SI_USER %s, si_pid is self %s\n",
	       count_usr1, yesno(last_code == SI_USER), yesno(last_pid_is_me));
	SYS(raise(SIGUSR2));
	printf("raise(USR2): handled %d, si_code SI_TKILL %s\n", count_usr2,
	       yesno(last_code == SI_TKILL));
	for (int i = 0; i < 5; i++) SYS(kill(getpid(), SIGUSR1));
	printf("5 more USR1: count %d\n", count_usr1);
	print_order("order so far");

	sigset_t block, old, pend;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	SYS(sigprocmask(SIG_BLOCK, &block, &old));
	SYS(raise(SIGUSR2));
	SYS(raise(SIGUSR1));
	SYS(raise(SIGUSR1)); /* standard signals do not queue: one delivery */
	SYS(sigpending(&pend));
	printf("while blocked: USR1 %d USR2 %d, pending USR1 %s USR2 %s\n", count_usr1, count_usr2,
	       yesno(sigismember(&pend, SIGUSR1)), yesno(sigismember(&pend, SIGUSR2)));
	SYS(sigprocmask(SIG_SETMASK, &old, NULL));
	printf("after unblock: USR1 %d USR2 %d\n", count_usr1, count_usr2);
	print_order("delivered at unblock");

	/* sigsuspend for SIGCHLD, blocked until then so it cannot slip by. */
	handle(SIGCHLD, SA_RESTART);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	SYS(sigprocmask(SIG_BLOCK, &chld, &old));
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) _exit(4);
	sigset_t wait_mask = old;
	sigdelset(&wait_mask, SIGCHLD);
	while (count_chld == 0) EXPECT_ERR(sigsuspend(&wait_mask), EINTR);
	SYS(sigprocmask(SIG_SETMASK, &old, NULL));
	printf("sigsuspend returned after SIGCHLD: count %d, si_code CLD_EXITED %s, child status %d\n",
	       count_chld, yesno(last_code == CLD_EXITED), wait_exit(pid));
	print_order("order");

	/* SIGALRM from setitimer and from alarm, waited for with sigsuspend. */
	handle(SIGALRM, 0);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	SYS(sigprocmask(SIG_BLOCK, &alrm, &old));
	timer_ms(30);
	wait_mask = old;
	sigdelset(&wait_mask, SIGALRM);
	while (count_alrm < 1) sigsuspend(&wait_mask);
	printf("setitimer 30 ms: SIGALRM handled %d, si_code SI_TIMER or SI_KERNEL: %s\n", count_alrm,
	       yesno(last_code == SI_TIMER || last_code == SI_KERNEL));
	alarm(1);
	printf("alarm(0) returns the seconds left of alarm(1): %u\n", alarm(0));
	SYS(sigprocmask(SIG_SETMASK, &old, NULL));
	print_order("order");

	read_interrupted(0);
	read_interrupted(1);

	signal(SIGUSR1, SIG_IGN);
	int before = count_usr1;
	SYS(kill(getpid(), SIGUSR1));
	printf("SIG_IGN: USR1 ignored: %s\n", yesno(count_usr1 == before));

	/* A child waits in pause(); the parent kills it. */
	fflush(stdout);
	pid = SYS(fork());
	if (pid == 0) {
		for (;;) pause();
	}
	SYS(kill(pid, SIGTERM));
	int st;
	SYS(waitpid(pid, &st, 0));
	printf("child killed by parent's SIGTERM: %s\n",
	       yesno(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM));
	/* SIGCHLDs of children that exit close together may merge: no exact count. */
	printf("totals: USR1 %d USR2 %d ALRM %d, CHLD at least 2: %s\n", count_usr1, count_usr2,
	       count_alrm, yesno(count_chld >= 2));
	printf("signals: done\n");
	return 0;
}
