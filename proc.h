/*
 * proc.h: starting a child, learning how it ended, and signalling the
 * whole tree of descendants.
 */
#ifndef TEND_PROC_H
#define TEND_PROC_H

#include <signal.h>
#include <sys/types.h>

/*
 * Forks and execs argv (PATH lookup) with envp in a new process group which, when
 * tend's group owns the terminal, becomes the terminal's foreground group.
 * The child gets mask as its signal mask, and stdout and stderr as io
 * says (output.h): tend's own unless main's output is formatted. On success returns the pid and
 * stores in *errfd a pipe that yields the exec errno if exec failed (read
 * it with proc_exec_errno once the child is reaped). Returns -1 with errno
 * set when fork itself fails.
 */
struct child_stdio;

pid_t proc_spawn(char *const argv[], char *const envp[], const sigset_t *mask,
    const struct child_stdio *io, int *errfd);

struct program;

/*
 * Forks and execs a supervised program as supervisord does, in this
 * order: own process group, stdin from /dev/null, stdout and stderr as
 * io says (output.h), every other descriptor closed, groups, gid and
 * uid, directory, umask, a clean signal state, the program's
 * environment, and exec with a PATH search in that environment. Same
 * return and errfd as proc_spawn.
 */
pid_t proc_spawn_program(const struct program *p,
    const struct child_stdio *io, int *errfd);

/* The step of a child's set-up that failed, as sent back on errfd. */
enum spawn_stage {
	STAGE_NONE,
	STAGE_EXEC,
	STAGE_STDIN,
	STAGE_STDOUT,
	STAGE_STDERR,
	STAGE_GROUPS,
	STAGE_SETGID,
	STAGE_SETUID,
	STAGE_CHDIR,
};

struct spawn_failure {
	int stage;	/* enum spawn_stage; STAGE_NONE when the exec worked */
	int err;	/* errno */
};

/*
 * What failed in the child, read once it has been reaped (then every
 * copy of the write end is closed and the read cannot block); closes
 * errfd. Returns f->stage.
 */
int proc_spawn_failure(int errfd, struct spawn_failure *f);

/* Exit code convention: status, or 128+N for signal N. */
int proc_exit_code(int wstatus);

/* Shell convention for exec failures: 127 not found, 126 not executable. */
int proc_exec_failure_code(int err);

/*
 * Whether argv[0] would run, found as the child's exec finds it (a PATH
 * search in envp): 0, ENOENT (not found) or EACCES (not executable).
 * For supervisord's NO_FILE and NOT_EXECUTABLE before a start.
 */
int proc_command_error(char *const argv[], char *const envp[]);

/* Directory entries into buf, as struct dirent: bytes, 0 at the end, -1. */
int proc_getdents(int fd, char *buf, size_t len);

/* The parent of pid, from /proc; -1 when it cannot be read. */
pid_t proc_parent(pid_t pid);

/*
 * Sends sig to every descendant of tend (kill(-1) when tend is PID 1 of
 * its namespace, else a walk of /proc). Returns how many were signalled,
 * or -1 when /proc could not be read.
 */
int proc_kill_descendants(int sig);

#endif
