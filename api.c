/*
 * api.c: the JSON API under /api/v1/, the health endpoints (/livez,
 * /readyz, /healthz) and the Prometheus metrics (/metrics). Each route
 * maps a request to a call of prog.c or init.c and renders the answer
 * straight into the reply; the state machine stays where it is.
 *
 *   GET  /api/v1/programs              every process
 *   GET  /api/v1/programs/NAME         one (NAME, GROUP:NAME)
 *   POST /api/v1/programs/NAME/start   also stop, restart; NAME may
 *   POST /api/v1/programs/NAME/signal/SIG   be GROUP:*, GROUP or all
 *   POST /api/v1/reload                apply what changed in the file
 *   POST /api/v1/shutdown
 *   GET  /api/v1/tend                  tend itself
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fmt.h"
#include "http.h"
#include "init.h"
#include "log.h"
#include "mem.h"
#include "output.h"
#include "proc.h"
#include "prog.h"
#include "sig.h"

#define JSON "application/json"

static void json_error(struct conn *c, int status, const char *fmt, ...)
    PRINTF(3, 4);

static void
json_error(struct conn *c, int status, const char *fmt, ...)
{
	struct buf *b = http_body(c);
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_puts(b, "{\"error\":");
	buf_json(b, msg);
	buf_puts(b, "}\n");
	http_send(c, status, JSON);
}

static void
put_program(struct buf *b, const struct proc *p)
{
	struct prog_info in;

	prog_info(p, &in);
	buf_puts(b, "{\"name\":");
	buf_json(b, in.name);
	buf_puts(b, ",\"group\":");
	buf_json(b, in.group);
	buf_printf(b, ",\"state\":\"%s\",\"pid\":%d,\"start_time\":%lld,"
	    "\"uptime\":%lld,\"exit_status\":", prog_state_name(in.state),
	    (int)in.pid, in.start, in.uptime_ms / 1000);
	if (in.status >= 0)
		buf_printf(b, "%d", in.status);
	else
		buf_puts(b, "null");
	buf_printf(b, ",\"restarts\":%lu,\"critical\":%s,\"ready\":%s,"
	    "\"description\":", in.restarts, in.conf->critical ? "true" :
	    "false", in.ready ? "true" : "false");
	buf_json(b, in.description);
	buf_puts(b, ",\"logfile\":");
	buf_json(b, in.conf->out.kind == LOG_FILE ? in.conf->out.path : NULL);
	buf_puts(b, ",\"stderr_logfile\":");
	buf_json(b, in.conf->err.kind == LOG_FILE ? in.conf->err.path : NULL);
	buf_puts(b, "}");
}

static void
list_programs(struct conn *c)
{
	struct buf *b = http_body(c);
	struct proc *p;
	size_t i;

	buf_puts(b, "{\"programs\":[");
	for (i = 0; (p = prog_at(i)) != NULL; i++) {
		if (i)
			buf_puts(b, ",");
		put_program(b, p);
	}
	buf_puts(b, "]}\n");
	http_send(c, 200, JSON);
}

/* The HTTP status a result calls for, when only one process was asked. */
static int
status_of(int result)
{
	switch (result) {
	case RESULT_SUCCESS: return 200;
	case RESULT_BAD_NAME: return 404;
	case RESULT_BAD_SIGNAL: return 400;
	case RESULT_ALREADY_STARTED: case RESULT_NOT_RUNNING: return 409;
	case RESULT_SHUTDOWN_STATE: return 503;
	}
	return 500;
}

static void
put_result(struct buf *b, const char *name, const char *group, int result,
    const char *message)
{
	buf_puts(b, "{\"name\":");
	buf_json(b, name);
	buf_puts(b, ",\"group\":");
	buf_json(b, group);
	buf_printf(b, ",\"ok\":%s,\"result\":\"%s\",\"error\":",
	    result == RESULT_SUCCESS ? "true" : "false",
	    prog_result_name(result));
	buf_json(b, result == RESULT_SUCCESS ? NULL : message);
	buf_puts(b, "}");
}

/* An operation has ended: its results, one per process. */
static void
op_done(struct prog_op *op)
{
	struct conn *c = http_unpark(op);
	struct buf *b = http_body(c);
	int status = 200;
	size_t i;

	buf_puts(b, "{\"results\":[");
	for (i = 0; i < op->n; i++) {
		const struct op_item *it = &op->items[i];

		if (i)
			buf_puts(b, ",");
		put_result(b, it->name, it->group, it->result, it->message);
		if (it->result != RESULT_SUCCESS && op->n == 1)
			status = status_of(it->result);
	}
	buf_puts(b, "]}\n");
	prog_op_free(op);
	http_send(c, status, JSON);
}

