/*
 * prog.h: supervised processes, supervisord's state machine, and the
 * operations the control plane asks of them (start, stop, restart,
 * signal, reload). The CLI, the JSON API, XML-RPC and the page are
 * views of what is here.
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

/* The outcome of an operation: supervisord's fault codes, 80 for success. */
enum prog_result {
	RESULT_BAD_ARGUMENTS = 3,
	RESULT_SHUTDOWN_STATE = 6,
	RESULT_BAD_NAME = 10,
	RESULT_BAD_SIGNAL = 11,
	RESULT_NO_FILE = 20,
	RESULT_NOT_EXECUTABLE = 21,
	RESULT_FAILED = 30,
	RESULT_ABNORMAL_TERMINATION = 40,
	RESULT_SPAWN_ERROR = 50,
	RESULT_ALREADY_STARTED = 60,
	RESULT_NOT_RUNNING = 70,
	RESULT_SUCCESS = 80,
	RESULT_ALREADY_ADDED = 90,
	RESULT_STILL_RUNNING = 91,
	RESULT_CANT_REREAD = 92,
};

/* supervisord's name of a result ("NOT_RUNNING"), and its state codes. */
const char *prog_result_name(int result);
const char *prog_state_name(enum prog_state s);
int prog_state_code(enum prog_state s);

struct proc;
struct output;

/* Takes the programs of c; main (if any) gets the inherited mask. */
void prog_setup(struct config *c, const sigset_t *inherited_mask);

/* Starts the autostart programs in ascending priority. */
void prog_start_all(void);

/*
 * After the events of a loop pass: the starts whose dependencies are
 * ready, the stops whose dependents are down, the operations that ended
 * (their done is called here), the processes a reload drops.
 */
void prog_settle(void);

/* A reaped pid: true if it was a program's, or one of their checks. */
bool prog_reaped(pid_t pid, int wstatus);

/*
 * The status to exit with when a critical program has ended for good
 * (FATAL, or exited without a restart), or -1. Reported once.
 */
int prog_critical_exit(void);

/*
 * A shutdown asked of tend through the control plane (shutdown, or a
 * stop of main, which ends the container as docker stop would): 1, and
 * *sig the signal main gets (0: its stopsignal); else 0.
 */
int prog_shutdown_asked(int *sig);
/* The control plane's shutdown (supervisord's shutdown method). */
void prog_request_shutdown(void);

/*
 * The termination message: a line on the critical program that ended
 * (name, final state, exit status), then the last lines it wrote to
 * stderr if tend relayed them. Its length, 0 when there is none.
 */
int prog_critical_summary(char *buf, size_t len);

/*
 * Shutdown: no more starts or restarts; programs are stopped in
 * descending priority, dependents before what they depend on, those of
 * equal priority together. stop_signal is the signal tend received,
 * which main gets instead of its stopsignal. prog_shutdown_step returns
 * true once every program is stopped.
 */
void prog_begin_shutdown(int stop_signal);
bool prog_shutdown_step(void);
bool prog_shutting_down(void);

/* Sends sig to main (its group with -g); false when there is no main. */
bool prog_forward_to_main(int sig);

/* main's final status (exit code, 128+N, 127/126), or -1. */
int prog_main_status(void);
bool prog_has_main(void);

/* A notify datagram from pid: READY=1, STATUS=..., for its program. */
void prog_notified(pid_t pid, bool ready, const char *status);

/* ---- what the control plane reads ---------------------------------------- */

/* A process as the views show it. */
struct prog_info {
	const struct program *conf;
	const char *name, *group;
	enum prog_state state;
	pid_t pid;
	long long start, stop;		/* Unix seconds; 0: never */
	long long uptime_ms;		/* while it runs */
	int exitstatus;			/* supervisord's: 0, a code, or -1 */
	int status;			/* tend's last exit status, or -1 */
	unsigned long restarts;		/* spawns after the first */
	bool ready;
	const char *spawnerr;		/* "" when none */
	const char *notify_status;	/* STATUS= of ready=notify, or "" */
	char description[256];		/* supervisord's, plus tend's notes */
};

