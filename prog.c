/*
 * prog.c: supervised processes. Each follows supervisord's state machine
 * transition for transition (process.py): STOPPED, STARTING, RUNNING,
 * BACKOFF, STOPPING, EXITED, FATAL, UNKNOWN, with the same log lines.
 * Unlike supervisord, every timer is an exact deadline on its process
 * (no 1 s tick): startsecs, the backoff delay, stopwaitsecs, and the
 * minimal restart interval of a program that dies at once. A process
 * is not RUNNING before its exec is known to have worked: the report
 * pipe, closed by the exec, says so.
 *
 * What the user wants is kept apart from what the process is (as runit
 * and s6 do): a start waits for the dependencies to be ready (want_start),
 * a stop waits for the dependents to be stopped (stop_pending), and a
 * process stopped on request stays STOPPED, whatever autorestart says.
 * Operations of the control plane (prog_op) are views on this: each item
 * ends when its process reaches the state asked for, which the state
 * machine checks after every transition.
 *
 * The command given after -- is the process "main": critical, never
 * restarted, spawned with tend's own environment (less TEND_*),
 * descriptors and signal mask, and the one that signals to tend are
 * forwarded to.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fmt.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "output.h"
#include "proc.h"
#include "prog.h"
#include "ready.h"
#include "sig.h"

struct proc {
	const struct program *conf;
	struct config *gen;		/* the load conf belongs to */
	struct output *out;
	enum prog_state state;
	pid_t pid;			/* 0 when no process runs */
	pid_t pgid;			/* the last process group, for -g */
	struct watch report;		/* the child's set-up report; fd -1 */
	bool execd;			/* the exec worked */
	bool set_up_failed;
	struct spawn_failure failure;
	struct timer timer;		/* startsecs, backoff, stopwaitsecs */
	struct readiness ready;
	long long laststart;		/* loop clock */
	long long start_wall, stop_wall;	/* Unix seconds; 0: never */
	int backoff;			/* consecutive failed starts */
	int status;			/* the last exit, as an exit status */
	int exitstatus;			/* supervisord's exitstatus */
	unsigned long spawns;
	char how[64];			/* the last exit, in words */
	char spawnerr[160];		/* supervisord's spawnerr */
	char notify_status[128];	/* STATUS= */
	bool want_start;		/* to start once its dependencies are ready */
	bool stop_pending;		/* to stop once its dependents are stopped */
	bool stop_requested;		/* stopped on request: stays STOPPED */
	bool ready_failed;		/* stopped for ready_timeout: a failed start */
	bool done;			/* exited as expected, for good: a oneshot */
	bool removed;			/* dropped by a reload once stopped */
	const struct program *next;	/* a reload's: restart with it */
	struct config *next_gen;
	struct proc **deps;		/* what it depends on */
	size_t ndeps, deps_cap;
	bool restart_after;		/* a restart stopped it: start it again */
	unsigned walk;			/* the last walk of the graph that met it */
	size_t index;			/* in all, as of the last relink */
	struct proc *same_program, *same_group;	/* chains of relink's maps */
	unsigned long halts;		/* times it came to rest: stops, exits */
	struct proc *free_next;
};

static struct {
	struct arena arena;		/* procs, kept on a free list */
	struct proc *free;
	struct proc **all;		/* start order, then dropped ones */
	struct proc **sorted;		/* by group, then name */
	size_t n, cap;
	struct config *config, *pending;
	const sigset_t *mask;
	bool shutting_down;
	int main_stop_signal;
	int shutdown_asked;		/* 0, or 1 + the signal for main */
	bool critical_ended;		/* a critical program has ended */
	int critical_status;		/* its status */
	char critical_name[128], critical_state[16], critical_how[64];
	char critical_tail[4096];
	struct prog_op *ops;
	bool dirty;			/* a transition since prog_settle */
	unsigned walk;			/* walks of the dependency graph */
	/* [program:x]'s x and the group to processes: relink's, for deps */
	struct strmap programs, groups;
} progs = { .programs = { .arena = &progs.arena },
    .groups = { .arena = &progs.arena } };

static const char *const state_names[] = {
	[STATE_STOPPED] = "STOPPED", [STATE_STARTING] = "STARTING",
	[STATE_RUNNING] = "RUNNING", [STATE_BACKOFF] = "BACKOFF",
	[STATE_STOPPING] = "STOPPING", [STATE_EXITED] = "EXITED",
	[STATE_FATAL] = "FATAL", [STATE_UNKNOWN] = "UNKNOWN",
};

static const short state_codes[] = {
	[STATE_STOPPED] = 0, [STATE_STARTING] = 10, [STATE_RUNNING] = 20,
	[STATE_BACKOFF] = 30, [STATE_STOPPING] = 40, [STATE_EXITED] = 100,
	[STATE_FATAL] = 200, [STATE_UNKNOWN] = 1000,
};

const char *
prog_state_name(enum prog_state s)
{
	return state_names[s];
}

int
prog_state_code(enum prog_state s)
{
	return state_codes[s];
}

const char *
prog_result_name(int result)
{
	static const struct { unsigned char code; const char *name; } names[] = {
		{ 1, "UNKNOWN_METHOD" }, { 2, "INCORRECT_PARAMETERS" },
		{ 3, "BAD_ARGUMENTS" }, { 4, "SIGNATURE_UNSUPPORTED" },
		{ 6, "SHUTDOWN_STATE" }, { 10, "BAD_NAME" }, { 11, "BAD_SIGNAL" },
		{ 20, "NO_FILE" }, { 21, "NOT_EXECUTABLE" }, { 30, "FAILED" },
		{ 40, "ABNORMAL_TERMINATION" }, { 50, "SPAWN_ERROR" },
		{ 60, "ALREADY_STARTED" }, { 70, "NOT_RUNNING" },
		{ 80, "SUCCESS" }, { 90, "ALREADY_ADDED" },
		{ 91, "STILL_RUNNING" }, { 92, "CANT_REREAD" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == result)
			return names[i].name;
	return "FAILED";
}

/* main's transitions stay at info: single-command mode is quiet. */
static void plog(const struct proc *p, enum log_level level,
    const char *fmt, ...) PRINTF(3, 4);

static void
plog(const struct proc *p, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (p->conf->is_main && level == LOG_WARN)
		level = LOG_INFO;
	va_start(ap, fmt);
	log_vat(level, fmt, ap);
	va_end(ap);
}

static void
set_state(struct proc *p, enum prog_state s)
{
	log_debug("%s: %s -> %s", p->conf->name, state_names[p->state],
	    state_names[s]);
	p->state = s;
	if (s == STATE_STOPPED || s == STATE_EXITED || s == STATE_FATAL) {
		p->stop_wall = time(NULL);
		p->halts++;
	}
	progs.dirty = true;	/* see prog_settle */
}

/* Holds a process (STARTING, RUNNING, STOPPING) or will soon. */
static bool
is_active(const struct proc *p)
{
	return p->state == STATE_STARTING || p->state == STATE_RUNNING ||
	    p->state == STATE_STOPPING || p->state == STATE_BACKOFF ||
	    (p->state == STATE_EXITED && timer_pending(&p->timer)) ||
	    p->want_start;
}

static bool
is_expected(const struct program *c, int wstatus)
{
	int code;

	if (!WIFEXITED(wstatus))
		return false;	/* death by a signal is never expected */
	code = WEXITSTATUS(wstatus);
	return c->exitcodes[code / 8] & (1u << (code % 8));
}

/* "exit status 3" or "terminated by SIGTERM", as supervisord says it. */
static const char *
describe_exit(int wstatus, char *buf, size_t len)
{
	char name[SIG_NAME_MAX];

	if (WIFSIGNALED(wstatus))
		fmt_snprintf(buf, len, "terminated by %s",
		    sig_name(WTERMSIG(wstatus), name));
	else
		fmt_snprintf(buf, len, "exit status %d", WEXITSTATUS(wstatus));
	return buf;
}

/*
 * The termination message is kept whole now: the process may be
 * dropped or its output detached before tend writes it.
 */
static void
critical_ended(struct proc *p, int status)
{
	if (!p->conf->critical || progs.shutting_down ||
	    progs.critical_ended || p->stop_requested)
		return;
	progs.critical_ended = true;
	progs.critical_status = status;
	fmt_snprintf(progs.critical_name, sizeof(progs.critical_name), "%s",
	    p->conf->name);
	fmt_snprintf(progs.critical_state, sizeof(progs.critical_state), "%s",
	    state_names[p->state]);
	memcpy(progs.critical_how, p->how, sizeof(progs.critical_how));
	(void)output_stderr_tail(p->out, progs.critical_tail,
	    sizeof(progs.critical_tail));
	plog(p, LOG_WARN, "%s is critical and has ended: shutting down",
	    p->conf->name);
}

int
prog_critical_summary(char *buf, size_t len)
{
	static const char head[] = "last lines on its stderr:\n";
	size_t n, tail = strlen(progs.critical_tail);

	if (!progs.critical_ended || len == 0)
		return 0;
	n = (size_t)fmt_snprintf(buf, len, "tend: critical program '%s' ended "
	    "in state %s (%s); tend exited with status %d\n",
	    progs.critical_name, progs.critical_state, progs.critical_how,
	    progs.critical_status);
	if (n >= len)
		return (int)len - 1;
	if (tail == 0 || len - n <= sizeof(head))
		return (int)n;
	memcpy(buf + n, head, sizeof(head) - 1);
	n += sizeof(head) - 1;
	/* as many whole lines as fit, the newest */
	if (tail > len - n - 1) {
		const char *t = progs.critical_tail + tail - (len - n - 1);
		const char *nl = memchr(t, '\n', len - n - 1);

		tail = nl ? (size_t)(progs.critical_tail + tail - nl - 1) : 0;
	}
	memcpy(buf + n, progs.critical_tail + strlen(progs.critical_tail) -
	    tail, tail);
	n += tail;
	buf[n] = '\0';
	return (int)n;
}

/* ---- the state machine ------------------------------------------------------ */

static void spawn(struct proc *p);
static void try_start(struct proc *p);

/* Modes in which startsecs decides RUNNING, as in supervisord. */
static bool
uses_startsecs(const struct program *c)
{
	return c->ready == READY_RUNNING || c->ready == READY_EXITED;
}
static void restart_dependents(void);
static void readiness_done(struct readiness *r, bool ready);

static void
give_up(struct proc *p)
{
	timer_cancel(&p->timer);
	p->backoff = 0;
	set_state(p, STATE_FATAL);
	plog(p, LOG_INFO, "gave up: %s entered FATAL state, too many start "
	    "retries too quickly", p->conf->name);
	/* a FATAL program that last exited 0 still failed */
	critical_ended(p, p->status > 0 ? p->status : 1);
}

/* A failed start: retry after 1 s, 2 s, 3 s, ... or give up. */
static void
enter_backoff(struct proc *p)
{
	if (!*p->spawnerr)
		fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "Exited too "
		    "quickly (process log may have details)");
	p->backoff++;
	p->exitstatus = 0;	/* supervisord forgets a too quick exit */
	set_state(p, STATE_BACKOFF);
	if (p->backoff > p->conf->startretries)
		give_up(p);
	else if (!progs.shutting_down)
		timer_set(&p->timer, loop_now() + 1000LL * p->backoff);
}

