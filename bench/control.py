"""
control.py: the tables of bench.py about tend's control plane, its
readiness and its scale, and the cost of relaying main's stderr:

- relay: 1 GiB that main writes to its stderr, inherited or relayed for
  the termination message;
- control: the control socket with 10 programs, against supervisord's
  (tend ctl and supervisorctl, requests per second, memory with the
  connection limit reached, restarts under load, idle wake-ups);
- web: wrk against tend's TCP port and supervisord's [inet_http_server];
- ready: a chain of 10 programs that notify READY=1, against
  supervisord's priorities; the cost of one notify message;
- scale: `tend --check` of 1,000 to 10,000 programs, 1,000 programs
  RUNNING.

bench.py runs these as its sections of the same names (`--only NAME`),
with its own helpers and conventions: everything side by side in one
run, interleaved in shuffled rounds, medians, progress on stderr,
Markdown on stdout, every server torn down in a finally block. Every
server is PID 1 of its own PID namespace (bench.Pid1), in a directory of
its own, on one file that both supervisors read (%(here)s keeps each
copy's paths inside its directory).
"""
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import xmlrpc.client
from pathlib import Path

import bench as b

SECTIONS = ["relay", "control", "web", "ready", "scale"]

SUPERVISORD = Path("/usr/bin/supervisord")
SUPERVISORCTL = Path("/usr/bin/supervisorctl")
WRK = Path("/usr/bin/wrk")
SERVERS = ["tend", "supervisord"]     # the columns; the ratio is tend ÷ the second

# --- the supervised programs and the load generator, compiled at start ---

# One static helper for every supervised program of these tables; each
# start and crash is stamped with CLOCK_MONOTONIC by the program itself,
# so a restart's latency is measured without polling /proc.
CHILD_C = r"""
/*
 * The supervised program of these tables, by its first argument:
 *   child stamp FILE      appends "start NS" to FILE, then waits
 *   child crash FILE MS   the same, then after MS ms appends "exit NS"
 *                         and exits 1
 *   child notify          sends READY=1 to $NOTIFY_SOCKET, if set, then
 *                         waits
 *   child flood FIFO N    READY=1; once the bench opens FIFO for
 *                         writing, N messages STATUS=message I, then
 *                         STATUS=done; then waits
 * NS is CLOCK_MONOTONIC in nanoseconds; each line is one write(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
stamp(const char *file, const char *what)
{
	char line[64];
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	int n = snprintf(line, sizeof(line), "%s %lld\n", what, now_ns());

	if (fd < 0 || write(fd, line, (size_t)n) != n)
		_exit(3);
	close(fd);
}

static int sock = -1;
static struct sockaddr_un addr;
static socklen_t addr_len;

/* 0 without a NOTIFY_SOCKET; an abstract name starts with '@'. */
static int
notify_open(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!name || !*name)
		return 0;
	n = strlen(name);
	if (n >= sizeof(addr.sun_path))
		_exit(4);
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, name, n);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (name[0] != '@'));
	if ((sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		_exit(4);
	return 1;
}

/* Blocking: a full queue at tend's end makes the sender wait. */
static void
notify(const char *msg, size_t len)
{
	while (sendto(sock, msg, len, 0, (struct sockaddr *)&addr,
	    addr_len) < 0)
		if (errno != EINTR) {
			perror("child: sendto");
			_exit(5);
		}
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "stamp")) {
		stamp(argv[2], "start");
	} else if (argc >= 4 && !strcmp(argv[1], "crash")) {
		struct timespec ts = { atoi(argv[3]) / 1000,
		    atoi(argv[3]) % 1000 * 1000000L };

		stamp(argv[2], "start");
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		stamp(argv[2], "exit");
		_exit(1);
	} else if (argc >= 2 && !strcmp(argv[1], "notify")) {
		if (notify_open())
			notify("READY=1", 7);
	} else if (argc >= 4 && !strcmp(argv[1], "flood")) {
		long i, n = atol(argv[3]);
		char msg[64];
		int fd;

		if (!notify_open())
			return 2;
		notify("READY=1", 7);
		while ((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0)
			if (errno != EINTR)
				return 1;
		close(fd);
		for (i = 0; i < n; i++)
			notify(msg, (size_t)snprintf(msg, sizeof(msg),
			    "STATUS=message %ld", i));
		notify("STATUS=done", 11);
	} else {
		fprintf(stderr, "usage: child stamp FILE | crash FILE MS | "
		    "notify | flood FIFO N\n");
		return 2;
	}
	for (;;)
		pause();
}
"""

# wrk speaks TCP only: over the control socket, this helper.
REQLOAD_C = r"""
/*
 * reqload SOCKET SECONDS CONNS REQUEST: CONNS keep-alive connections to
 * the Unix socket SOCKET, each sending the raw HTTP request in the file
 * REQUEST again as soon as the reply to the previous one has come
 * (closed loop), for SECONDS. Replies are framed by Content-Length; one
 * that says Connection: close is followed by a new connection. Prints
 * one line: requests, seconds, req/s, non-200 replies, reconnects, and
 * the p50, p99 and largest latency in microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX (4 << 20)

struct conn {
	int fd;
	char *buf;
	size_t len;
	long long sent_ns;
};

static struct sockaddr_un addr;
static char *req;
static size_t req_len;
static unsigned *lat;
static size_t nlat, caplat;
static long long errors, reconnects;

static void
die(const char *what)
{
	fprintf(stderr, "reqload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
dial(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("connect");
	return fd;
}

/* The request, whole: the socket is blocking, so a write never stops short. */
static void
send_request(struct conn *c)
{
	size_t off = 0;

	c->sent_ns = now_ns();
	while (off < req_len) {
		ssize_t w = write(c->fd, req + off, req_len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		off += (size_t)w;
	}
}

static const char *
header(const char *head, size_t head_len, const char *name)
{
	size_t n = strlen(name);
	const char *p = head, *end = head + head_len;

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

		if (!eol)
			break;
		if ((size_t)(eol - p) > n && !strncasecmp(p, name, n) &&
		    p[n] == ':')
			return p + n + 1;
		p = eol + 2;
	}
	return NULL;
}

/* 1: a whole reply was taken from the buffer; 0: more to come. */
static int
take_reply(struct conn *c, int *close_after)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	const char *v;
	size_t head_len, body_len;
	int status;

	if (!end)
		return 0;
	head_len = (size_t)(end - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) {
		fprintf(stderr, "reqload: not an HTTP reply\n");
		exit(1);
	}
	if (!(v = header(c->buf, head_len, "Content-Length"))) {
		fprintf(stderr, "reqload: a reply without Content-Length\n");
		exit(1);
	}
	body_len = strtoul(v, NULL, 10);
	if (c->len < head_len + body_len)
		return 0;
	v = header(c->buf, head_len, "Connection");
	*close_after = v && strstr(v, "close") != NULL;
	if (status != 200)
		errors++;
	memmove(c->buf, c->buf + head_len + body_len,
	    c->len - head_len - body_len);
	c->len -= head_len + body_len;
	return 1;
}

static void
record(long long ns)
{
	if (nlat == caplat) {
		caplat = caplat ? 2 * caplat : 1 << 16;
		if (!(lat = realloc(lat, caplat * sizeof(*lat))))
			die("realloc");
	}
	lat[nlat++] = (unsigned)(ns / 1000);
}

static int
by_value(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct epoll_event ev, evs[64];
	struct conn *conns;
	long long start, stop, ended;
	int nconns, ep, i, active;
	FILE *f;

	if (argc != 5) {
		fprintf(stderr, "usage: reqload SOCKET SECONDS CONNS REQUEST\n");
		return 2;
	}
	addr.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "reqload: socket path too long\n");
		return 2;
	}
	strcpy(addr.sun_path, argv[1]);
	nconns = atoi(argv[3]);
	if (nconns < 1 || nconns > 64)
		return 2;
	if (!(f = fopen(argv[4], "rb")))
		die(argv[4]);
	if (!(req = malloc(1 << 20)))
		die("malloc");
	req_len = fread(req, 1, 1 << 20, f);
	fclose(f);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	if (!(conns = calloc((size_t)nconns, sizeof(*conns))))
		die("calloc");
	start = now_ns();
	stop = start + (long long)(atof(argv[2]) * 1e9);
	for (i = 0; i < nconns; i++) {
		conns[i].fd = dial();
		if (!(conns[i].buf = malloc(REPLY_MAX)))
			die("malloc");
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
			die("epoll_ctl");
		send_request(&conns[i]);
	}
	active = nconns;
	while (active > 0) {
		int n = epoll_wait(ep, evs, 64, 1000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int close_after = 0;
			ssize_t r = read(c->fd, c->buf + c->len,
			    REPLY_MAX - c->len);

			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				fprintf(stderr, "reqload: the server closed "
				    "a connection mid-reply\n");
				return 1;
			}
			c->len += (size_t)r;
			if (!take_reply(c, &close_after))
				continue;
			record(now_ns() - c->sent_ns);
			if (close_after || now_ns() >= stop) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				if (now_ns() >= stop) {
					active--;
					continue;
				}
				reconnects++;
				c->fd = dial();
				c->len = 0;
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
					die("epoll_ctl");
			}
			send_request(c);
		}
	}
	ended = now_ns();
	qsort(lat, nlat, sizeof(*lat), by_value);
	printf("requests %zu seconds %.3f rate %.1f errors %lld reconnects "
	    "%lld p50_us %u p99_us %u max_us %u\n", nlat,
	    (double)(ended - start) / 1e9,
	    nlat / ((double)(ended - start) / 1e9), errors, reconnects,
	    nlat ? lat[nlat / 2] : 0, nlat ? lat[nlat * 99 / 100] : 0,
	    nlat ? lat[nlat - 1] : 0);
	return 0;
}
"""

