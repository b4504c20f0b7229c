/*
 * proc.c: process mechanics shared by every kind of child tend runs: the
 * fork/exec with a close-on-exec pipe that carries the exec errno back
 * (so "not found" is known for certain, not guessed from status 127), the
 * exit-status conventions, and the signalling of whole process trees.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sig.h"

/*
 * The child leaves tend's process group so that forwarding to a group
 * never hits tend. It takes the terminal only if tend's group is in the
 * foreground: a tend started in the background must not steal it. Inside
 * a PID namespace both groups may lie outside it and read as 0; equal
 * still means foreground in the common case (a namespace started from an
 * interactive shell). SIGTTOU is still blocked here, so tcsetpgrp cannot
 * stop the child.
 */
static void
child_take_terminal(void)
{
	pid_t fg = tcgetpgrp(STDIN_FILENO);
	pid_t own = getpgrp();

	setpgid(0, 0);
	if (fg >= 0 && fg == own)
		(void)tcsetpgrp(STDIN_FILENO, getpid());
}

pid_t
proc_spawn(char *const argv[], const sigset_t *mask, int *errfd)
{
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		int saved = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		int err;

		child_take_terminal();
		sig_setmask(mask, NULL);
		execvp(argv[0], argv);
		err = errno;
		(void)write_all(pipefd[1], &err, sizeof(err));
		_exit(proc_exec_failure_code(err));
	}
	close(pipefd[1]);
	*errfd = pipefd[0];
	return pid;
}

/*
 * Called once the child has been reaped: by then every copy of the write
 * end is closed, so the read returns at once with the errno or with EOF.
 */
int
proc_exec_errno(int errfd)
{
	int err = 0;
	ssize_t n;

	if (errfd < 0)
		return 0;
	do {
		n = read(errfd, &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	close(errfd);
	return n == (ssize_t)sizeof(err) ? err : 0;
}

int
proc_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

int
proc_exec_failure_code(int err)
{
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

/* The parent of pid from /proc/PID/stat, whose comm field may hold ") ". */
static pid_t
read_ppid(pid_t pid)
{
	char path[32], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 5)
		return -1;
	return (pid_t)strtol(p + 4, NULL, 10);
}

/*
 * Follows the parent chain up to self or to the top. Costs a read per
 * generation, but it runs only during a shutdown outside PID 1 and needs
 * no memory; the bound guards against a cycle made by pid reuse.
 */
static int
descends_from(pid_t pid, pid_t self)
{
	int depth;

	for (depth = 0; pid > 1 && depth < 4096; depth++) {
		pid = read_ppid(pid);
		if (pid == self)
			return 1;
	}
	return 0;
}

static pid_t
dirent_pid(const struct dirent *d)
{
	const char *p;
	long v = 0;

	for (p = d->d_name; *p; p++) {
		if (*p < '0' || *p > '9' || v > 1L << 24)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v > 0 ? (pid_t)v : -1;
}

int
proc_kill_descendants(int sig)
{
	pid_t self = getpid();
	char buf[4096];
	int fd, n, signalled = 0;

	/* In its own namespace PID 1 reaches everyone, atomically. */
	if (self == 1)
		return kill(-1, sig) == 0 ? 1 : 0;
	fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((n = getdents(fd, (struct dirent *)buf, sizeof(buf))) > 0) {
		int off = 0;

		while (off < n) {
			struct dirent *d = (struct dirent *)(buf + off);
			pid_t pid = dirent_pid(d);

			off += d->d_reclen;
			if (pid > 0 && pid != self && descends_from(pid, self)
			    && kill(pid, sig) == 0)
				signalled++;
		}
	}
	close(fd);
	return signalled;
}