/* The report pipe: data is a failed set-up, its end a working exec. */
static void
read_report(struct proc *p)
{
	ssize_t n;

	if (p->report.fd < 0)
		return;
	do {
		n = read(p->report.fd, &p->failure, sizeof(p->failure));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;		/* the child is still setting up */
	if (n == (ssize_t)sizeof(p->failure) && p->failure.stage != STAGE_NONE)
		p->set_up_failed = true;
	else
		p->execd = true;
	loop_unwatch(&p->report);
	close(p->report.fd);
	p->report.fd = -1;
}

static void enter_running(struct proc *p);

static void
report_ready(struct watch *w, uint32_t events)
{
	struct proc *p = container_of(w, struct proc, report);

	(void)events;
	read_report(p);
	/* startsecs may have passed while the exec was not yet known */
	if (p->execd && p->state == STATE_STARTING &&
	    uses_startsecs(p->conf) && !timer_pending(&p->timer))
		enter_running(p);
}

static void
spawn(struct proc *p)
{
	const struct program *c = p->conf;
	struct child_stdio io;
	const char *what = "fork";
	long long now = loop_now();
	pid_t pid = -1;
	int errfd = -1;

	p->laststart = now;
	p->start_wall = time(NULL);
	p->want_start = false;
	p->execd = p->set_up_failed = p->ready_failed = p->done = false;
	p->spawnerr[0] = p->notify_status[0] = '\0';
	timer_cancel(&p->timer);
	set_state(p, STATE_STARTING);
	if (output_prepare(p->out, &io) < 0) {
		what = "make the output pipes of";
	} else {
		pid = c->is_main ? proc_spawn(c->argv, c->envp, progs.mask, &io,
		    &errfd) : proc_spawn_program(c, &io, &errfd);
		output_spawned(p->out, &io, pid > 0);
		/* fork itself never fails for lack of descriptors */
		if (pid < 0 && (errno == EMFILE || errno == ENFILE))
			what = "make the report pipe of";
	}
	if (pid < 0) {
		plog(p, LOG_WARN, "spawnerr: cannot %s '%s': %s", what, c->name,
		    strerror(errno));
		fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "cannot %s it: %s",
		    what, strerror(errno));
		p->status = 1;
		enter_backoff(p);
		return;
	}
	p->spawns++;
	p->pid = p->pgid = pid;
	p->report.fd = errfd;
	if (loop_watch(&p->report, EPOLLIN) < 0) {
		/* then the exit tells: the pipe is read when it is reaped */
		log_warn("%s: cannot watch its exec", c->name);
		p->execd = true;
	}
	plog(p, LOG_INFO, "spawned: '%s' with pid %d", c->name, (int)pid);
	if (uses_startsecs(c))
		timer_set(&p->timer, now + 1000LL * c->startsecs);
	else
		ready_begin(&p->ready, c);
}

static void
enter_running(struct proc *p)
{
	timer_cancel(&p->timer);
	ready_end(&p->ready);
	p->backoff = 0;
	set_state(p, STATE_RUNNING);
	if (uses_startsecs(p->conf))
		plog(p, LOG_INFO, "success: %s entered RUNNING state, process "
		    "has stayed up for > than %ld seconds (startsecs)",
		    p->conf->name, p->conf->startsecs);
	else
		plog(p, LOG_INFO, "success: %s entered RUNNING state, process "
		    "is ready (%s)", p->conf->name, p->conf->ready_spec);
}

/*
 * An exit after RUNNING. autorestart applies; a run that died almost at
 * once waits out MIN_RESTART_MS from its start, so that a crash loop
 * with startsecs=0 cannot spin the CPU.
 */
static void
enter_exited(struct proc *p, bool expected, const char *how)
{
	const struct program *c = p->conf;
	bool restart = c->autorestart == RESTART_ALWAYS ||
	    (c->autorestart == RESTART_UNEXPECTED && !expected);
	long long now = loop_now();

	p->backoff = 0;
	if (!expected)
		fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "Bad exit code %d",
		    p->exitstatus);
	set_state(p, STATE_EXITED);
	plog(p, expected ? LOG_INFO : LOG_WARN, "exited: %s (%s; %s)", c->name,
	    how, expected ? "expected" : "not expected");
	if (progs.shutting_down || !restart || p->removed || p->next) {
		p->done = expected && !restart;
		critical_ended(p, p->status);
		return;
	}
	if (now - p->laststart < MIN_RESTART_MS)
		timer_set(&p->timer, p->laststart + MIN_RESTART_MS);
	else
		spawn(p);
}

/* What failed in the child, with the program's name; its spawnerr. */
static void
report_failure(struct proc *p, const struct spawn_failure *f)
{
	const struct program *c = p->conf;
	const char *reason = strerror(f->err);

	switch (f->stage) {
	case STAGE_EXEC:
		if (c->is_main)
			log_error("cannot execute '%s': %s", c->argv[0], reason);
		else
			log_error("%s: cannot execute '%s': %s", c->name,
			    c->argv[0], reason);
		if (f->err == ENOENT || f->err == ENOTDIR)
			fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "can't find "
			    "command '%s'", c->argv[0]);
		else
			fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "couldn't "
			    "exec %s: %s", c->argv[0], reason);
		return;
	case STAGE_STDIN:
		log_error("%s: cannot open /dev/null for stdin: %s", c->name,
		    reason);
		break;
	case STAGE_STDOUT:
	case STAGE_STDERR:
		log_error("%s: cannot set up its %s: %s", c->name, f->stage ==
		    STAGE_STDOUT ? "stdout" : "stderr", reason);
		break;
	case STAGE_GROUPS:
	case STAGE_SETGID:
	case STAGE_SETUID:
		log_error("%s: cannot set user %s: %s", c->name, c->user_spec,
		    reason);
		fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "couldn't setuid "
		    "to %s: %s", c->user_spec, reason);
		return;
	case STAGE_CHDIR:
		log_error("%s: cannot chdir to %s: %s", c->name, c->directory,
		    reason);
		fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "couldn't chdir "
		    "to %s: %s", c->directory, reason);
		return;
	}
	fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "set-up failed: %s",
	    reason);
}

static void finish_stop(struct proc *p);

