/*
 * ready.c: when a started process counts as up, beyond supervisord's
 * "alive for startsecs".
 *
 * ready=notify speaks systemd's notification protocol: tend owns one
 * datagram socket with an abstract name the kernel picks, passed as
 * NOTIFY_SOCKET to the programs that use the mode only. The kernel
 * attaches the sender's credentials to each message, and prog.c maps
 * the pid to its program, so a process that is not that program's (or
 * its descendant's) cannot make it ready. It costs no polling at all.
 *
 * ready=tcp:HOST:PORT and ready=command:CMD are checks, tried every
 * ready_interval, each given that long to answer, only until the first
 * success: once ready, nothing runs again and the loop is idle.
 * ready_timeout bounds the whole wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fmt.h"
#include "log.h"
#include "output.h"
#include "proc.h"
#include "prog.h"
#include "ready.h"

/* A notification is short; a longer datagram is refused whole. */
#define NOTIFY_MAX 4096

static struct {
	struct watch sock;
	char name[16];			/* "@" and the kernel's 5 hex digits */
	struct readiness *checks;	/* those with a command under way */
} rd;

int
ready_parse_notify(const char *msg, size_t len, bool *ready, char *status,
    size_t status_len)
{
	const char *end = msg + len;

	*ready = false;
	while (msg < end) {
		const char *nl = memchr(msg, '\n', (size_t)(end - msg));
		const char *eol = nl ? nl : end;
		const char *eq = memchr(msg, '=', (size_t)(eol - msg));
		size_t klen, vlen;

		if (eol == msg) {		/* an empty line */
			msg = nl ? nl + 1 : end;
			continue;
		}
		if (!eq || eq == msg)
			return -1;
		klen = (size_t)(eq - msg);
		vlen = (size_t)(eol - eq - 1);
		if (klen == 5 && !memcmp(msg, "READY", 5) && vlen == 1 &&
		    eq[1] == '1')
			*ready = true;
		else if (klen == 6 && !memcmp(msg, "STATUS", 6) && status_len) {
			if (vlen >= status_len)
				vlen = status_len - 1;
			memcpy(status, eq + 1, vlen);
			status[vlen] = '\0';
		}
		msg = nl ? nl + 1 : end;
	}
	return 0;
}

/* Descriptors passed along (FDSTORE=1) are not kept. */
static void
close_passed_fds(struct msghdr *mh)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		const int *fds = (const int *)CMSG_DATA(cm);
		size_t i, n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++)
			close(fds[i]);
	}
}

static pid_t
sender_pid(struct msghdr *mh)
{
	struct cmsghdr *cm;
	struct ucred cred;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			return cred.pid;
		}
	}
	return 0;
}

static void
notify_ready(struct watch *w, uint32_t events)
{
	char buf[NOTIFY_MAX], status[128];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(struct ucred)) +
		    CMSG_SPACE(16 * sizeof(int))];
	} control;
	int i;

	(void)events;
	/* bounded: a flood of datagrams never holds the loop */
	for (i = 0; i < 64; i++) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = &control, .msg_controllen = sizeof(control) };
		ssize_t n = recvmsg(w->fd, &mh, MSG_DONTWAIT | MSG_TRUNC |
		    MSG_CMSG_CLOEXEC);
		bool ready;
		pid_t pid;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("reading the notification socket");
			return;
		}
		close_passed_fds(&mh);
		pid = sender_pid(&mh);
		status[0] = '\0';
		if ((size_t)n > sizeof(buf) || pid <= 0 ||
		    ready_parse_notify(buf, (size_t)n, &ready, status,
		    sizeof(status)) < 0) {
			log_debug("notification from pid %d refused: malformed",
			    (int)pid);
			continue;
		}
		prog_notified(pid, ready, status[0] ? status : NULL);
	}
}

void
ready_setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sa);
	int fd, on = 1;

	rd.sock.fd = -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* a bind of the family alone asks the kernel for a unique name */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on,
	    sizeof(on)) < 0 || bind(fd, (struct sockaddr *)&sa,
	    sizeof(sa.sun_family)) < 0 || getsockname(fd,
	    (struct sockaddr *)&sa, &len) < 0 || len <= sizeof(sa.sun_family) + 1 ||
	    len - sizeof(sa.sun_family) >= sizeof(rd.name)) {
		log_warn("cannot make the notification socket; ready=notify "
		    "programs will not become ready");
		if (fd >= 0)
			close(fd);
		return;
	}
	rd.name[0] = '@';
	memcpy(rd.name + 1, sa.sun_path + 1, len - sizeof(sa.sun_family) - 1);
	rd.sock.fd = fd;
	rd.sock.ready = notify_ready;
}

