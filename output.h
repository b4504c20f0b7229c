/*
 * output.h: where the programs' output and tend's own log go, and the
 * relay that carries them without ever blocking PID 1.
 */
#ifndef TEND_OUTPUT_H
#define TEND_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct program;

/* What a program's stdout or stderr becomes in the child. */
enum {
	CHILD_INHERIT = -1,	/* tend's own stream, zero-copy */
	CHILD_DISCARD = -2,	/* /dev/null */
};

/* For each of the child's fd 1 and 2: a pipe's write end, or the above. */
struct child_stdio {
	int out, err;
};

/*
 * Opens every target the configuration names (tend's stdout and stderr,
 * the log files) and routes tend's own log through them. Exits with 2
 * when a log file cannot be opened.
 */
void output_setup(const struct config *c);

/*
 * Before a program is forked: the pipes of the streams tend relays.
 * Then output_spawned once fork has returned (forked false if it
 * failed). Returns -1 with errno set when a pipe cannot be made.
 */
int output_prepare(const struct program *p, struct child_stdio *io);
void output_spawned(const struct program *p, struct child_stdio *io,
    bool forked);

/* Relays what an exited program left in its pipes, before its exit is logged. */
void output_drain(const struct program *p);

/* SIGUSR2: reopens every log file, and says how that went. */
void output_reopen(void);

/* Whether relayed output is still to be read or written. */
bool output_pending(void);
/* At exit: a last attempt to write, and a word on what is lost. */
void output_finish(void);

/*
 * The last lines p wrote to stderr, when tend relayed them, for the
 * termination message: at most len bytes starting at a line, in buf.
 */
size_t output_stderr_tail(const struct program *p, char *buf, size_t len);

#endif