static void
process_exited(struct proc *p, int wstatus)
{
	const struct program *c = p->conf;
	bool failed, expected;
	char how[48];

	output_drain(p->out);
	read_report(p);		/* the child is gone: this cannot block */
	if (p->report.fd >= 0) {
		loop_unwatch(&p->report);
		close(p->report.fd);
		p->report.fd = -1;
	}
	ready_end(&p->ready);
	failed = p->set_up_failed;
	p->pid = 0;
	p->notify_status[0] = '\0';	/* it spoke for that process */
	p->status = failed && p->failure.stage == STAGE_EXEC ?
	    proc_exec_failure_code(p->failure.err) : failed ? 127 :
	    proc_exit_code(wstatus);
	p->exitstatus = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	if (failed)
		report_failure(p, &p->failure);
	expected = !failed && is_expected(c, wstatus);
	describe_exit(wstatus, how, sizeof(how));
	if (failed)
		fmt_snprintf(p->how, sizeof(p->how), "%s: %s",
		    p->failure.stage == STAGE_EXEC ? "could not be executed" :
		    "set-up failed", strerror(p->failure.err));
	else
		memcpy(p->how, how, sizeof(how));

	switch (p->state) {
	case STATE_STOPPING:
		timer_cancel(&p->timer);
		if (p->ready_failed) {
			plog(p, LOG_WARN, "exited: %s (%s; not expected)", c->name,
			    how);
			enter_backoff(p);
			break;
		}
		plog(p, expected ? LOG_INFO : LOG_WARN, "stopped: %s (%s)",
		    c->name, how);
		set_state(p, STATE_STOPPED);
		finish_stop(p);
		break;
	case STATE_STARTING:
		/* an exit within startsecs is a failed start, whatever code */
		if (failed || !uses_startsecs(c) ||
		    loop_now() - p->laststart < 1000LL * c->startsecs) {
			plog(p, LOG_WARN, "exited: %s (%s; not expected)",
			    c->name, how);
			timer_cancel(&p->timer);
			enter_backoff(p);
			break;
		}
		enter_running(p);
		/* fall through */
	case STATE_RUNNING:
		enter_exited(p, expected, how);
		break;
	default:
		log_warnx("%s: exit in state %s, which has no process",
		    c->name, state_names[p->state]);
		set_state(p, STATE_EXITED);
		break;
	}
}

static void
send_signal(struct proc *p, int sig, bool group)
{
	char name[SIG_NAME_MAX];

	if (kill(group ? -p->pid : p->pid, sig) == 0 || errno == ESRCH)
		return;		/* ESRCH: it has just exited, reaping follows */
	plog(p, LOG_ERROR, "%s: cannot send %s: %s", p->conf->name,
	    sig_name(sig, name), strerror(errno));
	timer_cancel(&p->timer);
	set_state(p, STATE_UNKNOWN);
}

/* Into STOPPING: the stop signal, then SIGKILL every stopwaitsecs. */
static void
signal_stop(struct proc *p)
{
	const struct program *c = p->conf;
	int sig = c->is_main && progs.main_stop_signal ?
	    progs.main_stop_signal : c->stopsignal;

	timer_set(&p->timer, loop_now() + 1000LL * c->stopwaitsecs);
	set_state(p, STATE_STOPPING);
	send_signal(p, sig, c->stopasgroup);
}

static void
on_deadline(struct timer *t)
{
	struct proc *p = container_of(t, struct proc, timer);
	const struct program *c = p->conf;

	switch (p->state) {
	case STATE_STARTING:
		/* not before the exec is known to have worked */
		if (p->execd)
			enter_running(p);
		break;
	case STATE_BACKOFF:
	case STATE_EXITED:		/* a delayed restart */
		if (!progs.shutting_down)
			spawn(p);
		break;
	case STATE_STOPPING:
		plog(p, LOG_WARN, "killing '%s' (%d) with SIGKILL", c->name,
		    (int)p->pid);
		/* repeated every stopwaitsecs until the process is reaped */
		timer_set(&p->timer, loop_now() + 1000LL * c->stopwaitsecs);
		send_signal(p, SIGKILL, c->killasgroup);
		break;
	default:
		log_warnx("%s: deadline in state %s", c->name,
		    state_names[p->state]);
		break;
	}
}

/*
 * A stop: STARTING and RUNNING get the signal, BACKOFF and a pending
 * restart or start end at once.
 */
static void
stop(struct proc *p)
{
	p->stop_pending = false;
	p->want_start = false;
	switch (p->state) {
	case STATE_BACKOFF:
		timer_cancel(&p->timer);
		set_state(p, STATE_STOPPED);
		finish_stop(p);
		break;
	case STATE_EXITED:
		timer_cancel(&p->timer);	/* cancels a delayed restart */
		if (p->stop_requested)
			set_state(p, STATE_STOPPED);
		finish_stop(p);
		break;
	case STATE_STARTING:
	case STATE_RUNNING:
		ready_end(&p->ready);
		signal_stop(p);
		break;
	case STATE_STOPPED:
	case STATE_FATAL:
		finish_stop(p);
		progs.dirty = true;
		break;
	default:
		break;
	}
}

/* ---- dependencies ------------------------------------------------------------ */

/*
 * Ready: RUNNING, which a readiness condition only reaches once it held;
 * or, what dependents of a oneshot wait for, exited as expected for good
 * (with ready=exited, only that).
 */
static bool
is_ready(const struct proc *p)
{
	if (p->state == STATE_EXITED)
		return p->done && !timer_pending(&p->timer);
	return p->state == STATE_RUNNING && p->conf->ready != READY_EXITED;
}

static bool
depends_on(const struct proc *x, const struct proc *y)
{
	size_t i;

	for (i = 0; i < x->ndeps; i++)
		if (x->deps[i] == y)
			return true;
	return false;
}

/*
 * The first dependency of p that will not become ready by itself, or
 * NULL: one that went FATAL, or that rests (STOPPED, or EXITED without
 * having done its work) with nothing to start it, found through those
 * that wait too. What waits on it would wait for ever. A walk marks what
 * it has seen, so that diamonds are crossed once.
 */
static const struct proc *
fatal_below(struct proc *p, unsigned walk)
{
	const struct proc *f;
	size_t i;

	for (i = 0; i < p->ndeps; i++) {
		struct proc *d = p->deps[i];

		if (d->walk == walk)
			continue;
		d->walk = walk;
		if (d->state == STATE_FATAL || (!is_active(d) && !is_ready(d)))
			return d;
		if (d->want_start && (f = fatal_below(d, walk)) != NULL)
			return f;
	}
	return NULL;
}

static const struct proc *
fatal_dependency(struct proc *p)
{
	return fatal_below(p, ++progs.walk);
}

static bool
deps_ready(const struct proc *p)
{
	size_t i;

	for (i = 0; i < p->ndeps; i++)
		if (!is_ready(p->deps[i]))
			return false;
	return true;
}

/* An active process that depends on p, or NULL. */
static struct proc *
active_dependent(const struct proc *p)
{
	size_t i;

	for (i = 0; i < progs.n; i++)
		if (is_active(progs.all[i]) && depends_on(progs.all[i], p))
			return progs.all[i];
	return NULL;
}

/*
 * A start: its dependencies first, which are started too, again if they
 * went FATAL, even when p already waits; p follows once every one of them
 * is ready.
 */
static void
start_below(struct proc *p, unsigned walk)
{
	size_t i;

	p->walk = walk;
	p->stop_requested = p->stop_pending = false;
	if (p->state == STATE_STARTING || p->state == STATE_RUNNING)
		return;
	if (p->state == STATE_STOPPING) {
		p->want_start = true;	/* once it has stopped */
		return;
	}
	if (!p->want_start) {
		p->backoff = 0;
		timer_cancel(&p->timer);
		p->want_start = true;
	}
	/* a oneshot that has done its work is not run again */
	for (i = 0; i < p->ndeps; i++)
		if (p->deps[i]->walk != walk && !is_ready(p->deps[i]))
			start_below(p->deps[i], walk);
	try_start(p);
}

static void
request_start(struct proc *p)
{
	start_below(p, ++progs.walk);
}

static void
try_start(struct proc *p)
{
	const struct proc *f;

	/* a reload that dropped it keeps it only until it has stopped */
	if (p->removed)
		p->want_start = false;
	if (!p->want_start || progs.shutting_down ||
	    p->state == STATE_STOPPING)
		return;
	if (deps_ready(p)) {
		spawn(p);
		return;
	}
	/* told once per episode: until the dependency leaves that state */
	if (!(f = fatal_dependency(p)))
		p->spawnerr[0] = '\0';
	else if (!*p->spawnerr) {
		plog(p, LOG_WARN, "%s: not started: its dependency %s is %s",
		    p->conf->name, f->conf->name, state_names[f->state]);
		fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "Not started: "
		    "dependency %s is %s", f->conf->name, state_names[f->state]);
	}
}

