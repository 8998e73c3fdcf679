/* Unit tests for fsutil.c: fs_write_all through a pipe, whole and failing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "tap.h"

static int test_write_all_whole(void)
{
	static char big[200000], back[200000];
	size_t written = 0, got = 0;
	int fd[2], st = -1, ok = 1;
	pid_t pid;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	if (pipe(fd) < 0)
		return 0;
	/* More than a pipe holds: the writer needs a reader to go on. */
	pid = fork();
	if (pid == 0) {
		close(fd[0]);
		_exit(fs_write_all(fd[1], big, sizeof(big), &written) == 0 &&
		      written == sizeof(big) ? 0 : 1);
	}
	close(fd[1]);
	while (got < sizeof(back)) {
		ssize_t n = read(fd[0], back + got, sizeof(back) - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd[0]);
	ok &= TAP_CHECK(got == sizeof(big) && !memcmp(big, back, got));
	waitpid(pid, &st, 0);
	ok &= TAP_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return ok;
}

static int test_write_all_fails(void)
{
	size_t written = 1;
	int fd[2], ok = 1;

	signal(SIGPIPE, SIG_IGN);
	if (pipe(fd) < 0)
		return 0;
	close(fd[0]);
	ok &= TAP_CHECK(fs_write_all(fd[1], "x", 1, &written) == -EPIPE);
	ok &= TAP_CHECK(written == 0);
	close(fd[1]);
	ok &= TAP_CHECK(fs_write_all(fd[1], "x", 1, NULL) == -EBADF);
	ok &= TAP_CHECK(fs_write_all(fd[1], "", 0, &written) == 0 &&
			written == 0);
	return ok;
}

int main(void)
{
	TAP_RUN(test_write_all_whole);
	TAP_RUN(test_write_all_fails);
	return tap_done();
}