# --- shared machinery --------------------------------------------------------

PROGRAMS = 10
KILL_AFTER_S = b.KILL_AFTER_S   # restart at once only after 1 s up (MIN_RESTART_MS)


def supervisord_head(port=None, minfds=None):
    """The sections both supervisors read besides the programs: the log,
    the control socket CTL in the file's directory, supervisorctl's
    serverurl, supervisord's RPC interface and, if asked, the TCP port."""
    text = f"""\
[supervisord]
nodaemon = true
user = root
loglevel = info
logfile = %(here)s/supervisord.log
pidfile = %(here)s/supervisord.pid
childlogdir = %(here)s
{f'minfds = {minfds}' if minfds else ''}

[unix_http_server]
file = %(here)s/ctl.sock

[supervisorctl]
serverurl = unix://%(here)s/ctl.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""
    if port:
        text += f"\n[inet_http_server]\nport = 127.0.0.1:{port}\n"
    return text


def program(name, command, **keys):
    keys = {"startsecs": 0, "autorestart": "true", "stdout_logfile": "NONE",
            "stderr_logfile": "NONE", **keys}
    return (f"\n[program:{name}]\ncommand = {command}\n" +
            "".join(f"{k} = {v}\n" for k, v in keys.items()))


def stamp_programs(child, n=PROGRAMS, crash=None):
    """n programs p0.. that stamp their starts in %(here)s/stamp.NAME; with
    crash=MS the last one, named crash, exits 1 MS ms after each start."""
    text = "".join(program(f"p{i}", f"{child} stamp %(here)s/stamp.p{i}")
                   for i in range(n - (crash is not None)))
    if crash is not None:
        text += program("crash", f"{child} crash %(here)s/stamp.crash "
                        f"{crash}")
    return text


@contextlib.contextmanager
def environment(**values):
    """os.environ with values (None: unset) for what starts meanwhile."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Server(b.Pid1):
    """tend (`tend -c FILE`) or supervisord (`supervisord -n -c FILE`) as
    PID 1 on conf, in rundir; stdout and stderr in rundir/out, where both
    write their log lines."""

    def __init__(self, kind, tend, rundir, conf, env=None):
        rundir.mkdir(parents=True)
        self.kind, self.rundir = kind, rundir
        self.conf = rundir / "supervisord.conf"
        self.conf.write_text(conf)
        self.sock = rundir / "ctl.sock"
        self.out = rundir / "out"
        path, args = ((tend, ["-c"]) if kind == "tend" else
                      (SUPERVISORD, ["-n", "-c"]))
        with open(self.out, "wb") as out, environment(**(env or {})):
            super().__init__([str(path), *args, str(self.conf)],
                             stdout=out, stderr=out,
                             exe=b.interpreter(path))

    def check(self):
        if self.proc.poll() is not None:
            tail = " / ".join(b.read_file(self.out).splitlines()[-3:])
            raise RuntimeError(f"{self.kind} exited: {tail}")

    def running(self):
        """How many times a program has entered RUNNING so far."""
        self.check()
        return len(b.RUNNING_LINE.findall(b.read_file(self.out)))

    def wait_running(self, n, timeout=30):
        b.poll_until(f"{n} programs RUNNING under {self.kind}",
                     lambda: self.running() >= n, timeout=timeout,
                     interval=b.FINE_POLL_S)
        self.find_init()
        b.poll_until(f"{self.kind}'s control socket", self.sock.exists,
                     timeout=timeout)

    def stamps(self, name):
        """[(what, ns)] of program name's stamp file."""
        return [(w, int(ns)) for w, ns in
                (line.split() for line in
                 b.read_file(self.rundir / f"stamp.{name}").splitlines())]

    def pid_of(self, name):
        """The live process of program name, by its command line."""
        want = str(self.rundir / f"stamp.{name}")
        for pid in b.children(self.pid):
            argv = b.read_file(f"/proc/{pid}/cmdline").split("\0")
            if want in argv and not b.exited(pid):
                return pid
        return None


def start_servers(stack, kinds, tend, tmp, section, conf, env=None):
    """{kind: Server}, all started before any is waited for."""
    return {kind: stack.enter_context(
        Server(kind, tend, Path(tmp, f"{section}-{kind}"), conf, env))
        for kind in kinds}


def rpc_body(method):
    return ("<?xml version='1.0'?>\n<methodCall>\n<methodName>"
            f"{method}</methodName>\n<params>\n</params>\n"
            "</methodCall>\n")


