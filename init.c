/*
 * init.c: main, tend's PID-1 duties, the shutdown and the reload.
 *
 * Signals arrive as data on a signalfd, never in a handler, and the
 * loop (loop.c) sleeps in one epoll_wait whose timeout is the earliest
 * deadline, so an idle tend uses no CPU. Every child the kernel hands
 * over is reaped.
 *
 * A shutdown (a stop signal, or a critical program that ended) moves
 * through phases: the programs are stopped in descending priority, then
 * whatever else remains of the process tree gets SIGTERM, and when the
 * budget runs out everything left gets SIGKILL. tend exits the moment
 * the last process is reaped and its relayed output written, or, when a
 * target stays full, at the end of the budget.
 *
 * A reload (SIGHUP without main, or the control plane) loads the
 * configuration again with the same request, and applies only what
 * changed (prog_apply), with the [tend] settings that can change live.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "config.h"
#include "http.h"
#include "init.h"
#include "log.h"
#include "loop.h"
#include "output.h"
#include "proc.h"
#include "prog.h"
#include "ready.h"
#include "sig.h"

enum phase {
	PHASE_RUNNING,	/* programs run and are restarted */
	PHASE_STOPPING,	/* programs are stopped, by priority */
	PHASE_DRAINING,	/* the rest of the tree got SIGTERM */
	PHASE_KILLING,	/* the budget ran out: SIGKILL to whatever remains */
};

static const char *const phase_names[] = {
	[PHASE_RUNNING] = "running", [PHASE_STOPPING] = "stopping",
	[PHASE_DRAINING] = "draining", [PHASE_KILLING] = "killing",
};

static struct {
	struct options opts;
	struct conf_request request;	/* every load asks the same */
	struct config *config;		/* the running one */
	long long started;		/* Unix seconds */
	long long started_ms;		/* loop clock */
	sigset_t inherited_mask;	/* restored in main */
	struct watch signals;
	pid_t self;
	enum phase phase;
	struct timer budget;		/* the shutdown's; pending during it */
	bool budget_over;
	bool critical_ended;
	int critical_status;		/* the status of the one that did */
} init;

/* Whether any child remains, without reaping it. */
static bool
has_children(void)
{
	siginfo_t info;

	return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 ||
	    errno != ECHILD;
}

static void
signal_everyone(int sig)
{
	char name[SIG_NAME_MAX];

	if (proc_kill_descendants(sig) < 0)
		log_warn("cannot list descendants in /proc to send %s",
		    sig_name(sig, name));
	else
		log_debug("sent %s to the remaining processes",
		    sig_name(sig, name));
}

/*
 * One budget for the whole shutdown, from its first cause. stop_signal
 * is the signal tend received (main gets it), or 0.
 */
static void
begin_shutdown(int stop_signal)
{
	long long now = loop_now();

	init.phase = PHASE_STOPPING;
	timer_set(&init.budget, now + init.config->shutdown_ms + 1);
	log_info("shutting down within %ld ms", init.config->shutdown_ms);
	prog_begin_shutdown(stop_signal);
}

/* With no process left, only output may be waiting: see loop(). */
static void
budget_over(struct timer *t)
{
	(void)t;
	init.budget_over = true;
	if (!has_children())
		return;
	log_warnx("shutdown budget of %ld ms is over, killing what remains",
	    init.config->shutdown_ms);
	init.phase = PHASE_KILLING;
	signal_everyone(SIGKILL);
}

/* Moves the shutdown on after any event; cheap when nothing changed. */
static void
advance(void)
{
	int status, sig;

	prog_settle();
	if (init.phase == PHASE_RUNNING &&
	    (status = prog_critical_exit()) >= 0) {
		init.critical_ended = true;
		init.critical_status = status;
		begin_shutdown(0);
	}
	if (init.phase == PHASE_RUNNING && prog_shutdown_asked(&sig)) {
		log_info("shutdown asked through the control socket");
		begin_shutdown(sig);
	}
	if (init.phase == PHASE_STOPPING && prog_shutdown_step()) {
		init.phase = PHASE_DRAINING;
		if (has_children())
			signal_everyone(SIGTERM);
	}
}

static void
orphan_reaped(pid_t pid, int wstatus)
{
	if (init.opts.warn_reap)
		log_notice("reaped orphan pid %d (status %d)", (int)pid,
		    proc_exit_code(wstatus));
	else
		log_debug("reaped orphan pid %d", (int)pid);
}

/*
 * SIGCHLDs coalesce, so one signal may stand for many exits: wait until
 * the kernel says none is left (0) or there are no children (ECHILD).
 */
static void
reap(void)
{
	int reaped = 0;

	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, WNOHANG);

		if (pid == 0)
			break;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("waitpid");
			break;
		}
		reaped++;
		if (!prog_reaped(pid, wstatus))
			orphan_reaped(pid, wstatus);
	}
	/* anything forked since the SIGKILL is killed too */
	if (reaped && init.phase == PHASE_KILLING && has_children())
		signal_everyone(SIGKILL);
}

