/*
 * ctl.c: tend ctl, with supervisorctl's commands, arguments, output
 * and exit codes. The client is small: it sends its arguments to POST
 * /ctl on the control socket (or the TCP port) and prints what comes
 * back, exiting with the status the X-Tend-Exit header gives. The
 * commands run in tend, next to the state they read (ctl_handle): the
 * output is a view of the state machine, rendered where it lives, and
 * start and stop answer when the processes got there, as supervisorctl
 * waits. tail -f reads /logtail as supervisorctl does; health and ready
 * read the endpoints of the same names, for exec probes.
 *
 * The client is not PID 1: it may block, and a stuck server is the
 * caller's time-out to handle (Kubernetes' timeoutSeconds, Docker's
 * --timeout).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "config.h"
#include "fmt.h"
#include "http.h"
#include "init.h"
#include "log.h"
#include "prog.h"
#include "sig.h"
#include "values.h"

/* supervisorctl's exit codes (LSB). */
enum {
	EXIT_OK = 0,
	EXIT_GENERIC = 1,
	EXIT_INVALID = 2,
	EXIT_STOPPED = 3,	/* status: something shown is not running */
	EXIT_UNKNOWN = 4,	/* status: a bad name, or no server */
	EXIT_NOT_RUNNING = 7,
};

/* ---- in tend: the commands ---------------------------------------------------- */

struct job {
	struct buf *out;
	int status;
	int argc;
	char **argv;
	bool may_act;
};

/* supervisorctl's make_namespec. */
static const char *
namespec(const char *group, const char *name, char *buf, size_t len)
{
	if (!strcmp(group, name))
		return name;
	fmt_snprintf(buf, len, "%s:%s", group, name);
	return buf;
}

/* set_exitstatus_from_xmlrpc_fault: the last assignment wins. */
static void
status_from(struct job *j, int code, int ignored)
{
	if (code == RESULT_SUCCESS || code == ignored)
		return;
	j->status = code == RESULT_SPAWN_ERROR ||
	    code == RESULT_ABNORMAL_TERMINATION || code == RESULT_NOT_RUNNING ?
	    EXIT_NOT_RUNNING : EXIT_GENERIC;
}

/* Whether spec (supervisorctl's: "x", "g:x", "g:*", "g:") names p. */
static bool
names(const char *spec, const struct proc *p)
{
	const char *colon = strchr(spec, ':'), *name, *group;
	size_t glen = colon ? (size_t)(colon - spec) : strlen(spec);

	prog_names(p, &name, &group);
	if (strlen(group) != glen || strncmp(group, spec, glen))
		return false;
	if (!colon)
		return !strcmp(name, spec);
	return !colon[1] || !strcmp(colon + 1, "*") ||
	    !strcmp(colon + 1, name);
}

/*
 * One mark a process, in prog_at's order: a process named twice is
 * shown or signalled once, so that the work of a request grows with its
 * names plus the processes, not their product.
 */
static unsigned char *
marks(struct buf *b)
{
	unsigned char *m;

	buf_init(b, 0);
	if ((m = (unsigned char *)buf_room(b, prog_count() + 1)) != NULL)
		memset(m, 0, prog_count() + 1);
	return m;
}

