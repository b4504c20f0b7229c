/*
 * prog.c: supervised processes. Each follows supervisord's state machine
 * transition for transition (process.py): STOPPED, STARTING, RUNNING,
 * BACKOFF, STOPPING, EXITED, FATAL, UNKNOWN, with the same log lines.
 * Unlike supervisord, every timer is an exact deadline on its process
 * (no 1 s tick): startsecs, the backoff delay, stopwaitsecs, and the
 * minimal restart interval of a program that dies at once.
 *
 * The command given after -- is the process "main": critical, never
 * restarted, spawned with tend's own environment (less TEND_*),
 * descriptors and signal mask, and the one that signals to tend are
 * forwarded to.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>

#include "config.h"
#include "fmt.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "output.h"
#include "proc.h"
#include "prog.h"
#include "sig.h"

struct proc {
	const struct program *conf;
	enum prog_state state;
	pid_t pid;			/* 0 when no process runs */
	pid_t pgid;			/* the last process group, for -g */
	int errfd;			/* the child's set-up report */
	long long laststart;
	struct timer timer;		/* startsecs, backoff, stopwaitsecs */
	int backoff;			/* consecutive failed starts */
	int status;			/* the last exit, as an exit status */
	char how[64];			/* the last exit, in words */
};

static struct {
	struct arena arena;
	struct proc *procs;
	size_t n;
	const sigset_t *mask;
	bool shutting_down;
	int main_stop_signal;
	int critical_status;		/* -1 until a critical program ends */
	const struct proc *critical;	/* that program */
} progs = { .critical_status = -1 };

static const char *const state_names[] = {
	[STATE_STOPPED] = "STOPPED", [STATE_STARTING] = "STARTING",
	[STATE_RUNNING] = "RUNNING", [STATE_BACKOFF] = "BACKOFF",
	[STATE_STOPPING] = "STOPPING", [STATE_EXITED] = "EXITED",
	[STATE_FATAL] = "FATAL", [STATE_UNKNOWN] = "UNKNOWN",
};

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

static void
critical_ended(struct proc *p, int status)
{
	if (!p->conf->critical || progs.shutting_down ||
	    progs.critical_status >= 0)
		return;
	progs.critical_status = status;
	progs.critical = p;
	plog(p, LOG_WARN, "%s is critical and has ended: shutting down",
	    p->conf->name);
}

int
prog_critical_summary(char *buf, size_t len)
{
	static const char head[] = "last lines on its stderr:\n";
	const struct proc *p = progs.critical;
	size_t n, tail;

	if (!p || len == 0)
		return 0;
	n = (size_t)fmt_snprintf(buf, len, "tend: critical program '%s' ended "
	    "in state %s (%s); tend exited with status %d\n", p->conf->name,
	    state_names[p->state], p->how, progs.critical_status);
	if (n >= len)
		return (int)len - 1;
	/* the tail goes in place, then its heading before it */
	if (len - n > sizeof(head) && (tail = output_stderr_tail(p->conf,
	    buf + n + sizeof(head) - 1, len - n - (sizeof(head) - 1))) > 0) {
		memcpy(buf + n, head, sizeof(head) - 1);
		n += sizeof(head) - 1 + tail;
	}
	return (int)n;
}

static void spawn(struct proc *p, long long now);

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
enter_backoff(struct proc *p, long long now)
{
	p->backoff++;
	set_state(p, STATE_BACKOFF);
	if (p->backoff > p->conf->startretries)
		give_up(p);
	else
		timer_set(&p->timer, now + 1000LL * p->backoff);
}

static void
spawn(struct proc *p, long long now)
{
	const struct program *c = p->conf;
	struct child_stdio io;
	const char *what = "fork";
	pid_t pid = -1;

	p->laststart = now;
	timer_cancel(&p->timer);
	set_state(p, STATE_STARTING);
	if (output_prepare(c, &io) < 0) {
		what = "make the output pipes of";
	} else {
		pid = c->is_main ? proc_spawn(c->argv, c->envp, progs.mask, &io,
		    &p->errfd) : proc_spawn_program(c, &io, &p->errfd);
		output_spawned(c, &io, pid > 0);
		/* fork itself never fails for lack of descriptors */
		if (pid < 0 && (errno == EMFILE || errno == ENFILE))
			what = "make the report pipe of";
	}
	if (pid < 0) {
		plog(p, LOG_WARN, "spawnerr: cannot %s '%s': %s", what, c->name,
		    strerror(errno));
		p->status = 1;
		enter_backoff(p, now);
		return;
	}
	p->pid = p->pgid = pid;
	timer_set(&p->timer, now + 1000LL * c->startsecs);
	plog(p, LOG_INFO, "spawned: '%s' with pid %d", c->name, (int)pid);
}

