/*
 * output.h: where the programs' output and tend's own log go, and the
 * relay that carries them without ever blocking PID 1.
 */
#ifndef TEND_OUTPUT_H
#define TEND_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct log_format;
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
 * Opens tend's own targets (its stdout and stderr, its log file) and
 * routes tend's own log through them. Exits with 2 when the log file
 * cannot be opened.
 */
void output_setup(const struct config *c);
/* [tend]'s format, for tend's own lines, after a reload. */
void output_set_format(const struct log_format *f);

/* Every write to a log file is handed to hook too (tail -f). */
void output_on_file_write(void (*hook)(const char *path, const char *p,
    size_t n));

/* A program's output: where its streams go, its pipes, its counts. */
struct output;

/*
 * For a process of p: opens the log files it names. NULL (with a
 * warning) when one cannot be opened. output_detach when the process
 * is dropped; its pipes still drain.
 */
struct output *output_attach(const struct program *p);
void output_detach(struct output *o);
/* The same routes under a new description (rotation limits may change). */
void output_update(struct output *o, const struct program *p);

/*
 * Before a program is forked: the pipes of the streams tend relays.
 * Then output_spawned once fork has returned (forked false if it
 * failed). Returns -1 with errno set when a pipe cannot be made.
 */
int output_prepare(struct output *o, struct child_stdio *io);
void output_spawned(struct output *o, struct child_stdio *io, bool forked);

/* Relays what an exited program left in its pipes, before its exit is logged. */
void output_drain(struct output *o);

/* SIGUSR2: reopens every log file, and says how that went. */
void output_reopen(void);

/* Whether relayed output is still to be read or written. */
bool output_pending(void);
/* At exit: a last attempt to write, and a word on what is lost. */
void output_finish(void);

/*
 * The last lines a critical program wrote to stderr, when tend relayed
 * them, for the termination message: at most len - 1 bytes starting at
 * a line, NUL-terminated, in buf.
 */
size_t output_stderr_tail(const struct output *o, char *buf, size_t len);

/* A restart with new routes keeps the counters going. */
void output_keep_counts(struct output *to, const struct output *from);
/* Bytes read from its stdout and stderr, and bytes of them dropped. */
void output_counts(const struct output *o, unsigned long long relayed[2],
    unsigned long long dropped[2]);

#endif
