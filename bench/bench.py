#!/usr/bin/python3
"""
bench.py: tend side by side with tini-static, dumb-init and catatonit, then
with supervisord supervising the same 10 programs, then the throughput of
a program's output through tend.

Run from anywhere as `/usr/bin/python3 bench/bench.py` (Python 3 standard
library only; root, or unprivileged user namespaces, for unshare). It
prints one Markdown report with its tables on stdout; progress goes to
stderr. `--only inits|supervision|output|relay|control|web|ready|scale`
(repeatable) runs only those. The last five live in control.py: main's
stderr relayed for the termination message, the control socket, the TCP
port under wrk, readiness and dependencies, and scale.

Every measurement runs all the inits in the same process, interleaved or
side by side, so that machine noise hits them alike. Where an init must be
PID 1 it runs as `unshare --pid --fork --mount-proc --kill-child INIT --
COMMAND`, and its host pid is the one child of the unshare process. Tiny C
helpers are compiled into a temporary directory at start-up.
Nothing is left running: every namespace is torn down in a finally block.
"""
import argparse
import contextlib
import datetime
import os
import platform
import random
import re
import resource
import select
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (column name, binary); a missing binary prints n/a in its column.
INITS = [
    ("tend", REPO / "tend"),
    ("tini-static", Path("/usr/bin/tini-static")),
    ("dumb-init", Path("/usr/bin/dumb-init")),
    ("catatonit", Path("/usr/bin/catatonit")),
]
BASELINE = "tini-static"       # the ratio column is tend / BASELINE
AUTOREAP = "kernel auto-reap"  # reaping reference with no init at all

IDLE_STARTS = 5                # idle PID 1 starts for VmRSS and Pss
WAKEUP_WINDOW_S = 5.0          # idle window for counting wake-ups
TRUE_RUNS = 300                # `INIT -- /bin/true` runs per init
TRUE_WARMUP = 20
ORPHANS = 10_000               # orphans per reaping run; fewer if limits bite
REAP_RUNS = 3
SIGNALS = 200                  # SIGUSR1 per init for the forwarding latency

# The second table: (column name, binary, arguments before the file).
SUPERVISORS = [
    ("tend", REPO / "tend", ["-c"]),
    ("supervisord", Path("/usr/bin/supervisord"), ["-n", "-c"]),
]
SUPERVISED_BASELINE = "supervisord"
PROGRAMS = 10                  # [program:pN] sections, each PROGRAM_ARGV
PROGRAM_ARGV = ["sleep", "100000"]
SUPERVISE_RUNS = 5             # start, restarts and shutdown per supervisor
RESTARTS = 20                  # SIGKILLs per supervisor, over the runs
# tend restarts a program that dies within 1 s of its start only 1 s after
# that start (MIN_RESTART_MS, against crash loops): kill older ones only.
KILL_AFTER_S = 1.2
# /proc is polled with this sleep (about 0.1 ms a round in all), not in a
# busy loop: on 2 CPUs a spinning poller delays the killed program's exit
# and the restarted one's exec that it is timing.
FINE_POLL_S = 0.00005

# One file for both supervisors. supervisord needs its own section, which
# tend accepts and ignores (an info line per key); %(here)s keeps every
# path inside the run's own directory.
SUPERVISE_CONF = """\
[supervisord]
nodaemon = true
user = root
loglevel = info
logfile = %(here)s/supervisord.log
pidfile = %(here)s/supervisord.pid
childlogdir = %(here)s
""" + "".join(f"""
[program:p{i}]
command = {' '.join(PROGRAM_ARGV)}
startsecs = 0
autorestart = true
stdout_logfile = NONE
stderr_logfile = NONE
""" for i in range(PROGRAMS))

# Both log this line as a program enters RUNNING: tend on stderr,
# supervisord in its log file, which -n also echoes on stdout.
RUNNING_LINE = re.compile(r"success: \S+ entered RUNNING state")

# The third table: one program's output through tend. The writer makes
# OUTPUT_LINES lines of OUTPUT_LINE bytes (99 letters and a newline), 1 GiB
# less 24 bytes, in writes of OUTPUT_CHUNK bytes (whole lines, just under
# the 64 KiB of a pipe).
OUTPUT_LINE = 100
OUTPUT_LINES = 2**30 // OUTPUT_LINE
OUTPUT_BYTES = OUTPUT_LINES * OUTPUT_LINE
OUTPUT_CHUNK = 655 * OUTPUT_LINE
OUTPUT_RUNS = 5                # runs per row, interleaved and shuffled
OUTPUT_PROGRAM = "w"           # [program:w]
OUTPUT_PREFIX = f"{OUTPUT_PROGRAM} | "  # what log_prefix puts before a line
OUTPUT_MAXBYTES = "50MB"       # the rotation of the log-file row
OUTPUT_MAXBYTES_N = 50 * 1024 * 1024
OUTPUT_BACKUPS = 10
OUTPUT_TIMEOUT_S = 60          # for one run's 1 GiB
RSS_SAMPLE_S = 0.05            # tend's VmRSS is sampled this often
FILE_POLL_S = 0.002            # tend's wchar, for the log-file row
# The budgets of the issue, checked in the report.
RELAY_RSS_BUDGET_KIB = 512     # tend's VmRSS while relaying
PREFIX_BUDGET = 0.5            # prefixed throughput ÷ the direct pipe's

# Where the writer, tend and the reader may run. On a VM a
# pipe between two CPUs can be many times slower than within one (every
# wake-up of the other side is an inter-processor interrupt), so that with
# "any" the scheduler's placement weighs as much as tend; with "one" all
# three share one CPU and the throughput measures the work done.
OUTPUT_PLACEMENTS = ["any", "one"]

# (key, label); "direct" has no tend, the others run [program:w] under it.
OUTPUT_MODES = [
    ("direct", "direct: `writer \\| reader`, no tend"),
    ("passthrough", "(a) passthrough: default output settings"),
    ("prefixed", "(b) prefixed: `log_prefix = true`"),
    ("logfile", f"(c) log file: `stdout_logfile`, rotated at "
                f"{OUTPUT_MAXBYTES}, {OUTPUT_BACKUPS} backups"),
]

# `orphans N` makes N orphans exit at once and prints the ms until all are
# reaped. `orphans N self`, run as PID 1 itself, ignores SIGCHLD so that the
# kernel reaps the orphans as they exit, with no init involved.
ORPHANS_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_NS (60LL * 1000000000)

