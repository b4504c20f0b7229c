/*
 * proc.c: process mechanics shared by every kind of child tend runs: the
 * fork/exec with a close-on-exec pipe that carries the exec errno back
 * (so "not found" is known for certain, not guessed from status 127), the
 * exit-status conventions, and the signalling of whole process trees.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "fmt.h"
#include "log.h"
#include "output.h"
#include "proc.h"
#include "sig.h"
#include "values.h"

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

/* The child's last words: what failed, then the conventional status. */
static _Noreturn void
child_fail(int fd, enum spawn_stage stage, int err)
{
	struct spawn_failure f = { stage, err };

	(void)write_all(fd, &f, sizeof(f));
	_exit(stage == STAGE_EXEC ? proc_exec_failure_code(err) : 127);
}

/*
 * The fork system call itself. libc's fork also keeps the books of
 * threads and atfork handlers (about 2 KiB of locks in a static binary);
 * tend has one thread and no handlers, and its children only set
 * themselves up with system calls and exec.
 */
static pid_t
fork_process(void)
{
#ifdef SYS_fork
	return (pid_t)syscall(SYS_fork);
#else
	return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
}

/* A close-on-exec pipe for the child's report, then fork. */
static pid_t
fork_with_pipe(int pipefd[2])
{
	pid_t pid;
	int saved;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork_process()) < 0) {
		saved = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		errno = saved;
		return -1;
	}
	if (pid > 0) {
		close(pipefd[1]);
		pipefd[1] = -1;
	} else {
		close(pipefd[0]);
	}
	return pid;
}

/*
 * Puts the open descriptor from at to, without close-on-exec. When tend
 * itself had to was closed, open() may already have returned it.
 */
static int
move_fd(int from, int to)
{
	if (from < 0)
		return -1;
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	if (dup2(from, to) < 0)
		return -1;
	close(from);
	return 0;
}

/*
 * fd 1 and 2 from what output.c chose: kept, /dev/null, a pipe, or
 * tend's other stream. The latter is first copied above 2, so that
 * swapping stdout and stderr works.
 */