def raw_request(method, path, body="", headers=()):
    """An HTTP/1.1 request, keep-alive, as bytes."""
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", *headers]
    if body:
        lines += ["Content-Type: text/xml", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


GET_PROGRAMS = raw_request("GET", "/api/v1/programs")
RPC_ALL = raw_request("POST", "/RPC2", rpc_body(
    "supervisor.getAllProcessInfo"))


def read_reply(s, timeout=10):
    """(status, body) of one reply framed by Content-Length on socket s."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection mid-reply")
        body += chunk
    return status, body


def unix_request(sock, request, timeout=10):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(request)
        return read_reply(s, timeout)


def states(server):
    """{name: state} over the control socket: tend's API or supervisord's
    getAllProcessInfo."""
    if server.kind == "tend":
        status, body = unix_request(server.sock, GET_PROGRAMS)
        return {p["name"]: p["state"] for p in json.loads(body)["programs"]}
    status, body = unix_request(server.sock, RPC_ALL, timeout=60)
    (infos,), _ = xmlrpc.client.loads(body)
    return {p["name"]: p["statename"] for p in infos}


def run_reqload(reqload, sock, seconds, conns, request_file):
    """{requests, seconds, rate, errors, reconnects, p50_us, p99_us,
    max_us} of one reqload run."""
    r = subprocess.run([reqload, str(sock), str(seconds), str(conns),
                        str(request_file)], capture_output=True, text=True,
                       timeout=seconds + 30)
    if r.returncode != 0:
        raise RuntimeError(f"reqload: {r.stderr.strip()}")
    words = r.stdout.split()
    return {k: float(v) for k, v in zip(words[::2], words[1::2])}


def kill_restarts(server, names, count, rng):
    """ms from SIGKILL of a program up for KILL_AFTER_S to its replacement's
    own start stamp, count times."""
    latencies = []
    for _ in range(count):
        def old_enough():
            now = b.now_ns()
            up = [n for n in names
                  if (s := server.stamps(n)) and s[-1][0] == "start"
                  and now - s[-1][1] >= KILL_AFTER_S * 1e9]
            return up
        candidates = b.poll_until("a program up long enough", old_enough,
                                  timeout=10, interval=0.02)
        victim = rng.choice(sorted(candidates))
        pid = b.poll_until("the victim's pid", lambda: server.pid_of(victim),
                           timeout=5)
        seen = len(server.stamps(victim))
        sent = b.now_ns()
        os.kill(pid, signal.SIGKILL)
        b.poll_until(f"{victim} restarted", lambda: len(
            server.stamps(victim)) > seen, timeout=10, interval=0.002)
        latencies.append((server.stamps(victim)[seen][1] - sent) / 1e6)
        server.check()
    return latencies


def crash_restarts(server, name="crash"):
    """[(exit ns, ms to the next start)] from a crashing program's stamps."""
    got, last_exit = [], None
    for what, ns in server.stamps(name):
        if what == "exit":
            last_exit = ns
        elif last_exit is not None:
            got.append((last_exit, (ns - last_exit) / 1e6))
            last_exit = None
    return got


def med(values):
    return b.median(values) if values else None


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**NOT met**")


def rows_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|:--" + "|--:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def server_row(label, values, digits=0, suffix=""):
    """A row of bench.table with the tend ÷ supervisord ratio."""
    cells = {n: b.fmt(values.get(n), digits, suffix) for n in SERVERS}
    return (label, cells, b.small_ratio(values.get("tend"),
                                        values.get("supervisord")))


def missing(kinds):
    return [k for k in kinds if k == "supervisord" and
            not SUPERVISORD.is_file()]


# --- relay: main's stderr relayed for the termination message -----------------

RELAY_RUNS = 5
RELAY_MODES = [
    ("direct", "direct: `writer 2>&1 \\| reader`, no tend"),
    ("inherited", "(a) inherited: no termination log "
                  "(`TEND_TERMINATION_LOG=NONE`)"),
    ("relayed", "(b) relayed unchanged: `TEND_TERMINATION_LOG` names an "
                "existing file"),
]


def relay_once(mode, tend, helpers, rundir, cpus):
    """One run of one row: {metric: value}. As bench.relay_once, for
    `tend -- writer` in single-command mode (main), whose writer writes to
    its stderr; tend's stderr is the pipe to the reader."""
    writer_exe, drain = helpers
    rundir.mkdir()
    gate = rundir / "gate"
    os.mkfifo(gate)
    termlog = rundir / "termination-log"
    termlog.touch()
    writer = [writer_exe, str(gate), str(b.OUTPUT_BYTES), "hold"]
    got = {}
    every = os.sched_getaffinity(0)
    with contextlib.ExitStack() as stack:
        stack.callback(os.sched_setaffinity, 0, every)
        os.sched_setaffinity(0, cpus)  # what starts now inherits it
        read_end, write_end = os.pipe()
        reader = subprocess.Popen([drain, str(b.OUTPUT_BYTES)],
                                  stdin=read_end, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        os.close(read_end)
        stack.callback(b.stop_process, reader)
        pid = p = None
        try:
            if mode == "direct":
                proc = subprocess.Popen(writer, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL,
                                        stderr=write_end)
                stack.callback(b.stop_process, proc)
            else:
                log = str(termlog) if mode == "relayed" else "NONE"
                with environment(TEND_TERMINATION_LOG=log):
                    p = stack.enter_context(b.Pid1(
                        [str(tend), "--", *writer],
                        stdout=subprocess.DEVNULL, stderr=write_end))
                proc = p.proc
        finally:
            os.close(write_end)  # the reader sees EOF if all die
            os.sched_setaffinity(0, every - cpus or every)

        def alive():
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode}")

        if p is not None:
            pid = p.find_init()
            exe = os.path.realpath(writer_exe)

            def started():
                alive()
                return any(b.Pid1._exe(kid) == exe
                           for kid in b.children(pid))
            b.poll_until("the writer to start", started, timeout=10)
            time.sleep(0.2)  # let start-up work settle
            got["rss_idle"] = b.status_fields(pid)["VmRSS"]
            cpu0 = b.own_cpu_s(pid)

        start = b.open_gate(gate)
        rss = []
        next_sample = time.monotonic()
        deadline = next_sample + b.OUTPUT_TIMEOUT_S
        fd = reader.stdout.fileno()
        while True:
            if pid and time.monotonic() >= next_sample:
                rss.append(b.status_fields(pid)["VmRSS"])
                next_sample += b.RSS_SAMPLE_S
            if b.select.select([fd], [], [], b.RSS_SAMPLE_S)[0]:
                line = os.read(fd, 64)
                if not line:
                    reader.wait(timeout=10)
                    raise RuntimeError(reader.stderr.read().decode()
                                       .strip() or "the reader failed")
                ended = int(line)
                break
            if pid:
                alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{mode}: not done after "
                                   f"{b.OUTPUT_TIMEOUT_S} s")
        got["s"] = (ended - start) / 1e9
        if pid:
            got["cpu"] = b.own_cpu_s(pid) - cpu0
            rss.append(b.status_fields(pid)["VmRSS"])
            got["rss"] = max(rss)
            os.kill(pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                raise RuntimeError("no exit within 15 s of SIGTERM")
        else:
            b.stop_process(proc)
        out, text = reader.communicate(timeout=10)
        if reader.returncode != 0:
            raise RuntimeError(text.decode().strip())
        count = int(out)
        if count < b.OUTPUT_BYTES:
            raise RuntimeError(f"the reader got {count:,} bytes, not "
                               f"{b.OUTPUT_BYTES:,}")
        got["extra"] = count - b.OUTPUT_BYTES  # tend's own lines, if any
    got["termlog"] = termlog.stat().st_size
    shutil.rmtree(rundir)
    return got


def measure_relay(tend, tmp):
    writer = b.LINES_C.replace("write(1, p, n)", "write(2, p, n)")
    assert writer != b.LINES_C, "the writer of the output table changed"
    helpers = (b.compile_helper(tmp, "lines-stderr", writer),
               b.compile_helper(tmp, "drain", b.DRAIN_C))
    every = os.sched_getaffinity(0)
    one = max(every)
    cpus = {"any": every, "one": {one}}
    rows = [(pl, mode) for pl in b.OUTPUT_PLACEMENTS
            for mode, _ in RELAY_MODES]
    samples = {row: {} for row in rows}
    failed = {}
    rng = random.Random(8)
    for run in range(RELAY_RUNS):
        order = list(rows)
        rng.shuffle(order)
        for row in order:
            if row in failed:
                continue
            placement, mode = row
            b.progress(f"1 GiB on main's stderr: {mode} on {placement} "
                       f"CPU, run {run + 1} of {RELAY_RUNS}")
            rundir = Path(tmp, f"relay-{placement}-{mode}.{run}")
            try:
                got = relay_once(mode, tend, helpers, rundir,
                                 cpus[placement])
            except (TimeoutError, RuntimeError, OSError) as e:
                b.progress(f"{mode} on {placement} CPU failed: {e}")
                failed[row] = f"{e} (run {run + 1})"
                shutil.rmtree(rundir, ignore_errors=True)
                continue
            for metric, value in got.items():
                samples[row].setdefault(metric, []).append(value)
    return {"samples": samples, "failed": failed, "one": one}


def report_relay(r):
    samples, failed, one = r["samples"], r["failed"], r["one"]
    gib = b.OUTPUT_BYTES / 2**30
    mib = b.OUTPUT_BYTES / 2**20
    runs = f"median of {RELAY_RUNS}"
    where = {"any": f"any of {os.cpu_count()}", "one": f"one: CPU {one}"}

    def m(row, metric):
        return med(samples[row].get(metric, []))

    def cpu_per_gib(row):
        cpu = m(row, "cpu")
        return cpu * 1000 / gib if cpu is not None else None

    header = ["row", "CPUs", f"wall time (s, {runs})", "throughput (MiB/s)",
              "÷ direct", f"tend CPU (ms per GiB, {runs})",
              "tend VmRSS idle → peak (KiB)"]
    rows = []
    for placement in b.OUTPUT_PLACEMENTS:
        direct = m((placement, "direct"), "s")
        for mode, label in RELAY_MODES:
            row = (placement, mode)
            secs = m(row, "s")
            rel = direct / secs if direct and secs else None
            if mode == "direct":
                cpu = rss = "—"
            else:
                cpu = b.fmt(cpu_per_gib(row))
                peak = max(samples[row].get("rss", []), default=None)
                rss = (f"{b.fmt(m(row, 'rss_idle'))} → {b.fmt(peak)}"
                       if peak is not None else "n/a")
            rows.append([label, where[placement], b.fmt(secs, 3),
                         b.fmt(mib / secs if secs else None),
                         f"{rel:.2f}×" if rel else "n/a", cpu, rss])
    cost = {pl: (cpu_per_gib((pl, "relayed")) or 0) -
            (cpu_per_gib((pl, "inherited")) or 0)
            for pl in b.OUTPUT_PLACEMENTS}
    extra = sum(sum(s.get("extra", [])) for s in samples.values())
    termlog = sum(sum(s.get("termlog", [])) for s in samples.values())

    print(f"\n## main's stderr relayed for the termination message: "
          f"{gib:.0f} GiB\n")
    for (placement, mode), error in failed.items():
        print(f"- {mode} on {placement} CPU FAILED, so n/a: {error}")
    print(rows_table(header, rows))
    print(f"""
What the relay costs tend: (b) − (a) = {b.fmt(cost['any'])} ms of CPU per \
GiB on any CPU, {b.fmt(cost['one'])} ms pinned to one CPU. Checked: every \
reader got the writer's {b.OUTPUT_BYTES:,} bytes unchanged in count \
({extra} bytes more over all runs), and the termination log stayed \
{'empty' if termlog == 0 else f'non-empty ({termlog} bytes)'}: a stop \
on request (SIGTERM) is not a critical program's end.

Legend:
- The writer of the output table above ({b.OUTPUT_LINES:,} lines of
  {b.OUTPUT_LINE} bytes in {b.OUTPUT_CHUNK:,}-byte writes), writing to
  its stderr instead of its stdout, and the same reader, timed alike
  (from the opening of the writer's FIFO to the reader's last byte).
- (a) and (b): `tend -- writer` as PID 1 of a fresh PID namespace, in
  single-command mode: the writer is main, critical. tend's stderr is
  the pipe to the reader. (a) `TEND_TERMINATION_LOG=NONE`: main inherits
  that pipe and tend copies nothing. (b) `TEND_TERMINATION_LOG` names an
  empty file that exists: main's stderr is a pipe of tend's, which tend
  reads, keeping the last 4 KiB, and writes on unchanged to its stderr.
- CPUs, tend CPU and VmRSS: as in the output table (utime + stime of
  tend itself from /proc/PID/stat over the timing; VmRSS sampled every
  {b.RSS_SAMPLE_S * 1000:g} ms).""")


# --- control: the control socket with 10 programs ---------------------------

CLI_RUNS = 20                  # status commands per client and server
LOAD_S = 3.0                   # one reqload run
LOAD_ROUNDS = 3
LOAD_CONNS = 4                 # keep-alive connections of reqload
IDLE_CONNS = 64                # tend's HTTP_CLIENTS
CTL_RESTARTS = 6               # SIGKILLs per server and load
IDLE_RESTARTS = 5


def cli_argv(client, server, tend):
    if client == "tend ctl":
        return [str(tend), "ctl", "-s", str(server.sock), "status"]
    return [str(SUPERVISORCTL), "-c", str(server.conf), "status"]


def cli_once(argv):
    """(ms, exit code, output lines) of one status command."""
    start = time.perf_counter_ns()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    ms = (time.perf_counter_ns() - start) / 1e6
    return ms, r.returncode, r.stdout.splitlines() + r.stderr.splitlines()


def open_idle(server, request, n):
    """n keep-alive connections, each after one answered request; the
    status codes."""
    socks, codes = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        socks.append(s)
        s.connect(str(server.sock))
        s.sendall(request)
        codes.append(read_reply(s)[0])
    return socks, codes


def probe_next(server, request):
    """The status of one more connection's reply. A server past its limit
    may answer at once and close, before the request is read: a reply
    that came first is taken as the answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server.sock))
        try:
            if not b.select.select([s], [], [], 0.2)[0]:
                s.sendall(request)
            return read_reply(s)[0]
        except (EOFError, OSError) as e:
            return f"closed ({e})"


def close_all(socks):
    for s in socks:
        s.close()


def measure_control(tend, tmp, helpers):
    child, reqload = helpers
    kinds = [k for k in SERVERS if k not in missing(SERVERS)]
    conf = supervisord_head() + stamp_programs(child)
    reqs = {"json": Path(tmp, "get-programs.req"),
            "rpc": Path(tmp, "rpc-all.req")}
    reqs["json"].write_bytes(GET_PROGRAMS)
    reqs["rpc"].write_bytes(RPC_ALL)
    names = [f"p{i}" for i in range(PROGRAMS)]
    rng = random.Random(9)
    r = {"kinds": kinds, "missing": missing(SERVERS)}
    with contextlib.ExitStack() as stack:
        servers = start_servers(stack, kinds, tend, tmp, "control", conf)
        for s in servers.values():
            s.wait_running(PROGRAMS)
        pids = {k: s.pid for k, s in servers.items()}
        time.sleep(0.5)  # let start-up work settle
        r["rss"] = {k: b.status_fields(p)["VmRSS"] for k, p in pids.items()}
        r["pss"] = {k: b.pss_kib(p) for k, p in pids.items()}
        b.progress("control: idle wake-ups, no client")
        r["wake_none"] = b.count_wakeups(pids)
        b.progress("control: idle wake-ups, one idle client connected")
        conns = {k: open_idle(s, GET_PROGRAMS if k == "tend" else RPC_ALL,
                              1)[0] for k, s in servers.items()}
        try:
            r["wake_client"] = b.count_wakeups(pids)
        finally:
            for socks in conns.values():
                close_all(socks)

        # status commands, interleaved
        clients = [("tend ctl", "tend"), ("supervisorctl", "tend"),
                   ("supervisorctl", "supervisord")]
        clients = [c for c in clients if c[1] in servers and
                   (c[0] != "supervisorctl" or SUPERVISORCTL.is_file())]
        cli = {c: [] for c in clients}
        r["cli_fail"] = {}
        b.progress(f"control: status commands x {CLI_RUNS}")
        for _ in range(CLI_RUNS):
            order = list(clients)
            rng.shuffle(order)
            for c in order:
                if c in r["cli_fail"]:
                    continue
                ms, code, lines = cli_once(cli_argv(c[0], servers[c[1]],
                                                    tend))
                if code != 0 or len(lines) != PROGRAMS:
                    r["cli_fail"][c] = (f"exit {code}: "
                                        f"{' / '.join(lines[-2:])}")
                    continue
                cli[c].append(ms)
        if "supervisord" in servers:
            _, code, lines = cli_once(cli_argv("tend ctl",
                                               servers["supervisord"], tend))
            r["ctl_vs_supervisord"] = (code, lines[-1] if lines else "")
        r["cli"] = {c: med(v) for c, v in cli.items()}

        # requests per second, interleaved
        loads = [("tend", "json"), ("tend", "rpc"), ("supervisord", "rpc")]
        loads = [x for x in loads if x[0] in servers]
        got = {x: [] for x in loads}
        r["load_fail"] = {}
        for run in range(LOAD_ROUNDS):
            order = list(loads)
            rng.shuffle(order)
            for x in order:
                if x in r["load_fail"]:
                    continue
                b.progress(f"control: {x[0]} {x[1]} load, round {run + 1} "
                           f"of {LOAD_ROUNDS}")
                pid = pids[x[0]]
                cpu0 = b.own_cpu_s(pid)
                t0 = time.monotonic()
                try:
                    one = run_reqload(reqload, servers[x[0]].sock, LOAD_S,
                                      LOAD_CONNS, reqs[x[1]])
                except RuntimeError as e:
                    r["load_fail"][x] = str(e)
                    continue
                one["cpu"] = ((b.own_cpu_s(pid) - cpu0) /
                              (time.monotonic() - t0) * 100)
                got[x].append(one)
        r["load"] = {x: {k: med([g[k] for g in v]) for k in v[0]}
                     for x, v in got.items() if v}

        # the connection limit
        r["conns"] = {}
        for k, s in servers.items():
            b.progress(f"control: {IDLE_CONNS} idle connections to {k}")
            before = b.status_fields(s.pid)["VmRSS"]
            socks, codes = open_idle(
                s, GET_PROGRAMS if k == "tend" else RPC_ALL, IDLE_CONNS)
            try:
                time.sleep(0.2)
                held = b.status_fields(s.pid)["VmRSS"]
                extra_codes = [probe_next(
                    s, GET_PROGRAMS if k == "tend" else RPC_ALL)]
            finally:
                close_all(socks)
            time.sleep(0.2)
            after = b.status_fields(s.pid)["VmRSS"]
            r["conns"][k] = {"before": before, "held": held, "after": after,
                             "ok": sum(c == 200 for c in codes),
                             "next": extra_codes[0]}

        # restarts, idle and under load
        r["restart"] = {}
        for k, s in servers.items():
            b.progress(f"control: {IDLE_RESTARTS} restarts of an idle {k}")
            r["restart"][k, "idle"] = kill_restarts(s, names, IDLE_RESTARTS,
                                                    rng)
        for k, kind in loads:
            s = servers[k]
            b.progress(f"control: {CTL_RESTARTS} restarts of {k} under "
                       f"{kind} load")
            seconds = CTL_RESTARTS * (KILL_AFTER_S + 0.3) + 2
            load = subprocess.Popen(
                [reqload, str(s.sock), f"{seconds:.1f}", str(LOAD_CONNS),
                 str(reqs[kind])], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            stack.callback(b.stop_process, load)
            time.sleep(0.5)
            lat = kill_restarts(s, names, CTL_RESTARTS, rng)
            out, err = load.communicate(timeout=seconds + 30)
            if load.returncode != 0:
                raise RuntimeError(f"reqload: {err.strip()}")
            words = out.split()
            rate = dict(zip(words[::2], map(float, words[1::2])))["rate"]
            r["restart"][k, kind] = (lat, rate)
    return r


def report_control(r):
    cli, load, conns = r["cli"], r["load"], r["conns"]

    rows = [
        server_row("VmRSS of PID 1, idle, all RUNNING (KiB)", r["rss"]),
        server_row("Pss of PID 1, idle (KiB)", r["pss"]),
        server_row(f"idle wake-ups in {b.WAKEUP_WINDOW_S:g} s, no client "
                   "(context switches)", r["wake_none"]),
        server_row(f"idle wake-ups in {b.WAKEUP_WINDOW_S:g} s, one idle "
                   "client connected", r["wake_client"]),
        server_row(f"`tend ctl status` (ms, median of {CLI_RUNS})",
                   {"tend": cli.get(("tend ctl", "tend"))}, 2),
        server_row(f"`supervisorctl status` (ms, median of {CLI_RUNS})",
                   {k: cli.get(("supervisorctl", k)) for k in SERVERS}, 1),
    ]
    for kind, label in (("json", "GET /api/v1/programs"),
                        ("rpc", "XML-RPC getAllProcessInfo")):
        got = {k: load.get((k, kind)) for k in SERVERS}
        rows += [
            server_row(f"{label}: requests/s ({LOAD_CONNS} keep-alive "
                       f"connections, median of {LOAD_ROUNDS} × "
                       f"{LOAD_S:g} s)",
                       {k: g and g["rate"] for k, g in got.items()}),
            server_row(f"{label}: p99 latency (µs)",
                       {k: g and g["p99_us"] for k, g in got.items()}),
            server_row(f"{label}: CPU of PID 1 (% of one CPU)",
                       {k: g and g["cpu"] for k, g in got.items()}),
        ]
    rows += [
        server_row(f"VmRSS with {IDLE_CONNS} idle connections open (KiB)",
                   {k: c["held"] for k, c in conns.items()}),
        server_row("… VmRSS after they closed (KiB)",
                   {k: c["after"] for k, c in conns.items()}),
        ("the next connection's reply",
         {k: str(c["next"]) for k, c in conns.items()}, "—"),
    ]
    restart = r["restart"]
    for kind, label in (("idle", "idle"),
                        ("json", "under full-rate GET /api/v1/programs"),
                        ("rpc", "under full-rate XML-RPC getAllProcessInfo")):
        got = {k: restart.get((k, kind)) for k in SERVERS}
        if kind == "idle":
            lat = {k: g for k, g in got.items()}
            n = IDLE_RESTARTS
        else:
            lat = {k: g and g[0] for k, g in got.items()}
            n = CTL_RESTARTS
        rows.append(server_row(
            f"restart after SIGKILL, {label} (ms, median of {n})",
            {k: med(v) if v else None for k, v in lat.items()}, 2))
        rows.append(server_row(f"… the slowest of the {n} (ms)",
                               {k: max(v) if v else None
                                for k, v in lat.items()}, 2))
        if kind != "idle":
            rows.append(server_row("… the load's requests/s meanwhile",
                                   {k: g and g[1] for k, g in got.items()}))

    print(f"\n## Control socket with {PROGRAMS} programs: tend vs. "
          "supervisord\n")
    for k in r["missing"]:
        print(f"- {k} not installed: its column is n/a")
    for c, error in r["cli_fail"].items():
        print(f"- `{c[0]} status` against {c[1]} FAILED, so n/a: {error}")
    for x, error in r["load_fail"].items():
        print(f"- {x[1]} load against {x[0]} FAILED, so n/a: {error}")
    if "ctl_vs_supervisord" in r:
        code, line = r["ctl_vs_supervisord"]
        print(f"- `tend ctl status` against supervisord: exit {code}, "
              f"\"{line}\": tend ctl speaks tend's own POST /ctl only")
    print()
    print(b.table(SERVERS, rows, "supervisord"))
    print(f"""
Legend:
- Both supervisors run at once, side by side, each as PID 1 of its own
  PID namespace on the same file: {PROGRAMS} `[program:pN]` (a static
  helper that stamps its start time into a file, then waits;
  startsecs=0, autorestart=true, output NONE), `[unix_http_server] file`
  (the control socket, in the run's directory), `[supervisorctl]
  serverurl` and supervisord's `[rpcinterface:supervisor]`.
- VmRSS / Pss: /proc/PID/status and smaps_rollup 0.5 s after all are
  RUNNING. Wake-ups: context switches of PID 1 over the window, without
  a client, then with one connection open that made one request and
  stays idle.
- Status commands: wall time of `tend ctl -s SOCKET status` and of
  `supervisorctl -c FILE status` (Debian's, a Python program: most of
  its time is the interpreter's start), posix_spawn to exit, shuffled
  in each round; each must exit 0 and print {PROGRAMS} lines.
- Requests/s: a static C helper keeps {LOAD_CONNS} connections to the socket,
  each sending the next request as soon as the reply has come
  (keep-alive, closed loop), for {LOAD_S:g} s; shuffled rounds. Latency:
  request written to reply read, per request. CPU: utime + stime of
  PID 1 over the run, per wall second.
- Idle connections: {IDLE_CONNS} connections, each after one answered
  request (tend: GET /api/v1/programs; supervisord: getAllProcessInfo),
  left open; VmRSS 0.2 s later; then one more connection and its
  request: tend answers 503 past its limit of {IDLE_CONNS}.
- Restarts: a program up for {KILL_AFTER_S:g} s or more, chosen at
  random, is SIGKILLed; CLOCK_MONOTONIC before kill() to the start time
  its replacement stamps itself (no polling in the timing). Under load,
  the load generator above runs meanwhile, against the same server.
- Ratio column: tend's value divided by supervisord's.""")


# --- web: wrk against the TCP port --------------------------------------------

WRK_S = 5
WRK_ROUNDS = 3
WRK_CONNS = 4
CRASH_MS = 1200                # the crashing program's life
WEB_IDLE_S = 4.0               # crashes before any load, for reference
WEB_BUDGETS = {"healthz_rps": 10_000, "p99_ms": 5, "rss_kib": 256,
               "restart_ms": 2}

# (server, key, label, method, path, body, headers)
WEB_ROWS = [
    ("tend", "healthz", "GET /healthz", "GET", "/healthz", None, {}),
    ("tend", "metrics", "GET /metrics", "GET", "/metrics", None, {}),
    ("tend", "page", "GET / (Accept-Encoding: gzip)", "GET", "/", None,
     {"Accept-Encoding": "gzip"}),
    ("tend", "rpc", "XML-RPC getAllProcessInfo", "POST", "/RPC2",
     rpc_body("supervisor.getAllProcessInfo"), {"Content-Type": "text/xml"}),
    ("supervisord", "page", "GET / (its status page)", "GET", "/", None, {}),
    ("supervisord", "rpc", "XML-RPC getAllProcessInfo", "POST", "/RPC2",
     rpc_body("supervisor.getAllProcessInfo"), {"Content-Type": "text/xml"}),
]

WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests %d duration_us %d bytes %d errors %d status %d " ..
    "p50_us %d p99_us %d max_us %d\\n", summary.requests, summary.duration,
    summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def lua_string(s):
    """A Lua string literal: JSON's escapes of ASCII text are Lua's."""
    return json.dumps(s, ensure_ascii=True)


def wrk_script(path, method, body, headers):
    text = f"wrk.method = {lua_string(method)}\n"
    if body:
        text += f"wrk.body = {lua_string(body)}\n"
    for k, v in headers.items():
        text += f"wrk.headers[{lua_string(k)}] = {lua_string(v)}\n"
    path.write_text(text + WRK_DONE)


def wrk_once(url, script, pid):
    """{metric: value} of one wrk run, with PID 1's CPU and peak VmRSS."""
    cpu0 = b.own_cpu_s(pid)
    t0 = b.now_ns()
    proc = subprocess.Popen([str(WRK), "-t1", f"-c{WRK_CONNS}",
                             f"-d{WRK_S}s", "-s", str(script), url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    rss = []  # (VmRSS, RssAnon, RssFile)

    def sample():
        f = b.status_fields(pid)
        rss.append((f.get("VmRSS", 0), f.get("RssAnon", 0),
                    f.get("RssFile", 0)))
    try:
        while proc.poll() is None:
            sample()
            time.sleep(b.RSS_SAMPLE_S)
        out, err = proc.communicate(timeout=30)
    finally:
        b.stop_process(proc)
    t1 = b.now_ns()
    sample()
    line = next((l for l in out.splitlines() if l.startswith("WRK ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk: exit {proc.returncode}: "
                           f"{(err or out).strip()[-200:]}")
    words = line.split()[1:]
    got = {k: int(v) for k, v in zip(words[::2], words[1::2])}
    got["rps"] = got["requests"] / (got["duration_us"] / 1e6)
    got["cpu"] = (b.own_cpu_s(pid) - cpu0) / ((t1 - t0) / 1e9) * 100
    got["rss"], got["anon"], got["file"] = max(rss)
    got["window"] = (t0, t1)
    return got


def measure_web(tend, tmp, helpers):
    child, _ = helpers
    kinds = [k for k in SERVERS if k not in missing(SERVERS)]
    r = {"kinds": kinds, "missing": missing(SERVERS), "wrk": WRK.is_file()}
    if not r["wrk"]:
        return r
    rows = [row for row in WEB_ROWS if row[0] in kinds]
    scripts = {}
    for server, key, _, method, path, body, headers in rows:
        scripts[server, key] = Path(tmp, f"wrk-{server}-{key}.lua")
        wrk_script(scripts[server, key], method, body, headers)
    samples = {(row[0], row[1]): [] for row in rows}
    r["fail"] = {}
    rng = random.Random(10)
    with contextlib.ExitStack() as stack:
        servers, ports = {}, {}
        for k in kinds:
            ports[k] = free_port()
            conf = supervisord_head(port=ports[k]) + stamp_programs(
                child, crash=CRASH_MS)
            servers[k] = stack.enter_context(
                Server(k, tend, Path(tmp, f"web-{k}"), conf))
        for s in servers.values():
            s.wait_running(PROGRAMS)
        b.progress(f"web: {WEB_IDLE_S:g} s idle, for crash restarts "
                   "without load")
        time.sleep(WEB_IDLE_S)
        r["rss_idle"] = {k: b.status_fields(s.pid)
                         for k, s in servers.items()}
        for run in range(WRK_ROUNDS):
            order = list(rows)
            rng.shuffle(order)
            for server, key, label, _, path, _, _ in order:
                if (server, key) in r["fail"]:
                    continue
                b.progress(f"web: wrk {server} {label}, round {run + 1} of "
                           f"{WRK_ROUNDS}")
                url = f"http://127.0.0.1:{ports[server]}{path}"
                try:
                    servers[server].check()
                    samples[server, key].append(wrk_once(
                        url, scripts[server, key], servers[server].pid))
                except (RuntimeError, OSError) as e:
                    r["fail"][server, key] = str(e)
        r["crashes"] = {k: crash_restarts(s) for k, s in servers.items()}
        r["page_bytes"] = {}
        for k in kinds:
            # the size of one page reply as wrk asked for it
            got = samples.get((k, "page"))
            if got:
                r["page_bytes"][k] = got[0]["bytes"] / got[0]["requests"]
    r["samples"] = samples
    r["rows"] = rows
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss(got):
    """The largest VmRSS of the runs, with its anonymous and file parts."""
    if not got:
        return "n/a"
    g = max(got, key=lambda g: g["rss"])
    return f"{b.fmt(g['rss'])} ({b.fmt(g['anon'])} + {b.fmt(g['file'])})"


def report_web(r):
    print("\n## The TCP port under wrk: tend vs. supervisord's "
          "[inet_http_server]\n")
    if not r["wrk"]:
        print(f"- wrk not installed ({WRK}): no table")
        return
    for k in r["missing"]:
        print(f"- {k} not installed: its rows are missing")
    for (server, key), error in r["fail"].items():
        print(f"- {server} {key} FAILED, so n/a: {error}")
    samples, crashes = r["samples"], r["crashes"]
    runs = f"median of {WRK_ROUNDS}"
    header = ["server", "request", f"requests/s ({runs})",
              "p50 latency (ms)", "p99 latency (ms)", "errors",
              "PID 1 CPU (% of one CPU)",
              "PID 1 VmRSS peak (KiB: anon + file)",
              "crash restarts during the runs (ms: median, max; count)"]
    table = []
    all_restarts = {}
    for server, key, label, *_ in r["rows"]:
        got = samples[server, key]

        def m(metric):
            return med([g[metric] for g in got])
        lat = [ms for exit_ns, ms in crashes.get(server, [])
               if any(g["window"][0] <= exit_ns <= g["window"][1]
                      for g in got)]
        all_restarts.setdefault(server, []).extend(lat)
        errors = sum(g["errors"] + g["status"] for g in got) if got else None
        table.append([
            server, label, b.fmt(m("rps")) if got else "n/a",
            b.fmt(m("p50_us") / 1000, 2) if got else "n/a",
            b.fmt(m("p99_us") / 1000, 2) if got else "n/a",
            b.fmt(errors),
            b.fmt(m("cpu")) if got else "n/a",
            peak_rss(got),
            (f"{b.fmt(med(lat), 2)}, {b.fmt(max(lat), 2)}; {len(lat)}"
             if lat else "none")])
    print(rows_table(header, table))

    def idle_restarts(server):
        windows = [g["window"] for (s, _), got in samples.items()
                   if s == server for g in got]
        return [ms for exit_ns, ms in crashes.get(server, [])
                if not any(w[0] <= exit_ns <= w[1] for w in windows)]

    print()
    for server in r["kinds"]:
        idle = idle_restarts(server)
        idle_rss = r["rss_idle"].get(server, {})
        print(f"- {server}: VmRSS idle before the runs "
              f"{b.fmt(idle_rss.get('VmRSS'))} KiB "
              f"({b.fmt(idle_rss.get('RssAnon'))} anonymous + "
              f"{b.fmt(idle_rss.get('RssFile'))} file-backed); crash restarts "
              f"outside the runs: median {b.fmt(med(idle), 2)} ms, slowest "
              f"{b.fmt(max(idle) if idle else None, 2)} ms ({len(idle)}); "
              f"during them: median {b.fmt(med(all_restarts[server]), 2)} "
              f"ms, slowest "
              f"{b.fmt(max(all_restarts[server]) if all_restarts[server] else None, 2)}"
              f" ms ({len(all_restarts[server])})")
    for k, size in r["page_bytes"].items():
        print(f"- {k}'s page as wrk asked for it: {b.fmt(size)} bytes a "
              "reply, head included")

    tend = {key: samples.get(("tend", key), []) for _, key, *_ in WEB_ROWS}
    hz = med([g["rps"] for g in tend["healthz"]])
    p99 = max((med([g["p99_us"] for g in got]) for got in tend.values()
               if got), default=None)
    rss = max((g["rss"] for got in tend.values() for g in got), default=None)
    lat = all_restarts.get("tend", [])
    bud = WEB_BUDGETS
    print(f"""
Budgets (from the issue), for tend:
- GET /healthz at least {bud['healthz_rps']:,} requests/s: {b.fmt(hz)}, \
{verdict(None if hz is None else hz >= bud['healthz_rps'])}
- p99 latency at most {bud['p99_ms']} ms: at most {b.fmt(p99 and p99 / 1000, 2)} \
ms over tend's rows, {verdict(None if p99 is None else p99 <= bud['p99_ms'] * 1000)}
- VmRSS under load at most {bud['rss_kib']} KiB: at most {b.fmt(rss)} KiB, \
{verdict(None if rss is None else rss <= bud['rss_kib'])}
- restart latency under {bud['restart_ms']} ms: median {b.fmt(med(lat), 2)} ms, \
slowest {b.fmt(max(lat) if lat else None, 2)} ms over {len(lat)} crashes \
during the runs, {verdict(None if not lat else max(lat) < bud['restart_ms'])} \
(judged on the slowest)

Legend:
- Both run at once, each as PID 1 of its own PID namespace on the same
  file, with `[inet_http_server] port = 127.0.0.1:PORT` (a free port
  each) and {PROGRAMS} programs: {PROGRAMS - 1} that wait, and `crash`,
  which exits 1 {CRASH_MS} ms after each start (autorestart=true,
  startsecs=0, so each exit follows RUNNING and is restarted at once).
- `wrk -t1 -c{WRK_CONNS} -d{WRK_S}s` (Debian's) with a Lua script that
  sets the method, body and headers and reports wrk's own count,
  errors and latency percentiles; each round runs every row once, in a
  shuffled order. Errors: connect, read, write and timeout errors and
  replies other than 2xx/3xx.
- PID 1 CPU: utime + stime of the server over the run, per wall second;
  well below 100% means that wrk, on the other CPU, set the pace.
  VmRSS: sampled every {b.RSS_SAMPLE_S * 1000:g} ms during the run; its
  file-backed part is mostly tend's own code, mapped whole.
- Crash restarts: the crashing program stamps its exit and its next
  start (CLOCK_MONOTONIC, from the program itself); a restart counts
  for a row when the exit falls within one of its runs.""")


# --- ready: a chain of 10 programs -----------------------------------------------

READY_RUNS = 7
FLOOD = 500_000                # STATUS= messages
FLOOD_RUNS = 3
READY_BUDGET_MS = 50

READY_ROWS = [
    ("tend-notify", "tend", "tend: `ready=notify`, each `depends_on` the "
     "previous"),
    ("tend-priority", "tend", "tend: priorities 1..10, startsecs=1"),
    ("supervisord-priority", "supervisord", "supervisord: priorities "
     "1..10, startsecs=1"),
]


def ready_conf(kind, child):
    text = supervisord_head()
    for i in range(PROGRAMS):
        if kind == "tend-notify":
            keys = {"ready": "notify"}
            if i:
                keys["depends_on"] = f"c{i - 1}"
        else:
            keys = {"priority": i + 1, "startsecs": 1}
        text += program(f"c{i}", f"{child} notify", **keys)
    return text


def measure_ready(tend, tmp, helpers):
    child, _ = helpers
    rows = [row for row in READY_ROWS
            if row[1] not in missing(SERVERS)]
    samples = {row[0]: [] for row in rows}
    r = {"rows": rows, "fail": {}, "order": {}}
    rng = random.Random(11)
    for run in range(READY_RUNS):
        order = list(rows)
        rng.shuffle(order)
        for key, kind, _ in order:
            if key in r["fail"]:
                continue
            b.progress(f"ready: {key}, run {run + 1} of {READY_RUNS}")
            rundir = Path(tmp, f"ready-{key}.{run}")
            start = b.now_ns()
            try:
                with Server(kind, tend, rundir,
                            ready_conf(key, child)) as s:
                    b.poll_until("10 programs RUNNING",
                                 lambda: s.running() >= PROGRAMS,
                                 timeout=30, interval=b.FINE_POLL_S)
                    samples[key].append((b.now_ns() - start) / 1e6)
                    names = re.findall(r"success: (\S+) entered RUNNING",
                                       b.read_file(s.out))
                    r["order"].setdefault(key, set()).add(tuple(names))
            except (TimeoutError, RuntimeError, OSError) as e:
                r["fail"][key] = f"{e} (run {run + 1})"
    r["ready"] = {k: med(v) for k, v in samples.items()}
    r["ready_max"] = {k: max(v) if v else None for k, v in samples.items()}

    # the cost of a notify message
    got = []
    for run in range(FLOOD_RUNS):
        b.progress(f"ready: {FLOOD:,} STATUS= messages, run {run + 1} of "
                   f"{FLOOD_RUNS}")
        rundir = Path(tmp, f"flood.{run}")
        rundir.mkdir()
        gate = rundir / "gate"
        os.mkfifo(gate)
        conf = ("[tend]\ncontrol_socket = %(here)s/ctl.sock\n" +
                program("f", f"{child} flood {gate} {FLOOD}",
                        ready="notify"))
        with Server("tend", tend, rundir / "run", conf) as s:
            s.wait_running(1)
            time.sleep(0.2)
            cpu0 = b.own_cpu_s(s.pid)
            sw0 = b.context_switches(s.pid)
            t0 = b.open_gate(gate)

            def done():
                status, body = unix_request(s.sock, raw_request(
                    "GET", "/api/v1/programs/f", headers=[
                        "Connection: close"]))
                return json.loads(body)["description"].endswith("done")
            b.poll_until("the last STATUS=", done, timeout=120,
                         interval=0.01)
            t1 = b.now_ns()
            got.append({"cpu_us": (b.own_cpu_s(s.pid) - cpu0) / FLOOD * 1e6,
                        "rate": FLOOD / ((t1 - t0) / 1e9),
                        "switches": (b.context_switches(s.pid) - sw0) /
                        FLOOD})
    r["flood"] = {k: med([g[k] for g in got]) for k in got[0]}
    return r


def report_ready(r):
    print(f"\n## Readiness: a chain of {PROGRAMS} programs\n")
    for key, error in r["fail"].items():
        print(f"- {key} FAILED, so n/a: {error}")
    base = r["ready"].get("supervisord-priority")
    rows = []
    for key, _, label in r["rows"]:
        ms = r["ready"].get(key)
        order = r["order"].get(key, set())
        want = tuple(f"c{i}" for i in range(PROGRAMS))
        rows.append([label, b.fmt(ms, 1), b.fmt(r["ready_max"].get(key), 1),
                     b.small_ratio(ms, base) if base else "n/a",
                     "yes" if order == {want} else
                     ("no" if order else "n/a")])
    print(rows_table(["configuration", f"start to all {PROGRAMS} RUNNING "
                      f"(ms, median of {READY_RUNS})", "slowest (ms)",
                      "÷ supervisord", "RUNNING in chain order, every run"],
                     rows))
    ms = r["ready"].get("tend-notify")
    f = r["flood"]
    print(f"""
Budget (from the issue): the {PROGRAMS}-program chain ready in under \
{READY_BUDGET_MS} ms: {b.fmt(ms, 1)} ms, \
{verdict(None if ms is None else ms < READY_BUDGET_MS)}

One notify message: tend's CPU {b.fmt(f['cpu_us'], 2)} µs per message \
(median of {FLOOD_RUNS} runs of {FLOOD:,} `STATUS=message N` datagrams \
from one program), {b.fmt(f['rate'])} messages/s, \
{b.fmt(f['switches'], 3)} context switches of tend per message (the \
kernel queues at most {b.read_file('/proc/sys/net/unix/max_dgram_qlen').strip() or '?'} datagrams: the sender waits).

Legend:
- Each run starts one supervisor as PID 1 of a fresh PID namespace on
  {PROGRAMS} programs c0..c9, all a static helper that sends `READY=1`
  to `$NOTIFY_SOCKET` if it has one (abstract if it starts with `@`)
  and then waits. Time: CLOCK_MONOTONIC before starting unshare to the
  {PROGRAMS}th `success: cN entered RUNNING state` line of the
  supervisor's log (polled about every 0.1 ms), so it includes unshare
  and the supervisor's start-up; rounds run every row once, shuffled.
- tend's chain: `ready = notify` and `depends_on = c(N-1)`: each
  program starts once the previous one has notified.
- Priorities: `priority = N+1`, `startsecs = 1`, the only ordering
  supervisord has: it orders the spawns, not the readiness. All ten
  start in one pass and each is RUNNING startsecs after its own spawn,
  so nothing waits for the one before; the order column shows whether
  the RUNNING lines came in chain order in every run (tend's timers
  count whole milliseconds: deadlines of spawns less than 1 ms apart
  are equal, and equal ones expire in the heap's order).
- Notify cost: `[program:f]` with `ready = notify` sends `READY=1`,
  then, once the bench opens a FIFO, {FLOOD:,} `STATUS=message N`
  datagrams and a last `STATUS=done`, each a blocking sendto. tend's
  utime + stime (/proc/PID/stat) from the FIFO's opening to when `GET
  /api/v1/programs/f` shows `done` in the description (polled every
  10 ms over the socket, which costs tend a few requests), over the
  messages.""")


# --- scale: 1,000 to 10,000 programs ----------------------------------------------

CHECK_SIZES = [1000, 8000, 10000]
CHECK_RUNS = 5
CHECK_GROWTH_BUDGET = 12       # t(8000) / t(1000)
CHECK_10K_BUDGET_MS = 1000
RUN_PROGRAMS = 1000
RUN_RUNS = 3
RUN_BUDGET_MS = 1000


def scale_conf(n, with_server=False):
    text = (supervisord_head(minfds=8 * n + 1024) if with_server else "")
    width = len(str(n - 1))
    return text + "".join(program(f"p{i:0{width}}", "sleep 100000")
                          for i in range(n))


def measure_scale(tend, tmp):
    r = {"fail": {}}
    files = {}
    for n in CHECK_SIZES:
        files[n] = Path(tmp, f"check-{n}.ini")
        files[n].write_text(scale_conf(n))
    samples = {n: [] for n in CHECK_SIZES}
    rng = random.Random(12)
    b.progress(f"scale: tend --check x {CHECK_RUNS} per size")
    for _ in range(CHECK_RUNS):
        order = list(CHECK_SIZES)
        rng.shuffle(order)
        for n in order:
            start = time.perf_counter_ns()
            p = subprocess.run([str(tend), "--check", "-c", str(files[n])],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=120)
            ms = (time.perf_counter_ns() - start) / 1e6
            if p.returncode != 0:
                raise RuntimeError(f"tend --check of {n} programs: exit "
                                   f"{p.returncode}: "
                                   f"{p.stderr.decode()[-300:]}")
            samples[n].append(ms)
    r["check"] = {n: med(v) for n, v in samples.items()}

    kinds = [k for k in SERVERS if k not in missing(SERVERS)]
    conf = scale_conf(RUN_PROGRAMS, with_server=True)
    got = {k: {} for k in kinds}
    for run in range(RUN_RUNS):
        order = list(kinds)
        rng.shuffle(order)
        for k in order:
            if k in r["fail"]:
                continue
            b.progress(f"scale: {RUN_PROGRAMS} programs under {k}, run "
                       f"{run + 1} of {RUN_RUNS}")
            try:
                one = run_many(k, tend, Path(tmp, f"scale-{k}.{run}"), conf)
            except (TimeoutError, RuntimeError, OSError, EOFError) as e:
                r["fail"][k] = f"{e} (run {run + 1})"
                continue
            for metric, value in one.items():
                got[k].setdefault(metric, []).append(value)
    r["run"] = {k: {m: med(v) for m, v in metrics.items()}
                for k, metrics in got.items()}
    r["kinds"] = kinds
    r["missing"] = missing(SERVERS)
    return r


def run_many(kind, tend, rundir, conf):
    """Start to all RUNNING as the control socket shows it, then the
    memory, one status command and the shutdown."""
    got = {}
    start = b.now_ns()
    with Server(kind, tend, rundir, conf) as s:
        s.find_init()
        b.poll_until("the control socket", s.sock.exists, timeout=60,
                     interval=0.001)

        def all_running():
            s.check()
            try:
                st = states(s)
            except (OSError, EOFError):
                return False
            return (len(st) == RUN_PROGRAMS and
                    all(v == "RUNNING" for v in st.values()))
        # supervisord's answer of 1,000 processes takes it a while; ask it
        # less often, so that the asking does not slow it down much
        b.poll_until(f"{RUN_PROGRAMS} programs RUNNING", all_running,
                     timeout=300, interval=0.005 if kind == "tend" else 0.1)
        got["running"] = (b.now_ns() - start) / 1e6
        time.sleep(0.5)
        got["rss"] = b.status_fields(s.pid)["VmRSS"]
        clients = [("supervisorctl", [str(SUPERVISORCTL), "-c",
                                      str(s.conf), "status"])]
        if kind == "tend":
            clients.insert(0, ("tend ctl", [str(tend), "ctl", "-s",
                                            str(s.sock), "status"]))
        for name, argv in clients:
            if not Path(argv[0]).is_file():
                continue
            ms, code, lines = cli_once(argv)
            if code != 0 or len(lines) != RUN_PROGRAMS:
                raise RuntimeError(f"{name} status: exit {code}, "
                                   f"{len(lines)} lines")
            got[name] = ms
        got["stop"] = stop_all(s)
    return got


def stop_all(s):
    """ms from SIGTERM to PID 1 to unshare's exit, right after PID 1's."""
    sent = b.now_ns()
    os.kill(s.pid, signal.SIGTERM)
    s.proc.wait(timeout=120)
    return (b.now_ns() - sent) / 1e6


def report_scale(r):
    print("\n## Scale: 1,000 to 10,000 programs\n")
    check = r["check"]
    base = check.get(CHECK_SIZES[0])
    rows = [[f"{n:,}", b.fmt(check[n], 1),
             f"{check[n] / base:.2f}×" if base else "n/a",
             b.fmt(check[n] * 1000 / n, 1)] for n in CHECK_SIZES]
    print(rows_table(["programs", f"`tend --check` (ms, median of "
                      f"{CHECK_RUNS})", f"÷ {CHECK_SIZES[0]:,} programs",
                      "µs per program"], rows))
    growth = (check[8000] / check[1000]) if check.get(1000) else None
    ten = check.get(10000)
    print()
    for k in r["missing"]:
        print(f"- {k} not installed: its column is n/a")
    for k, error in r["fail"].items():
        print(f"- {k} FAILED, so n/a: {error}")
    run = r["run"]

    def col(metric):
        return {k: run.get(k, {}).get(metric) for k in SERVERS}
    print(b.table(SERVERS, [
        server_row(f"start to {RUN_PROGRAMS:,} programs RUNNING, as the "
                   f"control socket shows it (ms, median of {RUN_RUNS})",
                   col("running"), 1),
        server_row(f"VmRSS of PID 1, {RUN_PROGRAMS:,} RUNNING (KiB)",
                   col("rss")),
        server_row(f"`tend ctl status` of {RUN_PROGRAMS:,} (ms)",
                   col("tend ctl"), 1),
        server_row(f"`supervisorctl status` of {RUN_PROGRAMS:,} (ms)",
                   col("supervisorctl"), 1),
        server_row("SIGTERM to exit of PID 1 (ms)", col("stop"), 1),
    ], "supervisord"))
    ms = run.get("tend", {}).get("running")
    print(f"""
Budgets (from the issue):
- `tend --check` grows at most {CHECK_GROWTH_BUDGET}× from 1,000 to \
8,000 programs: {b.fmt(growth, 2)}×, \
{verdict(None if growth is None else growth <= CHECK_GROWTH_BUDGET)}
- `tend --check` of 10,000 programs under {CHECK_10K_BUDGET_MS} ms: \
{b.fmt(ten, 1)} ms, {verdict(None if ten is None else ten < CHECK_10K_BUDGET_MS)}
- {RUN_PROGRAMS:,} programs RUNNING (startsecs=0) under \
{RUN_BUDGET_MS} ms: {b.fmt(ms, 1)} ms, \
{verdict(None if ms is None else ms < RUN_BUDGET_MS)}

Legend:
- `tend --check -c FILE`: posix_spawn to exit, the program table on
  stdout to /dev/null; FILE has N `[program:pNNNN]` sections
  (`command = sleep 100000`, startsecs=0, autorestart=true, output
  NONE); sizes shuffled in each round.
- {RUN_PROGRAMS:,} programs: the same sections with a control socket and
  `minfds` raised for supervisord (it keeps pipes to every child), each
  supervisor as PID 1 of a fresh PID namespace, runs alternating. Time:
  CLOCK_MONOTONIC before starting unshare to the first answer over the
  socket that lists all {RUN_PROGRAMS:,} RUNNING: tend's GET
  /api/v1/programs, asked every 5 ms; supervisord's getAllProcessInfo,
  asked every 100 ms, since each answer of that size costs it a lot.
  Then VmRSS (0.5 s later), one status command of each client, and
  SIGTERM to the exit of unshare, right after PID 1's.""")


# --- entry points for bench.py ------------------------------------------------------

def measure(sections, tmp):
    """{section: results} for the sections of this module among sections,
    on a copy of tend in tmp (a rebuild cannot change it mid-run)."""
    chosen = [s for s in SECTIONS if s in sections]
    if not chosen:
        return {}
    tend = Path(tmp, "tend-control")
    shutil.copy2(b.REPO / "tend", tend)
    helpers = (b.compile_helper(tmp, "child", CHILD_C),
               b.compile_helper(tmp, "reqload", REQLOAD_C))
    for name, path in (("supervisord", SUPERVISORD),
                       ("supervisorctl", SUPERVISORCTL), ("wrk", WRK)):
        if not path.is_file():
            b.progress(f"{name} not found: what needs it is n/a")
    results = {}
    measures = {"relay": lambda: measure_relay(tend, tmp),
                "control": lambda: measure_control(tend, tmp, helpers),
                "web": lambda: measure_web(tend, tmp, helpers),
                "ready": lambda: measure_ready(tend, tmp, helpers),
                "scale": lambda: measure_scale(tend, tmp)}
    for name in chosen:
        # a table that fails says so; the others still run
        try:
            results[name] = measures[name]()
        except (TimeoutError, RuntimeError, OSError, EOFError,
                subprocess.SubprocessError) as e:
            b.progress(f"{name} FAILED: {e}")
            results[name] = {"error": f"{type(e).__name__}: {e}"}
    return results


TITLES = {
    "relay": "main's stderr relayed for the termination message",
    "control": f"Control socket with {PROGRAMS} programs",
    "web": "The TCP port under wrk",
    "ready": f"Readiness: a chain of {PROGRAMS} programs",
    "scale": "Scale: 1,000 to 10,000 programs",
}


def report(results):
    reports = {"relay": report_relay, "control": report_control,
               "web": report_web, "ready": report_ready,
               "scale": report_scale}
    for name in SECTIONS:
        if name not in results:
            continue
        if "error" in results[name]:
            print(f"\n## {TITLES[name]}\n\n- FAILED, no table: "
                  f"{results[name]['error']}")
            continue
        reports[name](results[name])
