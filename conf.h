/*
 * conf.h: the runtime configuration: where it is read from, and the
 * programs it declares, each key parsed, checked and ready to run.
 * conf.c loads it; keys.c holds the schema of its keys.
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

/* When a started process counts as up: see ready= in README.md. */
enum ready_kind {
	READY_RUNNING,		/* alive for startsecs, as supervisord */
	READY_NOTIFY,		/* READY=1 on $NOTIFY_SOCKET */
	READY_TCP,		/* a TCP port accepts a connection */
	READY_COMMAND,		/* a command exits 0 */
	READY_EXITED,		/* it exited as expected: a oneshot */
};

/* One process to supervise: a [program:x] yields numprocs of them. */
struct program {
	const char *name;		/* the process name */
	const char *group;
	const char *program;		/* x of its [program:x] */
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

	const char *ready_spec;		/* ready= as written */
	enum ready_kind ready;
	char **ready_argv;		/* READY_COMMAND */
	struct inet_addr ready_addr;	/* READY_TCP */
	long ready_timeout_ms;		/* 0: no limit */
	long ready_interval_ms;
	const char *depends_spec;	/* depends_on= as written */
	const char **depends;		/* program or group names */
	int ndepends;
	const char *depends_file;	/* where depends_on= was said */
	int depends_line;

	bool is_main;			/* the command given after -- */
	bool forward_group;		/* main only: -g */
};

/*
 * One load of the configuration, in one arena. The programs of a
 * running tend point into the load they came from, which lives as long
 * as one of them does (refs); a reload makes a new one beside it.
 */
struct config {
	struct arena arena;
	int refs;
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
	struct env_pair *global_env;	/* [supervisord] environment= */
	int nglobal_env;
	bool main_waits;		/* main starts once the others are ready */

	/* the control server (http.c) */
	const char *socket_path;	/* NULL: none */
	mode_t socket_mode;
	const char *socket_owner_spec;	/* chown=, or NULL */
	struct user socket_owner;
	const char *socket_username, *socket_password;
	const char *http_port;		/* NULL: no TCP listener */
	struct inet_addr http_addr;
	const char *http_username, *http_password;
	/* [supervisorctl], for tend ctl */
	const char *ctl_serverurl, *ctl_username, *ctl_password;

	bool interrupted;		/* a stop signal came during a read */
	char report[2048];		/* the errors, one per line, for a client */
	size_t report_len;
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
	const char *notify_socket;	/* given to ready=notify programs */
	bool settings_only;		/* tend ctl: the sections, no program */
};

/*
 * Loads and checks everything: the file (or the search), includes, env
 * overrides. Prints every problem as "tend: FILE:LINE: message" and
 * returns the number of errors (0 when the config can run); then no
 * program exists. A NULL return is out of memory.
 */
struct config *conf_load(const struct conf_request *req, int *errors);

/* Drops a reference; the last one releases the load. */
void conf_release(struct config *c);

/* --check: the effective program table, secrets masked, on stdout. */
void conf_print(const struct config *c);

/*
 * The file tend would read: -c, $TEND_CONFIG (set but empty: none), then
 * /etc/tend.ini, and without a command supervisord's places too; NULL
 * when there is none.
 */
const char *conf_find(const char *requested, bool with_command);

/* How a program of a new load differs from the one running. */
enum program_change {
	PROGRAM_SAME,
	PROGRAM_LIVE,		/* keys applied in place (startsecs...) */
	PROGRAM_SHAPED,		/* keys that shape the process: a restart */
};
enum program_change conf_compare(const struct program *a,
    const struct program *b);

/* The program or group names x depends on resolve to these programs. */
bool conf_depends_on(const struct program *x, const struct program *y);

#endif
