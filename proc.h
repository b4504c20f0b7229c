/*
 * proc.h: starting a child, learning how it ended, and signalling the
 * whole tree of descendants.
 */
#ifndef TEND_PROC_H
#define TEND_PROC_H

#include <signal.h>
#include <sys/types.h>

/*
 * Forks and execs argv (PATH lookup) in a new process group which, when
 * tend's group owns the terminal, becomes the terminal's foreground group.
 * The child gets mask as its signal mask. On success returns the pid and
 * stores in *errfd a pipe that yields the exec errno if exec failed (read
 * it with proc_exec_errno once the child is reaped). Returns -1 with errno
 * set when fork itself fails.
 */
pid_t proc_spawn(char *const argv[], const sigset_t *mask, int *errfd);

/* The errno the child's exec failed with, or 0 if it ran; closes errfd. */
int proc_exec_errno(int errfd);

/* Exit code convention: status, or 128+N for signal N. */
int proc_exit_code(int wstatus);

/* Shell convention for exec failures: 127 not found, 126 not executable. */
int proc_exec_failure_code(int err);

/*
 * Sends sig to every descendant of tend (kill(-1) when tend is PID 1 of
 * its namespace, else a walk of /proc). Returns how many were signalled,
 * or -1 when /proc could not be read.
 */
int proc_kill_descendants(int sig);

#endif
