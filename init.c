/*
 * init.c: tend's PID-1 duties and its event loop.
 *
 * Signals arrive as data on a signalfd, never in a handler. The loop
 * sleeps in one epoll_wait whose timeout is the only pending deadline
 * (none at all while the command simply runs), so an idle tend uses no
 * CPU. Every child the kernel hands over is reaped; when the command
 * exits, or tend is told to stop, the rest of the tree gets SIGTERM and,
 * after the grace period, SIGKILL, and tend exits the moment the last
 * process is reaped.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "proc.h"
#include "sig.h"

enum phase {
	PHASE_RUNNING,	/* the command runs; signals are forwarded to it */
	PHASE_DRAINING,	/* the rest of the tree got SIGTERM */
	PHASE_KILLING,	/* the grace ran out: SIGKILL to whatever remains */
};

/* Something the loop waits on; epoll's data points at it. */
struct watch {
	int fd;
	void (*ready)(void);
};

static struct {
	struct options opts;
	sigset_t inherited_mask;	/* restored in the command */
	int epfd;
	struct watch signals;
	pid_t self;
	pid_t command;
	int command_errfd;
	int exit_code;			/* -1 until the command is reaped */
	int children_left;		/* cleared when waitpid says ECHILD */
	enum phase phase;
	long long deadline;		/* CLOCK_MONOTONIC ms; 0 when none */
} init = { .epfd = -1, .command_errfd = -1, .exit_code = -1,
    .children_left = 1 };

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The grace runs from the first reason to stop; later ones keep it. */
static void
arm_deadline(void)
{
	if (init.deadline == 0)
		init.deadline = now_ms() + init.opts.grace_ms + 1;
}

/* Rounded up, so that the loop never wakes before the deadline. */
static int
timeout_ms(void)
{
	long long left;

	if (init.deadline == 0)
		return -1;
	left = init.deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Without /proc, the command's group is all tend can name. */
static void
signal_everyone(int sig)
{
	char name[SIG_NAME_MAX];
	int n = proc_kill_descendants(sig);

	if (n < 0) {
		log_warn("cannot list descendants in /proc, signalling the "
		    "command's process group only");
		if (init.exit_code < 0)
			(void)kill(init.command, sig);
		(void)kill(-init.command, sig);
		return;
	}
	log_debug("sent %s to the remaining processes",
	    sig_name(sig, name));
}

static void
start_draining(void)
{
	init.phase = PHASE_DRAINING;
	arm_deadline();
	signal_everyone(SIGTERM);
}

static void
start_killing(void)
{
	if (init.phase != PHASE_KILLING)
		log_warnx("grace period of %ld ms over, killing what remains",
		    init.opts.grace_ms);
	init.phase = PHASE_KILLING;
	init.deadline = 0;
	signal_everyone(SIGKILL);
}

static void
command_exited(int wstatus)
{
	char name[SIG_NAME_MAX];
	int err = proc_exec_errno(init.command_errfd);

	init.command_errfd = -1;
	if (err) {
		log_error("cannot execute '%s': %s", init.opts.command[0],
		    strerror(err));
		init.exit_code = proc_exec_failure_code(err);
	} else {
		init.exit_code = proc_exit_code(wstatus);
		if (WIFSIGNALED(wstatus))
			log_info("command killed by %s",
			    sig_name(WTERMSIG(wstatus), name));
		else
			log_info("command exited with status %d",
			    init.exit_code);
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
	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, WNOHANG);

		if (pid == 0)
			break;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				init.children_left = 0;
			else
				log_warn("waitpid");
			break;
		}
		if (pid == init.command)
			command_exited(wstatus);
		else
			orphan_reaped(pid, wstatus);
	}
	if (init.exit_code < 0 || !init.children_left)
		return;
	if (init.phase == PHASE_RUNNING)
		start_draining();
	else if (init.phase == PHASE_KILLING)
		signal_everyone(SIGKILL);	/* anything forked meanwhile */
}

static void
forward(int sig)
{
	char name[SIG_NAME_MAX];
	pid_t target = init.opts.group ? -init.command : init.command;

	if (!init.opts.group && init.exit_code >= 0)
		return;		/* the pid may already belong to another */
	if (kill(target, sig) < 0 && errno != ESRCH)
		log_warn("cannot forward %s to %d", sig_name(sig, name),
		    (int)target);
	else
		log_debug("forwarded %s to %d", sig_name(sig, name),
		    (int)target);
}

/* tend's own writes may raise SIGPIPE or SIGXFSZ: not for the command. */
static int
sent_by_self(const struct signalfd_siginfo *si)
{
	return si->ssi_code == SI_USER && (pid_t)si->ssi_pid == init.self;
}

static void
handle_signal(int sig)
{
	if (sig == SIGCHLD) {
		reap();
		return;
	}
	forward(sig);
	if (sig_is_stop(sig) && init.phase == PHASE_RUNNING) {
		char name[SIG_NAME_MAX];

		log_info("%s received, stopping within %ld ms",
		    sig_name(sig, name), init.opts.grace_ms);
		arm_deadline();
	}
}

/* Signals coalesce and several may be queued: drain until EAGAIN. */
static void
read_signals(void)
{
	struct signalfd_siginfo si[8];

	for (;;) {
		ssize_t n = read(init.signals.fd, si, sizeof(si));
		size_t i;

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
	}
}

/*
 * Blocks every signal but the faults before anything can fork, keeping
 * the mask tend inherited for the command. Dispositions are left alone,
 * so the command inherits exactly what tend inherited.
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

static void
watch_add(struct watch *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	if (epoll_ctl(init.epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		fatal(1, "epoll_ctl");
}

static void
setup_loop(void)
{
	init.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (init.epfd < 0)
		fatal(1, "epoll_create1");
	watch_add(&init.signals);
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

static void
start_command(void)
{
	init.command = proc_spawn(init.opts.command, &init.inherited_mask,
	    &init.command_errfd);
	if (init.command < 0)
		fatal(1, "cannot start '%s'", init.opts.command[0]);
	log_info("spawned '%s' with pid %d", init.opts.command[0],
	    (int)init.command);
}

static int
loop(void)
{
	struct epoll_event events[LOOP_EVENTS];

	while (init.exit_code < 0 || init.children_left) {
		int i, n = epoll_wait(init.epfd, events, LOOP_EVENTS,
		    timeout_ms());

		if (n < 0 && errno != EINTR)
			log_warn("epoll_wait");
		for (i = 0; i < n; i++)
			((struct watch *)events[i].data.ptr)->ready();
		if (init.deadline && now_ms() >= init.deadline)
			start_killing();
	}
	return cli_remap_exit(&init.opts, init.exit_code);
}

int
main(int argc, char **argv)
{
	pid_t parent = getppid();

	block_signals();
	cli_parse(argc, argv, &init.opts);
	log_set_level(LOG_WARN + init.opts.verbosity);
	become_reaper();
	setup_loop();
	start_command();
	watch_parent_death(parent);
	return loop();
}