static void
signal_programs(struct conn *c, const char *spec, const char *signame)
{
	int sig = sig_parse(signame), n = 0, result = 0;
	struct buf *b;
	struct proc *p;
	size_t i;
	char message[192];

	if (sig < 0 || sig > SIG_MAX) {
		json_error(c, 400, "no signal named %s", signame);
		return;
	}
	b = http_body(c);
	buf_puts(b, "{\"results\":[");
	/* the processes spec names, as prog_op_start reads it */
	for (i = 0; (p = prog_at(i)) != NULL; i++) {
		struct prog_info in;
		const char *colon = strchr(spec, ':');

		prog_info(p, &in);
		if (strcmp(spec, "all") && (colon ? (strncmp(spec, in.group,
		    (size_t)(colon - spec)) || in.group[colon - spec] ||
		    (strcmp(colon + 1, "*") && strcmp(colon + 1, in.name))) :
		    (strcmp(spec, in.name) && strcmp(spec, in.group))))
			continue;
		message[0] = '\0';
		result = prog_signal(p, sig, message, sizeof(message));
		if (n++)
			buf_puts(b, ",");
		put_result(b, in.name, in.group, result, message);
	}
	buf_puts(b, "]}\n");
	if (!n) {
		buf_free(b);
		json_error(c, 404, "no such process or group: %s", spec);
		return;
	}
	http_send(c, n == 1 ? status_of(result) : 200, JSON);
}

static void
act(struct conn *c, const char *spec, const char *verb)
{
	static const struct { const char *verb; enum op_kind kind; } verbs[] = {
		{ "start", OP_START }, { "stop", OP_STOP },
		{ "restart", OP_RESTART },
	};
	struct prog_op *op;
	size_t i;
	int result;

	for (i = 0; i < 3 && strcmp(verbs[i].verb, verb); i++)
		;
	if (i == 3) {
		json_error(c, 404, "no such action: %s", verb);
		return;
	}
	if (!(op = prog_op_start(verbs[i].kind, &spec, 1, true, op_done, c,
	    &result))) {
		json_error(c, status_of(result), "%s", prog_result_name(result));
		return;
	}
	/* the answer comes once every process has got where it was sent */
	http_park(c, op);
	(void)result;
}

static void
put_names(struct buf *b, const char *key, const char **names, size_t n)
{
	size_t i;

	buf_printf(b, ",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		if (i)
			buf_puts(b, ",");
		buf_json(b, names[i]);
	}
	buf_puts(b, "]");
}

static void
reload(struct conn *c)
{
	struct prog_diff diff;
	struct config *conf;
	struct buf *b;
	int errors;

	if (!(conf = tend_reread(&errors))) {
		json_error(c, 500, "%s", "out of memory");
		return;
	}
	b = http_body(c);
	if (errors) {
		buf_puts(b, "{\"error\":\"the configuration has errors; nothing "
		    "changed\",\"errors\":");
		buf_json(b, conf->report);
		buf_puts(b, "}\n");
		conf_release(conf);
		http_send(c, 422, JSON);
		return;
	}
	prog_reread(conf, &diff);
	buf_puts(b, "{\"result\":\"reloaded\"");
	put_names(b, "added", diff.added, diff.nadded);
	put_names(b, "changed", diff.changed, diff.nchanged);
	put_names(b, "removed", diff.removed, diff.nremoved);
	buf_puts(b, "}\n");
	/* the names live in conf: rendered before it is applied */
	tend_apply(conf, NULL, 0);
	http_send(c, 200, JSON);
}

static void
tend_info(struct conn *c, const struct http_request *r)
{
	struct tend_status st;
	struct buf *b = http_body(c);

	tend_status(&st);
	buf_printf(b, "{\"version\":\"%s\",\"pid\":%d,\"start_time\":%lld,"
	    "\"uptime\":%lld,\"phase\":\"%s\",\"config_file\":", TEND_VERSION,
	    (int)st.pid, st.started, st.uptime_ms / 1000, st.phase);
	buf_json(b, st.config_file);
	buf_printf(b, ",\"arena_bytes\":%zu,\"may_act\":%s}\n", arena_mapped(),
	    r->may_act ? "true" : "false");
	http_send(c, 200, JSON);
}