static void
die(const char *what)
{
	fprintf(stderr, "orphans: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reports its pid, then blocks until the gate's write end is closed. */
static void
grandchild(int gate[2], int report[2])
{
	pid_t self = getpid();
	char c;

	close(gate[1]);		/* else the gate could never reach EOF */
	close(report[0]);
	if (write(report[1], &self, sizeof(self)) != sizeof(self))
		_exit(1);
	close(report[1]);
	while (read(gate[0], &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* The child forks the grandchild and exits at once, orphaning it. */
static void
spawn_orphan(int gate[2], int report[2])
{
	pid_t child = fork();
	int status;

	if (child < 0)
		die("fork");
	if (child == 0) {
		pid_t gc = fork();

		if (gc == 0)
			grandchild(gate, report);
		_exit(gc < 0 ? 1 : 0);
	}
	if (waitpid(child, &status, 0) < 0) {
		if (errno != ECHILD)	/* ECHILD: SIGCHLD is ignored */
			die("waitpid");
		status = 0;
	}
	if (status != 0) {
		errno = EAGAIN;
		die("fork of a grandchild");
	}
}

/* EOF before n pids means a grandchild died early. */
static void
read_pids(int fd, pid_t *pids, int n)
{
	size_t want = (size_t)n * sizeof(*pids), got = 0;

	while (got < want) {
		ssize_t r = read(fd, (char *)pids + got, want - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("reading the orphans' pids");
		got += (size_t)r;
	}
}

/* kill(pid, 0) succeeds on a zombie too: ESRCH only once it is reaped. */
static void
wait_reaped(const pid_t *pids, int n, long long start)
{
	struct timespec pause = { 0, 20000 };
	int i;

	for (i = 0; i < n; i++)
		while (kill(pids[i], 0) == 0 || errno != ESRCH) {
			if (now_ns() - start > TIMEOUT_NS) {
				fprintf(stderr, "orphans: %d of %d not reaped "
				    "after 60 s\n", n - i, n);
				exit(1);
			}
			nanosleep(&pause, NULL);
		}
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	int gate[2], report[2], i;
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	long long start;

	if (pids == NULL)
		die("calloc");
	if (argc > 2 && strcmp(argv[2], "self") == 0)
		signal(SIGCHLD, SIG_IGN);
	if (pipe(gate) < 0 || pipe(report) < 0)
		die("pipe");
	for (i = 0; i < n; i++)
		spawn_orphan(gate, report);
	close(report[1]);
	read_pids(report[0], pids, n);
	close(gate[0]);
	start = now_ns();
	close(gate[1]);		/* every orphan's read() returns 0: it exits */
	wait_reaped(pids, n, start);
	printf("%.3f\n", (double)(now_ns() - start) / 1e6);
	return 0;
}
"""

# Prints "ready", then the CLOCK_MONOTONIC ns of each SIGUSR1 it receives.
SIGLAT_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int
main(void)
{
	sigset_t usr1;
	siginfo_t si;
	struct timespec ts;
	char line[32];
	int len;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &usr1, NULL) < 0)
		return 1;
	if (write(1, "ready\n", 6) != 6)
		return 1;
	for (;;) {
		if (sigwaitinfo(&usr1, &si) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		len = snprintf(line, sizeof(line), "%lld\n",
		    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		if (write(1, line, (size_t)len) != len)
			return 1;
	}
}
"""

# `lines FIFO BYTES [hold]`: once the bench opens FIFO for writing, writes
# BYTES bytes (a multiple of 100) of 100-byte lines to stdout, in writes
# of 65,500 bytes; then exits, or with hold waits to be killed.
LINES_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char buf[655 * 100];

int
main(int argc, char **argv)
{
	long long left = argc > 2 ? atoll(argv[2]) : 0;
	size_t i;
	int fd;

	if (argc < 3)
		return 2;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i % 100 == 99 ? '\n' : 'a' + (i / 100 + i % 100) % 26;
	/* blocks until the bench opens the gate: the start of the timing */
	while ((fd = open(argv[1], O_RDONLY)) < 0)
		if (errno != EINTR) {
			perror("lines: open");
			return 1;
		}
	close(fd);
	while (left > 0) {
		size_t n = left < (long long)sizeof(buf) ? (size_t)left :
		    sizeof(buf);
		const char *p = buf;

		while (n > 0) {
			ssize_t w = write(1, p, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				perror("lines: write");
				return 1;
			}
			p += w;
			n -= (size_t)w;
			left -= w;
		}
	}
	if (argc > 3)
		for (;;)
			pause();
	return 0;
}
"""

# `drain BYTES`: reads stdin as cat does (128 KiB reads) and discards it;
# once BYTES bytes have come, prints the CLOCK_MONOTONIC ns of that moment,
# then reads on to EOF and prints the total, so that bytes beyond BYTES
# show. EOF before BYTES is an error.
DRAIN_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[128 * 1024];

int
main(int argc, char **argv)
{
	long long want = argc > 1 ? atoll(argv[1]) : 0, got = 0;
	struct timespec ts;

	while (got < want) {
		ssize_t r = read(0, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "drain: %s after %lld of %lld bytes\n",
			    r < 0 ? strerror(errno) : "EOF", got, want);
			return 1;
		}
		got += r;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	fflush(stdout);
	for (;;) {
		ssize_t r = read(0, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	printf("%lld\n", got);
	return 0;
}
"""


def progress(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def now_ns():
    """The same clock as the helpers' clock_gettime(CLOCK_MONOTONIC)."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def poll_until(what, check, timeout=10.0, interval=0.001):
    """Returns check()'s first truthy value; raises after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def read_file(path):
    """The file's text, or "" once the process it describes is gone."""
    try:
        return Path(path).read_text()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def children(pid):
    text = read_file(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in text.split()]


def status_fields(pid):
    """/proc/PID/status as {field: first number}."""
    fields = {}
    for line in read_file(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        words = value.split()
        if words and words[0].isdigit():
            fields[key] = int(words[0])
    return fields


def pss_kib(pid):
    for line in read_file(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return None


def median(values):
    return statistics.median(values) if values else None


# --- running an init as PID 1 ----------------------------------------------

def under(init, *command):
    """argv of INIT running COMMAND; all four inits accept the "--"."""
    return [str(init), "--", *command]


class Pid1:
    """argv[0] as PID 1 of a fresh PID namespace.

    On close the PID 1 is killed first and unshare reaped after, so the
    kernel tears the whole namespace down and nothing outlives the bench.
    """

    def __init__(self, argv, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL, exe=None):
        # Without root, a user namespace grants what unshare needs.
        user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        cmd = ["unshare", *user, "--pid", "--fork", "--mount-proc",
               "--kill-child", *argv]
        # exe: what /proc/PID/exe shows once exec'd, if not argv[0] (the
        # interpreter of a script)
        self.init_path = os.path.realpath(exe or argv[0])
        self.pid = None  # the init's host pid, once known
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=stdout, stderr=stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def find_init(self):
        """The init's host pid: unshare's only child, once exec'd."""
        if self.pid is None:
            unshare = self.proc.pid

            def execed():
                kids = children(unshare)
                if kids and self._exe(kids[0]) == self.init_path:
                    return kids[0]
                if self.proc.poll() is not None:
                    raise RuntimeError(f"unshare exited with "
                                       f"{self.proc.returncode}")
                return None
            self.pid = poll_until("the init to start", execed)
        return self.pid

    def wait_for_child(self):
        """The init's host pid once it has started its command."""
        pid = self.find_init()
        poll_until("the init's child", lambda: children(pid))
        return pid

    @staticmethod
    def _exe(pid):
        try:
            return os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return None

    def close(self):
        # While unshare lives, its child's pid cannot be reused: it is
        # either running or unshare's unreaped zombie. Killing that child
        # (exec'd or not) lets unshare reap it; killing unshare itself
        # would leave it to the host's init.
        if self.proc.poll() is None:
            kids = children(self.proc.pid)
            target = self.pid or (kids[0] if kids else self.proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


class LineReader:
    """Lines from a pipe, with a timeout so that a mute init cannot hang us."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""

    def readline(self, timeout=2.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError("no line from the helper")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise EOFError("the helper's output ended")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


# --- the metrics ------------------------------------------------------------

def elf_linkage(path):
    """'dynamic' when the ELF asks for an interpreter, else 'static'."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return "?"  # only 64-bit little-endian ELF is parsed
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off:off + 4], "little") == 3:  # PT_INTERP
            return "dynamic"
    return "static glibc" if b"GLIBC" in data else "static"


def measure_idle(inits):
    """VmRSS and Pss over IDLE_STARTS starts; wake-ups over one window.

    All inits idle side by side with one child each, `sleep 1000`.
    """
    rss = {name: [] for name in inits}
    pss = {name: [] for name in inits}
    wakeups = {}
    for start in range(IDLE_STARTS):
        with contextlib.ExitStack() as stack:
            running = {
                name: stack.enter_context(
                    Pid1(under(path, "/bin/sleep", "1000")))
                for name, path in inits.items()
            }
            pids = {name: p.wait_for_child()
                    for name, p in running.items()}
            time.sleep(0.3)  # let start-up work settle
            for name, pid in pids.items():
                rss[name].append(status_fields(pid)["VmRSS"])
                pss[name].append(pss_kib(pid))
            if start == 0:
                wakeups = count_wakeups(pids)
    return ({n: median(v) for n, v in rss.items()},
            {n: median(v) for n, v in pss.items() if None not in v},
            wakeups)


def context_switches(pid):
    fields = status_fields(pid)
    return (fields["voluntary_ctxt_switches"]
            + fields["nonvoluntary_ctxt_switches"])


def count_wakeups(pids):
    """Each context switch of an idle process is one wake-up."""
    progress(f"counting idle wake-ups for {WAKEUP_WINDOW_S:g} s")
    before = {name: context_switches(pid) for name, pid in pids.items()}
    time.sleep(WAKEUP_WINDOW_S)
    return {name: context_switches(pid) - before[name]
            for name, pid in pids.items()}


def spawn_time_ns(argv, file_actions):
    """Wall time of one posix_spawn + waitpid of argv."""
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=file_actions)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} exited with status {status}")
    return elapsed


def measure_true(inits):
    """Medians (µs) of `INIT -- /bin/true`, and of /bin/true alone.

    Not in a namespace. Output goes to /dev/null: tini warns on stderr
    when it is neither PID 1 nor a subreaper, which is part of its cost.
    Runs are shuffled per round so that no init always goes first.
    """
    commands = {name: under(path, "/bin/true")
                for name, path in inits.items()}
    commands["/bin/true"] = ["/bin/true"]
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0)
             for fd in (1, 2)]
    samples = {name: [] for name in commands}
    order = list(commands)
    shuffle = random.Random(1).shuffle
    for run in range(TRUE_WARMUP + TRUE_RUNS):
        shuffle(order)
        for name in order:
            ns = spawn_time_ns(commands[name], quiet)
            if run >= TRUE_WARMUP:
                samples[name].append(ns / 1000)
    return {name: median(v) for name, v in samples.items()}


def orphan_limit():
    """ORPHANS, lowered if pid_max or RLIMIT_NPROC would not allow it.

    The orphans take host pids too, next to everything already running.
    """
    running = sum(1 for p in os.listdir("/proc") if p.isdigit())
    pid_max = int(read_file("/proc/sys/kernel/pid_max"))
    room = pid_max - running
    nproc, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if os.geteuid() != 0 and nproc != resource.RLIM_INFINITY:
        room = min(room, nproc - running)
    return max(100, min(ORPHANS, room - 1000))


class ForkLimit(Exception):
    pass


def reap_once(argv):
    """ms for the PID 1 in argv to reap the orphans its helper makes."""
    with Pid1(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        out, err = p.proc.communicate(timeout=120)
    text = err.decode().strip()
    if p.proc.returncode != 0:
        if "fork" in text:
            raise ForkLimit(text)
        raise RuntimeError(f"{argv}: exit {p.proc.returncode}: {text}")
    return float(out.decode().split()[0])


def measure_reaping(inits, helper):
    """(orphans per run, {name: median ms}), rounds interleaved.

    AUTOREAP is the helper as PID 1 itself with SIGCHLD ignored, so that
    the kernel reaps each orphan as it exits: a reference showing how
    much of the time is the kernel's exit work rather than the init's.
    If forking n orphans fails, n is halved and the metric restarts.
    """
    n = orphan_limit()
    while True:
        commands = {name: under(path, helper, str(n))
                    for name, path in inits.items()}
        commands[AUTOREAP] = [helper, str(n), "self"]
        samples = {name: [] for name in commands}
        try:
            for run in range(REAP_RUNS):
                progress(f"reaping {n} orphans, round {run + 1} "
                         f"of {REAP_RUNS}")
                for name, argv in commands.items():
                    samples[name].append(reap_once(argv))
            return n, {name: median(v) for name, v in samples.items()}
        except ForkLimit as e:
            if n <= 100:
                raise
            progress(f"{e}; retrying with {n // 2} orphans")
            n //= 2


def measure_signals(inits, helper):
    """Median µs from kill(init, SIGUSR1) to the helper's sigwaitinfo.

    All inits run side by side, one signal to each in turn, in a shuffled
    order; the next one waits for the helper's reply, so signals never
    coalesce. An init that does not forward within 2 s gets no number.
    """
    latencies = {name: [] for name in inits}
    shuffle = random.Random(2).shuffle
    with contextlib.ExitStack() as stack:
        running = {}
        for name, path in inits.items():
            p = stack.enter_context(
                Pid1(under(path, helper), stdout=subprocess.PIPE))
            reader = LineReader(p.proc.stdout.fileno())
            if reader.readline(timeout=10) != "ready":
                raise RuntimeError(f"{name}: helper not ready")
            running[name] = (p.find_init(), reader)
        for _ in range(SIGNALS):
            order = list(running)
            shuffle(order)
            for name in order:
                pid, reader = running[name]
                sent = now_ns()
                os.kill(pid, signal.SIGUSR1)
                try:
                    received = int(reader.readline())
                except (TimeoutError, EOFError) as e:
                    progress(f"{name} did not forward: {e}")
                    latencies[name] = []
                    del running[name]
                    continue
                latencies[name].append((received - sent) / 1000)
                time.sleep(0.0002)  # let the init go idle again
    return {name: median(v) for name, v in latencies.items()}


def compile_helper(tmp, name, source):
    src = Path(tmp, f"{name}.c")
    exe = Path(tmp, name)
    src.write_text(source)
    # Static if libc.a is there: forking 10,000 orphans copies fewer
    # mappings, and no time goes to the dynamic loader.
    cmd = ["cc", "-O2", "-static", "-o", str(exe), str(src)]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        cmd.remove("-static")
        subprocess.run(cmd, check=True)
    return str(exe)


# --- the second table: supervising PROGRAMS programs -----------------------

def interpreter(path):
    """What /proc/PID/exe shows for path: its #! interpreter if a script."""
    with open(path, "rb") as f:
        head = f.readline(256)
    words = head[2:].split() if head.startswith(b"#!") else []
    return os.path.realpath(words[0].decode() if words else path)


def is_program(pid):
    """Whether pid has exec'd PROGRAM_ARGV (until then it shows its
    parent's command line)."""
    argv = read_file(f"/proc/{pid}/cmdline").split("\0")[:-1]
    return (argv[1:] == PROGRAM_ARGV[1:] and
            os.path.basename(argv[0]) == PROGRAM_ARGV[0])


def exited(pid):
    """Whether pid has exited: a zombie, or already reaped."""
    state = read_file(f"/proc/{pid}/stat").rpartition(")")[2].split()[:1]
    return not state or state[0] in ("Z", "X")


class Supervising(Pid1):
    """A supervisor as PID 1 on SUPERVISE_CONF, in a directory of its own.

    Its stdout and stderr go to the file `out` there, where both
    supervisors write their log lines.
    """

    def __init__(self, path, args, rundir):
        rundir.mkdir()
        conf = rundir / "supervisord.conf"
        conf.write_text(SUPERVISE_CONF)
        self.out = rundir / "out"
        self.seen = {}  # program pid: now_ns() when first seen exec'd
        with open(self.out, "wb") as out:  # the child keeps its own copy
            super().__init__([str(path), *args, str(conf)], stdout=out,
                             stderr=out, exe=interpreter(path))

    def check(self):
        """Fails at once, not on a timeout, once PID 1 is gone."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"PID 1 exited, unshare with status "
                               f"{self.proc.returncode}")

    def programs(self):
        """Host pids of PID 1's children that have exec'd their program."""
        self.check()
        found = {pid for pid in children(self.pid)
                 if pid in self.seen or is_program(pid)}
        for pid in found - self.seen.keys():
            self.seen[pid] = now_ns()
        return found

    def uptime(self, pid):
        """Seconds since pid was first seen exec'd: at most its uptime."""
        return (now_ns() - self.seen[pid]) / 1e9

    def running(self):
        """How many times a program has entered RUNNING so far."""
        self.check()
        return len(RUNNING_LINE.findall(read_file(self.out)))


def restart_once(s, rng, running_after):
    """ms from SIGKILL of one program to its replacement's exec.

    The victim is one of the programs up for KILL_AFTER_S. The replacement
    must then be RUNNING, the running_after-th such line, before the next
    kill.
    """
    before = s.programs()
    if len(before) != PROGRAMS:
        raise RuntimeError(f"{len(before)} programs running, not {PROGRAMS}")
    time.sleep(max(0, KILL_AFTER_S - max(map(s.uptime, before))))
    victim = rng.choice(sorted(pid for pid in before
                               if s.uptime(pid) >= KILL_AFTER_S))
    sent = now_ns()
    os.kill(victim, signal.SIGKILL)
    poll_until("a restarted program", lambda: s.programs() - before,
               timeout=5, interval=FINE_POLL_S)
    ms = (now_ns() - sent) / 1e6
    poll_until("the restarted program to be RUNNING",
               lambda: s.running() >= running_after, timeout=5)
    return ms


def stop(s):
    """ms from SIGTERM to PID 1 to unshare's exit, and how many of them
    came after every program had exited."""
    programs = s.programs()
    last_exit = None
    sent = now_ns()
    os.kill(s.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while s.proc.poll() is None:
        if last_exit is None and all(exited(pid) for pid in programs):
            last_exit = now_ns()
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for the shutdown")
        time.sleep(FINE_POLL_S)
    ended = now_ns()
    return (ended - sent) / 1e6, (ended - (last_exit or ended)) / 1e6


def supervise_once(name, path, args, rundir, rng, kills, wakeups):
    """One run: start, memory, wake-ups if asked, restarts, shutdown.

    Returns {metric: [samples]}.
    """
    got = {}
    start = now_ns()
    with Supervising(path, args, rundir) as s:
        pid = s.find_init()
        poll_until(f"{PROGRAMS} programs", lambda: len(s.programs())
                   >= PROGRAMS, timeout=20, interval=FINE_POLL_S)
        got["exec"] = [(now_ns() - start) / 1e6]
        poll_until(f"{PROGRAMS} programs to be RUNNING",
                   lambda: s.running() >= PROGRAMS, timeout=20,
                   interval=FINE_POLL_S)
        got["running"] = [(now_ns() - start) / 1e6]
        time.sleep(0.5)  # let start-up work settle
        got["rss"] = [status_fields(pid)["VmRSS"]]
        got["pss"] = [pss_kib(pid)]
        if wakeups:
            got["wakeups"] = [count_wakeups({name: pid})[name]]
        got["restart"] = [restart_once(s, rng, PROGRAMS + k + 1)
                          for k in range(kills)]
        stopped, after_last = stop(s)
        got["stop"], got["after_last"] = [stopped], [after_last]
    return got


def measure_supervision(supervisors, tmp):
    """({metric: {name: median}}, {name: error}) over SUPERVISE_RUNS runs.

    The runs alternate between the supervisors, in a shuffled order each
    round; RESTARTS kills are spread over a supervisor's runs. A
    supervisor whose run fails (a timeout, PID 1 gone) gets no more runs
    and n/a.
    """
    samples = {name: {} for name in supervisors}
    failed = {}
    rng = random.Random(3)
    order = list(supervisors)
    for run in range(SUPERVISE_RUNS):
        rng.shuffle(order)
        kills = (RESTARTS // SUPERVISE_RUNS +
                 (run < RESTARTS % SUPERVISE_RUNS))
        for name in order:
            if name in failed:
                continue
            progress(f"supervising {PROGRAMS} programs: {name}, run "
                     f"{run + 1} of {SUPERVISE_RUNS}")
            path, args = supervisors[name]
            rundir = Path(tmp, f"{name}.{run}")
            try:
                got = supervise_once(name, path, args, rundir, rng, kills,
                                     wakeups=run == 0)
            except (TimeoutError, RuntimeError, OSError) as e:
                progress(f"{name} failed: {e}; its column will be n/a")
                failed[name] = f"{e} (run {run + 1}); its output: " + \
                    " / ".join(read_file(rundir / "out").splitlines()[-3:])
                continue
            for metric, values in got.items():
                samples[name].setdefault(metric, []).extend(values)
    medians = {}
    for name, metrics in samples.items():
        if name in failed:
            continue
        for metric, values in metrics.items():
            medians.setdefault(metric, {})[name] = median(values)
    return medians, failed



# --- the third table: a program's output through tend -----------------------

def own_cpu_s(pid):
    """utime + stime of pid itself, not of its reaped children: fields 14
    and 15 of /proc/PID/stat, in clock ticks."""
    fields = read_file(f"/proc/{pid}/stat").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def io_fields(pid):
    """/proc/PID/io as {field: number}."""
    fields = {}
    for line in read_file(f"/proc/{pid}/io").splitlines():
        key, _, value = line.partition(":")
        fields[key] = int(value)
    return fields


def filesystem(path):
    """(type, source) of the mount that holds path."""
    path = os.path.realpath(path)
    best, found = "", ("?", "?")
    for line in read_file("/proc/self/mounts").splitlines():
        source, point, fstype = line.split()[:3]
        point = point.replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, found = point, (fstype, source)
    return found


def open_gate(fifo, timeout=10.0):
    """CLOCK_MONOTONIC ns once the writer, blocked in its open of fifo for
    reading, has been let go: it starts writing now."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:  # ENXIO: the writer has not opened it yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"the writer never opened {fifo}: {e}")
            time.sleep(0.001)
            continue
        started = now_ns()
        os.close(fd)
        return started


def output_conf(mode, argv, rundir):
    text = f"""\
[program:{OUTPUT_PROGRAM}]
command = {' '.join(argv)}
startsecs = 0
autorestart = false
"""
    if mode == "prefixed":
        text += "log_prefix = true\n"
    elif mode == "logfile":
        text += f"""\
stdout_logfile = {rundir}/{OUTPUT_PROGRAM}.log
stdout_logfile_maxbytes = {OUTPUT_MAXBYTES}
stdout_logfile_backups = {OUTPUT_BACKUPS}
"""
    return text


def stop_process(proc):
    """SIGTERM, then SIGKILL if it lingers; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_files(rundir):
    """{name: size} of the program's log file and its backups."""
    return {f.name: f.stat().st_size
            for f in rundir.glob(f"{OUTPUT_PROGRAM}.log*")}


def check_log_files(files):
    """An error text, or None when the rotation left what it should."""
    base = f"{OUTPUT_PROGRAM}.log"
    want = [base] + [f"{base}.{i}" for i in range(1, OUTPUT_BACKUPS + 1)]
    missing = [name for name in want if name not in files]
    extra = sorted(set(files) - set(want))
    oversize = [name for name in want[1:]
                if files.get(name, 0) > OUTPUT_MAXBYTES_N]
    if missing or extra or oversize:
        return (f"log files: missing {missing}, unexpected {extra}, "
                f"over {OUTPUT_MAXBYTES} {oversize}")
    return None


def relay_once(mode, tend, helpers, rundir, cpus):
    """One run of one row: {metric: value}.

    The writer (under tend, or straight into the pipe for "direct") waits
    on a FIFO, so that the timing starts with tend up, the program
    RUNNING and the writer about to write, and stops when the reader has
    all the bytes (for the log file: when tend's wchar, less what it
    wrote on stderr, reaches the program's bytes). Over that window:
    tend's own utime + stime and its VmRSS every RSS_SAMPLE_S. The
    writer, tend and the reader run on cpus.
    """
    lines, drain = helpers
    rundir.mkdir()
    gate = rundir / "gate"
    os.mkfifo(gate)
    writer = [lines, str(gate), str(OUTPUT_BYTES), "hold"]
    expect = OUTPUT_BYTES
    if mode == "prefixed":
        expect += OUTPUT_LINES * len(OUTPUT_PREFIX)
    got = {}
    every = os.sched_getaffinity(0)
    with contextlib.ExitStack() as stack:
        stack.callback(os.sched_setaffinity, 0, every)
        os.sched_setaffinity(0, cpus)  # what starts now inherits it
        reader = write_end = None
        if mode != "logfile":
            read_end, write_end = os.pipe()
            reader = subprocess.Popen([drain, str(expect)], stdin=read_end,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
            os.close(read_end)
            stack.callback(stop_process, reader)
        target = subprocess.DEVNULL if write_end is None else write_end
        pid = p = None
        err = rundir / "err"
        try:
            if mode == "direct":
                proc = subprocess.Popen(writer, stdin=subprocess.DEVNULL,
                                        stdout=target)
                stack.callback(stop_process, proc)
            else:
                conf = rundir / "tend.ini"
                conf.write_text(output_conf(mode, writer, rundir))
                with open(err, "wb") as f:
                    p = stack.enter_context(Pid1(
                        [str(tend), "-c", str(conf)], stdout=target,
                        stderr=f))
                proc = p.proc
        finally:
            if write_end is not None:
                os.close(write_end)  # the reader sees EOF if all die
            # the bench itself then keeps off the row's CPU, if it can
            os.sched_setaffinity(0, every - cpus or every)

        def alive():
            if proc.poll() is not None:
                tail = " / ".join(read_file(err).splitlines()[-3:])
                raise RuntimeError(f"exited with {proc.returncode}: {tail}")

        if p is not None:
            pid = p.find_init()
            exe = os.path.realpath(lines)

            def ready():
                alive()
                return (any(Pid1._exe(kid) == exe for kid in children(pid))
                        and RUNNING_LINE.search(read_file(err)))
            poll_until("the writer to be RUNNING", ready, timeout=10)
            time.sleep(0.2)  # let start-up work settle
            got["rss_idle"] = status_fields(pid)["VmRSS"]
            cpu0 = own_cpu_s(pid)
            wchar0 = io_fields(pid)["wchar"]
            err0 = err.stat().st_size

        start = open_gate(gate)
        rss = []
        next_sample = time.monotonic()
        deadline = next_sample + OUTPUT_TIMEOUT_S
        while True:
            if pid and time.monotonic() >= next_sample:
                rss.append(status_fields(pid)["VmRSS"])
                next_sample += RSS_SAMPLE_S
            if reader:
                fd = reader.stdout.fileno()
                if select.select([fd], [], [], RSS_SAMPLE_S)[0]:
                    # one short write; unbuffered, for communicate() later
                    line = os.read(fd, 64)
                    if not line:
                        reader.wait(timeout=10)
                        raise RuntimeError(reader.stderr.read().decode()
                                           .strip() or "the reader failed")
                    ended = int(line)
                    break
            else:
                # wchar first: a log line written in between then counts
                # on stderr only, which errs towards a later end
                wchar = io_fields(pid)["wchar"]
                logged = err.stat().st_size - err0
                if wchar - wchar0 - logged >= OUTPUT_BYTES:
                    ended = now_ns()
                    break
                time.sleep(FILE_POLL_S)
            if pid:
                alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{mode}: not done after "
                                   f"{OUTPUT_TIMEOUT_S} s")
        got["s"] = (ended - start) / 1e9
        if pid:
            got["cpu"] = own_cpu_s(pid) - cpu0
            rss.append(status_fields(pid)["VmRSS"])
            got["rss"] = max(rss)
            warnings = [line for line in read_file(err).splitlines()
                        if "warning" in line or "error" in line]
            if warnings:  # such as output dropped
                progress(f"{mode}: tend said: {' / '.join(warnings[:3])}")
            os.kill(pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                raise RuntimeError("no exit within 15 s of SIGTERM")
        else:
            stop_process(proc)
        if reader:
            # the writers are gone: the reader reaches EOF and counts
            out, text = reader.communicate(timeout=10)
            if reader.returncode != 0:
                raise RuntimeError(text.decode().strip())
            count = int(out)
            if count < expect:
                raise RuntimeError(f"the reader got {count:,} bytes, "
                                   f"not {expect:,}")
            # more than expected: lines split (see report_output)
            got["extra"] = count - expect
    if mode == "logfile":
        files = log_files(rundir)
        problem = check_log_files(files)
        if problem:
            raise RuntimeError(problem)
        got["files"] = files
    shutil.rmtree(rundir)
    return got


def writer_alone(lines, tmp):
    """MiB/s of the writer into /dev/null: what it costs by itself."""
    gate = Path(tmp, "gate-alone")
    os.mkfifo(gate)
    proc = subprocess.Popen([lines, str(gate), str(OUTPUT_BYTES)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL)
    try:
        start = open_gate(gate)
        proc.wait(timeout=OUTPUT_TIMEOUT_S)
        ended = now_ns()
    finally:
        stop_process(proc)
    gate.unlink()
    return OUTPUT_BYTES / 2**20 / ((ended - start) / 1e9)


def measure_output(tend, helpers, tmp):
    """({(placement, mode): {metric: [samples]}}, {(placement, mode):
    error}, the writer's MiB/s alone, the CPU of "one").

    OUTPUT_RUNS rounds, each running every row once in a shuffled order;
    a row that fails gets no more runs and n/a.
    """
    every = os.sched_getaffinity(0)
    one = max(every)
    cpus = {"any": every, "one": {one}}
    rows = [(placement, mode) for placement in OUTPUT_PLACEMENTS
            for mode, _ in OUTPUT_MODES]
    samples = {row: {} for row in rows}
    failed = {}
    rng = random.Random(4)
    alone = writer_alone(helpers[0], tmp)
    for run in range(OUTPUT_RUNS):
        order = list(rows)
        rng.shuffle(order)
        for row in order:
            if row in failed:
                continue
            placement, mode = row
            progress(f"1 GiB of output: {mode} on {placement} CPU, run "
                     f"{run + 1} of {OUTPUT_RUNS}")
            rundir = Path(tmp, f"output-{placement}-{mode}.{run}")
            try:
                got = relay_once(mode, tend, helpers, rundir,
                                 cpus[placement])
            except (TimeoutError, RuntimeError, OSError) as e:
                progress(f"{mode} on {placement} CPU failed: {e}; its row "
                         "will be n/a")
                failed[row] = f"{e} (run {run + 1})"
                shutil.rmtree(rundir, ignore_errors=True)
                continue
            for metric, value in got.items():
                samples[row].setdefault(metric, []).append(value)
    return samples, failed, alone, one

def package_bytes(path):
    """(package, bytes) of the Debian package that holds path: the regular
    files dpkg lists, plus the byte-compiled __pycache__ files of its
    modules (made at install, not listed). (None, None) without dpkg."""
    try:
        owner = subprocess.run(["dpkg", "-S", str(path)], capture_output=True,
                               text=True, timeout=30)
        package = owner.stdout.split(":")[0].strip()
        files = subprocess.run(["dpkg", "-L", package], capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    if owner.returncode != 0 or files.returncode != 0:
        return None, None
    paths = set()
    for line in files.stdout.splitlines():
        listed = Path(line)
        paths.add(listed)
        if listed.suffix == ".py":
            paths.update(listed.parent.glob(f"__pycache__/{listed.stem}.*"))
    total = 0
    for listed in paths:
        try:
            st = listed.lstat()
        except OSError:
            continue  # dpkg's "diverted by" lines and the like
        if stat.S_ISREG(st.st_mode):
            total += st.st_size
    return package, total


def footprints(supervisors):
    """{name: bytes}: a binary's size; for a script, its interpreter's plus
    its package's. Also {name: (interpreter, bytes, package, bytes)}."""
    sizes, parts = {}, {}
    for name, (path, _) in supervisors.items():
        exe = interpreter(path)
        if exe == os.path.realpath(path):
            sizes[name] = path.stat().st_size
            continue
        package, pkg_bytes = package_bytes(path)
        exe_bytes = os.stat(exe).st_size
        parts[name] = (exe, exe_bytes, package, pkg_bytes)
        if pkg_bytes is not None:
            sizes[name] = exe_bytes + pkg_bytes
    return sizes, parts


# --- the report -------------------------------------------------------------

def version(path):
    """First line of `INIT --version` (dumb-init prints it on stderr)."""
    try:
        r = subprocess.run([str(path), "--version"], capture_output=True,
                           timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (r.stdout + r.stderr).decode(errors="replace").strip()
    return text.splitlines()[0] if text else "?"


def machine():
    cpu = "?"
    for line in read_file("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    distro = ""
    for line in read_file("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            distro = ", " + line.split("=", 1)[1].strip('"')
    return (f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()} "
            f"{platform.machine()}{distro}")


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}×"


def small_ratio(a, b):
    """ratio() with two significant digits below 1, as for 0.0012×."""
    if a is None or b is None or b == 0 or a / b >= 1:
        return ratio(a, b)
    return f"{a / b:.2g}×"


def table(names, rows, baseline=BASELINE):
    """rows: (label, {name: cell text}, ratio text)."""
    header = ["metric", *names, f"tend ÷ {baseline}"]
    lines = ["| " + " | ".join(header) + " |",
             "|:--" + "|--:" * (len(header) - 1) + "|"]
    for label, cells, rel in rows:
        columns = [label, *(cells.get(n, "n/a") for n in names), rel]
        lines.append("| " + " | ".join(columns) + " |")
    return "\n".join(lines)


def report(names, paths, r, load):
    def row(label, values, digits=0, suffix="", with_ratio=True):
        cells = {n: fmt(values.get(n), digits, suffix) for n in names}
        rel = (ratio(values.get("tend"), values.get(BASELINE))
               if with_ratio else "—")
        return (label, cells, rel)

    size_row = row("binary size (bytes)", r["size"])
    dynamic = [n for n in names if r["linkage"].get(n) == "dynamic"]
    for n in dynamic:
        size_row[1][n] += "¹"
    true = r["true"]
    direct = true.get("/bin/true")
    autoreap = r["reap"].get(AUTOREAP)
    rows = [
        size_row,
        row(f"VmRSS as idle PID 1 (KiB, median of {IDLE_STARTS})",
            r["rss"]),
        row(f"Pss as idle PID 1 (KiB, median of {IDLE_STARTS})",
            r["pss"]),
        row(f"`INIT -- /bin/true` (µs, median of {TRUE_RUNS})", true),
        row(f"… ÷ `/bin/true` alone ({fmt(direct)} µs)",
            {n: true[n] / direct for n in names if n in true},
            2, "×", with_ratio=False),
        row(f"reap {r['orphans']:,} orphans as PID 1 (ms, median of "
            f"{REAP_RUNS}; kernel auto-reap: {fmt(autoreap, 1)} ms)",
            r["reap"], 1),
        row(f"signal-forward latency (µs, median of {SIGNALS})",
            r["signal"], 1),
        row(f"idle wake-ups in {WAKEUP_WINDOW_S:g} s (context switches)",
            r["wakeups"]),
    ]

    print("# tend vs. other container inits\n")
    print_context(load)
    for n in names:
        where = paths.get(n)
        desc = (f"`{where}`, {r['linkage'][n]}, {version(where)}"
                if where else "not installed")
        print(f"- {n}: {desc}")
    print()
    print(table(names, rows))
    print()
    for n in dynamic:
        print(f"¹ {n} is dynamically linked: its size leaves out the "
              "shared libc and loader it maps at run time, which also "
              "count in its VmRSS.")
    print("""
Legend:
- Every init runs with TEND_CONFIG="" in its environment, so that tend
  reads no configuration file; the others ignore it.
- Binary size: st_size of the executable.
- VmRSS / Pss: /proc/PID/status and /proc/PID/smaps_rollup of the init,
  PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc
  --kill-child INIT -- sleep 1000`), idle with its one child.
- `INIT -- /bin/true`: posix_spawn to waitpid in this process, not in a
  namespace, output to /dev/null, runs shuffled across the inits; the
  next row divides by the same for `/bin/true` alone.
- Reaping: as PID 1, a helper makes that many orphans exit at once and
  times until kill(pid, 0) fails with ESRCH for all of them (so until
  the init has reaped them, not merely until they died). Kernel
  auto-reap: the helper is PID 1 itself and ignores SIGCHLD, so the
  kernel frees each orphan as it exits. Most of the time is the
  kernel's exit work, so small differences between inits are noise.
- Signal forwarding: CLOCK_MONOTONIC before kill(SIGUSR1) to the init's
  host pid, to the return of sigwaitinfo in its child.
- Wake-ups: growth of voluntary + nonvoluntary context switches of the
  idle init (as for VmRSS) over the window.
- Ratio column: tend's value divided by tini-static's; below 1 is better
  for every row.""")


def report_supervision(names, paths, r):
    def row(label, values, digits=0, suffix=""):
        cells = {n: fmt(values.get(n), digits, suffix) for n in names}
        rel = small_ratio(values.get("tend"),
                          values.get(SUPERVISED_BASELINE))
        return (label, cells, rel)

    m = r["supervise"]
    size_row = row("on disk (bytes)", r["footprint"])
    for n in r["footprint_parts"]:
        size_row[1][n] += "²"
    runs = f"median of {SUPERVISE_RUNS}"
    command = " ".join(PROGRAM_ARGV)
    kill_after = f"{KILL_AFTER_S:g} s"
    rows = [
        size_row,
        row(f"VmRSS of PID 1, all RUNNING (KiB, {runs})", m.get("rss", {})),
        row(f"Pss of PID 1, all RUNNING (KiB, {runs})", m.get("pss", {})),
        row(f"start to {PROGRAMS} programs exec'd (ms, {runs})",
            m.get("exec", {}), 1),
        row(f"start to {PROGRAMS} programs RUNNING (ms, {runs})",
            m.get("running", {}), 1),
        row(f"restart after SIGKILL (ms, median of {RESTARTS})",
            m.get("restart", {}), 2),
        row(f"SIGTERM to exit of PID 1 (ms, {runs})", m.get("stop", {}), 1),
        row(f"… of which after the last program's exit (ms, {runs})",
            m.get("after_last", {}), 2),
        row(f"idle wake-ups in {WAKEUP_WINDOW_S:g} s, all RUNNING "
            "(context switches)", m.get("wakeups", {})),
    ]

    print(f"\n## Supervision of {PROGRAMS} programs: tend vs. supervisord\n")
    for n in names:
        where = paths.get(n)
        if where is None:
            desc = "not installed"
        elif n in r["footprint_parts"]:
            exe = r["footprint_parts"][n][0]
            desc = (f"`{where}` {version(where)}, a script run by `{exe}`, "
                    f"{version(exe)}")
        else:
            desc = f"`{where}`, {version(where)}"
        print(f"- {n}: {desc}")
    for n, error in r["supervise_failed"].items():
        print(f"- {n} FAILED, so n/a: {error}")
    print()
    print(table(names, rows, SUPERVISED_BASELINE))
    print()
    for n, (exe, exe_bytes, package, pkg_bytes) in \
            r["footprint_parts"].items():
        print(f"² interpreter + package, not comparable with a static "
              f"binary: `{exe}` ({exe_bytes:,} bytes, dynamically linked: "
              f"without its shared libraries and standard library) + the "
              f"{package or '?'} package ({fmt(pkg_bytes)} bytes: every "
              f"regular file of `dpkg -L {package or '?'}`, with the "
              f"byte-compiled modules and the documentation).")
    print(f"""
Legend:
- Both read the same file: a [supervisord] section (nodaemon, user=root,
  logfile, pidfile and childlogdir in a temporary directory; tend ignores
  these keys) and {PROGRAMS} [program:pN] sections with
  `command={command}`, startsecs=0, autorestart=true and
  stdout/stderr_logfile=NONE. Each runs as PID 1 of a fresh PID namespace
  (`unshare --pid --fork --mount-proc --kill-child tend -c FILE`, `...
  supervisord -n -c FILE`), stdout and stderr to a file, where both write
  their log lines. The runs alternate between the two in a shuffled
  order; each is a start, the memory, the wake-ups (first run only),
  {RESTARTS // SUPERVISE_RUNS} restarts and a shutdown.
- On disk: st_size of tend's static binary; for supervisord see ².
- VmRSS / Pss: as in the first table, of PID 1 0.5 s after the last
  program entered RUNNING. Pss splits shared pages between the processes
  mapping them, so supervisord's share of python3's pages shrinks with
  every other python3 running, this bench included.
- Start to exec'd: CLOCK_MONOTONIC before starting unshare to when all
  {PROGRAMS} children of PID 1 have exec'd their command (/proc polled about
  every 0.1 ms). It includes unshare and the supervisor's own start-up;
  supervisord starts no program before its first 1 s poll has timed out.
- Start to RUNNING: the same start, to the {PROGRAMS}th `success: pN entered
  RUNNING state` line in the file (polled alike). supervisord declares
  RUNNING on a later pass of its 1 s loop, even with startsecs=0.
- Restart: all {PROGRAMS} RUNNING, one program up for {kill_after} or more,
  chosen at random, is SIGKILLed from outside; CLOCK_MONOTONIC before
  kill() to when a new child of PID 1 has exec'd (/proc polled about
  every 0.1 ms). This includes the kernel's delivery of SIGKILL and the
  exit. The next kill waits for the replacement's RUNNING line. tend
  restarts a program that dies within 1 s of its start only 1 s after
  that start (against crash loops; MIN_RESTART_MS), hence the {kill_after}.
- SIGTERM to exit: kill(SIGTERM) to the host pid of PID 1, to the return
  of waitpid for unshare, which exits right after its child (polled about
  every 0.1 ms). Every program exits at once on SIGTERM. The next row is
  the part after all {PROGRAMS} programs were seen exited (a zombie or gone).
  supervisord handles the SIGTERM only when its 1 s poll times out.
- Wake-ups: as in the first table, of PID 1 with all {PROGRAMS} programs
  RUNNING and nothing to do, in the first run.
- Ratio column: tend's value divided by supervisord's; below 1 is better
  for every row.""")



def report_output(tend, tend_version, tmp_fs, r):
    samples, failed, alone, one = r["output"]
    mib = OUTPUT_BYTES / 2**20
    gib = OUTPUT_BYTES / 2**30
    runs = f"median of {OUTPUT_RUNS}"
    where = {"any": f"any of {os.cpu_count()}", "one": f"one: CPU {one}"}

    def med(placement, mode, metric):
        return median(samples[placement, mode].get(metric, []))

    def cpu_per_gib(placement, mode):
        cpu = med(placement, mode, "cpu")
        return cpu * 1000 / gib if cpu is not None else None

    def share(placement, mode):
        """The row's throughput ÷ the direct row's, on the same CPUs."""
        direct, secs = (med(placement, "direct", "s"),
                        med(placement, mode, "s"))
        return direct / secs if direct and secs else None

    header = ["row", "CPUs", f"wall time (s, {runs})",
              "throughput (MiB/s)", "÷ direct",
              f"tend CPU (ms per GiB, {runs})",
              "tend VmRSS idle → peak while relaying (KiB)"]
    lines = ["| " + " | ".join(header) + " |",
             "|:--" + "|--:" * (len(header) - 1) + "|"]
    for placement in OUTPUT_PLACEMENTS:
        for mode, label in OUTPUT_MODES:
            secs = med(placement, mode, "s")
            if mode == "direct":
                cpu = rss = "—"
            else:
                cpu = fmt(cpu_per_gib(placement, mode))
                got = samples[placement, mode]
                peak = max(got.get("rss", []), default=None)
                rss = (f"{fmt(median(got.get('rss_idle', [])))} → "
                       f"{fmt(peak)}" if peak is not None else "n/a")
            rel = share(placement, mode)
            cells = [label, where[placement], fmt(secs, 3),
                     fmt(mib / secs if secs else None),
                     f"{rel:.2f}×" if rel else "n/a", cpu, rss]
            lines.append("| " + " | ".join(cells) + " |")

    def verdict(ok):
        return "n/a" if ok is None else ("met" if ok else "**NOT met**")

    pass_cpu = [cpu_per_gib(pl, "passthrough") for pl in OUTPUT_PLACEMENTS]
    pass_cpu = None if None in pass_cpu else max(pass_cpu)
    prefixed = []
    for placement in OUTPUT_PLACEMENTS:
        rel = share(placement, "prefixed")
        prefixed.append(f"{fmt(rel * 100 if rel else None)}% on "
                        f"{placement} CPU, "
                        f"{verdict(None if rel is None else rel >= PREFIX_BUDGET)}")
    peak = max((v for got in samples.values() for v in got.get("rss", [])),
               default=None)
    checked = sum(len(samples[pl, "logfile"].get("files", []))
                  for pl in OUTPUT_PLACEMENTS)
    split = []
    for placement in OUTPUT_PLACEMENTS:
        for mode, label in OUTPUT_MODES:
            extra = [n for n in samples[placement, mode].get("extra", [])
                     if n]
            if extra:
                runs_of = len(samples[placement, mode]["extra"])
                split.append(
                    f"- **{label.split(':')[0]} on {placement} CPU: the "
                    f"reader got more bytes than expected in {len(extra)} of "
                    f"{runs_of} runs** ({', '.join(f'+{n}' for n in extra)}"
                    f" bytes)")
    checked_lines = (
        "\n".join(split) + f"\n  Each {len(OUTPUT_PREFIX) + 1} bytes is a "
        "line cut in two by a forced flush of a partial line, which then "
        f"comes out as two lines (`{OUTPUT_PREFIX}` and a newline more); "
        "the timing ends when the expected count has arrived, a few bytes "
        "early." if split else "- every reader got exactly the bytes "
        "expected (the program's, plus the prefixes in (b)): no line was "
        "split or lost")
    tmp_type, tmp_source = tmp_fs
    ram_mib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20
    on = ("tmpfs, in memory" if tmp_type == "tmpfs" else
          f"{tmp_type} on {tmp_source}, a disk: the writes go to the page "
          f"cache ({ram_mib:,} MiB of RAM) and are written back in the "
          "background; each run's files are deleted after it")

    print(f"\n## Program output through tend: {gib:.0f} GiB of "
          f"{OUTPUT_LINE}-byte lines\n")
    print(f"- tend: `{tend}`, {tend_version}, copied at the start of "
          "this table so that a rebuild cannot change it mid-way")
    print(f"- writer: a static C helper, {OUTPUT_LINES:,} lines of "
          f"{OUTPUT_LINE - 1} letters and a newline ({OUTPUT_BYTES:,} "
          f"bytes, 1 GiB less {2**30 - OUTPUT_BYTES} bytes) in "
          f"{OUTPUT_CHUNK:,}-byte writes; into /dev/null it writes "
          f"{fmt(alone)} MiB/s, so it is never the bottleneck")
    print(f"- temporary directory of (c): {on}")
    for (placement, mode), error in failed.items():
        print(f"- {mode} on {placement} CPU FAILED, so n/a: {error}")
    print()
    print("\n".join(lines))
    print(f"""
Budgets (from the issue):
- passthrough costs tend no CPU: {fmt(pass_cpu)} ms per GiB at most \
({runs}), {verdict(None if pass_cpu is None else pass_cpu == 0)}
- prefixed at least {PREFIX_BUDGET:.0%} of the direct pipe's throughput: \
{'; '.join(prefixed)}
- tend's VmRSS while relaying within the supervision budget of \
{RELAY_RSS_BUDGET_KIB} KiB: at most {fmt(peak)} KiB over every run of \
(a), (b) and (c), \
{verdict(None if peak is None else peak <= RELAY_RSS_BUDGET_KIB)}

Output checked (the reader reads on to EOF and counts every byte):
{checked_lines}

Legend:
- Every run starts its writer blocked on opening a FIFO; the timing
  starts when the bench opens the FIFO for writing (under tend: 0.2 s
  after the program entered RUNNING, so tend's start-up is left out),
  and ends when the last byte has arrived. Each round runs every row
  once, in a shuffled order. Throughput: the program's {OUTPUT_BYTES:,}
  bytes over the wall time. ÷ direct: the direct row's wall time over
  the row's, on the same CPUs: the share of the direct pipe's throughput.
- CPUs: "any" leaves the writer, tend and the reader to the scheduler.
  On a VM a pipe between two CPUs can be many times slower than one
  within a CPU (each wake-up of the other side is an inter-processor
  interrupt), so there the placement the scheduler picks weighs as much
  as tend; this is why passthrough can differ from direct although tend
  copies nothing. "one" pins all three to CPU {one} (the bench itself
  keeps to the other CPUs): no cross-CPU wake-ups, and the wall time is
  the CPU work of the whole path, so ÷ direct compares that work.
- direct: the writer's stdout is a pipe to the reader, a static C helper
  that reads as `cat >/dev/null` does (128 KiB reads) and counts the
  bytes, so that it knows when all have come; no tend.
- (a) passthrough: `tend -c FILE` as PID 1 of a fresh PID namespace
  (`unshare --pid --fork --mount-proc --kill-child`), with one
  `[program:{OUTPUT_PROGRAM}]` (startsecs=0, autorestart=false) running
  the writer and default output settings; tend's stdout is the pipe to
  the reader. tend relays nothing: the program inherits that stdout.
- (b) prefixed: as (a) with `log_prefix = true`: the program writes
  into a pipe of tend's, and tend writes each line as
  `{OUTPUT_PREFIX}line` to its stdout, so the reader gets
  {len(OUTPUT_PREFIX)} more bytes a line ({OUTPUT_BYTES +
  OUTPUT_LINES * len(OUTPUT_PREFIX):,} in all, checked); the throughput
  counts the program's bytes only.
- (c) log file: as (a) with `stdout_logfile = DIR/{OUTPUT_PROGRAM}.log`,
  `stdout_logfile_maxbytes = {OUTPUT_MAXBYTES}` and
  `stdout_logfile_backups = {OUTPUT_BACKUPS}`, in the temporary directory
  ({tmp_type}). No reader: the end is when tend's wchar (/proc/PID/io),
  less what it wrote on its stderr, reaches the program's bytes (polled
  every {FILE_POLL_S * 1000:g} ms). After each run `{OUTPUT_PROGRAM}.log`
  and `{OUTPUT_PROGRAM}.log.1` to `.{OUTPUT_BACKUPS}` must exist, with no
  backup over {OUTPUT_MAXBYTES} ({checked} runs checked), then are
  removed.
- tend CPU: utime + stime of the tend process itself (fields 14 and 15
  of /proc/PID/stat, in ticks of 1/{os.sysconf("SC_CLK_TCK")} s; not its
  reaped children, as wait4's rusage would count) from the start of the
  timing to its end, per GiB of the program's output; it includes the
  kernel's work in tend's own read() and write() calls (for (c), the
  copies into the page cache). The writer then
  waits to be killed, so tend's stat is read while it still runs; then
  it gets SIGTERM.
- tend VmRSS: /proc/PID/status of tend; idle: median, just before the
  timing; peak: the largest of samples taken every
  {RSS_SAMPLE_S * 1000:g} ms during the timing and at its end, over all
  runs of the row.""")

# The tables of control.py, which builds on everything above: it imports
# this module as `bench`, which run as a script must be this same module,
# not a second copy.
sys.modules.setdefault("bench", sys.modules[__name__])
import control  # noqa: E402

SECTIONS = ["inits", "supervision", "output", *control.SECTIONS]


def parse_args():
    parser = argparse.ArgumentParser(
        description="Benchmark tend against other inits and supervisord.")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append",
        help="run only this table (repeatable): inits (tend vs. tini, "
        "dumb-init and catatonit), supervision (vs. supervisord), output "
        "(a program's output through tend), relay (main's stderr relayed "
        "for the termination message), control (the control socket vs. "
        "supervisord's), web (wrk against the TCP ports), ready (a "
        "dependency chain vs. supervisord's priorities, notify messages), "
        "scale (1,000 to 10,000 programs)")
    return parser.parse_args()


def print_context(load):
    now = datetime.datetime.now(datetime.timezone.utc)
    print(f"- date: {now:%Y-%m-%d %H:%M:%S} UTC")
    print(f"- machine: {machine()}")
    # The 1-minute average still counts the orphans of a run minutes ago;
    # the runnable count is now, this process included.
    print(f"- before the run: load average {load[0]} (1 min), "
          f"{load[3].split('/')[0]} runnable tasks; other work on the "
          "machine adds noise to every timing")


def main():
    args = parse_args()
    sections = args.only or SECTIONS
    # tend otherwise looks for /etc/tend.ini or a supervisord.conf even
    # when given a command; a host's supervisor config must not be timed.
    os.environ["TEND_CONFIG"] = ""
    load = read_file("/proc/loadavg").split()  # before the orphans
    names = [name for name, _ in INITS]
    present = {name: path for name, path in INITS if path.is_file()}
    supervisors = {name: (path, args) for name, path, args in SUPERVISORS
                   if path.is_file()}
    sup_names = [name for name, _, _ in SUPERVISORS]
    results = {}
    if "inits" in sections:
        for name in names:
            if name not in present:
                progress(f"{name} not found, its column will be n/a")
        results["size"] = {n: p.stat().st_size for n, p in present.items()}
        results["linkage"] = {n: elf_linkage(p) for n, p in present.items()}
    if "supervision" in sections:
        for name in sup_names:
            if name not in supervisors:
                progress(f"{name} not found, its column will be n/a")
        results["footprint"], results["footprint_parts"] = \
            footprints(supervisors)
    tend_copy = None
    with tempfile.TemporaryDirectory(prefix="tend-bench.") as tmp:
        if "inits" in sections:
            orphans = compile_helper(tmp, "orphans", ORPHANS_C)
            siglat = compile_helper(tmp, "siglat", SIGLAT_C)
            progress("idle memory and wake-ups")
            results["rss"], results["pss"], results["wakeups"] = \
                measure_idle(present)
            progress(f"`INIT -- /bin/true` x {TRUE_RUNS}")
            results["true"] = measure_true(present)
            results["orphans"], results["reap"] = \
                measure_reaping(present, orphans)
            progress(f"signal forwarding x {SIGNALS}")
            results["signal"] = measure_signals(present, siglat)
        if "supervision" in sections:
            results["supervise"], results["supervise_failed"] = \
                measure_supervision(supervisors, tmp)
        if "output" in sections:
            # a copy: the tend under test must not change mid-table
            tend_copy = Path(tmp, "tend")
            shutil.copy2(REPO / "tend", tend_copy)
            helpers = (compile_helper(tmp, "lines", LINES_C),
                       compile_helper(tmp, "drain", DRAIN_C))
            results["output"] = measure_output(tend_copy, helpers, tmp)
            results["tmp_fs"] = filesystem(tmp)
            # the report runs the copy for its version, so before cleanup
            tend_version = version(tend_copy)
        results["control"] = control.measure(sections, tmp)
    if "inits" in sections:
        report(names, present, results, load)
    else:
        print("# tend benchmarks\n")
        print_context(load)
    if "supervision" in sections:
        report_supervision(sup_names,
                           {n: path for n, (path, _) in supervisors.items()},
                           results)
    if "output" in sections:
        report_output(REPO / "tend", tend_version, results["tmp_fs"],
                      results)
    control.report(results["control"])

if __name__ == "__main__":
    main()