/* tend's own writes may raise SIGPIPE or SIGXFSZ: not for the programs. */
static int
sent_by_self(const struct signalfd_siginfo *si)
{
	return si->ssi_code == SI_USER && (pid_t)si->ssi_pid == init.self;
}

static void
handle_signal(int sig)
{
	char name[SIG_NAME_MAX];

	if (sig == SIGCHLD) {
		reap();
		return;
	}
	/* supervisord's signal to reopen logs; main still gets it */
	if (sig == SIGUSR2)
		output_reopen();
	if (sig_is_stop(sig) && init.phase == PHASE_RUNNING) {
		log_info("%s received", sig_name(sig, name));
		begin_shutdown(sig);
		return;
	}
	/* supervisord's reload; with a main, HUP is main's, as in tini */
	if (sig == SIGHUP && !prog_has_main() && init.phase == PHASE_RUNNING) {
		log_info("SIGHUP received, reloading the configuration");
		tend_reload();
		return;
	}
	if (!prog_forward_to_main(sig))
		log_debug("%s received, nothing to forward it to",
		    sig_name(sig, name));
}

/*
 * Several signals may be queued: read until the queue is empty. A short
 * read means it was; a signal arriving after it makes the descriptor
 * readable again and epoll reports it, so no extra read is needed.
 */
static void
read_signals(struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si[8];
	ssize_t n;

	(void)events;
	do {
		size_t i;

		n = read(w->fd, si, sizeof(si));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("reading signals");
			return;
		}
		for (i = 0; i < (size_t)n / sizeof(si[0]); i++)
			if (!sent_by_self(&si[i]))
				handle_signal((int)si[i].ssi_signo);
	} while (n < 0 || n == (ssize_t)sizeof(si));
}

/*
 * Blocks every signal before anything can fork (a real fault still goes
 * through: see sig.c), keeping the mask tend inherited for main.
 * Dispositions are left alone, so main inherits exactly what tend
 * inherited.
 */
static void
block_signals(void)
{
	sigset_t handled;

	sig_handled_set(&handled);
	if (sig_setmask(&handled, &init.inherited_mask) < 0)
		fatal(1, "sigprocmask");
	init.signals.fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
	if (init.signals.fd < 0)
		fatal(1, "signalfd");
	init.signals.ready = read_signals;
}

/* Outside PID 1, orphans of the tree must still come to tend. */
static void
become_reaper(void)
{
	init.self = getpid();
	if (init.self == 1) {
		log_debug("running as PID 1");
		return;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper, orphans will "
		    "not be reaped by tend");
	else
		log_debug("not PID 1, registered as a child subreaper");
}

/* The parent may already be gone when the signal is asked for. */
static void
watch_parent_death(pid_t parent_before)
{
	if (init.opts.pdeathsig == 0)
		return;
	if (prctl(PR_SET_PDEATHSIG, init.opts.pdeathsig) < 0)
		fatal(1, "cannot set the parent-death signal");
	if (getppid() != parent_before)
		handle_signal(init.opts.pdeathsig);
}

/*
 * [supervisord] minfds and minprocs raise the limits, as supervisord.
 * prlimit directly: tend has one thread, and libc's setrlimit
 * synchronises all threads of a process, which costs code for nothing.
 */
static void
raise_limit(int resource, long want, const char *key)
{
	struct rlimit rl;

	if (want <= 0 || syscall(SYS_prlimit64, 0, resource, NULL, &rl) < 0 ||
	    rl.rlim_cur >= (rlim_t)want)
		return;
	rl.rlim_cur = (rlim_t)want;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (syscall(SYS_prlimit64, 0, resource, &rl, NULL) < 0)
		fatal(2, "%s=%ld: cannot raise the limit", key, want);
}

/*
 * A stop signal that came while the configuration was read from a pipe
 * or FIFO (a writer that never came): nothing has started, so tend ends
 * at once, as a process killed by that signal would.
 */
static _Noreturn void
stopped_while_loading(int fd)
{
	struct signalfd_siginfo si = { .ssi_signo = SIGTERM };
	char name[SIG_NAME_MAX];

	(void)read(fd, &si, sizeof(si));
	fatalx(128 + (int)si.ssi_signo, "%s received while reading the "
	    "configuration: nothing was started", sig_name((int)si.ssi_signo,
	    name));
}

/* The level of tend's own lines, from -v, TINI_VERBOSITY and the file. */
static void
set_log_level(const struct config *c)
{
	/* supervisord's default level is info; alone, main is quiet */
	int level = c->loglevel >= 0 ? c->loglevel :
	    c->nprograms > (init.opts.command ? 1U : 0U) ? LOG_INFO : LOG_WARN;

	log_set_level(init.opts.log_level >= 0 ? init.opts.log_level :
	    level + init.opts.verbosity);
}