static void
enter_running(struct proc *p)
{
	timer_cancel(&p->timer);
	p->backoff = 0;
	set_state(p, STATE_RUNNING);
	plog(p, LOG_INFO, "success: %s entered RUNNING state, process has "
	    "stayed up for > than %ld seconds (startsecs)", p->conf->name,
	    p->conf->startsecs);
}

/*
 * An exit after RUNNING. autorestart applies; a run that died almost at
 * once waits out MIN_RESTART_MS from its start, so that a crash loop
 * with startsecs=0 cannot spin the CPU.
 */
static void
enter_exited(struct proc *p, bool expected, const char *how, long long now)
{
	const struct program *c = p->conf;
	bool restart = c->autorestart == RESTART_ALWAYS ||
	    (c->autorestart == RESTART_UNEXPECTED && !expected);

	p->backoff = 0;
	set_state(p, STATE_EXITED);
	plog(p, expected ? LOG_INFO : LOG_WARN, "exited: %s (%s; %s)", c->name,
	    how, expected ? "expected" : "not expected");
	if (progs.shutting_down || !restart) {
		critical_ended(p, p->status);
		return;
	}
	if (now - p->laststart < MIN_RESTART_MS)
		timer_set(&p->timer, p->laststart + MIN_RESTART_MS);
	else
		spawn(p, now);
}

/* What failed in the child, reported once with the program's name. */
static void
report_failure(const struct proc *p, const struct spawn_failure *f)
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
		break;
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
		break;
	case STAGE_CHDIR:
		log_error("%s: cannot chdir to %s: %s", c->name, c->directory,
		    reason);
		break;
	}
}

static void
on_exit(struct proc *p, int wstatus, long long now)
{
	const struct program *c = p->conf;
	struct spawn_failure f;
	bool failed, expected;
	char how[48];

	output_drain(c);
	failed = proc_spawn_failure(p->errfd, &f) != STAGE_NONE;
	p->errfd = -1;
	p->pid = 0;
	p->status = failed && f.stage == STAGE_EXEC ?
	    proc_exec_failure_code(f.err) : failed ? 127 :
	    proc_exit_code(wstatus);
	if (failed)
		report_failure(p, &f);
	expected = !failed && is_expected(c, wstatus);
	describe_exit(wstatus, how, sizeof(how));
	if (failed)
		fmt_snprintf(p->how, sizeof(p->how), "%s: %s", f.stage ==
		    STAGE_EXEC ? "could not be executed" : "set-up failed",
		    strerror(f.err));
	else
		memcpy(p->how, how, sizeof(how));

	switch (p->state) {
	case STATE_STOPPING:
		timer_cancel(&p->timer);
		set_state(p, STATE_STOPPED);
		plog(p, expected ? LOG_INFO : LOG_WARN, "stopped: %s (%s)",
		    c->name, how);
		break;
	case STATE_STARTING:
		/* an exit within startsecs is a failed start, whatever code */
		if (failed || now - p->laststart < 1000LL * c->startsecs) {
			plog(p, LOG_WARN, "exited: %s (%s; not expected)",
			    c->name, how);
			enter_backoff(p, now);
			break;
		}
		enter_running(p);
		/* fall through */
	case STATE_RUNNING:
		enter_exited(p, expected, how, now);
		break;
	default:
		log_warnx("%s: exit in state %s, which has no process",
		    c->name, state_names[p->state]);
		set_state(p, STATE_EXITED);
		break;
	}
}