static bool
strmatch_any(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static void
cmd_status(struct job *j)
{
	struct prog_info in;
	struct proc *p;
	size_t i, width = 30;
	char ns[300];
	int a;
	bool all = j->argc == 0;
	struct buf mb;
	unsigned char *shown;

	for (a = 0; a < j->argc; a++)
		all |= !strcmp(j->argv[a], "all");
	for (a = 0; !all && a < j->argc; a++) {
		for (i = 0; (p = prog_at(i)) != NULL; i++)
			if (names(j->argv[a], p))
				break;
		if (p)
			continue;
		if (strchr(j->argv[a], ':') && (j->argv[a][strlen(j->argv[a]) -
		    1] == ':' || !strcmp(strchr(j->argv[a], ':'), ":*")))
			buf_printf(j->out, "%.*s: ERROR (no such group)\n",
			    (int)strcspn(j->argv[a], ":"), j->argv[a]);
		else
			buf_printf(j->out, "%s: ERROR (no such process)\n",
			    j->argv[a]);
		j->status = EXIT_UNKNOWN;
	}
	for (i = 0; (p = prog_at(i)) != NULL; i++) {
		const char *name, *group;
		size_t len;

		prog_names(p, &name, &group);
		len = strlen(namespec(group, name, ns, sizeof(ns)));
		width = len > width ? len : width;
	}
	if (!(shown = marks(&mb))) {
		buf_puts(j->out, "Error: out of memory\n");
		j->status = EXIT_GENERIC;
		return;
	}
	/* rows in the order of the names asked, as supervisorctl shows them */
	for (a = 0; a < (all ? 1 : j->argc); a++) {
		for (i = 0; (p = prog_at(i)) != NULL; i++) {
			if (shown[i] || (!all && !names(j->argv[a], p)))
				continue;
			shown[i] = 1;
			prog_info(p, &in);
			buf_printf(j->out, "%-*s%-10s%s\n", (int)width + 3,
			    namespec(in.group, in.name, ns, sizeof(ns)),
			    prog_state_name(in.state), in.description);
			if (in.state == STATE_STOPPED || in.state == STATE_EXITED ||
			    in.state == STATE_FATAL || in.state == STATE_UNKNOWN)
				j->status = EXIT_STOPPED;
		}
	}
	buf_free(&mb);
}

/* supervisorctl's _startresult and _stopresult in one table. */
static void
print_result(struct job *j, const struct op_item *it, bool start)
{
	static const struct { int code; const char *start, *stop; } words[] = {
		{ RESULT_BAD_NAME, "no such process", "no such process" },
		{ RESULT_NO_FILE, "no such file", NULL },
		{ RESULT_NOT_EXECUTABLE, "file is not executable", NULL },
		{ RESULT_ALREADY_STARTED, "already started", NULL },
		{ RESULT_SPAWN_ERROR, "spawn error", NULL },
		{ RESULT_ABNORMAL_TERMINATION, "abnormal termination", NULL },
		{ RESULT_NOT_RUNNING, NULL, "not running" },
	};
	char ns[300];
	const char *spec = namespec(it->group, it->name, ns, sizeof(ns));
	size_t i;

	if (it->result == RESULT_SUCCESS) {
		buf_printf(j->out, "%s: %s\n", spec, start ? "started" :
		    "stopped");
		return;
	}
	if (it->result == RESULT_BAD_NAME && !it->single) {
		buf_printf(j->out, "%s: ERROR (no such group)\n", it->group);
		return;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		const char *w = start ? words[i].start : words[i].stop;

		if (words[i].code == it->result && w) {
			buf_printf(j->out, "%s: ERROR (%s)\n", spec, w);
			return;
		}
	}
	buf_printf(j->out, "%s\n", it->message);	/* FAILED: its text */
}

/*
 * A start, stop or restart has ended: one line per process, as
 * supervisorctl prints them; a restart's stops first, then its starts.
 */
static void
op_lines(struct job *j, const struct prog_op *op)
{
	int ignored = op->kind == OP_STOP ? RESULT_NOT_RUNNING :
	    RESULT_ALREADY_STARTED;
	size_t i;

	for (i = 0; op->kind == OP_RESTART && i < op->n; i++) {
		struct op_item stopped = op->items[i];

		if (stopped.not_running && !stopped.single)
			continue;	/* stopAllProcesses shows running ones */
		if (stopped.result != RESULT_BAD_NAME)
			stopped.result = stopped.not_running ?
			    RESULT_NOT_RUNNING : RESULT_SUCCESS;
		print_result(j, &stopped, false);
	}
	for (i = 0; i < op->n; i++) {
		const struct op_item *it = &op->items[i];

		print_result(j, it, op->kind != OP_STOP);
		/* a bad group: 2 for start, as supervisorctl */
		if (it->result == RESULT_BAD_NAME && !it->single &&
		    op->kind == OP_START)
			j->status = EXIT_INVALID;
		else
			status_from(j, it->result, ignored);
	}
}

static void
cmd_pid(struct job *j)
{
	struct prog_info in;
	struct tend_status st;
	struct proc *p;
	size_t i;
	int a;

	if (j->argc == 0) {
		tend_status(&st);
		buf_printf(j->out, "%d\n", (int)st.pid);
		return;
	}
	for (a = 0; a < j->argc; a++) {
		bool all = !strcmp(j->argv[a], "all");

		if (!all && !(p = prog_find(j->argv[a], false))) {
			buf_printf(j->out, "No such process %s\n", j->argv[a]);
			j->status = EXIT_GENERIC;
			continue;
		}
		for (i = 0; all ? (p = prog_at(i)) != NULL : i < 1; i++) {
			prog_info(p, &in);
			buf_printf(j->out, "%d\n", (int)in.pid);
			if (!all && !in.pid)
				j->status = EXIT_NOT_RUNNING;
		}
		if (all)
			return;
	}
}

static void
cmd_signal(struct job *j)
{
	struct prog_info in;
	struct proc *p;
	char ns[300], message[192];
	size_t i;
	int a, sig;
	struct buf mb;
	unsigned char *signalled;

	if (j->argc < 2) {
		buf_puts(j->out, "Error: signal requires a signal name and a "
		    "process name\n");
		j->status = EXIT_GENERIC;
		return;
	}
	sig = strcmp(j->argv[0], "0") ? sig_parse(j->argv[0]) : 0;
	if (!(signalled = marks(&mb))) {
		buf_puts(j->out, "Error: out of memory\n");
		j->status = EXIT_GENERIC;
		return;
	}
	for (a = 1; a < j->argc; a++) {
		bool all = !strcmp(j->argv[a], "all"), group = strchr(j->argv[a],
		    ':') && (!strchr(j->argv[a], ':')[1] ||
		    !strcmp(strchr(j->argv[a], ':'), ":*")), found = false;

		for (i = 0; (p = prog_at(i)) != NULL; i++) {
			int result;
			const char *spec;

			if (!all && !names(j->argv[a], p))
				continue;
			found = true;
			if (signalled[i])
				continue;
			prog_info(p, &in);
			/* groups and all: only what runs, as supervisord; a
			 * name of its own still answers for the rest */
			if ((all || group) && in.state != STATE_RUNNING &&
			    in.state != STATE_STARTING && in.state != STATE_BACKOFF)
				continue;
			signalled[i] = 1;
			spec = namespec(in.group, in.name, ns, sizeof(ns));
			result = sig < 0 || sig > SIG_MAX ? RESULT_BAD_SIGNAL :
			    prog_signal(p, sig, message, sizeof(message));
			if (result == RESULT_SUCCESS)
				buf_printf(j->out, "%s: signalled\n", spec);
			else
				buf_printf(j->out, "%s: ERROR (%s)\n", spec, result ==
				    RESULT_BAD_SIGNAL ? "bad signal name" :
				    result == RESULT_NOT_RUNNING ? "not running" :
				    message);
			status_from(j, result, 0);
		}
		if (!found) {
			buf_printf(j->out, group ? "%.*s: ERROR (no such group)\n" :
			    "%.*s: ERROR (no such process)\n", group ?
			    (int)strcspn(j->argv[a], ":") : (int)strlen(j->argv[a]),
			    j->argv[a]);
			j->status = EXIT_GENERIC;
		}
		if (all)
			break;
	}
	buf_free(&mb);
}

static void
cmd_avail(struct job *j)
{
	const struct config *c = prog_pending();
	char ns[300], prio[48];
	size_t i;

	for (i = 0; i < c->nprograms; i++) {
		const struct program *p = &c->programs[i];

		if (p->is_main)
			continue;
		fmt_snprintf(prio, sizeof(prio), "%ld:%ld", p->group_priority,
		    p->priority);
		buf_printf(j->out, "%-32s %-9s %-9s %s\n", namespec(p->group,
		    p->name, ns, sizeof(ns)), prog_group_exists(p->group) ?
		    "in use" : "avail", p->autostart ? "auto" : "manual", prio);
	}
}

/* The configuration again; NULL (the errors printed) when it has some. */
static struct config *
reread(struct job *j, struct prog_diff *d)
{
	struct config *c;
	int errors;

	if (prog_shutting_down()) {
		buf_puts(j->out, "ERROR: supervisor shutting down\n");
		j->status = EXIT_GENERIC;
		return NULL;
	}
	if (!(c = tend_reread(&errors)) || errors) {
		buf_printf(j->out, "ERROR: CANT_REREAD: %s", c ? c->report :
		    "out of memory\n");
		j->status = EXIT_GENERIC;
		conf_release(c);
		return NULL;
	}
	prog_reread(c, d);
	return c;
}

static void
list_changes(struct job *j, const struct prog_diff *d, bool applied)
{
	const char *const *lists[3] = { d->removed, d->changed, d->added };
	const size_t counts[3] = { d->nremoved, d->nchanged, d->nadded };
	static const char *const reread_words[3] = { "disappeared", "changed",
	    "available" };
	static const char *const update_words[3] = { "removed process group",
	    "updated process group", "added process group" };
	const char *last = "";
	size_t i;
	int k, any = 0;

	if (applied) {
		/* as supervisorctl's update: removed, changed, then added */
		for (k = 0; k < 3; k++)
			for (i = 0; i < counts[k]; i++)
				if (!j->argc || strmatch_any((const char *const *)
				    j->argv, (size_t)j->argc, lists[k][i]))
					buf_printf(j->out, "%s: %s\n",
					    lists[k][i], update_words[k]);
		return;
	}
	/* reread's lines: every name once, sorted */
	for (;;) {
		const char *best = NULL;
		int bk = 0;

		for (k = 0; k < 3; k++)
			for (i = 0; i < counts[k]; i++)
				if (strcmp(lists[k][i], last) > 0 && (!best ||
				    strcmp(lists[k][i], best) < 0))
					best = lists[k][i], bk = k;
		if (!best)
			break;
		buf_printf(j->out, "%s: %s\n", best, reread_words[bk]);
		last = best;
		any = 1;
	}
	if (!any)
		buf_puts(j->out, "No config updates to processes\n");
}

static void
cmd_reread(struct job *j)
{
	struct prog_diff d;

	if (reread(j, &d))
		list_changes(j, &d, false);
}

/*
 * update and reload: every change, process by process; those whose
 * process is the same keep running, untouched. Group names limit it.
 */
static void
cmd_update(struct job *j)
{
	struct prog_diff d;
	struct config *c;
	int a;

	if (!(c = reread(j, &d)))
		return;
	for (a = 0; a < j->argc; a++) {
		if (!strcmp(j->argv[a], "all")) {
			j->argc = 0;
			break;
		}
		if (!prog_group_exists(j->argv[a]) && !strmatch_any(d.added,
		    d.nadded, j->argv[a])) {
			buf_printf(j->out, "ERROR: no such group: %s\n", j->argv[a]);
			j->status = EXIT_GENERIC;
		}
	}
	list_changes(j, &d, true);
	tend_apply(c, j->argc ? (const char *const *)j->argv : NULL,
	    (size_t)j->argc);
}

static void
cmd_reload(struct job *j)
{
	struct prog_diff d;
	struct config *c;

	if (!(c = reread(j, &d)))
		return;
	tend_apply(c, NULL, 0);
	buf_puts(j->out, "Reloaded tend's configuration\n");
}

static void
cmd_shutdown(struct job *j)
{
	if (prog_shutting_down()) {
		buf_puts(j->out, "ERROR: already shutting down\n");
		return;
	}
	prog_request_shutdown();
	buf_puts(j->out, "Shut down\n");
}

static void
cmd_version(struct job *j)
{
	buf_puts(j->out, TEND_VERSION "\n");
}

/* tail [-BYTES] NAME [stdout|stderr]: the end of a log file (-f: client). */
static void
cmd_tail(struct job *j)
{
	const char *name, *channel = "stdout";
	unsigned long long n = 1600;
	const struct log_target *t;
	struct prog_info in;
	struct proc *p;
	struct stat st;
	int a = 0, fd;

	if (j->argc < 1 || j->argc > 3) {
		buf_printf(j->out, "Error: too %s arguments\n", j->argc < 1 ?
		    "few" : "many");
		j->status = EXIT_GENERIC;
		return;
	}
	if (j->argv[0][0] == '-') {
		const char *q = j->argv[a++] + 1;

		if (val_digits(&q, 10, 1ULL << 30, &n) < 0 || *q) {
			buf_printf(j->out, "Error: bad argument %s\n", j->argv[0]);
			j->status = EXIT_GENERIC;
			return;
		}
	}
	if (a >= j->argc) {
		buf_puts(j->out, "Error: tail requires process name\n");
		j->status = EXIT_GENERIC;
		return;
	}
	name = j->argv[a];
	if (j->argc - a > 1 && strcmp(channel = j->argv[j->argc - 1],
	    "stdout") && strcmp(channel, "stderr")) {
		buf_printf(j->out, "Error: bad channel '%s'\n", channel);
		j->status = EXIT_GENERIC;
		return;
	}
	j->status = EXIT_GENERIC;
	if (!(p = prog_find(name, false))) {
		buf_printf(j->out, "%s: ERROR (no such process name)\n", name);
		return;
	}
	prog_info(p, &in);
	t = !strcmp(channel, "stderr") ? &in.conf->err : &in.conf->out;
	if (t->kind != LOG_FILE || (fd = open(t->path, O_RDONLY |
	    O_CLOEXEC)) < 0) {
		buf_printf(j->out, "%s: ERROR (no log file)\n", name);
		return;
	}
	if (fstat(fd, &st) == 0) {
		long long off = st.st_size > (long long)n ? st.st_size -
		    (long long)n : 0;
		char *o = buf_room(j->out, (size_t)(st.st_size - off) + 1);
		ssize_t got = o ? pread(fd, o, (size_t)(st.st_size - off),
		    off) : -1;

		if (got >= 0) {
			j->out->len += (size_t)got;
			buf_puts(j->out, "\n");
			j->status = EXIT_OK;
		}
	}
	close(fd);
}

static void op_done(struct prog_op *op);

/* start, stop, restart: every name, group or all, as one operation. */
static struct prog_op *
cmd_op(struct job *j, enum op_kind kind, struct conn *c)
{
	static const char *const verbs[] = { "start", "stop", "restart" };
	static const char *const all[] = { "all" };
	struct prog_op *op;
	int a, result;

	if (j->argc == 0) {
		buf_printf(j->out, "Error: %s requires a process name\n",
		    verbs[kind]);
		j->status = kind == OP_START ? EXIT_INVALID : EXIT_GENERIC;
		return NULL;
	}
	for (a = 0; a < j->argc && strcmp(j->argv[a], "all"); a++)
		;
	op = a < j->argc ? prog_op_start(kind, all, 1, false, op_done, c,
	    &result) : prog_op_start(kind, (const char *const *)j->argv,
	    (size_t)j->argc, false, op_done, c, &result);
	if (op)
		return op;
	buf_puts(j->out, result == RESULT_SHUTDOWN_STATE ? "ERROR: supervisor "
	    "shutting down\n" : "ERROR: out of memory\n");
	j->status = EXIT_GENERIC;
	return NULL;
}

static void
send_job(struct conn *c, const struct job *j)
{
	char line[32];

	fmt_snprintf(line, sizeof(line), "X-Tend-Exit: %d", j->status);
	http_header(c, line);
	http_send(c, 200, "text/plain; charset=utf-8");
}

static void
op_done(struct prog_op *op)
{
	struct conn *c = http_unpark(op);
	struct job j = { .out = http_body(c) };

	op_lines(&j, op);
	prog_op_free(op);
	send_job(c, &j);
}

static const struct command {
	const char *name;
	void (*run)(struct job *j);
	signed char op;			/* enum op_kind, or -1 */
	bool act;			/* changes something */
} commands[] = {
	{ "status", cmd_status, -1, false },
	{ "start", NULL, OP_START, true },
	{ "stop", NULL, OP_STOP, true },
	{ "restart", NULL, OP_RESTART, true },
	{ "signal", cmd_signal, -1, true },
	{ "pid", cmd_pid, -1, false },
	{ "avail", cmd_avail, -1, false },
	{ "reread", cmd_reread, -1, true },
	{ "update", cmd_update, -1, true },
	{ "reload", cmd_reload, -1, true },
	{ "shutdown", cmd_shutdown, -1, true },
	{ "version", cmd_version, -1, false },
	{ "tail", cmd_tail, -1, false },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* One command, with the arguments after its name. */
static void
run_command(struct conn *c, const struct http_request *r, struct job *j,
    const char *name)
{
	struct prog_op *op;
	size_t i;

	for (i = 0; i < NCOMMANDS && strcmp(commands[i].name, name); i++)
		;
	if (i < NCOMMANDS && commands[i].act && !r->may_act) {
		http_header(c, "WWW-Authenticate: Basic realm=\"tend\"");
		http_error(c, 401, "this command needs credentials");
		return;
	}
	j->out = http_body(c);
	if (i == NCOMMANDS) {
		buf_printf(j->out, "*** Unknown syntax: %s\n", name);
		j->status = EXIT_GENERIC;
	} else if (commands[i].op < 0) {
		commands[i].run(j);
	} else if ((op = cmd_op(j, (enum op_kind)commands[i].op, c))) {
		/* the lines come with op_done, once every process got there */
		http_park(c, op);
		return;
	}
	send_job(c, j);
}

/*
 * POST /ctl: the words of the command line, each NUL-terminated, as
 * many as the body holds; the answer is the lines and X-Tend-Exit.
 */
void
ctl_handle(struct conn *c, const struct http_request *r)
{
	char *p = (char *)r->body, *end = p + r->body_len, **argv;
	struct job j = { 0 };
	struct buf words;
	size_t i, n = 0;

	for (i = 0; i < r->body_len; i++)
		n += !p[i];
	if (n > CTL_ARGS_MAX) {
		http_error(c, 400, "too many arguments");
		return;
	}
	buf_init(&words, 0);
	if (!n || end[-1] || !(argv = (char **)(void *)buf_room(&words,
	    n * sizeof(*argv)))) {
		buf_free(&words);
		http_error(c, 400, "expected NUL-terminated arguments");
		return;
	}
	for (n = 0; p < end; p += strlen(p) + 1)
		argv[n++] = p;
	j.argv = argv + 1;
	j.argc = (int)n - 1;
	run_command(c, r, &j, argv[0]);
	buf_free(&words);
}

/* ---- the client ------------------------------------------------------------------ */

static struct {
	const char *where;		/* for messages: the socket or URL */
	struct inet_addr tcp;		/* when the server is a TCP port */
	char path[108];			/* else the socket */
	char auth[512];			/* "Authorization: Basic ...\r\n", or "" */
} cl;

static _Noreturn void die(int status, const char *fmt, ...) PRINTF(2, 3);

static void
die(int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg) - 1)
		n = (int)sizeof(msg) - 2;
	msg[n] = '\n';
	(void)write_all(STDERR_FILENO, "tend ctl: ", 10);
	(void)write_all(STDERR_FILENO, msg, (size_t)n + 1);
	exit(status);
}