/*
 * A stop that waits for the dependents, which are stopped first; with
 * again, those it stops come back after it (a restart's).
 */
static void
stop_tree(struct proc *p, bool again)
{
	size_t i;

	p->stop_requested = true;
	p->want_start = false;
	p->stop_pending = true;
	for (i = 0; i < progs.n; i++) {
		struct proc *d = progs.all[i];

		if (depends_on(d, p) && is_active(d) && !d->stop_pending) {
			d->restart_after = again;
			stop_tree(d, again);
		}
	}
}

static void
request_stop(struct proc *p)
{
	stop_tree(p, false);
}

/* ---- operations ---------------------------------------------------------- */

static void item_failed(struct op_item *it, int result, const char *detail);

/* Where an item of an operation stands after a transition. */
static void
check_item(enum op_kind kind, struct op_item *it)
{
	struct proc *p = it->p;

	if (it->result)
		return;
	if (!p) {
		item_failed(it, RESULT_FAILED, "removed by a reload");
		return;
	}
	if (kind == OP_START || (kind == OP_RESTART && it->restarting)) {
		if (p->removed) {
			item_failed(it, RESULT_FAILED, "removed by a reload");
		} else if (p->want_start) {
			/* supervisorctl knows this code: "spawn error" */
			if (fatal_dependency(p))
				item_failed(it, RESULT_SPAWN_ERROR, p->spawnerr);
		} else if (p->state == STATE_RUNNING) {
			it->result = RESULT_SUCCESS;
		} else if (p->state == STATE_BACKOFF || p->state == STATE_FATAL) {
			item_failed(it, RESULT_SPAWN_ERROR, it->name);
		} else if (p->state != STATE_STARTING) {
			item_failed(it, RESULT_ABNORMAL_TERMINATION, it->name);
		}
		return;
	}
	/* a stop, or the stop of a restart */
	if (p->state == STATE_UNKNOWN) {
		item_failed(it, RESULT_FAILED, "in an unknown state");
		return;
	}
	/*
	 * It has come to rest since the item began, even if a start from
	 * another client has already taken it up again: the stop is done.
	 * A start that came before it ever stopped cancelled the stop.
	 */
	if (p->halts == it->halts) {
		if (!p->conf->is_main && (p->want_start || !p->stop_requested)) {
			char why[160];

			fmt_snprintf(why, sizeof(why), "%s was started again "
			    "before it had stopped", it->name);
			item_failed(it, RESULT_FAILED, why);
			return;
		}
		if (p->stop_pending || p->state == STATE_STOPPING ||
		    p->state == STATE_STARTING || p->state == STATE_RUNNING)
			return;
	}
	if (kind == OP_STOP) {
		it->result = RESULT_SUCCESS;
		return;
	}
	it->restarting = true;
	if (!p->removed)
		request_start(p);
	restart_dependents();
	check_item(kind, it);
}

/* The dependents a restart stopped start again, after what they need. */
static void
restart_dependents(void)
{
	size_t i;

	for (i = 0; i < progs.n; i++) {
		struct proc *p = progs.all[i];

		if (p->restart_after && !p->stop_pending &&
		    p->state != STATE_STOPPING) {
			p->restart_after = false;
			request_start(p);
		}
	}
}

static void drop(struct proc *p);

void
prog_settle(void)
{
	struct prog_op **opp, *op;
	size_t i, j;

	while (progs.dirty) {
		progs.dirty = false;
		for (i = 0; i < progs.n; i++) {
			struct proc *p = progs.all[i];

			if (p->stop_pending && !progs.shutting_down &&
			    !active_dependent(p))
				stop(p);
			else if (p->want_start)
				try_start(p);
		}
		for (opp = &progs.ops; (op = *opp) != NULL;) {
			op->pending = 0;
			for (j = 0; j < op->n; j++) {
				check_item(op->kind, &op->items[j]);
				op->pending += !op->items[j].result;
			}
			if (op->pending) {
				opp = &op->next;
				continue;
			}
			*opp = op->next;
			op->done(op);
		}
		for (i = 0; i < progs.n;) {
			struct proc *p = progs.all[i];

			if (p->removed && !is_active(p) && !p->pid) {
				drop(p);	/* takes its slot: i stays */
				continue;
			}
			i++;
		}
	}
}

static void
item_failed(struct op_item *it, int result, const char *detail)
{
	it->result = result;
	fmt_snprintf(it->message, sizeof(it->message), "%s: %s",
	    prog_result_name(result), detail);
}

/* ---- the set of processes ---------------------------------------------------- */

static void
prog_alive(struct proc *p, struct config *gen, const struct program *c)
{
	p->conf = c;
	p->ready.conf = c;	/* a check under way reads the new one */
	p->gen = gen;
	gen->refs++;
}

static struct proc *
proc_new(struct config *gen, const struct program *c)
{
	struct proc *p = progs.free;

	if (p)
		progs.free = p->free_next;
	else if (!(p = arena_alloc(&progs.arena, sizeof(*p))))
		return NULL;
	memset(p, 0, sizeof(*p));
	if (!(p->out = output_attach(c))) {
		p->free_next = progs.free;
		progs.free = p;
		return NULL;
	}
	prog_alive(p, gen, c);
	p->report.fd = -1;
	p->report.ready = report_ready;
	p->timer.fire = on_deadline;
	p->ready.conn.fd = -1;
	p->ready.done = readiness_done;
	p->status = -1;
	return p;
}

/* Room for one more process in both lists. */
static bool
lists_room(size_t n)
{
	size_t cap = progs.cap ? progs.cap : 64, bytes;
	void *all, *sorted;

	if (n <= progs.cap)
		return true;
	while (cap < n)
		cap *= 2;
	bytes = cap * sizeof(struct proc *);
	all = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	sorted = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (all == MAP_FAILED || sorted == MAP_FAILED) {
		if (all != MAP_FAILED)
			munmap(all, bytes);
		if (sorted != MAP_FAILED)
			munmap(sorted, bytes);
		return false;
	}
	if (progs.cap) {
		memcpy(all, progs.all, progs.n * sizeof(struct proc *));
		munmap(progs.all, progs.cap * sizeof(struct proc *));
		munmap(progs.sorted, progs.cap * sizeof(struct proc *));
	}
	progs.all = all;
	progs.sorted = sorted;
	progs.cap = cap;
	return true;
}

/* getAllProcessInfo's order: by group, then name. */
static int
by_group_and_name(const void *pa, const void *pb)
{
	const struct proc *a = *(struct proc *const *)pa;
	const struct proc *b = *(struct proc *const *)pb;
	int c = strcmp(a->conf->group, b->conf->group);

	return c ? c : strcmp(a->conf->name, b->conf->name);
}

static int
by_position(const void *pa, const void *pb)
{
	const struct proc *a = *(struct proc *const *)pa;
	const struct proc *b = *(struct proc *const *)pb;

	return (a->index > b->index) - (a->index < b->index);
}

/*
 * Every process under its program (depends_on names [program:x]'s x,
 * whatever process_name makes of it) and its group, each a chain in start
 * order, so that dependencies resolve in linear time; false when memory
 * ran out (they are then found by a scan).
 */
static bool
index_procs(void)
{
	size_t i;

	strmap_clear(&progs.programs);
	strmap_clear(&progs.groups);
	for (i = progs.n; i-- > 0;) {
		struct proc *p = progs.all[i];
		const char *name = p->conf->program, *group = p->conf->group;

		p->index = i;
		p->same_program = strmap_get(&progs.programs, name,
		    strlen(name));
		p->same_group = strmap_get(&progs.groups, group, strlen(group));
		if (strmap_put(&progs.programs, name, strlen(name), p) < 0 ||
		    strmap_put(&progs.groups, group, strlen(group), p) < 0)
			return false;
	}
	return true;
}

static size_t
take_dep(struct proc *q, unsigned walk, struct proc **out, size_t n)
{
	if (q->walk == walk)
		return n;
	q->walk = walk;
	if (out)
		out[n] = q;
	return n + 1;
}

/*
 * What p depends on, into out (or only counted), in start order: the
 * processes its depends_on names, or with main_waits (main) every
 * autostart one.
 */
