/*
 * prog.h: supervised processes and supervisord's state machine.
 */
#ifndef TEND_PROG_H
#define TEND_PROG_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"

enum prog_state {
	STATE_STOPPED,
	STATE_STARTING,
	STATE_RUNNING,
	STATE_BACKOFF,
	STATE_STOPPING,
	STATE_EXITED,
	STATE_FATAL,
	STATE_UNKNOWN,
};

/* Takes the programs of c; main (if any) gets the inherited mask. */
void prog_setup(const struct config *c, const sigset_t *inherited_mask);

/* Starts the autostart programs in ascending priority. */
void prog_start_all(long long now);

/* A reaped pid: true if it was a program's, whose state then moves. */
bool prog_reaped(pid_t pid, int wstatus, long long now);

/*
 * The status to exit with when a critical program has ended for good
 * (FATAL, or exited without a restart), or -1. Reported once.
 */
int prog_critical_exit(void);

/*
 * The termination message: a line on the critical program that ended
 * (name, final state, exit status), then the last lines it wrote to
 * stderr if tend relayed them. Its length, 0 when there is none.
 */
int prog_critical_summary(char *buf, size_t len);

/*
 * Shutdown: no more starts or restarts; programs are stopped in
 * descending priority, those of equal priority together. stop_signal is
 * the signal tend received, which main gets instead of its stopsignal.
 * Call prog_shutdown_step after each event; it returns true once every
 * program is stopped.
 */
void prog_begin_shutdown(int stop_signal, long long now);
bool prog_shutdown_step(long long now);

/* Sends sig to main (its group with -g); false when there is no main. */
bool prog_forward_to_main(int sig);

/* main's final status (exit code, 128+N, 127/126), or -1. */
int prog_main_status(void);
bool prog_has_main(void);

#endif