/* One request; the connection to read the reply from, or -1. */
static int
send_request(const char *method, const char *path, const char *body,
    size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char head[1024];
	int fd, n;

	memcpy(sa.sun_path, cl.path, sizeof(sa.sun_path));
	fd = socket(cl.tcp.len ? cl.tcp.u.sa.sa_family : AF_UNIX,
	    SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, cl.tcp.len ? &cl.tcp.u.sa :
	    (struct sockaddr *)&sa, cl.tcp.len ? cl.tcp.len :
	    (socklen_t)sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = fmt_snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: tend\r\n"
	    "%sContent-Length: %zu\r\nConnection: close\r\n\r\n", method, path,
	    cl.auth, len);
	/* a server that stops reading may still have answered: read that */
	if ((write_all(fd, head, (size_t)n) < 0 || write_all(fd, body,
	    len) < 0) && errno != EPIPE) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The blank line that ends a head, or NULL. */
static char *
head_end(char *p, size_t len)
{
	char *end;

	if (!p)			/* nothing read yet */
		return NULL;
	for (end = p + len; end - p >= 4; p++)
		if (!memcmp(p, "\r\n\r\n", 4))
			return p;
	return NULL;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 32) >= 'a' && (c | 32) <= 'f')
		return (c | 32) - 'a' + 10;
	return -1;
}