static size_t
deps_of(struct proc *p, bool all, bool indexed, struct proc **out)
{
	unsigned walk = ++progs.walk;
	const struct program *c = p->conf;
	struct proc *q;
	size_t n = 0, j;
	int d;

	p->walk = walk;		/* never itself */
	if (all || !indexed) {
		for (j = 0; j < progs.n; j++)
			if (all ? progs.all[j]->conf->autostart :
			    conf_depends_on(c, progs.all[j]->conf))
				n = take_dep(progs.all[j], walk, out, n);
		return n;
	}
	for (d = 0; d < c->ndepends; d++) {
		size_t len = strlen(c->depends[d]);

		for (q = strmap_get(&progs.programs, c->depends[d], len); q;
		    q = q->same_program)
			n = take_dep(q, walk, out, n);
		for (q = strmap_get(&progs.groups, c->depends[d], len); q;
		    q = q->same_group)
			n = take_dep(q, walk, out, n);
	}
	/* the scratch half of sorted, free once the view is sorted */
	if (out && n > 1 && progs.n * 2 <= progs.cap)
		mem_sort(out, n, sizeof(*out), progs.sorted + progs.n,
		    by_position);
	return n;
}

/*
 * After any change of the set: the sorted view and the dependencies.
 * main_waits makes main depend on every autostart program.
 */
static void
relink(void)
{
	size_t i, n;
	bool indexed;

	/* the tail of sorted is the scratch space of the sort */
	if (!lists_room(progs.n * 2))
		log_warnx("out of memory: the list of processes is not sorted");
	memcpy(progs.sorted, progs.all, progs.n * sizeof(*progs.all));
	if (progs.n * 2 <= progs.cap)
		mem_sort(progs.sorted, progs.n, sizeof(*progs.sorted),
		    progs.sorted + progs.n, by_group_and_name);
	indexed = index_procs();
	for (i = 0; i < progs.n; i++) {
		struct proc *p = progs.all[i];
		const struct program *c = p->conf;
		bool all = c->is_main && progs.config->main_waits;

		p->ndeps = 0;
		if (!c->ndepends && !all)
			continue;
		n = deps_of(p, all, indexed, NULL);
		/* kept from one relink to the next: reloads do not grow it */
		if (n > p->deps_cap) {
			struct proc **deps = arena_alloc(&progs.arena, n *
			    sizeof(*deps));

			if (!deps) {
				log_warnx("%s: out of memory for its "
				    "dependencies", c->name);
				continue;
			}
			p->deps = deps;
			p->deps_cap = n;
		}
		p->ndeps = deps_of(p, all, indexed, p->deps);
	}
}

/* A process is gone for good: out of the lists, its load released. */
static void
drop(struct proc *p)
{
	struct prog_op *op;
	size_t i, j;

	for (op = progs.ops; op; op = op->next)
		for (j = 0; j < op->n; j++)
			if (op->items[j].p == p)
				op->items[j].p = NULL;
	for (i = 0; i < progs.n; i++)
		if (progs.all[i] == p)
			break;
	memmove(&progs.all[i], &progs.all[i + 1], (progs.n - i - 1) *
	    sizeof(*progs.all));
	progs.n--;
	for (i = 0; i < progs.n; i++)
		if (depends_on(progs.all[i], p))
			progs.all[i]->ndeps = 0;	/* relinked below */
	timer_cancel(&p->timer);
	ready_end(&p->ready);
	output_detach(p->out);
	conf_release(p->gen);
	p->free_next = progs.free;
	progs.free = p;
	relink();
	progs.dirty = true;
}

/* A stop that ended: a reload's restart follows, or a planned start. */
static void
finish_stop(struct proc *p)
{
	if (p->next) {
		struct config *gen = p->gen;
		struct output *o = output_attach(p->next);

		if (!o) {
			log_warnx("%s: keeps its previous configuration",
			    p->conf->name);
			conf_release(p->next_gen);
			p->next = NULL;
			return;
		}
		output_keep_counts(o, p->out);
		output_detach(p->out);
		p->out = o;
		prog_alive(p, p->next_gen, p->next);
		conf_release(p->next_gen);	/* prog_alive took its own */
		p->next = NULL;
		conf_release(gen);
		relink();
		if (p->conf->autostart && !p->stop_requested)
			request_start(p);
	}
}

void
prog_setup(struct config *c, const sigset_t *inherited_mask)
{
	size_t i;

	progs.mask = inherited_mask;
	progs.config = c;
	if (!lists_room(c->nprograms * 2 + 1))
		fatal(1, "cannot allocate %zu programs", c->nprograms);
	for (i = 0; i < c->nprograms; i++) {
		struct proc *p = proc_new(c, &c->programs[i]);

		/* output_attach said which log file could not be opened */
		if (!p)
			exit(2);
		progs.all[progs.n++] = p;
	}
	relink();
}

void
prog_start_all(void)
{
	size_t i;

	for (i = 0; i < progs.n; i++)
		if (progs.all[i]->conf->autostart)
			request_start(progs.all[i]);
}

bool
prog_reaped(pid_t pid, int wstatus)
{
	size_t i;

	if (ready_reaped(pid, wstatus))
		return true;
	for (i = 0; i < progs.n; i++) {
		if (progs.all[i]->pid == pid) {
			process_exited(progs.all[i], wstatus);
			return true;
		}
	}
	return false;
}

int
prog_critical_exit(void)
{
	return progs.shutting_down || !progs.critical_ended ? -1 :
	    progs.critical_status;
}

void
prog_request_shutdown(void)
{
	if (!progs.shutting_down)
		progs.shutdown_asked = 1;
}

int
prog_shutdown_asked(int *sig)
{
	if (!progs.shutdown_asked || progs.shutting_down)
		return 0;
	*sig = progs.shutdown_asked - 1;
	return 1;
}

bool
prog_shutting_down(void)
{
	return progs.shutting_down || progs.shutdown_asked;
}

/* Stop order: higher (group priority, priority) first. */
static int
compare_level(const struct program *a, const struct program *b)
{
	if (a->group_priority != b->group_priority)
		return a->group_priority < b->group_priority ? -1 : 1;
	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	return 0;
}

void
prog_begin_shutdown(int stop_signal)
{
	size_t i;

	progs.shutting_down = true;
	progs.main_stop_signal = stop_signal;
	for (i = 0; i < progs.n; i++) {
		progs.all[i]->want_start = false;
		progs.all[i]->stop_pending = false;
	}
	(void)prog_shutdown_step();
}

/*
 * The highest stop level among the active processes that no active
 * process depends on, or NULL when none is active.
 */
static const struct program *
top_active_level(void)
{
	const struct program *top = NULL;
	size_t i;

	for (i = 0; i < progs.n; i++) {
		const struct proc *p = progs.all[i];

		if (is_active(p) && !active_dependent(p) && (!top ||
		    compare_level(p->conf, top) > 0))
			top = p->conf;
	}
	return top;
}

bool
prog_shutdown_step(void)
{
	const struct program *top;
	size_t i;

	/* a level whose processes stop at once (BACKOFF) lets the next go */
	while ((top = top_active_level()) != NULL) {
		bool waiting = false;

		for (i = 0; i < progs.n; i++) {
			struct proc *p = progs.all[i];

			if (!is_active(p) || compare_level(p->conf, top) != 0 ||
			    active_dependent(p))
				continue;
			if (p->state != STATE_STOPPING)
				stop(p);
			waiting |= is_active(p);
		}
		if (waiting)
			return false;
	}
	return true;
}

static struct proc *
find_main(void)
{
	size_t i;

	for (i = 0; i < progs.n; i++)
		if (progs.all[i]->conf->is_main)
			return progs.all[i];
	return NULL;
}

bool
prog_has_main(void)
{
	return find_main() != NULL;
}

int
prog_main_status(void)
{
	struct proc *p = find_main();

	return p ? p->status : -1;
}

bool
prog_forward_to_main(int sig)
{
	struct proc *p = find_main();
	char name[SIG_NAME_MAX];
	pid_t target;

	if (!p)
		return false;
	/* after main is reaped its pid may be reused; its group may live on */
	if (p->conf->forward_group && p->pgid)
		target = -p->pgid;
	else if (p->pid)
		target = p->pid;
	else
		return true;
	if (kill(target, sig) < 0 && errno != ESRCH)
		log_warn("cannot forward %s to %d", sig_name(sig, name),
		    (int)target);
	else if (log_enabled(LOG_DEBUG))	/* naming it costs a lookup */
		log_debug("forwarded %s to %d", sig_name(sig, name),
		    (int)target);
	return true;
}

/* ---- readiness ------------------------------------------------------------- */

static void
readiness_done(struct readiness *r, bool ready)
{
	struct proc *p = container_of(r, struct proc, ready);

	if (p->state != STATE_STARTING)
		return;
	if (ready) {
		enter_running(p);
		return;
	}
	plog(p, LOG_WARN, "%s: not ready after %ld.%03ld s (ready=%s): a failed "
	    "start", p->conf->name, p->conf->ready_timeout_ms / 1000,
	    p->conf->ready_timeout_ms % 1000, p->conf->ready_spec);
	fmt_snprintf(p->spawnerr, sizeof(p->spawnerr), "Not ready within "
	    "ready_timeout");
	p->ready_failed = true;
	signal_stop(p);
}