const char *
ready_socket_name(void)
{
	return rd.sock.fd >= 0 ? rd.name : NULL;
}

void
ready_listen(void)
{
	if (rd.sock.fd >= 0 && loop_watch(&rd.sock, EPOLLIN) < 0)
		log_warn("cannot watch the notification socket");
}

/* ---- checks ------------------------------------------------------------------ */

static void check_due(struct timer *t);

static void
conn_close(struct readiness *r)
{
	if (r->conn.fd < 0)
		return;
	loop_unwatch(&r->conn);
	close(r->conn.fd);
	r->conn.fd = -1;
}

static void
unlink_check(struct readiness *r)
{
	struct readiness **rp;

	for (rp = &rd.checks; *rp; rp = &(*rp)->next_check) {
		if (*rp == r) {
			*rp = r->next_check;
			break;
		}
	}
	r->next_check = NULL;
}

/* A command that outlived its turn; reaped later as any orphan is. */
static void
command_kill(struct readiness *r)
{
	if (r->check_pid <= 0)
		return;
	(void)kill(-r->check_pid, SIGKILL);
	r->check_pid = 0;
	unlink_check(r);
}

static void
succeeded(struct readiness *r)
{
	ready_end(r);
	r->done(r, true);
}

static void
conn_ready(struct watch *w, uint32_t events)
{
	struct readiness *r = container_of(w, struct readiness, conn);
	int err = 0;
	socklen_t len = sizeof(err);

	(void)events;
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	conn_close(r);
	if (err == 0)
		succeeded(r);
}

static void
tcp_try(struct readiness *r)
{
	const struct inet_addr *a = &r->conf->ready_addr;
	int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);

	if (fd < 0) {
		log_warn("%s: cannot make a socket for ready=", r->conf->name);
		return;
	}
	if (connect(fd, &a->u.sa, a->len) == 0) {
		close(fd);
		succeeded(r);
		return;
	}
	if (errno != EINPROGRESS) {
		close(fd);		/* refused: not yet */
		return;
	}
	r->conn.fd = fd;
	r->conn.ready = conn_ready;
	if (loop_watch(&r->conn, EPOLLOUT) < 0) {
		close(fd);
		r->conn.fd = -1;
	}
}

/* The check command, as the program would run: its user, environment. */
static void
command_try(struct readiness *r)
{
	struct program check = *r->conf;
	struct child_stdio io = { CHILD_DISCARD, CHILD_DISCARD };
	int errfd = -1;
	pid_t pid;

	check.argv = r->conf->ready_argv;
	check.redirect_stderr = false;
	pid = proc_spawn_program(&check, &io, &errfd);
	if (errfd >= 0)
		close(errfd);	/* an exec failure shows as its exit status */
	if (pid < 0) {
		log_warn("%s: cannot run its ready= command", r->conf->name);
		return;
	}
	r->check_pid = pid;
	r->next_check = rd.checks;
	rd.checks = r;
}

/* An attempt still under way when the next is due has failed. */
static void
check_due(struct timer *t)
{
	struct readiness *r = container_of(t, struct readiness, check);

	conn_close(r);
	command_kill(r);
	timer_set(&r->check, loop_now() + r->conf->ready_interval_ms);
	if (r->conf->ready == READY_TCP)
		tcp_try(r);
	else
		command_try(r);
}

static void
limit_reached(struct timer *t)
{
	struct readiness *r = container_of(t, struct readiness, limit);

	ready_end(r);
	r->done(r, false);
}

void
ready_begin(struct readiness *r, const struct program *conf)
{
	long long now = loop_now();

	ready_end(r);
	r->conf = conf;
	r->check.fire = check_due;
	r->limit.fire = limit_reached;
	if (conf->ready_timeout_ms > 0)
		timer_set(&r->limit, now + conf->ready_timeout_ms);
	if (conf->ready == READY_TCP || conf->ready == READY_COMMAND)
		timer_set(&r->check, now);	/* the first try at once */
}

void
ready_end(struct readiness *r)
{
	timer_cancel(&r->check);
	timer_cancel(&r->limit);
	conn_close(r);
	command_kill(r);
}

bool
ready_reaped(pid_t pid, int wstatus)
{
	struct readiness *r;

	for (r = rd.checks; r; r = r->next_check) {
		if (r->check_pid != pid)
			continue;
		r->check_pid = 0;
		unlink_check(r);
		if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
			succeeded(r);
		return true;
	}
	return false;
}