/* Processes sorted by group, then name (getAllProcessInfo's order). */
size_t prog_count(void);
struct proc *prog_at(size_t i);
void prog_info(const struct proc *p, struct prog_info *out);
/* Its name and group alone: cheaper than prog_info. */
void prog_names(const struct proc *p, const char **name, const char **group);
/* Its output, for the byte counts. */
const struct output *prog_output(const struct proc *p);

/*
 * supervisord's names: "x" is the process x of group x, "g:x" process
 * x of group g; with loose, a bare process name or group name also
 * works (the JSON API). NULL when nothing matches.
 */
struct proc *prog_find(const char *spec, bool loose);
/* Whether group is the name of a group of running programs. */
bool prog_group_exists(const char *group);

/* The whole-container verdicts; *why names what is not, when false. */
bool prog_ready_all(char *why, size_t len);
bool prog_healthy(char *why, size_t len);

/* ---- operations ------------------------------------------------------------ */

enum op_kind { OP_START, OP_STOP, OP_RESTART };

/* One process of an operation, and how it ended. */
struct op_item {
	struct proc *p;			/* NULL once dropped by a reload */
	char name[128], group[128];
	int result;			/* enum prog_result; 0 while pending */
	char message[192];		/* "NOT_RUNNING: x" for a failure */
	bool single;			/* named alone, not by group or all */
	bool restarting;		/* a restart's stop is done */
	bool not_running;		/* a restart found it stopped */
	unsigned long halts;		/* the process's, when it began */
};

/*
 * An operation on one or more processes, whose reply waits until each
 * has reached its end (supervisord's held replies), never blocking the
 * loop: done is called once, from prog_settle (never from
 * prog_op_start), then the caller frees it with prog_op_free. prog_op_cancel instead forgets it (its
 * client went away); the processes go on as asked.
 */
struct prog_op {
	enum op_kind kind;
	bool single;			/* spec named one process by name */
	size_t n, pending;
	void (*done)(struct prog_op *op);
	void *ctx;
	struct prog_op *next;
	struct op_item items[];
};

/*
 * Starts an operation on the processes the specs name: "x", "g:x",
 * "g:*" or "all" each (loose as in prog_find). For group and all forms
 * only the processes concerned are items (not running ones for a start,
 * running ones for a stop), as supervisord answers; a spec that names
 * nothing is an item whose result is BAD_NAME. NULL with *result set
 * during a shutdown (SHUTDOWN_STATE) or without memory (FAILED).
 */
struct prog_op *prog_op_start(enum op_kind kind, const char *const *specs,
    size_t nspecs, bool loose, void (*done)(struct prog_op *), void *ctx,
    int *result);
void prog_op_cancel(struct prog_op *op);
void prog_op_free(struct prog_op *op);

/* Sends sig to one process: SUCCESS, NOT_RUNNING or FAILED. */
int prog_signal(struct proc *p, int sig, char *message, size_t len);

/* ---- reload ---------------------------------------------------------------- */

/* The configuration the processes run, and the last one read. */
struct config *prog_config(void);
struct config *prog_pending(void);

/* What a new configuration changes, group by group (reread). */
struct prog_diff {
	const char **added, **changed, **removed;
	size_t nadded, nchanged, nremoved;
};

/*
 * reread: keeps c as the pending configuration (the previous one is
 * released) and lists its differences from the running one, group by
 * group, sorted; the lists live in c's arena.
 */
void prog_reread(struct config *c, struct prog_diff *diff);

/*
 * addProcessGroup and removeProcessGroup, from the pending
 * configuration: SUCCESS, BAD_NAME, ALREADY_ADDED or STILL_RUNNING.
 */
int prog_group_add(const char *group);
int prog_group_remove(const char *group);

/*
 * update: applies c process by process: removed ones are stopped and
 * dropped, added ones started if autostart, those whose process
 * changes (command, environment, user, output...) restarted, the
 * others updated in place, keeping their pid and pipes. With groups,
 * only the processes of those groups change. Takes c; false when it
 * could not (out of memory), with nothing changed and c released.
 */
bool prog_apply(struct config *c, const char *const *groups,
    size_t ngroups);

#endif