/*
 * The process a sender belongs to: the program's own pid, a process
 * of its group, or a descendant of it (the parent chain in /proc).
 */
static struct proc *
sender_of(pid_t pid)
{
	size_t i;
	int depth;

	for (depth = 0; pid > 1 && depth < 64; depth++) {
		pid_t pgid = getpgid(pid);

		for (i = 0; i < progs.n; i++) {
			struct proc *p = progs.all[i];

			if (p->pid && (p->pid == pid || p->pgid == pgid))
				return p;
		}
		pid = proc_parent(pid);
	}
	return NULL;
}

void
prog_notified(pid_t pid, bool ready, const char *status)
{
	struct proc *p = sender_of(pid);

	if (!p || p->conf->ready != READY_NOTIFY) {
		log_debug("notification from pid %d refused: not a ready=notify "
		    "program's", (int)pid);
		return;
	}
	if (status)
		fmt_snprintf(p->notify_status, sizeof(p->notify_status), "%s",
		    status);
	if (ready && p->state == STATE_STARTING)
		enter_running(p);
}

/* ---- views ------------------------------------------------------------------- */

size_t
prog_count(void)
{
	return progs.n;
}

struct proc *
prog_at(size_t i)
{
	return i < progs.n ? progs.sorted[i] : NULL;
}

void
prog_names(const struct proc *p, const char **name, const char **group)
{
	*name = p->conf->name;
	*group = p->conf->group;
}

/* Python's timedelta: "H:MM:SS", "1 day, 2:03:04", "2 days, ...". */
static void
uptime_text(long long seconds, char *buf, size_t len)
{
	long long days = seconds / 86400, s = seconds % 86400;

	if (days)
		fmt_snprintf(buf, len, "%lld day%s, %lld:%02lld:%02lld", days,
		    days == 1 ? "" : "s", s / 3600, s / 60 % 60, s % 60);
	else
		fmt_snprintf(buf, len, "%lld:%02lld:%02lld", s / 3600,
		    s / 60 % 60, s % 60);
}

/* supervisord's "%b %d %I:%M %p", in UTC: tend reads no time zone. */
static void
stop_time_text(long long t, char *buf, size_t len)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	long long y, s = (t % 86400 + 86400) % 86400;
	unsigned m, d, hour = (unsigned)(s / 3600);

	fmt_civil_date(t / 86400 - (t % 86400 < 0), &y, &m, &d);
	fmt_snprintf(buf, len, "%.3s %02u %02u:%02u %s", months + 3 * (m - 1),
	    d, hour % 12 ? hour % 12 : 12, (unsigned)(s / 60 % 60),
	    hour < 12 ? "AM" : "PM");
}

/* "Waiting for db, cache": the dependencies not ready yet. */
static void
waiting_text(const struct proc *p, char *buf, size_t len)
{
	size_t i, n = (size_t)fmt_snprintf(buf, len, "Waiting for ");

	for (i = 0; i < p->ndeps && n < len; i++)
		if (!is_ready(p->deps[i]))
			n += (size_t)fmt_snprintf(buf + n, len - n, "%s%s",
			    n > 12 ? ", " : "", p->deps[i]->conf->name);
}

static void
describe(const struct proc *p, const struct prog_info *in, char *buf,
    size_t len)
{
	char t[48];
	size_t n;

	buf[0] = '\0';
	switch (p->state) {
	case STATE_RUNNING:
		uptime_text(in->uptime_ms / 1000, t, sizeof(t));
		fmt_snprintf(buf, len, "pid %d, uptime %s", (int)p->pid, t);
		break;
	case STATE_FATAL:
	case STATE_BACKOFF:
		fmt_snprintf(buf, len, "%s", *p->spawnerr ? p->spawnerr :
		    "unknown error (try \"tail x\")");
		if (!*p->spawnerr)
			fmt_snprintf(buf, len, "unknown error (try \"tail %s\")",
			    p->conf->name);
		break;
	case STATE_STOPPED:
	case STATE_EXITED:
		if (p->want_start && *p->spawnerr)	/* a FATAL dependency */
			fmt_snprintf(buf, len, "%s", p->spawnerr);
		else if (p->want_start)
			waiting_text(p, buf, len);
		else if (in->start) {
			stop_time_text(in->stop, t, sizeof(t));
			fmt_snprintf(buf, len, "%s", t);
		} else
			fmt_snprintf(buf, len, "Not started");
		break;
	default:
		break;
	}
	if (!*p->notify_status)
		return;
	n = strlen(buf);
	fmt_snprintf(buf + n, len - n, "%s%s", n ? ", " : "", p->notify_status);
}

const struct output *
prog_output(const struct proc *p)
{
	return p->out;
}

void
prog_info(const struct proc *p, struct prog_info *out)
{
	memset(out, 0, sizeof(*out));
	out->conf = p->conf;
	out->name = p->conf->name;
	out->group = p->conf->group;
	out->state = p->state;
	out->pid = p->pid;
	out->start = p->start_wall;
	out->stop = p->stop_wall;
	if (p->state == STATE_RUNNING || p->state == STATE_STARTING ||
	    p->state == STATE_STOPPING)
		out->uptime_ms = loop_now() - p->laststart;
	out->exitstatus = p->exitstatus;
	out->status = p->status;
	out->restarts = p->spawns > 1 ? p->spawns - 1 : 0;
	out->ready = is_ready(p);
	out->spawnerr = p->state == STATE_FATAL || p->state == STATE_BACKOFF ||
	    p->state == STATE_EXITED ? p->spawnerr : "";
	out->notify_status = p->notify_status;
	describe(p, out, out->description, sizeof(out->description));
}

struct proc *
prog_find(const char *spec, bool loose)
{
	const char *colon = strchr(spec, ':');
	size_t glen = colon ? (size_t)(colon - spec) : strlen(spec), i;
	const char *name = colon ? colon + 1 : spec;

	for (i = 0; i < progs.n; i++) {
		const struct program *c = progs.all[i]->conf;

		if (progs.all[i]->removed)
			continue;
		if (strcmp(c->name, name) == 0 && (loose && !colon ? true :
		    strlen(c->group) == glen && !strncmp(c->group, spec, glen)))
			return progs.all[i];
	}
	return NULL;
}

bool
prog_group_exists(const char *group)
{
	size_t i;

	for (i = 0; i < progs.n; i++)
		if (!progs.all[i]->removed &&
		    strcmp(progs.all[i]->conf->group, group) == 0)
			return true;
	return false;
}

/* Appends a name to a "why" text, cut to fit. */
static void
why_add(char *why, size_t len, const char *name)
{
	size_t n = strlen(why);

	if (n < len)
		fmt_snprintf(why + n, len - n, "%s%s", n ? ", " : "", name);
}

/* Every process that counts is ready: autostart ones, or critical ones. */
static bool
verdict(bool critical, char *why, size_t len)
{
	size_t i;

	why[0] = '\0';
	for (i = 0; i < progs.n; i++) {
		const struct proc *p = progs.all[i];

		if ((critical ? p->conf->critical : p->conf->autostart) &&
		    !p->removed && !is_ready(p))
			why_add(why, len, p->conf->name);
	}
	if (progs.shutting_down)
		why_add(why, len, "tend is shutting down");
	return !why[0];
}

bool
prog_ready_all(char *why, size_t len)
{
	return verdict(false, why, len);
}

bool
prog_healthy(char *why, size_t len)
{
	return verdict(true, why, len);
}

/* ---- operations -------------------------------------------------------------- */

/* Would a start of p fail before it is tried (supervisord's checks)? */
static int
start_refused(struct proc *p, char *message, size_t len)
{
	int err;

	if (p->state == STATE_STARTING || p->state == STATE_RUNNING) {
		fmt_snprintf(message, len, "ALREADY_STARTED: %s", p->conf->name);
		return RESULT_ALREADY_STARTED;
	}
	if (p->state == STATE_UNKNOWN) {
		fmt_snprintf(message, len, "FAILED: %s is in an unknown state",
		    p->conf->name);
		return RESULT_FAILED;
	}
	err = proc_command_error(p->conf->argv, p->conf->envp);
	if (err == ENOENT) {
		fmt_snprintf(message, len, "NO_FILE: can't find command '%s'",
		    p->conf->argv[0]);
		return RESULT_NO_FILE;
	}
	if (err) {
		fmt_snprintf(message, len, "NOT_EXECUTABLE: command at '%s' is "
		    "not executable", p->conf->argv[0]);
		return RESULT_NOT_EXECUTABLE;
	}
	return 0;
}