/*
 * The reply: its body to stdout, chunk by chunk when it is chunked (a
 * tail -f goes on until tend ends it). Returns the HTTP status, with
 * X-Tend-Exit in *exit_status, or -1. Without refusals, the body of
 * an answer other than 200 is not printed.
 */
static int
print_reply(int fd, int *exit_status, bool refusals)
{
	struct buf b;
	char *end = NULL, *h, *p;
	bool chunked;
	size_t at;
	int status;

	buf_init(&b, 0);
	*exit_status = -1;
	while (!(end = head_end(b.data, b.len))) {
		char *room = buf_room(&b, 4097);
		ssize_t n = room ? read(fd, room, 4096) : -1;

		if (n <= 0) {
			buf_free(&b);
			return -1;
		}
		b.len += (size_t)n;
		b.data[b.len] = '\0';
	}
	*end = '\0';
	{
		const char *q = b.data + 9;
		unsigned long long x;

		status = strncmp(b.data, "HTTP/1.", 7) || val_digits(&q, 10, 999,
		    &x) < 0 ? -1 : (int)x;
	}
	chunked = false;
	for (h = strchr(b.data, '\r'); h && h[1] == '\n'; h = strchr(h + 2,
	    '\r')) {
		const char *v = strchr(h + 2, ':');
		unsigned long long x;

		if (!v)
			break;
		for (v++; *v == ' '; v++)
			;
		if (!strncasecmp(h + 2, "x-tend-exit:", 12) &&
		    val_digits(&v, 10, 255, &x) == 0)
			*exit_status = (int)x;
		else if (!strncasecmp(h + 2, "transfer-encoding:", 18))
			chunked = true;
	}
	at = (size_t)(end + 4 - b.data);
	/* a refusal's body is for a browser: the client says it in a line */
	if (status == 401 || (status != 200 && !refusals))
		goto done;
	for (;;) {
		/* everything that came, through the chunk framing if any */
		while (chunked && at < b.len) {
			unsigned long size = 0;
			char *nl = memchr(b.data + at, '\n', b.len - at);

			if (!nl)
				break;
			for (p = b.data + at; hex_value(*p) >= 0 && size < 1UL << 28;
			    p++)
				size = size * 16 + (unsigned long)hex_value(*p);
			if (size == 0)
				goto done;	/* the last chunk */
			if (b.len - (size_t)(nl + 1 - b.data) < size + 2)
				break;
			(void)write_all(STDOUT_FILENO, nl + 1, size);
			at = (size_t)(nl + 1 - b.data) + size + 2;
		}
		if (!chunked) {
			(void)write_all(STDOUT_FILENO, b.data + at, b.len - at);
			at = b.len;
		}
		memmove(b.data, b.data + at, b.len - at);
		b.len -= at;
		at = 0;
		{
			char *room = buf_room(&b, 4097);
			ssize_t n = room ? read(fd, room, 4096) : -1;

			if (n <= 0)
				break;
			b.len += (size_t)n;
		}
	}
done:
	buf_free(&b);
	return status;
}