static void
load_config(void)
{
	struct conf_request *req = &init.request;
	sigset_t stops;
	int errors;

	req->file = init.opts.config_file;
	req->command = init.opts.command;
	req->forward_group = init.opts.group;
	req->grace_ms = init.opts.grace_ms;
	req->notify_socket = ready_socket_name();
	/*
	 * Its own signalfd: reading it takes only a stop signal, and every
	 * other signal stays queued for the loop.
	 */
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGQUIT);
	req->stop_fd = signalfd(-1, &stops, SFD_CLOEXEC | SFD_NONBLOCK);
	/* messages while loading follow -v; the file may change the level */
	log_set_level((init.opts.check ? LOG_INFO : LOG_WARN) +
	    init.opts.verbosity);
	init.config = conf_load(req, &errors);
	if (errors) {
		if (init.config && init.config->interrupted)
			stopped_while_loading(req->stop_fd);
		exit(2);
	}
	if (req->stop_fd >= 0)
		close(req->stop_fd);
	/* a reload reads regular files: nothing to wait on */
	req->stop_fd = -1;
	if (init.opts.check) {
		conf_print(init.config);
		exit(0);
	}
	set_log_level(init.config);
	raise_limit(RLIMIT_NOFILE, init.config->minfds, "minfds");
	raise_limit(RLIMIT_NPROC, init.config->minprocs, "minprocs");
}

/* ---- what the control plane asks of tend itself ------------------------- */

struct config *
tend_reread(int *errors)
{
	struct config *c = conf_load(&init.request, errors);

	if (*errors)
		log_warnx("the configuration has errors: nothing changed");
	return c;
}

/*
 * The [tend] settings a reload can change: the level and format of
 * tend's own lines, the shutdown budget, the termination log, the
 * credentials of the control server. Where tend listens, its own log
 * file and the limits stay as they were until it restarts.
 */
void
tend_apply(struct config *c, const char *const *groups, size_t ngroups)
{
	if (!prog_apply(c, groups, ngroups))
		return;		/* c is released, nothing changed */
	init.config = c;
	set_log_level(c);
	output_set_format(&c->format);
}

int
tend_reload(void)
{
	int errors;
	struct config *c;

	http_retry();
	if (!(c = tend_reread(&errors)))
		return -1;
	if (errors) {
		conf_release(c);
		return -1;
	}
	tend_apply(c, NULL, 0);
	return 0;
}

void
tend_status(struct tend_status *st)
{
	st->pid = getpid();
	st->started = init.started;
	st->uptime_ms = loop_now() - init.started_ms;
	st->phase = phase_names[init.phase];
	st->config_file = init.config->file;
}

/*
 * Kubernetes shows this file in `kubectl describe pod`: why the critical
 * program ended tend. Written only if the path exists; a line, never any
 * environment value.
 */
static void
write_termination_log(void)
{
	char summary[4097];	/* Kubernetes reads at most 4096 bytes */
	int n, fd;

	if (!init.config->termination_log ||
	    (n = prog_critical_summary(summary, sizeof(summary))) <= 0)
		return;
	fd = open(init.config->termination_log, O_WRONLY | O_TRUNC | O_NOCTTY |
	    O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write_all(fd, summary, (size_t)n) < 0)
		log_warn("%s", init.config->termination_log);
	close(fd);
}

/* The status tend exits with; see the exit-status table in README.md. */
static int
exit_status(bool killed)
{
	int status;

	if (init.critical_ended)
		status = init.critical_status;
	else if (prog_has_main())
		status = prog_main_status();
	else
		status = killed ? 128 + SIGKILL : 0;
	return cli_remap_exit(&init.opts, status < 0 ? 1 : status);
}

static int
loop(void)
{
	bool killed = false;

	for (;;) {
		loop_once();
		advance();
		killed |= init.phase == PHASE_KILLING;
		if (init.phase >= PHASE_DRAINING && !has_children() &&
		    ((!output_pending() && !http_pending()) ||
		    init.budget_over)) {
			http_finish();
			output_finish();
			write_termination_log();
			return exit_status(killed);
		}
	}
}

/*
 * A closed 0, 1 or 2 would be taken by the next descriptor tend opens,
 * and its messages would go there: fill the gaps with /dev/null.
 */
static void
ensure_std_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			_exit(1);
}

int
main(int argc, char **argv)
{
	pid_t parent = getppid();

	ensure_std_fds();
	if (argc > 1 && strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
	block_signals();
	cli_parse(argc, argv, &init.opts);
	ready_setup();
	load_config();
	become_reaper();
	loop_setup();
	if (loop_watch(&init.signals, EPOLLIN) < 0)
		fatal(1, "epoll");
	init.budget.fire = budget_over;
	init.started = time(NULL);
	init.started_ms = loop_now();
	ready_listen();
	output_setup(init.config);
	http_setup(init.config);
	prog_setup(init.config, &init.inherited_mask);
	prog_start_all();
	watch_parent_death(parent);
	return loop();
}