/* Whether a stop concerns p: it runs, starts, or will soon. */
static bool
stoppable(const struct proc *p)
{
	return p->state == STATE_STARTING || p->state == STATE_RUNNING ||
	    p->state == STATE_BACKOFF || p->want_start ||
	    (p->state == STATE_EXITED && timer_pending(&p->timer));
}

/* Which processes spec names; single is the plain name form. */
static size_t
select_procs(const char *spec, bool loose, struct proc **out, bool *single)
{
	const char *colon = strchr(spec, ':');
	size_t i, n = 0;
	struct proc *p;

	*single = false;
	if (strcmp(spec, "all") == 0 && !prog_find(spec, loose)) {
		for (i = 0; i < progs.n; i++)
			if (!progs.all[i]->removed)
				out[n++] = progs.all[i];
		return n;
	}
	if (colon && (!colon[1] || strcmp(colon + 1, "*") == 0)) {
		size_t glen = (size_t)(colon - spec);

		for (i = 0; i < progs.n; i++) {
			const struct program *c = progs.all[i]->conf;

			if (!progs.all[i]->removed && strlen(c->group) == glen &&
			    !strncmp(c->group, spec, glen))
				out[n++] = progs.all[i];
		}
		return n;
	}
	if ((p = prog_find(spec, loose)) != NULL) {
		*single = true;
		out[0] = p;
		return 1;
	}
	/* loose: a group by its bare name */
	if (loose && !colon)
		for (i = 0; i < progs.n; i++)
			if (!progs.all[i]->removed &&
			    strcmp(progs.all[i]->conf->group, spec) == 0)
				out[n++] = progs.all[i];
	return n;
}

static void
begin_item(enum op_kind kind, struct op_item *it)
{
	struct proc *p = it->p;
	int refused;

	it->halts = p->halts;	/* a stop is done once it changes */
	switch (kind) {
	case OP_START:
		if ((refused = start_refused(p, it->message,
		    sizeof(it->message))) != 0) {
			it->result = refused;
			return;
		}
		request_start(p);
		break;
	case OP_STOP:
		if (!stoppable(p)) {
			item_failed(it, RESULT_NOT_RUNNING, it->name);
			return;
		}
		if (p->conf->is_main && !progs.shutting_down) {
			/* main's end is the container's, as docker stop */
			progs.shutdown_asked = 1;
			return;
		}
		request_stop(p);
		break;
	case OP_RESTART:
		if (!stoppable(p)) {
			it->restarting = it->not_running = true;
			if ((refused = start_refused(p, it->message,
			    sizeof(it->message))) != 0) {
				it->result = refused;
				return;
			}
			request_start(p);
			break;
		}
		/*
		 * What the stop takes down with it comes back after it; not
		 * p, whose own item starts it again once it has seen it stop.
		 */
		stop_tree(p, true);
		p->restart_after = false;
		break;
	}
}

/*
 * The items of one spec. With room NULL, only counts them. A spec that
 * names nothing is one item, BAD_NAME, so that each name of a command
 * line gets its own answer. A process is in an operation once, however
 * many specs name it (walk marks it): "all all all..." costs no more.
 */
static size_t
add_items(enum op_kind kind, const char *spec, bool loose,
    struct proc **scratch, struct op_item *room, unsigned walk)
{
	size_t n, i, k = 0;
	bool single;

	if ((n = select_procs(spec, loose, scratch, &single)) == 0) {
		if (room) {
			const char *colon = strchr(spec, ':');

			memset(room, 0, sizeof(*room));
			fmt_snprintf(room->name, sizeof(room->name), "%s", colon ?
			    colon + 1 : spec);
			fmt_snprintf(room->group, sizeof(room->group), "%.*s",
			    colon ? (int)(colon - spec) : (int)strlen(spec), spec);
			room->single = !colon || (colon[1] && strcmp(colon + 1,
			    "*"));
			room->result = RESULT_BAD_NAME;
			fmt_snprintf(room->message, sizeof(room->message),
			    "BAD_NAME: %s", spec);
		}
		return 1;
	}
	/* groups and all: only the processes the operation concerns */
	for (i = 0; i < n; i++) {
		struct proc *p = scratch[i];

		if (p->walk == walk)
			continue;
		/* left out here, a name of its own still gives it an item */
		if (!single && ((kind == OP_START && (p->state ==
		    STATE_STARTING || p->state == STATE_RUNNING)) ||
		    (kind == OP_STOP && !stoppable(p))))
			continue;
		p->walk = walk;
		if (room) {
			struct op_item *it = &room[k];

			memset(it, 0, sizeof(*it));
			it->p = p;
			it->single = single;
			fmt_snprintf(it->name, sizeof(it->name), "%s", p->conf->name);
			fmt_snprintf(it->group, sizeof(it->group), "%s",
			    p->conf->group);
		}
		k++;
	}
	return k;
}

struct prog_op *
prog_op_start(enum op_kind kind, const char *const *specs, size_t nspecs,
    bool loose, void (*done)(struct prog_op *), void *ctx, int *result)
{
	struct prog_op *op;
	struct proc **scratch;
	size_t n = 0, i, k, bytes;
	unsigned walk;

	if (progs.shutting_down || progs.shutdown_asked) {
		*result = RESULT_SHUTDOWN_STATE;
		return NULL;
	}
	bytes = (progs.n + 1) * sizeof(*scratch);
	scratch = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED) {
		*result = RESULT_FAILED;
		return NULL;
	}
	walk = ++progs.walk;
	for (i = 0; i < nspecs; i++)
		n += add_items(kind, specs[i], loose, scratch, NULL, walk);
	op = mmap(NULL, sizeof(*op) + n * sizeof(op->items[0]), PROT_READ |
	    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (op == MAP_FAILED) {
		munmap(scratch, bytes);
		*result = RESULT_FAILED;
		return NULL;
	}
	walk = ++progs.walk;
	for (i = k = 0; i < nspecs; i++)
		k += add_items(kind, specs[i], loose, scratch, op->items + k,
		    walk);
	munmap(scratch, bytes);
	op->kind = kind;
	op->single = n == 1 && op->items[0].single;
	op->done = done;
	op->ctx = ctx;
	op->n = n;
	for (i = 0; i < n; i++)
		if (!op->items[i].result)
			begin_item(kind, &op->items[i]);
	op->next = progs.ops;
	progs.ops = op;
	/* done is never called from here: prog_settle calls it */
	progs.dirty = true;
	return op;
}

void
prog_op_cancel(struct prog_op *op)
{
	struct prog_op **opp;

	for (opp = &progs.ops; *opp; opp = &(*opp)->next) {
		if (*opp == op) {
			*opp = op->next;
			break;
		}
	}
	prog_op_free(op);
}

void
prog_op_free(struct prog_op *op)
{
	munmap(op, sizeof(*op) + op->n * sizeof(op->items[0]));
}

int
prog_signal(struct proc *p, int sig, char *message, size_t len)
{
	if (p->state != STATE_RUNNING && p->state != STATE_STARTING &&
	    p->state != STATE_STOPPING) {
		fmt_snprintf(message, len, "NOT_RUNNING: %s", p->conf->name);
		return RESULT_NOT_RUNNING;
	}
	if (kill(p->pid, sig) < 0 && errno != ESRCH) {
		fmt_snprintf(message, len, "FAILED: %s", strerror(errno));
		return RESULT_FAILED;
	}
	return RESULT_SUCCESS;
}

/* ---- reload ---------------------------------------------------------------- */

struct config *
prog_config(void)
{
	return progs.config;
}

struct config *
prog_pending(void)
{
	return progs.pending ? progs.pending : progs.config;
}

static const struct program *
find_program(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprograms; i++)
		if (strcmp(c->programs[i].name, name) == 0)
			return &c->programs[i];
	return NULL;
}

static struct proc *
find_proc(const char *name)
{
	size_t i;

	for (i = 0; i < progs.n; i++)
		if (!progs.all[i]->removed &&
		    strcmp(progs.all[i]->conf->name, name) == 0)
			return progs.all[i];
	return NULL;
}

static bool
find_program_group(const struct config *c, const char *group)
{
	size_t i;

	for (i = 0; i < c->nprograms; i++)
		if (strcmp(c->programs[i].group, group) == 0)
			return true;
	return false;
}

/*
 * What a reread or a reload looks up for every program: a load's
 * programs by name and by group, the process that runs each program,
 * and the groups that run; in linear time, in c's arena. Without
 * memory the lookups scan instead.
 */
struct lookup {
	struct config *c;
	struct strmap names, groups;	/* c's programs, and their groups */
	struct strmap live_groups;	/* the groups of the processes */
	struct proc **proc_of;		/* by program index, or NULL */
	bool ok;
};