static int
child_outputs(const struct child_stdio *io, bool redirect_stderr)
{
	int want[2] = { io->out, io->err }, i;

	for (i = 0; i < 2; i++)
		if ((want[i] == 1 || want[i] == 2) && want[i] != i + 1 &&
		    (want[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 3)) < 0)
			return i + 1;
	for (i = 0; i < 2; i++) {
		if (i == 1 && redirect_stderr)
			return dup2(1, 2) < 0 ? 2 : 0;
		if (want[i] == CHILD_DISCARD &&
		    (want[i] = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
			return i + 1;
		if (want[i] != CHILD_INHERIT && move_fd(want[i], i + 1) < 0)
			return i + 1;
	}
	return 0;
}

static const char *
env_get(char *const envp[], const char *name)
{
	size_t n = strlen(name);

	for (; *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/*
 * argv[0] tried where the program's own PATH says, as supervisord
 * searches: try gives 0 to stop (the file is the one), or its errno.
 * EACCES from one candidate is remembered, so that "found but not
 * executable" is not reported as "not found".
 */
static int
search_path(char *const argv[], char *const envp[],
    int (*try)(const char *file, char *const argv[], char *const envp[]))
{
	const char *path, *p;
	char file[4096];
	int err = ENOENT, e;

	if (strchr(argv[0], '/'))
		return try(argv[0], argv, envp);
	if (!(path = env_get(envp, "PATH")))
		path = "/bin:/usr/bin:/usr/local/bin";
	for (p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);

		if (dlen + strlen(argv[0]) + 2 <= sizeof(file)) {
			memcpy(file, dlen ? p : ".", dlen ? dlen : 1);
			dlen = dlen ? dlen : 1;
			file[dlen] = '/';
			strcpy(file + dlen + 1, argv[0]);
			if ((e = try(file, argv, envp)) == 0)
				return 0;
			if (e == EACCES)
				err = EACCES;
			else if (e != ENOENT && e != ENOTDIR)
				return e;
		}
		if (!*end)
			return err;
		p = end;
	}
}

/* In the child: execve returns only with its errno. */
static int
try_exec(const char *file, char *const argv[], char *const envp[])
{
	execve(file, argv, envp);
	return errno;
}

/* Before a start: what exec would say of the file, without running it. */
static int
try_access(const char *file, char *const argv[], char *const envp[])
{
	struct stat st;

	(void)argv;
	(void)envp;
	if (stat(file, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode) || access(file, X_OK) < 0)
		return EACCES;
	return 0;
}

static int
child_exec(char *const argv[], char *const envp[])
{
	return search_path(argv, envp, try_exec);
}

int
proc_command_error(char *const argv[], char *const envp[])
{
	int err = search_path(argv, envp, try_access);

	return err == ENOTDIR ? ENOENT : err;
}

pid_t
proc_spawn(char *const argv[], char *const envp[], const sigset_t *mask,
    const struct child_stdio *io, int *errfd)
{
	int pipefd[2];
	pid_t pid = fork_with_pipe(pipefd);

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int err, failed;

		child_take_terminal();
		if ((failed = child_outputs(io, false)) != 0)
			child_fail(pipefd[1], failed == 1 ? STAGE_STDOUT :
			    STAGE_STDERR, errno);
		sig_setmask(mask, NULL);
		err = child_exec(argv, envp);
		child_fail(pipefd[1], STAGE_EXEC, err);
	}
	*errfd = pipefd[0];
	return pid;
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)	/* linux/close_range.h, Linux 5.11 */
#endif

/* Every descriptor above 2 is closed at exec, the report pipe included. */
static void
child_close_fds(void)
{
	int fd;

	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (fd = 3; fd < 65536; fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * Default dispositions for every signal, through the system call itself:
 * libc's sigaction refuses 32 to 34, which a parent may still have
 * ignored. SIG_DFL needs no restorer.
 */
static void
child_reset_signals(void)
{
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		unsigned char mask[SIG_MAX / 8];
	} dfl = { .handler = SIG_DFL };
	sigset_t none;
	int sig;

	for (sig = 1; sig <= SIG_MAX; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, &dfl, NULL,
			    sizeof(dfl.mask));
	sigemptyset(&none);
	(void)sig_setmask(&none, NULL);
}

pid_t
proc_spawn_program(const struct program *p, const struct child_stdio *io,
    int *errfd)
{
	int pipefd[2];
	pid_t pid = fork_with_pipe(pipefd);
	int fd = pipefd[1], failed;

	if (pid != 0) {
		if (pid > 0)
			*errfd = pipefd[0];
		return pid;
	}
	setpgid(0, 0);
	if (move_fd(open("/dev/null", O_RDONLY | O_CLOEXEC), 0) < 0)
		child_fail(fd, STAGE_STDIN, errno);
	if ((failed = child_outputs(io, p->redirect_stderr)) != 0)
		child_fail(fd, failed == 1 ? STAGE_STDOUT : STAGE_STDERR, errno);
	child_close_fds();
	/*
	 * Raw system calls: the child has one thread, and libc's set*id
	 * synchronise all threads of a process, which costs code for nothing.
	 */
	if (p->user_spec && (geteuid() == 0 || p->user.uid != geteuid())) {
		if (syscall(SYS_setgroups, p->user.ngroups, p->user.groups) < 0)
			child_fail(fd, STAGE_GROUPS, errno);
		if (syscall(SYS_setgid, p->user.gid) < 0)
			child_fail(fd, STAGE_SETGID, errno);
		if (syscall(SYS_setuid, p->user.uid) < 0)
			child_fail(fd, STAGE_SETUID, errno);
	}
	if (p->directory && chdir(p->directory) < 0)
		child_fail(fd, STAGE_CHDIR, errno);
	if (p->umask_text)
		umask(p->umask);
	child_reset_signals();
	child_fail(fd, STAGE_EXEC, child_exec(p->argv, p->envp));
}

int
proc_spawn_failure(int errfd, struct spawn_failure *f)
{
	ssize_t n;

	f->stage = STAGE_NONE;
	f->err = 0;
	if (errfd < 0)
		return STAGE_NONE;
	do {
		n = read(errfd, f, sizeof(*f));
	} while (n < 0 && errno == EINTR);
	close(errfd);
	if (n != (ssize_t)sizeof(*f))
		f->stage = STAGE_NONE;
	return f->stage;
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
pid_t
proc_parent(pid_t pid)
{
	char path[32], buf[512];
	const char *p;
	unsigned long long ppid;
	int fd;
	ssize_t n;

	fmt_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
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
	p += 4;
	return val_digits(&p, 10, 0x7fffffff, &ppid) < 0 ? -1 :
	    (pid_t)ppid;
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
		pid = proc_parent(pid);
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

/*
 * The system call itself: glibc has no getdents, and both libcs lay
 * struct dirent out as the kernel's linux_dirent64 on 64-bit systems.
 */
int
proc_getdents(int fd, char *buf, size_t len)
{
	return (int)syscall(SYS_getdents64, fd, buf, len);
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
	while ((n = proc_getdents(fd, buf, sizeof(buf))) > 0) {
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
