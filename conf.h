/*
 * conf.h: the runtime configuration: where it is read from, and the
 * programs it declares, each key parsed, checked and ready to run.
 */
#ifndef TEND_CONF_H
#define TEND_CONF_H

#include <stdbool.h>
#include <sys/types.h>

#include "mem.h"
#include "users.h"
#include "values.h"

/* Where a program's stdout or stderr goes. */
enum log_kind {
	LOG_INHERIT,	/* AUTO, unset, /dev/stdout...: tend's own stream */
	LOG_DISCARD,	/* NONE or OFF */
	LOG_FILE,	/* a path */
};

struct log_target {
	enum log_kind kind;
	int fd;				/* LOG_INHERIT: tend's 1 or 2 */
	const char *path;
	long long maxbytes;		/* rotate at this size; 0: never */
	long backups;			/* rotated copies kept: path.1 ... */
};

/* How the lines tend relays are written (output.c). */
struct log_format {
	bool prefix;			/* "NAME | line" */
	bool timestamp;			/* an ISO-8601 UTC time first */
	bool json;			/* one JSON object per line */
};

/* One process to supervise: a [program:x] yields numprocs of them. */
struct program {
	const char *name;		/* the process name */
	const char *group;
	const char *file;		/* where it was declared */
	int line;

	const char *command;
	char **argv;
	long numprocs, numprocs_start;
	long priority;
	long group_priority;
	bool autostart;
	long startsecs;
	long startretries;
	enum autorestart autorestart;
	unsigned char exitcodes[32];
	int stopsignal;
	long stopwaitsecs;
	bool stopasgroup, killasgroup;
	const char *user_spec;
	struct user user;		/* valid when user_spec is set */
	const char *directory;
	const char *umask_text;
	mode_t umask;			/* valid when umask_text is set */
	const char *environment;	/* as written, for --check */
	struct env_pair *env_pairs;
	int nenv;
	char **envp;			/* the child's whole environment */
	bool redirect_stderr;
	struct log_target out, err;
	struct log_format format;
	bool critical;

	bool is_main;			/* the command given after -- */
	bool forward_group;		/* main only: -g */
};

struct config {
	struct arena arena;
	const char *file;		/* NULL: no file (command or env only) */
	struct program *programs;	/* in start order */
	size_t nprograms;
	long shutdown_ms;
	int loglevel;			/* enum log_level; -1 when unset */
	const char *logfile;		/* a copy of tend's log, or NULL */
	long long logfile_maxbytes;
	long logfile_backups;
	bool log_to_stdout;		/* logfile=/dev/stdout */
	struct log_format format;	/* [tend]: tend's lines, programs' default */
	const char *termination_log;	/* NULL when disabled */
	long minfds, minprocs;
	bool interrupted;		/* a stop signal came during a read */
};

/* What the command line asks of the loader. */
struct conf_request {
	const char *file;		/* -c FILE, or NULL to search */
	char **command;			/* after --, or NULL */
	bool forward_group;		/* -g */
	long grace_ms;			/* -t, or -1 */
	/*
	 * A file that is not regular may keep tend waiting (a FIFO without
	 * a writer): the wait ends when this descriptor, a signalfd of the
	 * stop signals, becomes readable. -1: none.
	 */
	int stop_fd;
};

/*
 * Loads and checks everything: the file (or the search), includes, env
 * overrides. Prints every problem as "tend: FILE:LINE: message" and
 * returns the number of errors (0 when the config can run).
 */
int conf_load(struct config *c, const struct conf_request *req);

/* --check: the effective program table, secrets masked, on stdout. */
void conf_print(const struct config *c);

/*
 * The file tend would read: -c, $TEND_CONFIG (set but empty: none), then
 * /etc/tend.ini, and without a command supervisord's places too; NULL
 * when there is none.
 */
const char *conf_find(const char *requested, bool with_command);

#endif