static void
lookup_build(struct lookup *lk, struct config *c)
{
	size_t i;

	*lk = (struct lookup){ .c = c, .names = { .arena = &c->arena },
	    .groups = { .arena = &c->arena },
	    .live_groups = { .arena = &c->arena } };
	if (!(lk->proc_of = arena_alloc(&c->arena, (c->nprograms + 1) *
	    sizeof(*lk->proc_of))))
		return;
	for (i = 0; i < c->nprograms; i++) {
		struct program *np = &c->programs[i];

		lk->proc_of[i] = NULL;
		if (strmap_put(&lk->names, np->name, strlen(np->name), np) < 0 ||
		    strmap_put(&lk->groups, np->group, strlen(np->group), np) < 0)
			return;
	}
	for (i = 0; i < progs.n; i++) {
		struct proc *p = progs.all[i];
		const struct program *np;

		if (p->removed)
			continue;
		if (strmap_put(&lk->live_groups, p->conf->group,
		    strlen(p->conf->group), p) < 0)
			return;
		if ((np = strmap_get(&lk->names, p->conf->name,
		    strlen(p->conf->name))) != NULL)
			lk->proc_of[np - c->programs] = p;
	}
	lk->ok = true;
}

static const struct program *
lookup_program(const struct lookup *lk, const char *name)
{
	return lk->ok ? strmap_get(&lk->names, name, strlen(name)) :
	    find_program(lk->c, name);
}

static bool
lookup_group(const struct lookup *lk, const char *group)
{
	return lk->ok ? strmap_get(&lk->groups, group, strlen(group)) != NULL :
	    find_program_group(lk->c, group);
}

static bool
lookup_live_group(const struct lookup *lk, const char *group)
{
	return lk->ok ? strmap_get(&lk->live_groups, group, strlen(group)) !=
	    NULL : prog_group_exists(group);
}

static struct proc *
lookup_proc(const struct lookup *lk, const struct program *np)
{
	return lk->ok ? lk->proc_of[np - lk->c->programs] :
	    find_proc(np->name);
}

/*
 * A group name once in a sorted list of names, in c's arena: room for
 * every program's group is taken at the first name, so the list never
 * moves.
 */
static int
list_add(struct config *c, const char ***list, size_t *n, const char *name)
{
	size_t at;

	for (at = 0; at < *n; at++) {
		int d = strcmp((*list)[at], name);

		if (d == 0)
			return 0;
		if (d > 0)
			break;
	}
	if (!*list && !(*list = arena_alloc(&c->arena, (c->nprograms +
	    progs.n + 1) * sizeof(**list))))
		return -1;
	memmove(*list + at + 1, *list + at, (*n - at) * sizeof(**list));
	(*list)[at] = name;
	(*n)++;
	return 0;
}

void
prog_reread(struct config *c, struct prog_diff *d)
{
	struct lookup lk;
	size_t i;

	memset(d, 0, sizeof(*d));
	if (progs.pending)
		conf_release(progs.pending);
	progs.pending = c;
	lookup_build(&lk, c);
	for (i = 0; i < c->nprograms; i++) {
		const struct program *np = &c->programs[i];
		const struct proc *p = lookup_proc(&lk, np);

		if (np->is_main)
			continue;
		if (!p && !lookup_live_group(&lk, np->group))
			(void)list_add(c, &d->added, &d->nadded,
			    np->group);
		else if (!p || strcmp(p->conf->group, np->group) ||
		    conf_compare(p->conf, np) != PROGRAM_SAME)
			(void)list_add(c, &d->changed, &d->nchanged,
			    np->group);
	}
	for (i = 0; i < progs.n; i++) {
		const struct program *op = progs.all[i]->conf;
		const struct program *np = lookup_program(&lk, op->name);

		if (op->is_main || progs.all[i]->removed)
			continue;
		if (!np && !lookup_group(&lk, op->group))
			(void)list_add(c, &d->removed, &d->nremoved,
			    op->group);
		else if (!np || strcmp(np->group, op->group))
			(void)list_add(c, &d->changed, &d->nchanged,
			    op->group);
	}
}

int
prog_group_add(const char *group)
{
	struct config *c = prog_pending();
	size_t i, added = 0;

	if (prog_group_exists(group))
		return RESULT_ALREADY_ADDED;
	for (i = 0; i < c->nprograms; i++) {
		const struct program *np = &c->programs[i];
		struct proc *p;

		if (strcmp(np->group, group) != 0 || np->is_main)
			continue;
		if (!lists_room(progs.n * 2 + 2) || !(p = proc_new(c, np))) {
			/* proc_new said why; those added so far stay, linked */
			log_warnx("%s: not added", np->name);
			if (added)
				relink();
			return RESULT_FAILED;
		}
		progs.all[progs.n++] = p;
		added++;
	}
	if (!added)
		return RESULT_BAD_NAME;
	log_info("%s: added process group", group);
	relink();
	for (i = 0; i < progs.n; i++)
		if (!strcmp(progs.all[i]->conf->group, group) &&
		    progs.all[i]->conf->autostart &&
		    progs.all[i]->state == STATE_STOPPED &&
		    !progs.all[i]->spawns)
			request_start(progs.all[i]);
	return RESULT_SUCCESS;
}

int
prog_group_remove(const char *group)
{
	size_t i;

	if (!prog_group_exists(group))
		return RESULT_BAD_NAME;
	for (i = 0; i < progs.n; i++)
		if (!strcmp(progs.all[i]->conf->group, group) &&
		    is_active(progs.all[i]))
			return RESULT_STILL_RUNNING;
	for (i = 0; i < progs.n;) {
		struct proc *p = progs.all[i];

		if (strcmp(p->conf->group, group) != 0 || p->conf->is_main) {
			i++;
			continue;
		}
		drop(p);
	}
	log_info("%s: removed process group", group);
	return RESULT_SUCCESS;
}

static bool
in_groups(const char *group, const char *const *groups, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(groups[i], group))
			return true;
	return n == 0;
}

bool
prog_apply(struct config *c, const char *const *groups, size_t ngroups)
{
	struct config *old = progs.config;
	enum program_change change;
	struct lookup lk;
	size_t i, j, n = progs.n;

	if (!lists_room((progs.n + c->nprograms) * 2 + 1)) {
		log_warnx("reload: out of memory, nothing changed");
		conf_release(c);
		return false;
	}
	if (progs.pending && progs.pending != c)
		conf_release(progs.pending);
	progs.pending = NULL;
	progs.config = c;
	lookup_build(&lk, c);
	/* what disappeared */
	for (i = 0; i < n; i++) {
		struct proc *p = progs.all[i];

		if (p->removed || lookup_program(&lk, p->conf->name) ||
		    !in_groups(p->conf->group, groups, ngroups))
			continue;
		log_info("%s: disappeared, stopping", p->conf->name);
		p->removed = true;
		if (is_active(p))
			request_stop(p);
	}
	for (i = 0; i < c->nprograms; i++) {
		const struct program *np = &c->programs[i];
		struct proc *p = lookup_proc(&lk, np);

		if (!in_groups(np->group, groups, ngroups) &&
		    (!p || !in_groups(p->conf->group, groups, ngroups)))
			continue;
		if (!p) {
			if (!(p = proc_new(c, np))) {
				log_warnx("%s: out of memory, not added", np->name);
				continue;
			}
			progs.all[progs.n++] = p;
			log_info("%s: available, %s", np->name, np->autostart ?
			    "starting" : "not started (autostart=false)");
			if (np->autostart)
				p->want_start = true;	/* once relinked */
			continue;
		}
		change = conf_compare(p->conf, np);
		if (change != PROGRAM_SHAPED) {
			/* the same process under its new description */
			struct config *gen = p->gen;

			if (change == PROGRAM_LIVE)
				log_info("%s: changed, updated in place",
				    np->name);
			prog_alive(p, c, np);
			output_update(p->out, np);
			conf_release(gen);
			continue;
		}
		if (p->next)
			conf_release(p->next_gen);
		p->next = np;
		p->next_gen = c;
		c->refs++;
		/* its dependents keep running: only it restarts */
		if (p->state == STATE_STARTING || p->state == STATE_RUNNING) {
			log_info("%s: changed, restarting", np->name);
			stop(p);
		} else if (p->state != STATE_STOPPING) {
			log_info("%s: changed", np->name);
			finish_stop(p);
		}
	}
	/* the running configuration's own reference */
	conf_release(old);
	relink();
	/* what starts now pulls in what it depends on */
	for (i = 0; i < progs.n; i++)
		if (progs.all[i]->want_start && !progs.all[i]->spawns)
			for (j = 0; j < progs.all[i]->ndeps; j++)
				if (!is_ready(progs.all[i]->deps[j]))
					request_start(progs.all[i]->deps[j]);
	progs.dirty = true;
	return true;
}