/* "Authorization: Basic base64(user:password)\r\n" for every request. */
static void
set_credentials(const char *user, const char *password)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char plain[256], *o = cl.auth;
	size_t n, i;

	n = (size_t)fmt_snprintf(plain, sizeof(plain), "%s:%s", user, password);
	if (n >= sizeof(plain))
		die(EXIT_INVALID, "the credentials are too long");
	o += fmt_snprintf(o, sizeof(cl.auth), "Authorization: Basic ");
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)plain[i] << 16 |
		    (i + 1 < n ? (unsigned)(unsigned char)plain[i + 1] << 8 : 0) |
		    (i + 2 < n ? (unsigned char)plain[i + 2] : 0);

		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? alphabet[v & 63] : '=';
	}
	memcpy(o, "\r\n", 3);
}

/* -s, $TEND_CONTROL_SOCKET, the configuration's, or the default. */
static void
find_server(const char *s, const char *file)
{
	struct conf_request req = { .file = file, .grace_ms = -1, .stop_fd = -1,
	    .settings_only = true };
	const char *user = NULL, *password = NULL;
	struct config *c;
	int errors;

	if (!s)
		s = getenv("TEND_CONTROL_SOCKET");
	if (!s || file) {
		log_set_level(LOG_ERROR);
		if ((c = conf_load(&req, &errors)) != NULL && !errors) {
			if (!s)
				s = c->ctl_serverurl ? c->ctl_serverurl :
				    c->socket_path;
			user = c->ctl_username ? c->ctl_username :
			    c->socket_username;
			password = c->ctl_password ? c->ctl_password :
			    c->socket_password;
		}
	}
	if (!s)
		s = DEFAULT_CONTROL_SOCKET;
	if (!strcasecmp(s, "none"))
		die(EXIT_GENERIC, "the control socket is disabled (none): name "
		    "one with -s");
	cl.where = s;
	if (!strncmp(s, "unix://", 7))
		s += 7;
	if (!strncmp(s, "http://", 7)) {
		const char *err;

		if (val_inet(s + 7, false, &cl.tcp, &err) < 0)
			die(EXIT_INVALID, "-s %s: %s", cl.where, err);
	} else if (strlen(s) >= sizeof(cl.path)) {
		die(EXIT_INVALID, "%s: too long for a socket path", s);
	} else {
		memcpy(cl.path, s, strlen(s) + 1);
	}
	if (!cl.auth[0] && user && password)
		set_credentials(user, password);
}

