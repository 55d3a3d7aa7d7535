/*
 * fork_wait: several children with different exit statuses reaped in creation order, a
 * WNOHANG polling loop, wait4 with rusage, a child killed by a signal, a grandchild, ECHILD,
 * and the pid relations (printed as yes/no, never as numbers).
 */
#include "common.h"
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

static void sleep_ms(int ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000L * 1000L };
	while (nanosleep(&d, &d) < 0 && errno == EINTR) {}
}

static pid_t spawn_exit(int code, int delay_ms)
{
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		if (delay_ms) sleep_ms(delay_ms);
		_exit(code);
	}
	return pid;
}

int main(void)
{
	scenario_init();
	pid_t me = getpid();

	/* Children exit in any order; waitpid on each pid in creation order. */
	pid_t kids[5];
	for (int i = 0; i < 5; i++) kids[i] = spawn_exit(10 * i + 1, (4 - i) * 10);
	printf("waitpid in creation order:");
	for (int i = 0; i < 5; i++) printf(" %d", wait_exit(kids[i]));
	printf("\n");

	/* Poll with WNOHANG until all are reaped; print what was collected, by exit code. */
	int codes[3], got = 0, polls = 0;
	for (int i = 0; i < 3; i++) spawn_exit(100 + i, 20 * (i + 1));
	while (got < 3) {
		int st;
		pid_t r = waitpid(-1, &st, WNOHANG);
		if (r < 0) FAIL("waitpid WNOHANG");
		if (r == 0) {
			polls++;
			sleep_ms(5);
			continue;
		}
		if (!WIFEXITED(st)) FAIL("child did not exit");
		codes[got++] = WEXITSTATUS(st);
	}
	for (int i = 1; i < 3; i++)
		for (int j = i; j > 0 && codes[j - 1] > codes[j]; j--) {
			int t = codes[j];
			codes[j] = codes[j - 1];
			codes[j - 1] = t;
		}
	printf("WNOHANG loop collected: %d %d %d, saw \"none yet\" at least once: %s\n", codes[0],
	       codes[1], codes[2], yesno(polls > 0));

	/* wait4 with rusage. */
	pid_t pid = spawn_exit(3, 0);
	struct rusage ru;
	int st;
	pid_t r = SYS(wait4(pid, &st, 0, &ru));
	printf("wait4 returned the child's pid: %s, exited %s with %d\n", yesno(r == pid),
	       yesno(WIFEXITED(st)), WEXITSTATUS(st));

	/* A child killed by a signal it sends itself. */
	fflush(stdout);
	pid = SYS(fork());
	if (pid == 0) {
		kill(getpid(), SIGTERM);
		_exit(99);
	}
	SYS(waitpid(pid, &st, 0));
	printf("child killed by a signal: signaled %s, signal %d\n", yesno(WIFSIGNALED(st)),
	       WIFSIGNALED(st) ? WTERMSIG(st) : 0);

	/* pid relations, reported through exit codes. */
	fflush(stdout);
	pid = SYS(fork());
	if (pid == 0) _exit(getppid() == me ? 0 : 1);
	printf("child's ppid equals parent's pid: %s\n", yesno(wait_exit(pid) == 0));
	printf("fork returned a pid other than the parent's: %s\n", yesno(pid != me && pid > 0));

	/* Nested fork: the child waits for its own child and passes its status on. */
	fflush(stdout);
	pid = SYS(fork());
	if (pid == 0) {
		pid_t child = getpid();
		pid_t g = fork();
		if (g < 0) _exit(90);
		if (g == 0) _exit(getppid() == child ? 7 : 70);
		int gst;
		if (waitpid(g, &gst, 0) != g || !WIFEXITED(gst)) _exit(91);
		_exit(WEXITSTATUS(gst) + 1);
	}
	int nested = wait_exit(pid);
	printf("grandchild's ppid equals child's pid: %s; child passed on %d\n",
	       yesno(nested == 8), nested);

	EXPECT_ERR(waitpid(-1, &st, 0), ECHILD);
	EXPECT_ERR(waitpid(-1, &st, WNOHANG), ECHILD);
	printf("no children left: ECHILD\n");
	printf("getpid stable: %s\n", yesno(getpid() == me));
	printf("fork_wait: done\n");
	return 0;
}