bool
prog_reaped(pid_t pid, int wstatus, long long now)
{
	size_t i;

	for (i = 0; i < progs.n; i++) {
		if (progs.procs[i].pid == pid) {
			on_exit(&progs.procs[i], wstatus, now);
			return true;
		}
	}
	return false;
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

static void
on_deadline(struct timer *t)
{
	struct proc *p = container_of(t, struct proc, timer);
	const struct program *c = p->conf;
	long long now = loop_now();

	timer_cancel(&p->timer);
	switch (p->state) {
	case STATE_STARTING:
		enter_running(p);
		break;
	case STATE_BACKOFF:
	case STATE_EXITED:		/* a delayed restart */
		if (!progs.shutting_down)
			spawn(p, now);
		break;
	case STATE_STOPPING:
		plog(p, LOG_WARN, "killing '%s' (%d) with SIGKILL", c->name,
		    (int)p->pid);
		/* repeated every stopwaitsecs until the process is reaped */
		timer_set(&p->timer, now + 1000LL * c->stopwaitsecs);
		send_signal(p, SIGKILL, c->killasgroup);
		break;
	default:
		log_warnx("%s: deadline in state %s", c->name,
		    state_names[p->state]);
		break;
	}
}

/* A stop request: STARTING and RUNNING get the signal, BACKOFF none. */
static void
stop(struct proc *p, long long now)
{
	const struct program *c = p->conf;
	int sig = c->is_main && progs.main_stop_signal ?
	    progs.main_stop_signal : c->stopsignal;

	switch (p->state) {
	case STATE_BACKOFF:
		timer_cancel(&p->timer);
		set_state(p, STATE_STOPPED);
		break;
	case STATE_EXITED:
		timer_cancel(&p->timer);	/* cancels a delayed restart */
		break;
	case STATE_STARTING:
	case STATE_RUNNING:
		timer_set(&p->timer, now + 1000LL * c->stopwaitsecs);
		set_state(p, STATE_STOPPING);
		send_signal(p, sig, c->stopasgroup);
		break;
	default:
		break;
	}
}

void
prog_setup(const struct config *c, const sigset_t *inherited_mask)
{
	size_t i;

	progs.mask = inherited_mask;
	progs.n = c->nprograms;
	progs.procs = arena_alloc(&progs.arena, c->nprograms *
	    sizeof(*progs.procs) + 1);
	if (!progs.procs)
		fatal(1, "cannot allocate %zu programs", c->nprograms);
	for (i = 0; i < progs.n; i++) {
		progs.procs[i].conf = &c->programs[i];
		progs.procs[i].errfd = -1;
		progs.procs[i].timer.fire = on_deadline;
		progs.procs[i].status = -1;
	}
}

void
prog_start_all(long long now)
{
	size_t i;

	for (i = 0; i < progs.n; i++)
		if (progs.procs[i].conf->autostart)
			spawn(&progs.procs[i], now);
}

int
prog_critical_exit(void)
{
	return progs.shutting_down ? -1 : progs.critical_status;
}

/* Still to be stopped or waited for during a shutdown. */
static bool
is_active(const struct proc *p)
{
	return p->state == STATE_STARTING || p->state == STATE_RUNNING ||
	    p->state == STATE_STOPPING || p->state == STATE_BACKOFF ||
	    (p->state == STATE_EXITED && timer_pending(&p->timer));
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
prog_begin_shutdown(int stop_signal, long long now)
{
	progs.shutting_down = true;
	progs.main_stop_signal = stop_signal;
	(void)prog_shutdown_step(now);
}

/* The highest stop level that still has an active process, or NULL. */
static const struct program *
top_active_level(void)
{
	const struct program *top = NULL;
	size_t i;

	for (i = 0; i < progs.n; i++)
		if (is_active(&progs.procs[i]) && (!top ||
		    compare_level(progs.procs[i].conf, top) > 0))
			top = progs.procs[i].conf;
	return top;
}

bool
prog_shutdown_step(long long now)
{
	const struct program *top;
	size_t i;

	/* a level whose processes stop at once (BACKOFF) lets the next go */
	while ((top = top_active_level()) != NULL) {
		bool waiting = false;

		for (i = 0; i < progs.n; i++) {
			struct proc *p = &progs.procs[i];

			if (compare_level(p->conf, top) != 0)
				continue;
			stop(p, now);
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
		if (progs.procs[i].conf->is_main)
			return &progs.procs[i];
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