static const char ctl_usage[] =
"usage: tend ctl [-s SOCKET|URL] [-c FILE] [-u USER] [-p PASSWORD] COMMAND [ARG...]\n"
"\n"
"  status [NAME|GROUP:*]...           start|stop|restart NAME|GROUP:*|all...\n"
"  signal SIG NAME|GROUP:*|all...     pid [NAME|all]\n"
"  avail  reread  update [GROUP...]  reload  shutdown  version\n"
"  tail [-f] [-BYTES] NAME [stdout|stderr]\n"
"  health  ready                      exit 0 when tend is healthy, or ready\n";

/*
 * What is not a command of the server: tail -f streams /logtail, health
 * and ready read their endpoints. NULL when the server runs it.
 */
static const char *
client_path(int argc, char **argv, char *buf, size_t len)
{
	int a = 1;

	if (!strcmp(argv[0], "health"))
		return "/healthz";
	if (!strcmp(argv[0], "ready"))
		return "/readyz";
	if (strcmp(argv[0], "tail") || argc < 3 || strcmp(argv[1], "-f"))
		return NULL;
	if (argc > 4)
		die(EXIT_GENERIC, "Error: too many arguments");
	if (argc == 4 && strcmp(argv[3], "stdout") && strcmp(argv[3], "stderr"))
		die(EXIT_GENERIC, "Error: bad channel '%s'", argv[3]);
	/* a name may hold what a path may not: percent-encoded */
	{
		static const char hex[] = "0123456789ABCDEF";
		const char *s = argv[a + 1];
		size_t n = (size_t)fmt_snprintf(buf, len, "/logtail/");

		for (; *s && n + 4 < len; s++) {
			if (strchr("-._~:", *s) || (*s >= '0' && *s <= '9') ||
			    ((*s | 32) >= 'a' && (*s | 32) <= 'z')) {
				buf[n++] = *s;
				continue;
			}
			buf[n++] = '%';
			buf[n++] = hex[(unsigned char)*s >> 4];
			buf[n++] = hex[*s & 15];
		}
		fmt_snprintf(buf + n, len - n, "/%s", argc > 3 ? argv[argc - 1] :
		    "stdout");
	}
	write_all(STDOUT_FILENO, "==> Press Ctrl-C to exit <==\n", 29);
	return buf;
}

