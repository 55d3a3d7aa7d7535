/*
 * exec: fork + execve of /bin/echo and of this program itself (which then exits with the
 * status it was given), a failing execve (ENOENT), and exit status propagation: after its
 * checks the program exits with status 3 on purpose (1 means something went wrong).
 */
#include "common.h"

extern char **environ;

static int run(char *const argv[])
{
	fflush(stdout);
	pid_t pid = SYS(fork());
	if (pid == 0) {
		execve(argv[0], argv, environ);
		fprintf(stderr, "exec: execve(%s): %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return wait_exit(pid);
}

int main(int argc, char **argv)
{
	scenario_init();
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		printf("exec'd self with argument %s\n", argv[2]);
		return atoi(argv[2]);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: exec (no arguments; run it by an absolute or relative path)\n");
		return 2;
	}
	if (!strchr(argv[0], '/')) {
		fprintf(stderr, "exec: run me by a path containing '/', not via PATH\n");
		return 2;
	}

	char *echo[] = { "/bin/echo", "hello", "from", "echo", NULL };
	printf("echo exit status: %d\n", run(echo));
	char *self[] = { argv[0], "--child", "42", NULL };
	printf("self exit status: %d\n", run(self));
	char *zero[] = { argv[0], "--child", "0", NULL };
	printf("self exit status: %d\n", run(zero));
	char *missing[] = { "/nonexistent/a8-no-such-program", NULL };
	EXPECT_ERR(execve(missing[0], missing, environ), ENOENT);
	printf("execve of a missing program: ENOENT, still running: yes\n");
	printf("child's failed execve exit status: %d\n", run(missing));
	char *shell[] = { "/bin/sh", "-c", "exit 5", NULL };
	printf("sh -c 'exit 5' status: %d\n", run(shell));
	printf("exec: done, exiting with 3\n");
	return 3;
}
