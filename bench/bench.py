#!/usr/bin/python3
"""
bench.py: tend side by side with tini-static, dumb-init and catatonit, then
with supervisord supervising the same 10 programs.

Run from anywhere as `/usr/bin/python3 bench/bench.py` (Python 3 standard
library only; root, or unprivileged user namespaces, for unshare). It
prints one Markdown report with two tables on stdout; progress goes to
stderr.

Every measurement runs all the inits in the same process, interleaved or
side by side, so that machine noise hits them alike. Where an init must be
PID 1 it runs as `unshare --pid --fork --mount-proc --kill-child INIT --
COMMAND`, and its host pid is the one child of the unshare process. Two
tiny C helpers are compiled into a temporary directory at start-up.
Nothing is left running: every namespace is torn down in a finally block.
"""
import contextlib
import datetime
import os
import platform
import random
import re
import resource
import select
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
    now = datetime.datetime.now(datetime.timezone.utc)
    print(f"- date: {now:%Y-%m-%d %H:%M:%S} UTC")
    print(f"- machine: {machine()}")
    # The 1-minute average still counts the orphans of a run minutes ago;
    # the runnable count is now, this process included.
    print(f"- before the run: load average {load[0]} (1 min), "
          f"{load[3].split('/')[0]} runnable tasks; other work on the "
          "machine adds noise to every timing")
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


def main():
    # tend otherwise looks for /etc/tend.ini or a supervisord.conf even
    # when given a command; a host's supervisor config must not be timed.
    os.environ["TEND_CONFIG"] = ""
    load = read_file("/proc/loadavg").split()  # before the orphans
    names = [name for name, _ in INITS]
    present = {name: path for name, path in INITS if path.is_file()}
    for name in names:
        if name not in present:
            progress(f"{name} not found, its column will be n/a")
    results = {
        "size": {n: p.stat().st_size for n, p in present.items()},
        "linkage": {n: elf_linkage(p) for n, p in present.items()},
    }
    supervisors = {name: (path, args) for name, path, args in SUPERVISORS
                   if path.is_file()}
    sup_names = [name for name, _, _ in SUPERVISORS]
    for name in sup_names:
        if name not in supervisors:
            progress(f"{name} not found, its column will be n/a")
    results["footprint"], results["footprint_parts"] = \
        footprints(supervisors)
    with tempfile.TemporaryDirectory(prefix="tend-bench.") as tmp:
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
        results["supervise"], results["supervise_failed"] = \
            measure_supervision(supervisors, tmp)
    report(names, present, results, load)
    report_supervision(sup_names,
                       {n: path for n, (path, _) in supervisors.items()},
                       results)


if __name__ == "__main__":
    main()