int
ctl_main(int argc, char **argv)
{
	const char *socket = NULL, *file = NULL, *user = NULL, *password = NULL;
	const char *path;
	char pathbuf[512];
	struct buf body;
	int a = 1, fd, status, exit_status;

	for (; a < argc && argv[a][0] == '-' && argv[a][1]; a++) {
		const char **slot = !strcmp(argv[a], "-s") ? &socket :
		    !strcmp(argv[a], "-c") ? &file : !strcmp(argv[a], "-u") ?
		    &user : !strcmp(argv[a], "-p") ? &password : NULL;

		if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			write_all(STDOUT_FILENO, ctl_usage, sizeof(ctl_usage) - 1);
			return EXIT_OK;
		}
		if (!slot)
			die(EXIT_INVALID, "unknown option '%s' (see 'tend ctl "
			    "--help')", argv[a]);
		if (++a >= argc)
			die(EXIT_INVALID, "option '%s' needs a value", argv[a - 1]);
		*slot = argv[a];
	}
	if (a >= argc)
		die(EXIT_INVALID, "a command is needed (see 'tend ctl --help')");
	/* a server that stops reading must not kill the client */
	signal(SIGPIPE, SIG_IGN);
	if (user && password)
		set_credentials(user, password);
	find_server(socket, file);
	argv += a;
	argc -= a;
	if (argc > CTL_ARGS_MAX)
		die(EXIT_INVALID, "at most %d words after the options",
		    CTL_ARGS_MAX);
	path = client_path(argc, argv, pathbuf, sizeof(pathbuf));
	buf_init(&body, 0);
	for (a = 0; !path && a < argc; a++)
		buf_put(&body, argv[a], strlen(argv[a]) + 1);
	if (body.failed)
		die(EXIT_INVALID, "the arguments are too long");
	fd = send_request(path ? "GET" : "POST", path ? path : "/ctl",
	    body.data, body.len);
	if (fd < 0)
		die(!strcmp(argv[0], "status") ? EXIT_UNKNOWN : EXIT_GENERIC,
		    "cannot connect to %s: %s", cl.where, strerror(errno));
	/* health and ready say why they are not; tail -f's 404 is a line */
	status = print_reply(fd, &exit_status, !path ||
	    strcmp(argv[0], "tail"));
	close(fd);
	if (status < 0)
		die(EXIT_GENERIC, "%s closed the connection without an answer",
		    cl.where);
	if (status == 401)
		die(EXIT_GENERIC, "%s requires authentication (-u and -p, or "
		    "[supervisorctl] username and password)", cl.where);
	if (path && !strcmp(argv[0], "tail")) {
		if (status != 200)
			die(EXIT_GENERIC, "%s: ERROR (no such process or no log "
			    "file)", argv[2]);
		return EXIT_OK;
	}
	if (path)
		return status == 200 ? EXIT_OK : EXIT_GENERIC;
	if (status != 200 || exit_status < 0)
		die(EXIT_GENERIC, "%s did not answer as tend does (HTTP %d)",
		    cl.where, status);
	return exit_status;
}