void
api_handle(struct conn *c, const struct http_request *r)
{
	bool post = !strcmp(r->method, "POST");
	char path[512], *rest, *spec, *verb;

	fmt_snprintf(path, sizeof(path), "%s", r->path + strlen("/api/v1/"));
	if (!strcmp(path, "tend") && !post)
		return tend_info(c, r);
	if (!strcmp(path, "programs"))
		return post ? json_error(c, 405, "%s", "POST to "
		    "/api/v1/programs/NAME/start, stop, restart or signal/SIG") :
		    list_programs(c);
	if (!strcmp(path, "reload") && post)
		return reload(c);
	if (!strcmp(path, "shutdown") && post) {
		prog_request_shutdown();
		buf_puts(http_body(c), "{\"result\":\"shutting down\"}\n");
		http_send(c, 202, JSON);
		return;
	}
	if (strncmp(path, "programs/", 9) != 0)
		return json_error(c, 404, "no such resource: %s", r->path);
	spec = path + 9;
	rest = strchr(spec, '/');
	if (rest)
		*rest++ = '\0';
	if (!post && !rest) {
		struct proc *p = prog_find(spec, true);
		struct buf *b;

		if (!p)
			return json_error(c, 404, "no such process: %s", spec);
		b = http_body(c);
		put_program(b, p);
		buf_puts(b, "\n");
		http_send(c, 200, JSON);
		return;
	}
	if (!post || !rest)
		return json_error(c, 405, "%s", "use POST for actions, GET to "
		    "read");
	verb = rest;
	if (!strncmp(verb, "signal/", 7))
		return signal_programs(c, spec, verb + 7);
	act(c, spec, verb);
}

/* ---- health ------------------------------------------------------------------ */

void
api_health(struct conn *c, const struct http_request *r)
{
	char why[512];
	bool ok;

	if (!strcmp(r->path, "/livez")) {
		buf_puts(http_body(c), "ok\n");
		http_send(c, 200, "text/plain; charset=utf-8");
		return;
	}
	ok = !strcmp(r->path, "/readyz") ? prog_ready_all(why, sizeof(why)) :
	    prog_healthy(why, sizeof(why));
	if (ok)
		buf_puts(http_body(c), "ok\n");
	else
		buf_printf(http_body(c), "not %s: %s\n", !strcmp(r->path,
		    "/readyz") ? "ready" : "healthy", why);
	http_send(c, ok ? 200 : 503, "text/plain; charset=utf-8");
}

/* ---- metrics ------------------------------------------------------------------ */

/* A label value: backslash, quote and newline escaped, as the format says. */
static void
put_label(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_put(b, "\\", 1);
		if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_put(b, s, 1);
	}
}

static void
put_labels(struct buf *b, const struct prog_info *in)
{
	buf_puts(b, "{program=\"");
	put_label(b, in->name);
	buf_puts(b, "\",group=\"");
	put_label(b, in->group);
	buf_puts(b, "\"");
}

static void
help(struct buf *b, const char *name, const char *type, const char *text)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* Resident memory and open descriptors, from /proc. */
static void
own_figures(long long *rss, int *fds)
{
	char buf[4096], *p;
	int fd, n;

	*rss = -1;
	*fds = -1;
	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) >= 0) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			unsigned long long pages;
			const char *q;

			buf[n] = '\0';
			q = strchr(buf, ' ');
			if (q && (q++, val_digits(&q, 10, 1ULL << 40, &pages) == 0))
				*rss = (long long)pages * getpagesize();
		}
	}
	if ((fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return;
	*fds = -1;		/* its own descriptor is not counted */
	while ((n = proc_getdents(fd, buf, sizeof(buf))) > 0)
		for (p = buf; p < buf + n; p += ((struct dirent *)p)->d_reclen)
			if (((struct dirent *)p)->d_name[0] != '.')
				(*fds)++;
	close(fd);
}

/* One block of per-process lines: name, type, help, and a value each. */
enum per_proc { UP, READY, RESTARTS, START, EXIT };

static void
per_process(struct buf *b, enum per_proc what)
{
	static const struct { const char *name, *type, *help; } rows[] = {
		[UP] = { "tend_program_up", "gauge",
		    "1 when the process is RUNNING." },
		[READY] = { "tend_program_ready", "gauge",
		    "1 when the process is ready (see ready=)." },
		[RESTARTS] = { "tend_program_restarts_total", "counter",
		    "Spawns of the process after its first." },
		[START] = { "tend_program_start_time_seconds", "gauge",
		    "When the process last started, in Unix time." },
		[EXIT] = { "tend_program_last_exit_status", "gauge",
		    "The last exit status: a code, or 128 + the signal." },
	};
	struct prog_info in;
	struct proc *p;
	size_t i;

	help(b, rows[what].name, rows[what].type, rows[what].help);
	for (i = 0; (p = prog_at(i)) != NULL; i++) {
		long long v = 0;

		prog_info(p, &in);
		switch (what) {
		case UP: v = in.state == STATE_RUNNING; break;
		case READY: v = in.ready; break;
		case RESTARTS: v = (long long)in.restarts; break;
		case START: v = in.start; break;
		case EXIT:
			if (in.status < 0)
				continue;
			v = in.status;
			break;
		}
		buf_puts(b, rows[what].name);
		put_labels(b, &in);
		buf_printf(b, "} %lld\n", v);
	}
}

static void
output_bytes(struct buf *b, bool dropped)
{
	static const char *const streams[] = { "stdout", "stderr" };
	const char *name = dropped ? "tend_output_dropped_bytes_total" :
	    "tend_output_relayed_bytes_total";
	struct prog_info in;
	struct proc *p;
	size_t i;
	int ch;

	help(b, name, "counter", dropped ? "Bytes of the program's output "
	    "dropped because their target failed or stayed full." :
	    "Bytes of the program's output relayed by tend (streams it "
	    "inherits directly are not counted).");
	for (i = 0; (p = prog_at(i)) != NULL; i++) {
		unsigned long long relayed[2], lost[2];

		prog_info(p, &in);
		output_counts(prog_output(p), relayed, lost);
		for (ch = 0; ch < 2; ch++) {
			buf_puts(b, name);
			put_labels(b, &in);
			buf_printf(b, ",stream=\"%s\"} %llu\n", streams[ch],
			    dropped ? lost[ch] : relayed[ch]);
		}
	}
}

void
api_metrics(struct conn *c, const struct http_request *r)
{
	static const enum prog_state states[] = { STATE_STOPPED,
	    STATE_STARTING, STATE_RUNNING, STATE_BACKOFF, STATE_STOPPING,
	    STATE_EXITED, STATE_FATAL, STATE_UNKNOWN };
	struct buf *b = http_body(c);
	struct tend_status st;
	struct prog_info in;
	struct proc *p;
	long long rss;
	size_t i, s;
	int fds;

	(void)r;
	tend_status(&st);
	own_figures(&rss, &fds);
	help(b, "tend_build_info", "gauge", "tend's version.");
	buf_printf(b, "tend_build_info{version=\"%s\"} 1\n", TEND_VERSION);
	help(b, "tend_start_time_seconds", "gauge", "When tend started, in "
	    "Unix time.");
	buf_printf(b, "tend_start_time_seconds %lld\n", st.started);
	help(b, "tend_resident_memory_bytes", "gauge", "tend's resident "
	    "memory.");
	buf_printf(b, "tend_resident_memory_bytes %lld\n", rss);
	help(b, "tend_open_fds", "gauge", "tend's open descriptors.");
	buf_printf(b, "tend_open_fds %d\n", fds);
	help(b, "tend_log_lines_dropped_total", "counter", "Lines of tend's "
	    "own log dropped to a full output.");
	buf_printf(b, "tend_log_lines_dropped_total %llu\n",
	    log_dropped_total());
	help(b, "tend_program_state", "gauge", "1 for the state the process "
	    "is in, 0 for the others.");
	for (i = 0; (p = prog_at(i)) != NULL; i++) {
		prog_info(p, &in);
		for (s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
			buf_puts(b, "tend_program_state");
			put_labels(b, &in);
			buf_printf(b, ",state=\"%s\"} %d\n",
			    prog_state_name(states[s]), in.state == states[s]);
		}
	}
	per_process(b, UP);
	per_process(b, READY);
	per_process(b, RESTARTS);
	per_process(b, START);
	per_process(b, EXIT);
	output_bytes(b, false);
	output_bytes(b, true);
	http_send(c, 200, "text/plain; version=0.0.4; charset=utf-8");
}
