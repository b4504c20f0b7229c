"""tend's control plane, against the real static binary as PID 1 of a
fresh PID namespace: every `tend ctl` command with its output and exit
code, the semantics of requested starts and stops (main and critical
programs included), held replies, the reload, Debian's own
`supervisorctl` against tend's socket, a side-by-side comparison with
supervisord itself, supervisord's XML-RPC through Python's
xmlrpc.client, the JSON API, clients that misbehave, and who may connect
(the socket's mode, credentials) and the socket file.

Each tend listens on a private socket under the test's tmp_path; the
environment's TEND_CONTROL_SOCKET (conftest sets it to none, and the
environment wins over the file) names it, unless the test is about
[unix_http_server] file= itself."""
import base64
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import xmlrpc.client

import pytest

from conftest import TEND, wait_until
from control import UnixHTTPConnection, cpu_seconds, fd_count
from control import request as http_request
from control import rss_kb as rss_kib
from test_compare import Namespaced
from test_supervise import supervise  # noqa: F401 (a fixture)

SUPERVISORD = "/usr/bin/supervisord"
SUPERVISORCTL = "/usr/bin/supervisorctl"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (PID namespaces)")

needs_supervisor = pytest.mark.skipif(
    not (os.access(SUPERVISORD, os.X_OK) and
         os.access(SUPERVISORCTL, os.X_OK)),
    reason="Debian's supervisor is not installed")


# --- machinery ---------------------------------------------------------------

class UnixTransport(xmlrpc.client.Transport):
    """xmlrpc.client's transport, connecting to a Unix socket (as
    supervisor's own SupervisorTransport does for unix:// URLs)."""

    def __init__(self, path, timeout=30):
        super().__init__()
        self.unix_path = path
        self.timeout = timeout

    def make_connection(self, host):
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        self._connection = host, UnixHTTPConnection(self.unix_path,
                                                    self.timeout)
        return self._connection[1]


def rpc_proxy(path, timeout=30):
    return xmlrpc.client.ServerProxy("http://localhost/RPC2",
                                     transport=UnixTransport(path, timeout))


def request(path, method, url, body=b"", headers=None, timeout=30):
    """One HTTP request over the socket: (status, headers, body bytes)."""
    return http_request(path, method, url, body, headers, timeout)


def raw_connect(path, timeout=10):
    """A connection; a full backlog (EAGAIN, as a Unix socket says it)
    is waited out until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def read_all(s, timeout=10):
    """Everything the server sends until it closes (or timeout)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def closed_by_peer(s):
    """Whether the server has closed s (recv would give EOF now)."""
    s.setblocking(False)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.setblocking(True)


def connectable(path):
    try:
        raw_connect(path, timeout=2).close()
        return True
    except OSError:
        return False


def ctl_env():
    env = dict(os.environ)
    env.pop("TEND_CONTROL_SOCKET", None)
    return env


def run_ctl(args, timeout=30, env=None, argv0=TEND, prefix=()):
    return subprocess.run([*prefix, argv0, "ctl", *args], capture_output=True,
                          text=True, timeout=timeout,
                          env=ctl_env() if env is None else env)


def supervisorctl(conf, *args, timeout=30):
    return subprocess.run([SUPERVISORCTL, "-c", str(conf), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=ctl_env())


def mask(text):
    """A status table without what changes from run to run: pids,
    uptimes, and stop times such as Dec 01 11:51 AM."""
    text = re.sub(r"pid \d+, uptime (\d+ days?, )?\d+:\d\d:\d\d",
                  "pid N, uptime U", text)
    return re.sub(r"\b[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M\b", "DATE", text)


def row(name, state, description):
    """A line of supervisorctl's status table."""
    return f"{name:<33}{state:<10}{description}"


class Control:
    """A tend started by the supervise fixture, with its control socket."""

    def __init__(self, s, sock, replace):
        self.s = s
        self.sock = sock
        self._replace = replace
        self.headers = {}		# for every request of the test's own

    @property
    def pid(self):
        return self.s.pid

    @property
    def err(self):
        return self.s.err

    @property
    def conf(self):
        return self.s.conf

    def rewrite(self, ini):
        """A new configuration in the same file, for a reload."""
        self.conf.write_text(textwrap.dedent(self._replace(ini)).lstrip("\n"))

    def ctl(self, *args, timeout=30):
        return run_ctl(["-s", self.sock, *args], timeout=timeout)

    def request(self, method, url, body=b"", headers=None, timeout=30):
        hdrs = dict(self.headers)
        hdrs.update(headers or {})
        return request(self.sock, method, url, body, hdrs, timeout)

    def api(self, method, url, body=b"", headers=None):
        status, hdrs, data = self.request(method, url, body, headers)
        return status, json.loads(data) if data else None

    def rpc(self, timeout=30):
        return rpc_proxy(self.sock, timeout)

    def programs(self):
        status, body = self.api("GET", "/api/v1/programs")
        assert status == 200, body
        return {p["name"]: p for p in body["programs"]}

    def info(self, name):
        return self.programs()[name]

    def state(self, name):
        return self.info(name)["state"]

    def pid_of(self, name):
        return self.info(name)["pid"]

    def wait_states(self, states, timeout=20):
        """Waits until every named process is in the given state."""
        def reached():
            got = {n: p["state"] for n, p in self.programs().items()}
            return all(got.get(n) == s for n, s in states.items())
        wait_until(reached, timeout=timeout,
                   what=f"states {states}; log:\n{self.err.text()}")
        return self.programs()

    def wait_ready(self, name):
        """Waits for @DIR@/NAME.ready, which a program's command touches
        once its traps are set: a signal sent before would meet the
        default disposition."""
        path = self.dir / f"{name}.ready"
        wait_until(path.exists, what=f"{path}; log:\n{self.err.text()}")

    def fds(self):
        return fd_count(self.pid)

    def settled_fds(self, seconds=1.0):
        """tend's descriptor count once nothing is in flight: the least
        seen over a moment (a spawn holds a report pipe for a while)."""
        seen = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seen.append(self.fds())
            time.sleep(0.02)
        return min(seen)


@pytest.fixture
def control(supervise, tmp_path):
    """control(ini, command=(), env=None, sock=None, socket_env=True)
    starts tend on the INI (@SOCK@ and @DIR@ replaced by its socket and
    tmp_path) and waits for its control socket."""
    count = [0]

    def start(ini, command=(), env=None, sock=None, socket_env=True,
              args=()):
        count[0] += 1
        sock = sock or str(tmp_path / f"tend{count[0]}.sock")

        def replace(text):
            return text.replace("@SOCK@", sock).replace("@DIR@", str(tmp_path))

        e = dict(os.environ)
        if socket_env:
            e["TEND_CONTROL_SOCKET"] = sock
        else:
            e.pop("TEND_CONTROL_SOCKET", None)
        e.update(env or {})
        s = supervise(replace(ini), command=command, env=e, args=args)
        c = Control(s, sock, replace)
        c.dir = tmp_path
        wait_until(lambda: connectable(sock) or not s.running(),
                   what=f"the control socket {sock}")
        assert s.running(), s.err.text()
        return c

    return start


BASE = """
    [program:web]
    command = sleep 600

    [program:idle]
    command = sleep 600
    autostart = false

    [program:missing]
    command = /nonexistent/binary
    autostart = false

    [program:crash]
    command = sh -c 'exit 3'
    autostart = false
    startretries = 0

    [group:pool]
    programs = p1,p2

    [program:p1]
    command = sleep 600

    [program:p2]
    command = sleep 600

    [program:log]
    command = sh -c 'seq 1 400 | sed "s/^/line /"; echo oops >&2; n=0; while :; do n=$((n+1)); echo "tick $n"; sleep 0.2; done'
    stdout_logfile = @DIR@/log.out
    stderr_logfile = @DIR@/log.err
    """

UP = {"web": "RUNNING", "p1": "RUNNING", "p2": "RUNNING", "log": "RUNNING"}


@pytest.fixture
def base(control):
    c = control(BASE)
    c.wait_states(UP)
    return c


# --- tend ctl: status --------------------------------------------------------

def test_ctl_status_shows_supervisorctls_table_and_exits_3_when_one_is_stopped(
        base):
    r = base.ctl("status")
    assert r.returncode == 3, r
    assert mask(r.stdout).splitlines() == [
        row("crash", "STOPPED", "Not started"),
        row("idle", "STOPPED", "Not started"),
        row("log", "RUNNING", "pid N, uptime U"),
        row("missing", "STOPPED", "Not started"),
        row("pool:p1", "RUNNING", "pid N, uptime U"),
        row("pool:p2", "RUNNING", "pid N, uptime U"),
        row("web", "RUNNING", "pid N, uptime U"),
    ]
    assert r.stderr == ""
    pid = base.pid_of("web")
    assert re.search(rf"^web +RUNNING   pid {pid}, uptime 0:00:\d\d$",
                     r.stdout, re.M), r.stdout
    assert base.ctl("status", "all").stdout == r.stdout


def test_ctl_status_filters_by_name_and_group_and_exits_0_when_all_run(base):
    r = base.ctl("status", "web", "pool:*")
    assert r.returncode == 0, r
    assert mask(r.stdout).splitlines() == [
        row("web", "RUNNING", "pid N, uptime U"),
        row("pool:p1", "RUNNING", "pid N, uptime U"),
        row("pool:p2", "RUNNING", "pid N, uptime U"),
    ]
    r = base.ctl("status", "pool:p2")
    assert (r.returncode, mask(r.stdout)) == (
        0, row("pool:p2", "RUNNING", "pid N, uptime U") + "\n")
    r = base.ctl("status", "idle")
    assert (r.returncode, r.stdout) == (3, row("idle", "STOPPED",
                                               "Not started") + "\n")


def test_ctl_status_of_bad_names_says_so_and_exits_4(base):
    r = base.ctl("status", "nosuch", "nogroup:*", "pool")
    assert r.returncode == 4, r
    assert r.stdout.splitlines() == [
        "nosuch: ERROR (no such process)",
        "nogroup: ERROR (no such group)",
        # a bare name is group and process at once, as in supervisorctl
        "pool: ERROR (no such process)",
    ]
    r = base.ctl("status", "web", "nosuch")
    assert r.returncode == 4, r
    # a stopped process shown after a bad name: the last code wins
    r = base.ctl("status", "nosuch", "idle")
    assert r.returncode == 3, r
    assert r.stdout.splitlines() == ["nosuch: ERROR (no such process)",
                                     row("idle", "STOPPED", "Not started")]


# --- tend ctl: start, stop, restart ------------------------------------------

def test_ctl_start_waits_for_running_and_already_started_is_success(base):
    r = base.ctl("start", "idle")
    assert (r.returncode, r.stdout) == (0, "idle: started\n"), r
    assert base.state("idle") == "RUNNING"
    r = base.ctl("start", "idle")
    assert (r.returncode, r.stdout) == (0, "idle: ERROR (already started)\n")


def test_ctl_start_failures_and_their_exit_codes(base):
    r = base.ctl("start", "nosuch")
    assert (r.returncode, r.stdout) == (1, "nosuch: ERROR (no such process)\n")
    r = base.ctl("start", "missing")
    assert (r.returncode, r.stdout) == (1, "missing: ERROR (no such file)\n")
    assert base.state("missing") == "STOPPED"	# refused before any spawn
    r = base.ctl("start", "crash")
    assert (r.returncode, r.stdout) == (7, "crash: ERROR (spawn error)\n")
    assert base.state("crash") == "FATAL"
    r = base.ctl("start", "nosuch:*")
    assert (r.returncode, r.stdout) == (2, "nosuch: ERROR (no such group)\n")
    r = base.ctl("start")
    assert r.returncode == 2, r
    assert r.stdout.startswith("Error: start requires a process name\n")


def test_ctl_start_and_stop_of_a_group_and_of_all(base):
    r = base.ctl("stop", "pool:*")
    assert (r.returncode, r.stdout) == (0, "pool:p1: stopped\n"
                                           "pool:p2: stopped\n"), r
    # only what is not running is started, and reported
    r = base.ctl("start", "pool:p1")
    assert (r.returncode, r.stdout) == (0, "pool:p1: started\n")
    r = base.ctl("start", "pool:*")
    assert (r.returncode, r.stdout) == (0, "pool:p2: started\n")
    r = base.ctl("start", "pool:*")
    assert (r.returncode, r.stdout) == (0, ""), r

    r = base.ctl("stop", "all")
    assert r.returncode == 0, r
    assert sorted(r.stdout.splitlines()) == [
        "log: stopped", "pool:p1: stopped", "pool:p2: stopped",
        "web: stopped"]
    assert {p["state"] for p in base.programs().values()} == {"STOPPED"}

    r = base.ctl("start", "all")
    assert sorted(r.stdout.splitlines()) == sorted([
        "crash: ERROR (spawn error)", "idle: started", "log: started",
        "missing: ERROR (no such file)", "pool:p1: started",
        "pool:p2: started", "web: started"]), r
    assert r.returncode in (1, 7), r	# the last failure's code wins
    assert base.state("web") == "RUNNING"


def test_ctl_stop_not_running_is_success_and_bad_names_exit_1(base):
    r = base.ctl("stop", "web")
    assert (r.returncode, r.stdout) == (0, "web: stopped\n"), r
    assert base.state("web") == "STOPPED"
    r = base.ctl("stop", "web")
    assert (r.returncode, r.stdout) == (0, "web: ERROR (not running)\n")
    r = base.ctl("stop", "nosuch")
    assert (r.returncode, r.stdout) == (1, "nosuch: ERROR (no such process)\n")
    r = base.ctl("stop", "nosuch:*")
    assert (r.returncode, r.stdout) == (1, "nosuch: ERROR (no such group)\n")
    r = base.ctl("stop")
    assert r.returncode == 1, r
    assert r.stdout.startswith("Error: stop requires a process name\n")


def test_ctl_restart_is_a_stop_then_a_start(base):
    old = base.pid_of("web")
    r = base.ctl("restart", "web")
    assert (r.returncode, r.stdout) == (0, "web: stopped\nweb: started\n"), r
    new = base.info("web")
    assert new["state"] == "RUNNING" and new["pid"] not in (0, old)
    text = base.err.text()
    assert text.index("stopped: web (terminated by SIGTERM)") < \
        text.rindex("spawned: 'web'")

    # a stopped one: not running, then started
    r = base.ctl("restart", "idle")
    assert (r.returncode, r.stdout) == (0, "idle: ERROR (not running)\n"
                                           "idle: started\n"), r
    r = base.ctl("restart", "pool:*")
    assert (r.returncode, r.stdout) == (0, "pool:p1: stopped\n"
                                           "pool:p2: stopped\n"
                                           "pool:p1: started\n"
                                           "pool:p2: started\n"), r
    r = base.ctl("restart", "nosuch")
    assert (r.returncode, r.stdout) == (1, "nosuch: ERROR (no such process)\n"
                                           "nosuch: ERROR (no such process)\n")
    r = base.ctl("restart")
    assert r.returncode == 1, r
    assert r.stdout.startswith("Error: restart requires a process name\n")


# --- tend ctl: signal, pid ---------------------------------------------------

def test_ctl_signal_reaches_the_process_and_its_errors_exit_1_or_7(base):
    pid = base.pid_of("web")
    r = base.ctl("signal", "HUP", "web")
    assert (r.returncode, r.stdout) == (0, "web: signalled\n"), r
    base.err.wait_for(r"exited: web \(terminated by SIGHUP; not expected\)")
    wait_until(lambda: base.info("web")["pid"] not in (0, pid))

    r = base.ctl("signal", "BOGUS", "web")
    assert (r.returncode, r.stdout) == (1, "web: ERROR (bad signal name)\n")
    r = base.ctl("signal", "HUP", "idle")
    assert (r.returncode, r.stdout) == (7, "idle: ERROR (not running)\n")
    r = base.ctl("signal", "HUP", "nosuch")
    assert (r.returncode, r.stdout) == (1, "nosuch: ERROR (no such process)\n")
    r = base.ctl("signal", "HUP")
    assert r.returncode == 1, r
    assert r.stdout.startswith(
        "Error: signal requires a signal name and a process name\n")
    # SIGCONT harms nothing: every running process of the group gets it
    r = base.ctl("signal", "CONT", "pool:*")
    assert (r.returncode, r.stdout) == (0, "pool:p1: signalled\n"
                                           "pool:p2: signalled\n"), r
    r = base.ctl("signal", "SIGCONT", "all")
    assert r.returncode == 0, r
    assert sorted(r.stdout.splitlines()) == [
        "log: signalled", "pool:p1: signalled", "pool:p2: signalled",
        "web: signalled"]


def test_ctl_pid_gives_tends_pid_a_programs_pid_or_0_with_exit_7(base):
    r = base.ctl("pid")
    assert (r.returncode, r.stdout) == (0, "1\n"), r	# PID 1 of its namespace
    r = base.ctl("pid", "web")
    assert (r.returncode, r.stdout) == (0, f"{base.pid_of('web')}\n"), r
    r = base.ctl("pid", "pool:p1")
    assert (r.returncode, r.stdout) == (0, f"{base.pid_of('p1')}\n"), r
    r = base.ctl("pid", "idle")
    assert (r.returncode, r.stdout) == (7, "0\n"), r
    r = base.ctl("pid", "nosuch")
    assert (r.returncode, r.stdout) == (1, "No such process nosuch\n"), r
    r = base.ctl("pid", "all")
    assert r.returncode == 0, r
    progs = base.programs()
    order = ["crash", "idle", "log", "missing", "p1", "p2", "web"]
    assert r.stdout.split() == [str(progs[n]["pid"]) for n in order]


# --- tend ctl: avail, reread, update, reload, version ------------------------

def test_ctl_avail_reread_update_reload_and_version_with_nothing_changed(base):
    r = base.ctl("avail")
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == [
        f"{'crash':<32} {'in use':<9} {'manual':<9} 999:999",
        f"{'idle':<32} {'in use':<9} {'manual':<9} 999:999",
        f"{'log':<32} {'in use':<9} {'auto':<9} 999:999",
        f"{'missing':<32} {'in use':<9} {'manual':<9} 999:999",
        f"{'pool:p1':<32} {'in use':<9} {'auto':<9} 999:999",
        f"{'pool:p2':<32} {'in use':<9} {'auto':<9} 999:999",
        f"{'web':<32} {'in use':<9} {'auto':<9} 999:999",
    ]
    pids = {n: p["pid"] for n, p in base.programs().items()}
    r = base.ctl("reread")
    assert (r.returncode, r.stdout) == (0, "No config updates to processes\n")
    r = base.ctl("update")
    assert (r.returncode, r.stdout) == (0, ""), r
    r = base.ctl("reload")
    assert r.returncode == 0, r
    assert {n: p["pid"] for n, p in base.programs().items()} == pids

    version = subprocess.run([TEND, "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    r = base.ctl("version")
    assert (r.returncode, r.stdout) == (0, version + "\n"), r


# --- tend ctl: tail ----------------------------------------------------------

def test_ctl_tail_prints_the_end_of_a_log_file(base, tmp_path):
    wait_until(lambda: (tmp_path / "log.out").stat().st_size > 2000,
               what="2000 bytes in log.out")
    r = base.ctl("tail", "log")
    assert r.returncode == 0, r
    data = (tmp_path / "log.out").read_text()
    # the last 1600 bytes, plus a newline, as supervisorctl prints them
    assert r.stdout.endswith("\n\n")
    assert 1500 <= len(r.stdout) - 1 <= 1600
    assert r.stdout[:-1] in data
    assert re.fullmatch(r"(.*\n)*tick \d+\n\n", r.stdout)

    r = base.ctl("tail", "-12", "log", "stdout")
    assert r.returncode == 0, r
    assert len(r.stdout) == 13 and r.stdout[:-1] in data, r
    r = base.ctl("tail", "log", "stderr")
    assert (r.returncode, r.stdout) == (0, "oops\n\n"), r


def test_ctl_tail_errors_exit_1(base):
    for args, line in [
            (["idle"], "idle: ERROR (no log file)"),
            (["web", "stderr"], "web: ERROR (no log file)"),
            (["nosuch"], "nosuch: ERROR (no such process name)"),
            (["log", "bogus"], "Error: bad channel 'bogus'"),
            (["-x", "log"], "Error: bad argument -x"),
            ([], "Error: too few arguments")]:
        r = base.ctl("tail", *args)
        assert r.returncode == 1, (args, r)
        assert r.stdout.splitlines()[0] == line, (args, r)


def follow(argv, pattern, count, timeout=20):
    """Runs a follower (tail -f) until count lines match pattern; returns
    its lines so far, and stops it."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=ctl_env())
    lines = []

    def reader():
        for line in p.stdout:
            lines.append(line.rstrip("\n"))

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        wait_until(lambda: sum(bool(re.search(pattern, x))
                               for x in list(lines)) >= count,
                   timeout=timeout,
                   what=f"{count} lines matching {pattern!r} from {argv}: "
                        f"{lines}")
        assert p.poll() is None, p.stderr.read()
    finally:
        p.kill()
        p.wait()
        t.join(5)
    return lines


def tick_numbers(lines):
    return [int(m[1]) for x in lines for m in [re.fullmatch(r"tick (\d+)", x)]
            if m]


def test_ctl_tail_f_follows_a_log_as_it_grows(base, tmp_path):
    base.err.wait_for(r"success: log entered RUNNING")
    fds = base.settled_fds()
    lines = follow([TEND, "ctl", "-s", base.sock, "tail", "-f", "log"],
                   r"^tick \d+$", 12)
    assert lines[0] == "==> Press Ctrl-C to exit <=="
    ticks = tick_numbers(lines)
    # new lines, in order, without a gap: the file grew under the follower
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), lines
    last = int(re.findall(r"tick (\d+)",
                          (tmp_path / "log.out").read_text())[-1])
    assert ticks[-1] <= last
    # a follower that went away holds nothing in tend
    wait_until(lambda: base.fds() == fds, what=f"tend's fds back to {fds}")

    lines = follow([TEND, "ctl", "-s", base.sock, "tail", "-f", "log",
                    "stderr"], r"^oops$", 1)
    assert lines[:2] == ["==> Press Ctrl-C to exit <==", "oops"]


def test_ctl_tail_f_of_what_has_no_log_exits_1(base):
    for args, why in [(["nosuch"], "no such process"),
                      (["idle"], "no log file"),
                      (["web", "stderr"], "no log file")]:
        r = base.ctl("tail", "-f", *args, timeout=20)
        assert r.returncode == 1, (args, r)
        assert why in r.stdout + r.stderr, (args, r)


# --- tend ctl: shutdown, connections, arguments ------------------------------

def test_ctl_shutdown_then_already_shutting_down_then_no_server(control):
    c = control("""
        [program:slow]
        command = sh -c 'trap "" TERM; touch @DIR@/slow.ready; while :; do sleep 0.1; done'
        startsecs = 0
        stopwaitsecs = 2
        """)
    c.wait_states({"slow": "RUNNING"})
    c.wait_ready("slow")
    r = c.ctl("shutdown")
    assert (r.returncode, r.stdout) == (0, "Shut down\n"), r
    # slow ignores SIGTERM: tend is still stopping it
    r = c.ctl("shutdown")
    assert (r.returncode, r.stdout) == (0, "ERROR: already shutting down\n"), r
    r = c.ctl("start", "slow")
    assert (r.returncode, r.stdout) == (1, "ERROR: supervisor shutting down\n")
    assert c.s.wait(timeout=20) == 0, c.err.text()
    assert "killing 'slow'" in c.err.text()
    # the socket went with tend
    assert not os.path.exists(c.sock)
    r = c.ctl("shutdown")
    assert r.returncode == 1, r
    assert r.stderr == (f"tend ctl: cannot connect to {c.sock}: "
                        "No such file or directory\n")
    assert c.ctl("status").returncode == 4


def test_ctl_shutdown_raced_by_other_clients_answers_or_refuses_each(control):
    """Clients that come while tend exits get an answer, or a refused
    connection: one line, an exit status, never a death by a signal."""
    for round_ in range(10):
        c = control("""
            [program:web]
            command = sleep 600
            startsecs = 0
            """)
        c.wait_states({"web": "RUNNING"})
        seen = []

        def hammer():
            for _ in range(200):
                r = c.ctl("shutdown", timeout=30)
                seen.append((r.returncode, r.stdout + r.stderr))
                if "cannot connect" in r.stderr:
                    return

        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert c.s.wait(timeout=20) == 0
        for code, text in seen:
            assert code >= 0, f"a client killed by signal {-code}: {seen}"
            assert (code, text) in [(0, "Shut down\n"),
                                    (0, "ERROR: already shutting down\n")] \
                or (code == 1 and text.startswith("tend ctl: ") and
                    text.count("\n") == 1), (code, text)
        assert (0, "Shut down\n") in seen


def test_ctl_without_a_server_says_cannot_connect_exit_4_for_status_else_1(
        tmp_path):
    sock = str(tmp_path / "nothing.sock")
    message = (f"tend ctl: cannot connect to {sock}: "
               "No such file or directory\n")
    for args, code in [(["status"], 4), (["status", "web"], 4),
                       (["start", "web"], 1), (["stop", "all"], 1),
                       (["version"], 1), (["shutdown"], 1), (["pid"], 1),
                       (["tail", "-f", "web"], 1), (["health"], 1)]:
        r = run_ctl(["-s", sock, *args])
        assert (r.returncode, r.stderr) == (code, message), (args, r)
    # the same through $TEND_CONTROL_SOCKET and unix:// URLs
    r = run_ctl(["status"], env={**ctl_env(), "TEND_CONTROL_SOCKET": sock})
    assert (r.returncode, r.stderr) == (4, message), r
    r = run_ctl(["-s", f"unix://{sock}", "version"])
    assert (r.returncode, r.stderr) == (
        1, f"tend ctl: cannot connect to unix://{sock}: "
           "No such file or directory\n"), r


def test_ctl_finds_the_socket_in_the_configuration_file(control):
    c = control("""
        [unix_http_server]
        file = @SOCK@

        [program:web]
        command = sleep 600
        """, socket_env=False)
    c.wait_states({"web": "RUNNING"})
    r = run_ctl(["-c", str(c.conf), "status"])
    assert r.returncode == 0, r
    assert mask(r.stdout) == row("web", "RUNNING", "pid N, uptime U") + "\n"
    # [supervisorctl] serverurl comes first
    other = c.conf.with_name("other.ini")
    other.write_text(f"[supervisorctl]\nserverurl = unix://{c.sock}\n"
                     "[unix_http_server]\nfile = /nonexistent/x.sock\n")
    r = run_ctl(["-c", str(other), "pid", "web"])
    assert (r.returncode, r.stdout) == (0, f"{c.pid_of('web')}\n"), r


def test_ctl_takes_as_many_names_as_supervisorctl(control):
    c = control("""
        [program:w]
        command = sleep 600
        process_name = %(program_name)s_%(process_num)02d
        numprocs = 70
        startsecs = 0
        """)
    names = [f"w:w_{i:02d}" for i in range(70)]
    c.wait_states({n.split(":")[1]: "RUNNING" for n in names}, timeout=30)
    r = c.ctl("status", *names)
    assert r.returncode == 0, r
    assert [x.split()[0] for x in r.stdout.splitlines()] == names
    r = c.ctl("stop", *names)
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == [f"{n}: stopped" for n in names]


def test_ctl_is_not_killed_by_a_server_that_stops_reading(control):
    c = control("""
        [program:web]
        command = sleep 600
        """)
    # a request body above tend's 1 MiB: refused (413) from its head,
    # while the client is still writing
    names = ["x" * 100000] * 15
    r = c.ctl("status", *names)
    assert r.returncode > 0, f"killed by signal {-r.returncode}"
    assert r.stderr.startswith("tend ctl: ") and r.stderr.count("\n") == 1, r
    assert c.s.running()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_ctl_over_the_tcp_port_reads_but_may_not_act_without_credentials(
        control):
    port = free_port()
    c = control(f"""
        [inet_http_server]
        port = 127.0.0.1:{port}

        [program:web]
        command = sleep 600
        """)
    c.wait_states({"web": "RUNNING"})
    url = f"http://127.0.0.1:{port}"
    r = run_ctl(["-s", url, "status"])
    assert (r.returncode, mask(r.stdout)) == (
        0, row("web", "RUNNING", "pid N, uptime U") + "\n"), r
    r = run_ctl(["-s", url, "stop", "web"])
    assert r.returncode == 1, r
    assert "requires authentication" in r.stderr, r
    assert c.state("web") == "RUNNING"
    # XML-RPC over TCP reads too, and refuses actions with 401
    proxy = xmlrpc.client.ServerProxy(f"{url}/RPC2")
    assert proxy.supervisor.getProcessInfo("web")["statename"] == "RUNNING"
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        proxy.supervisor.stopProcess("web")
    assert e.value.errcode == 401


# --- tend ctl: health, ready -------------------------------------------------

def test_ctl_health_and_ready_exit_0_or_1_with_the_reason(control):
    c = control("""
        [program:crit]
        command = sleep 600
        critical = true
        startsecs = 2

        [program:other]
        command = sleep 600
        startsecs = 2

        [program:manual]
        command = sleep 600
        autostart = false
        """)
    r = c.ctl("health")
    assert (r.returncode, r.stdout) == (1, "not healthy: crit\n"), r
    r = c.ctl("ready")
    assert r.returncode == 1, r
    assert r.stdout.startswith("not ready: ") and "crit" in r.stdout and \
        "other" in r.stdout and "manual" not in r.stdout, r
    c.wait_states({"crit": "RUNNING", "other": "RUNNING"})
    assert (c.ctl("health").returncode, c.ctl("health").stdout) == (0, "ok\n")
    assert (c.ctl("ready").returncode, c.ctl("ready").stdout) == (0, "ok\n")
    # a stopped autostart program: not ready, still healthy
    assert c.ctl("stop", "other").returncode == 0
    r = c.ctl("ready")
    assert (r.returncode, r.stdout) == (1, "not ready: other\n"), r
    assert c.ctl("health").returncode == 0
    # a critical one stopped on request: not healthy, tend goes on
    assert c.ctl("stop", "crit").returncode == 0
    r = c.ctl("health")
    assert (r.returncode, r.stdout) == (1, "not healthy: crit\n"), r
    assert c.s.running()


# --- semantics of requested starts and stops ---------------------------------

def test_start_of_a_fatal_program_starts_afresh_with_its_retries_reset(
        control, tmp_path):
    # fails on runs 1 to 4, runs from run 5 on
    c = control("""
        [program:flaky]
        command = sh -c 'n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n >runs; [ $n -ge 5 ] && exec sleep 600; exit 1'
        directory = @DIR@
        startsecs = 1
        startretries = 1
        """)
    c.wait_states({"flaky": "FATAL"})
    assert len(c.s.spawns("flaky")) == 2
    # 2 attempts again (startretries + 1): the count was reset
    r = c.ctl("start", "flaky")
    assert (r.returncode, r.stdout) == (7, "flaky: ERROR (spawn error)\n"), r
    c.wait_states({"flaky": "FATAL"})
    time.sleep(1.5)
    assert len(c.s.spawns("flaky")) == 4, c.err.text()
    r = c.ctl("start", "flaky")
    assert (r.returncode, r.stdout) == (0, "flaky: started\n"), r
    assert len(c.s.spawns("flaky")) == 5


def test_start_of_a_program_in_backoff_spawns_at_once_and_resets_retries(
        control):
    c = control("""
        [program:failing]
        command = sh -c 'exit 1'
        startsecs = 1
        startretries = 2
        """)
    # attempt 2 failed: the next one is 2 s away
    c.err.wait_for(r"exited: failing", count=2)
    assert c.state("failing") == "BACKOFF"
    sent = time.time()
    r = c.ctl("start", "failing")
    assert (r.returncode, r.stdout) == (7, "failing: ERROR (spawn error)\n"), r
    third = c.err.wait_for(r"spawned: 'failing'", count=3)
    assert third - sent < 1.2, (third - sent, c.err.text())
    # then startretries + 1 = 3 attempts from the start: 5 in all
    c.wait_states({"failing": "FATAL"}, timeout=30)
    time.sleep(1.5)
    assert len(c.s.spawns("failing")) == 5, c.err.text()


def test_start_of_an_exited_program_runs_it_again(control):
    c = control("""
        [program:oneshot]
        command = sh -c 'sleep 1.3; exit 0'
        startsecs = 1
        autorestart = false
        """)
    c.wait_states({"oneshot": "EXITED"})
    assert c.ctl("status", "oneshot").returncode == 3
    r = c.ctl("start", "oneshot")
    assert (r.returncode, r.stdout) == (0, "oneshot: started\n"), r
    assert len(c.s.spawns("oneshot")) == 2


def test_ctl_stop_of_a_program_in_backoff_stops_it_at_once(control):
    c = control("""
        [program:failing]
        command = sh -c 'exit 1'
        startsecs = 1
        startretries = 5
        """)
    c.err.wait_for(r"exited: failing", count=2)
    assert c.state("failing") == "BACKOFF"
    sent = time.monotonic()
    r = c.ctl("stop", "failing")
    assert (r.returncode, r.stdout) == (0, "failing: stopped\n"), r
    assert time.monotonic() - sent < 1
    time.sleep(3)
    assert c.state("failing") == "STOPPED"
    assert len(c.s.spawns("failing")) == 2


@pytest.mark.parametrize("autorestart", ["true", "unexpected", "false"])
def test_a_program_stopped_on_request_stays_stopped(control, autorestart):
    c = control(f"""
        [program:web]
        command = sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
        autorestart = {autorestart}
        exitcodes = 1
        """)
    c.wait_states({"web": "RUNNING"})
    r = c.ctl("stop", "web")
    assert (r.returncode, r.stdout) == (0, "web: stopped\n"), r
    time.sleep(2.5)
    assert c.state("web") == "STOPPED"
    assert len(c.s.spawns("web")) == 1, c.err.text()


def test_a_critical_program_stopped_on_request_does_not_end_tend(control):
    c = control("""
        [program:crit]
        command = sleep 600
        critical = true
        autorestart = false

        [program:other]
        command = sleep 600
        """)
    c.wait_states({"crit": "RUNNING", "other": "RUNNING"})
    r = c.ctl("stop", "crit")
    assert (r.returncode, r.stdout) == (0, "crit: stopped\n"), r
    time.sleep(1.5)
    assert c.s.running(), c.err.text()
    assert c.state("other") == "RUNNING"
    assert "is critical and has ended" not in c.err.text()
    r = c.ctl("start", "crit")
    assert (r.returncode, r.stdout) == (0, "crit: started\n"), r
    # a restart is no end either
    r = c.ctl("restart", "crit")
    assert r.returncode == 0, r
    time.sleep(0.5)
    assert c.s.running()
    # but a critical program that ends by itself still ends tend
    c.wait_states({"crit": "RUNNING"})
    os.kill(host_pid(c, "crit"), signal.SIGTERM)
    assert c.s.wait(timeout=20) == 143, c.err.text()
    assert "crit is critical and has ended" in c.err.text()


def host_pid(c, name):
    """The pid of a program as the test sees it (tend is PID 1 of its
    own namespace): its child with that namespace pid."""
    ns_pid = c.pid_of(name)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"^NSpid:\s+(\d+)\s+(\d+)$", text, re.M)
        ppid = re.search(r"^PPid:\s+(\d+)$", text, re.M)
        if m and int(m[2]) == ns_pid and ppid and int(ppid[1]) == c.pid:
            return int(pid)
    raise AssertionError(f"no process {name} "
                         f"(pid {ns_pid} in tend's namespace)")


def test_ctl_stop_main_ends_tend_with_mains_status_as_docker_stop(control,
                                                                 tmp_path):
    c = control("""
        [program:side]
        command = sleep 600
        """, command=["sh", "-c",
                     f"trap 'exit 42' TERM; touch {tmp_path}/main.ready; "
                     "while :; do sleep 0.1; done"])
    c.wait_states({"side": "RUNNING", "main": "RUNNING"})
    c.wait_ready("main")
    r = c.ctl("stop", "main")
    assert (r.returncode, r.stdout) == (0, "main: stopped\n"), r
    assert c.s.wait(timeout=20) == 42, c.err.text()
    assert "stopped: side" in c.err.text()


def test_ctl_stop_main_killed_by_its_signal_exits_143(control):
    c = control("""
        [program:side]
        command = sleep 600
        """, command=["sleep", "600"])
    c.wait_states({"main": "RUNNING"})
    c.ctl("stop", "main")
    assert c.s.wait(timeout=20) == 143, c.err.text()


def test_ctl_restart_main_gives_a_new_main_and_tend_stays_up(control):
    c = control("""
        [program:side]
        command = sleep 600
        """, command=["sleep", "600"])
    c.wait_states({"side": "RUNNING", "main": "RUNNING"})
    old = c.pid_of("main")
    r = c.ctl("restart", "main")
    assert (r.returncode, r.stdout) == (0, "main: stopped\nmain: started\n"), r
    time.sleep(1)
    assert c.s.running(), c.err.text()
    info = c.info("main")
    assert info["state"] == "RUNNING" and info["pid"] not in (0, old)
    assert c.state("side") == "RUNNING"
    # and main still decides tend's status
    c.ctl("stop", "main")
    assert c.s.wait(timeout=20) == 143


def test_held_reply_start_answers_once_running_after_startsecs(control):
    c = control("""
        [program:x]
        command = sleep 600
        startsecs = 2
        autostart = false
        """)
    sent = time.monotonic()
    client = subprocess.Popen([TEND, "ctl", "-s", c.sock, "start", "x"],
                              stdout=subprocess.PIPE, text=True, env=ctl_env())
    # meanwhile other clients are answered, and x is STARTING
    wait_until(lambda: c.state("x") == "STARTING")
    quick = time.monotonic()
    r = c.ctl("status", "x")
    assert time.monotonic() - quick < 1.5
    assert r.stdout.startswith(row("x", "STARTING", "")), r
    out, _ = client.communicate(timeout=20)
    took = time.monotonic() - sent
    assert (client.returncode, out) == (0, "x: started\n")
    assert 1.9 <= took <= 6, took
    assert c.state("x") == "RUNNING"


def test_held_reply_stop_answers_once_the_process_has_exited(control):
    c = control("""
        [program:x]
        command = sh -c 'trap "sleep 1.5; exit 0" TERM; touch @DIR@/x.ready; while :; do sleep 0.1; done'
        startsecs = 0
        """)
    c.wait_states({"x": "RUNNING"})
    c.wait_ready("x")
    sent = time.monotonic()
    r = c.ctl("stop", "x")
    took = time.monotonic() - sent
    assert (r.returncode, r.stdout) == (0, "x: stopped\n"), r
    assert 1.4 <= took <= 6, took
    assert c.state("x") == "STOPPED"


def test_pipelined_requests_are_answered_in_order_even_behind_a_held_one(
        control):
    c = control("""
        [program:x]
        command = sleep 600
        startsecs = 2
        autostart = false
        """)
    s = raw_connect(c.sock, timeout=20)
    s.sendall(b"POST /api/v1/programs/x/start HTTP/1.1\r\nHost: tend\r\n\r\n"
              + b"GET /livez HTTP/1.1\r\nHost: tend\r\n\r\n" * 5
              + b"GET /api/v1/programs/x HTTP/1.1\r\nHost: tend\r\n"
                b"Connection: close\r\n\r\n")
    sent = time.monotonic()
    data = read_all(s, timeout=20)
    s.close()
    assert time.monotonic() - sent >= 1.9
    replies = re.split(rb"(?=HTTP/1\.1 )", data)[1:]
    assert [http_status(x) for x in replies] == [200] * 7, data
    assert b'"result":"SUCCESS"' in replies[0]
    assert all(x.endswith(b"\r\n\r\nok\n") for x in replies[1:6])
    assert b'"state":"RUNNING"' in replies[6]


# --- reload ------------------------------------------------------------------

RELOAD_BEFORE = """
    [program:same]
    command = sleep 600

    [program:changed]
    command = sleep 600

    [program:live]
    command = sleep 600
    startretries = 3

    [program:gone]
    command = sleep 600

    [program:halted]
    command = sleep 600
    """

RELOAD_AFTER = """
    [program:same]
    command = sleep 600

    [program:changed]
    command = sleep 601

    [program:live]
    command = sleep 600
    startretries = 7

    [program:added]
    command = sleep 602

    [program:halted]
    command = sleep 603
    """


def test_update_restarts_only_what_changed(control):
    c = control(RELOAD_BEFORE)
    c.wait_states({n: "RUNNING" for n in
                   ["same", "changed", "live", "gone", "halted"]})
    assert c.ctl("stop", "halted").returncode == 0
    before = {n: p["pid"] for n, p in c.programs().items()}
    c.rewrite(RELOAD_AFTER)

    r = c.ctl("reread")
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["added: available", "changed: changed",
                                     "gone: disappeared", "halted: changed",
                                     "live: changed"]
    # reread applies nothing
    assert {n: p["pid"] for n, p in c.programs().items()} == before

    r = c.ctl("update")
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == [
        "gone: removed process group", "changed: updated process group",
        "halted: updated process group", "live: updated process group",
        "added: added process group"]
    after = c.wait_states({"same": "RUNNING", "changed": "RUNNING",
                           "live": "RUNNING", "added": "RUNNING"})
    assert "gone" not in after
    assert after["same"]["pid"] == before["same"]
    assert after["live"]["pid"] == before["live"]
    assert after["changed"]["pid"] not in (0, before["changed"])
    # stopped on request, it stays stopped under its new command
    assert after["halted"]["state"] == "STOPPED"
    err = c.err.text()
    assert "changed: changed, restarting" in err
    assert "live: changed, updated in place" in err
    assert "added: available, starting" in err
    assert "gone: disappeared, stopping" in err
    assert "stopped: gone" in err
    assert "same: changed" not in err
    # the new settings are in force
    cfg = {x["name"]: x for x in c.rpc().supervisor.getAllConfigInfo()}
    assert cfg["live"]["startretries"] == 7
    assert cfg["changed"]["command"] == "sleep 601"
    r = c.ctl("reread")
    assert (r.returncode, r.stdout) == (0, "No config updates to processes\n")


def test_ctl_update_of_one_group_applies_and_reports_only_that_group(control):
    c = control(RELOAD_BEFORE)
    c.wait_states({n: "RUNNING" for n in
                   ["same", "changed", "live", "gone", "halted"]})
    before = {n: p["pid"] for n, p in c.programs().items()}
    c.rewrite(RELOAD_AFTER)
    r = c.ctl("update", "changed")
    assert (r.returncode, r.stdout) == (
        0, "changed: updated process group\n"), r
    after = c.wait_states({"changed": "RUNNING"})
    assert after["changed"]["pid"] != before["changed"]
    # the others wait for their own update
    assert "added" not in after
    assert after["gone"]["pid"] == before["gone"]
    r = c.ctl("update", "nosuch")
    assert r.returncode == 1, r
    assert "ERROR: no such group: nosuch" in r.stdout.splitlines()


def test_a_broken_file_changes_nothing_and_its_error_reaches_the_client(
        control):
    c = control(RELOAD_BEFORE)
    c.wait_states({n: "RUNNING" for n in
                   ["same", "changed", "live", "gone", "halted"]})
    before = {n: p["pid"] for n, p in c.programs().items()}
    broken = RELOAD_AFTER + """
    [program:bad]
    command = sleep 1
    startsecs = abc
    """
    c.rewrite(broken)
    lineno = next(i for i, line in enumerate(
        c.conf.read_text().splitlines(), 1) if "abc" in line)
    where = f"{c.conf}:{lineno}: startsecs"
    for cmd in ("reread", "update", "reload"):
        r = c.ctl(cmd)
        assert r.returncode == 1, (cmd, r)
        assert r.stdout.startswith("ERROR: CANT_REREAD: "), (cmd, r)
        assert where in r.stdout, (cmd, r)
    status, body = c.api("POST", "/api/v1/reload")
    assert status == 422, body
    assert where in body["errors"], body
    with pytest.raises(xmlrpc.client.Fault) as e:
        c.rpc().supervisor.reloadConfig()
    assert e.value.faultCode == 92
    assert e.value.faultString.startswith("CANT_REREAD: ") and \
        where in e.value.faultString, e.value
    time.sleep(0.5)
    after = c.programs()
    assert {n: p["pid"] for n, p in after.items()} == before
    assert all(p["state"] == "RUNNING" for p in after.values())


def test_json_reload_reports_and_applies_the_changes(control):
    c = control(RELOAD_BEFORE)
    c.wait_states({"same": "RUNNING", "gone": "RUNNING"})
    c.rewrite(RELOAD_AFTER)
    status, body = c.api("POST", "/api/v1/reload")
    assert status == 200, body
    assert body == {"result": "reloaded", "added": ["added"],
                    "changed": ["changed", "halted", "live"],
                    "removed": ["gone"]}
    c.wait_states({"added": "RUNNING", "changed": "RUNNING"})
    wait_until(lambda: "gone" not in c.programs())


def test_sighup_reloads_when_there_is_no_main(control):
    c = control(RELOAD_BEFORE)
    c.wait_states({"same": "RUNNING", "gone": "RUNNING"})
    same = c.pid_of("same")
    c.rewrite(RELOAD_AFTER)
    os.kill(c.pid, signal.SIGHUP)
    c.err.wait_for(r"SIGHUP received, reloading the configuration")
    c.wait_states({"added": "RUNNING"})
    wait_until(lambda: "gone" not in c.programs())
    assert c.pid_of("same") == same
    assert c.s.running()


def test_sighup_goes_to_main_and_does_not_reload(control, tmp_path):
    got = tmp_path / "got"
    c = control(RELOAD_BEFORE, command=[
        "sh", "-c",
        f"trap 'echo HUP >>{got}' HUP; touch {tmp_path}/main.ready; "
        "while :; do sleep 0.1; done"])
    c.wait_states({"same": "RUNNING", "main": "RUNNING"})
    c.wait_ready("main")
    c.rewrite(RELOAD_AFTER)
    os.kill(c.pid, signal.SIGHUP)
    wait_until(lambda: got.exists() and "HUP" in got.read_text())
    time.sleep(1)
    assert "added" not in c.programs()
    assert "gone" in c.programs()
    # the control plane still reloads
    assert c.ctl("update").returncode == 0
    c.wait_states({"added": "RUNNING"})


def test_sighup_with_a_broken_file_logs_where_and_changes_nothing(control):
    c = control(RELOAD_BEFORE)
    c.wait_states({"same": "RUNNING", "gone": "RUNNING"})
    before = {n: p["pid"] for n, p in c.programs().items()}
    c.rewrite(RELOAD_AFTER + "\n[program:bad]\ncommand = sleep 1\n"
              "startsecs = abc\n")
    os.kill(c.pid, signal.SIGHUP)
    c.err.wait_for(rf"^tend: {re.escape(str(c.conf))}:\d+: startsecs: ")
    c.err.wait_for(r"the configuration has errors: nothing changed")
    time.sleep(0.5)
    assert {n: p["pid"] for n, p in c.programs().items()} == before
    assert c.s.running()


# --- Debian's supervisorctl against tend's socket ----------------------------

SUPERVISORCTL_CONF = """
    [unix_http_server]
    file = @SOCK@

    [supervisorctl]
    serverurl = unix://@SOCK@

    [rpcinterface:supervisor]
    supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
    """


@pytest.fixture
def sctl(control):
    """tend on BASE, whose socket [unix_http_server] file= names, and
    supervisorctl(*args) through its [supervisorctl] serverurl."""
    c = control(SUPERVISORCTL_CONF + BASE, socket_env=False)
    c.wait_states(UP)
    c.sctl = lambda *args, **kw: supervisorctl(c.conf, *args, **kw)
    return c


@needs_supervisor
def test_supervisorctl_status_and_its_exit_codes(sctl):
    r = sctl.sctl("status")
    assert r.returncode == 3, r
    assert mask(r.stdout).splitlines() == [
        row("crash", "STOPPED", "Not started"),
        row("idle", "STOPPED", "Not started"),
        row("log", "RUNNING", "pid N, uptime U"),
        row("missing", "STOPPED", "Not started"),
        row("pool:p1", "RUNNING", "pid N, uptime U"),
        row("pool:p2", "RUNNING", "pid N, uptime U"),
        row("web", "RUNNING", "pid N, uptime U"),
    ]
    # the same table as tend ctl's
    assert mask(sctl.ctl("status").stdout) == mask(r.stdout)
    r = sctl.sctl("status", "web", "pool:*")
    assert r.returncode == 0, r
    assert len(r.stdout.splitlines()) == 3
    r = sctl.sctl("status", "nosuch", "nogroup:*")
    assert (r.returncode, r.stdout) == (4, "nosuch: ERROR (no such process)\n"
                                           "nogroup: ERROR (no such group)\n")


@needs_supervisor
def test_supervisorctl_start_stop_restart(sctl):
    cases = [
        (["start", "idle"], 0, "idle: started\n"),
        (["start", "idle"], 0, "idle: ERROR (already started)\n"),
        (["start", "missing"], 1, "missing: ERROR (no such file)\n"),
        (["start", "crash"], 7, "crash: ERROR (spawn error)\n"),
        (["start", "nosuch"], 1, "nosuch: ERROR (no such process)\n"),
        (["start", "nosuch:*"], 2, "nosuch: ERROR (no such group)\n"),
        (["stop", "idle"], 0, "idle: stopped\n"),
        (["stop", "idle"], 0, "idle: ERROR (not running)\n"),
        (["stop", "nosuch"], 1, "nosuch: ERROR (no such process)\n"),
        (["stop", "pool:*"], 0, "pool:p1: stopped\npool:p2: stopped\n"),
        (["start", "pool:*"], 0, "pool:p1: started\npool:p2: started\n"),
        (["start", "pool:*"], 0, ""),
        (["restart", "web"], 0, "web: stopped\nweb: started\n"),
        (["restart", "idle"], 0, "idle: ERROR (not running)\n"
                                 "idle: started\n"),
    ]
    for args, code, out in cases:
        r = sctl.sctl(*args)
        assert (r.returncode, r.stdout) == (code, out), (args, r)
    assert sctl.state("idle") == "RUNNING"

    r = sctl.sctl("stop", "all")
    assert r.returncode == 0, r
    assert sorted(r.stdout.splitlines()) == sorted(
        ["idle: stopped", "log: stopped", "pool:p1: stopped",
         "pool:p2: stopped", "web: stopped"])
    r = sctl.sctl("start", "all")
    assert sorted(r.stdout.splitlines()) == sorted([
        "crash: ERROR (spawn error)", "idle: started", "log: started",
        "missing: ERROR (no such file)", "pool:p1: started",
        "pool:p2: started", "web: started"]), r
    assert sctl.state("web") == "RUNNING"


@needs_supervisor
def test_supervisorctl_signal_pid_avail_and_version(sctl):
    r = sctl.sctl("signal", "HUP", "web")
    assert (r.returncode, r.stdout) == (0, "web: signalled\n"), r
    sctl.err.wait_for(r"exited: web \(terminated by SIGHUP; not expected\)")
    for args, code, out in [
            (["signal", "BOGUS", "log"], 1, "log: ERROR (bad signal name)\n"),
            (["signal", "HUP", "idle"], 7, "idle: ERROR (not running)\n"),
            (["signal", "HUP", "nosuch"], 1,
             "nosuch: ERROR (no such process)\n"),
            (["signal", "CONT", "pool:*"], 0,
             "pool:p1: signalled\npool:p2: signalled\n"),
            (["pid"], 0, "1\n"),
            (["pid", "idle"], 7, "0\n"),
            (["pid", "nosuch"], 1, "No such process nosuch\n")]:
        r = sctl.sctl(*args)
        assert (r.returncode, r.stdout) == (code, out), (args, r)
    sctl.wait_states({"web": "RUNNING"})
    r = sctl.sctl("pid", "web")
    assert (r.returncode, r.stdout) == (0, f"{sctl.pid_of('web')}\n"), r
    r = sctl.sctl("pid", "all")
    assert r.returncode == 0 and len(r.stdout.split()) == 7, r

    r = sctl.sctl("avail")
    assert r.returncode == 0, r
    assert r.stdout == sctl.ctl("avail").stdout
    assert r.stdout.splitlines()[0] == \
        f"{'crash':<32} {'in use':<9} {'manual':<9} 999:999"

    r = sctl.sctl("version")
    assert (r.returncode, r.stdout) == (0, sctl.ctl("version").stdout), r


@needs_supervisor
def test_supervisorctl_reread_and_update_apply_the_changes_group_by_group(
        control):
    c = control(SUPERVISORCTL_CONF + RELOAD_BEFORE, socket_env=False)
    c.wait_states({n: "RUNNING" for n in
                   ["same", "changed", "live", "gone", "halted"]})
    before = {n: p["pid"] for n, p in c.programs().items()}
    c.rewrite(SUPERVISORCTL_CONF + RELOAD_AFTER)
    r = supervisorctl(c.conf, "reread")
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["added: available", "changed: changed",
                                     "gone: disappeared", "halted: changed",
                                     "live: changed"]
    r = supervisorctl(c.conf, "update", "nosuch")
    assert (r.returncode, r.stdout) == (1, "ERROR: no such group: nosuch\n"), r
    r = supervisorctl(c.conf, "update")
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == [
        "gone: stopped", "gone: removed process group",
        "changed: stopped", "changed: updated process group",
        "halted: stopped", "halted: updated process group",
        "live: stopped", "live: updated process group",
        "added: added process group"]
    after = c.wait_states({"same": "RUNNING", "changed": "RUNNING",
                           "live": "RUNNING", "halted": "RUNNING",
                           "added": "RUNNING"})
    assert "gone" not in after
    assert after["same"]["pid"] == before["same"]
    # supervisord's update replaces a changed group whole
    assert after["changed"]["pid"] != before["changed"]
    assert after["live"]["pid"] != before["live"]
    r = supervisorctl(c.conf, "update")
    assert (r.returncode, r.stdout) == (0, ""), r

    # a broken file: reread says why, exit 1
    c.rewrite(SUPERVISORCTL_CONF + RELOAD_AFTER + "\n[program:bad]\n"
              "command = sleep 1\nstartsecs = abc\n")
    r = supervisorctl(c.conf, "reread")
    assert r.returncode == 1, r
    assert r.stdout.startswith(f"ERROR: CANT_REREAD: {c.conf}:"), r
    assert "startsecs" in r.stdout


@needs_supervisor
def test_supervisorctl_add_and_remove_groups(control):
    c = control(SUPERVISORCTL_CONF + RELOAD_BEFORE, socket_env=False)
    c.wait_states({"gone": "RUNNING", "same": "RUNNING"})
    c.rewrite(SUPERVISORCTL_CONF + RELOAD_AFTER)
    assert supervisorctl(c.conf, "reread").returncode == 0
    for args, code, out in [
            (["add", "added"], 0, "added: added process group\n"),
            (["add", "added"], 0, "ERROR: process group already active\n"),
            (["add", "nosuch"], 1, "ERROR: no such process/group: nosuch\n"),
            (["remove", "gone"], 1, "ERROR: process/group still running: "
                                    "gone\n"),
            (["stop", "gone"], 0, "gone: stopped\n"),
            (["remove", "gone"], 0, "gone: removed process group\n"),
            (["remove", "nosuch"], 1,
             "ERROR: no such process/group: nosuch\n")]:
        r = supervisorctl(c.conf, *args)
        assert (r.returncode, r.stdout) == (code, out), (args, r)
    progs = c.wait_states({"added": "RUNNING"})
    assert "gone" not in progs


@needs_supervisor
def test_supervisorctl_reload_applies_the_file_and_tend_stays_up(control):
    c = control(SUPERVISORCTL_CONF + RELOAD_BEFORE, socket_env=False)
    c.wait_states({"same": "RUNNING", "gone": "RUNNING"})
    same = c.pid_of("same")
    c.rewrite(SUPERVISORCTL_CONF + RELOAD_AFTER)
    r = supervisorctl(c.conf, "reload")
    assert (r.returncode, r.stdout) == (0, "Restarted supervisord\n"), r
    c.wait_states({"added": "RUNNING", "changed": "RUNNING"})
    assert c.pid_of("same") == same
    assert c.s.running()


@needs_supervisor
def test_supervisorctl_reload_of_a_broken_file_says_where_and_changes_nothing(
        control):
    c = control(SUPERVISORCTL_CONF + RELOAD_BEFORE, socket_env=False)
    c.wait_states({"same": "RUNNING", "gone": "RUNNING"})
    before = {n: p["pid"] for n, p in c.programs().items()}
    c.rewrite(SUPERVISORCTL_CONF + RELOAD_AFTER + "\n[program:bad]\n"
              "command = sleep 1\nstartsecs = abc\n")
    lineno = next(i for i, line in enumerate(
        c.conf.read_text().splitlines(), 1) if "abc" in line)
    r = supervisorctl(c.conf, "reload")
    assert r.returncode == 1, r
    assert f"{c.conf}:{lineno}: startsecs" in r.stdout + r.stderr, r
    time.sleep(0.5)
    assert {n: p["pid"] for n, p in c.programs().items()} == before


@needs_supervisor
def test_supervisorctl_tail_and_tail_f(sctl, tmp_path):
    r = sctl.sctl("tail", "log")
    assert r.returncode == 0, r
    data = (tmp_path / "log.out").read_text()
    assert r.stdout.endswith("\n") and r.stdout[:-1] in data
    assert 1500 <= len(r.stdout) - 1 <= 1600
    r = sctl.sctl("tail", "-8", "log")
    assert r.returncode == 0 and len(r.stdout) == 9, r
    r = sctl.sctl("tail", "log", "stderr")
    assert (r.returncode, r.stdout) == (0, "oops\n\n"), r
    r = sctl.sctl("tail", "idle")
    assert (r.returncode, r.stdout) == (1, "idle: ERROR (no log file)\n"), r
    r = sctl.sctl("tail", "nosuch")
    assert r.returncode == 1, r
    assert r.stdout == "nosuch: ERROR (no such process name)\n"

    lines = follow([SUPERVISORCTL, "-c", str(sctl.conf), "tail", "-f", "log"],
                   r"^tick \d+$", 8)
    assert lines[0] == "==> Press Ctrl-C to exit <=="
    ticks = tick_numbers(lines)
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), lines


@needs_supervisor
def test_supervisorctl_shutdown_then_already_shutting_down(control):
    c = control(SUPERVISORCTL_CONF + """
    [program:slow]
    command = sh -c 'trap "" TERM; touch @DIR@/slow.ready; while :; do sleep 0.1; done'
    startsecs = 0
    stopwaitsecs = 2
    """, socket_env=False)
    c.wait_states({"slow": "RUNNING"})
    c.wait_ready("slow")
    r = supervisorctl(c.conf, "shutdown")
    assert (r.returncode, r.stdout) == (0, "Shut down\n"), r
    r = supervisorctl(c.conf, "shutdown")
    assert (r.returncode, r.stdout) == (0, "ERROR: already shutting down\n"), r
    assert c.s.wait(timeout=20) == 0, c.err.text()
    r = supervisorctl(c.conf, "shutdown")
    assert r.returncode == 1, r
    assert r.stdout == (f"ERROR: unix://{c.sock} no such file "
                        "(already shut down?)\n")
    r = supervisorctl(c.conf, "status")
    assert (r.returncode, r.stdout) == (4, f"unix://{c.sock} no such file\n")


# --- the same supervisorctl session against supervisord and against tend -----

# One file for both (%(here)s keeps each run in its own directory). The
# lifetimes keep clear of supervisord's 1 s tick (see test_compare.py):
# oneshot lives 1.5 s against startsecs=1, the programs that die at once
# have startsecs=2.
COMPARE_CONFIG = """\
[unix_http_server]
file = %(here)s/ctl.sock

[supervisorctl]
serverurl = unix://%(here)s/ctl.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisord]
nodaemon = true
user = root
loglevel = info
logfile = %(here)s/supervisord.log
pidfile = %(here)s/supervisord.pid
childlogdir = %(here)s

[program:web]
command = sleep 600
startsecs = 1

[program:idle]
command = sleep 600
startsecs = 1
autostart = false

[program:oneshot]
command = sh -c 'sleep 1.5; exit 0'
startsecs = 1
autorestart = false

[program:fatal]
command = sh -c 'exit 1'
startsecs = 2
startretries = 0

[program:missing]
command = /nonexistent/binary
startretries = 0

[program:pool]
command = sleep 600
process_name = %(program_name)s_%(process_num)02d
numprocs = 2
startsecs = 1
"""

SETTLED = "\n".join([
    row("fatal", "FATAL", "Exited too quickly (process log may have details)"),
    row("idle", "STOPPED", "Not started"),
    row("missing", "FATAL", "can't find command '/nonexistent/binary'"),
    row("oneshot", "EXITED", "DATE"),
    row("pool:pool_00", "RUNNING", "pid N, uptime U"),
    row("pool:pool_01", "RUNNING", "pid N, uptime U"),
    row("web", "RUNNING", "pid N, uptime U"),
]) + "\n"

# The session, in order; each command's masked output and exit code
# must be the same under both.
SESSION = [
    ["status"],
    ["status", "web", "pool:*"],
    ["status", "pool:pool_01"],
    ["status", "nosuch", "nogroup:*"],
    ["status", "nosuch", "idle"],
    ["status", "pool"],
    ["start", "idle"],
    ["start", "idle"],
    ["start", "missing"],
    ["start", "nosuch"],
    ["start", "nosuch:*"],
    ["stop", "idle"],
    ["stop", "idle"],
    ["stop", "nosuch"],
    ["stop", "pool:*"],
    ["status", "pool:*"],
    ["start", "pool:*"],
    ["start", "pool:*"],
    ["restart", "web"],
    ["restart", "idle"],
    ["stop", "idle"],
    ["signal", "HUP", "idle"],
    ["signal", "BOGUS", "web"],
    ["signal", "CONT", "pool:*"],
    ["signal", "HUP", "nosuch"],
    ["pid", "idle"],
    ["pid", "nosuch"],
    ["start", "fatal"],
    ["avail"],
    ["reread"],
    ["update"],
    ["status"],
]


class TendNamespaced(Namespaced):
    """tend -c FILE as PID 1 of its own namespace, stderr to a file."""

    def __init__(self, conf, cwd):
        self.errfile = open(os.path.join(cwd, "tend.stderr"), "wb")
        super().__init__([TEND, "-c", conf], cwd, subprocess.DEVNULL,
                         self.errfile)

    def close(self):
        try:
            super().close()
        finally:
            self.errfile.close()


@needs_supervisor
def test_supervisorctl_session_gives_the_same_output_and_codes_as_supervisord(
        tmp_path):
    runs, confs = {}, {}
    for which in ("supervisord", "tend"):
        d = tmp_path / which
        d.mkdir()
        (d / "supervisord.conf").write_text(COMPARE_CONFIG)
        confs[which] = d / "supervisord.conf"
    # [unix_http_server] file= names tend's socket, as supervisord's
    saved = os.environ.pop("TEND_CONTROL_SOCKET")
    try:
        runs["supervisord"] = Namespaced(
            [SUPERVISORD, "-n", "-c", str(confs["supervisord"])],
            str(tmp_path / "supervisord"), subprocess.DEVNULL,
            subprocess.DEVNULL)
        runs["tend"] = TendNamespaced(str(confs["tend"]),
                                      str(tmp_path / "tend"))
    finally:
        os.environ["TEND_CONTROL_SOCKET"] = saved
    try:
        def settled(which):
            r = supervisorctl(confs[which], "status")
            return r.returncode == 3 and mask(r.stdout) == SETTLED
        for which in runs:
            wait_until(lambda: settled(which), timeout=30,
                       what=f"{which} to settle: "
                            f"{supervisorctl(confs[which], 'status')}")

        # getAllProcessInfo: the same members in the same order, with the
        # same types and values, but for times, pids and log paths (tend
        # makes no AUTO log files)
        def infos(which):
            conf = tmp_path / which / "ctl.sock"
            out = []
            for info in rpc_proxy(str(conf)).supervisor.getAllProcessInfo():
                out.append([(k, type(v).__name__, mask(v) if k ==
                             "description" else v if k not in (
                                 "start", "stop", "now", "pid", "logfile",
                                 "stdout_logfile", "stderr_logfile") else
                             None) for k, v in info.items()])
            return out
        assert infos("tend") == infos("supervisord")

        diffs = []
        for args in SESSION:
            got = {}
            for which in runs:
                r = supervisorctl(confs[which], *args)
                got[which] = (r.returncode, mask(r.stdout), r.stderr)
            print(f"$ supervisorctl {' '.join(args)}  # exit "
                  f"{got['supervisord'][0]} / {got['tend'][0]}\n"
                  f"{got['supervisord'][1]}", end="")
            if got["tend"] != got["supervisord"]:
                diffs.append(f"supervisorctl {' '.join(args)}:\n"
                             f"  supervisord: {got['supervisord']}\n"
                             f"  tend:        {got['tend']}")
        assert not diffs, "\n".join(diffs)

        # the session did what it says (the harness works)
        last = supervisorctl(confs["tend"], "status")
        assert mask(last.stdout) == SETTLED.replace(
            row("idle", "STOPPED", "Not started"),
            row("idle", "STOPPED", "DATE")), last

        for run in runs.values():
            run.terminate()
        status = {w: r.wait(timeout=30) for w, r in runs.items()}
        assert status == {"supervisord": 0, "tend": 0}
    finally:
        for run in runs.values():
            run.close()


# --- supervisord's XML-RPC through xmlrpc.client -----------------------------

PROCESS_MEMBERS = [
    ("name", str), ("group", str), ("start", int), ("stop", int),
    ("now", int), ("state", int), ("statename", str), ("spawnerr", str),
    ("exitstatus", int), ("logfile", str), ("stdout_logfile", str),
    ("stderr_logfile", str), ("pid", int), ("description", str)]


def check_members(info):
    assert [k for k in info] == [k for k, _ in PROCESS_MEMBERS], info
    for k, t in PROCESS_MEMBERS:
        assert type(info[k]) is t, (k, info)


def test_xmlrpc_get_all_process_info_has_supervisords_14_typed_members(
        base, tmp_path):
    infos = base.rpc().supervisor.getAllProcessInfo()
    now = time.time()
    assert [(i["group"], i["name"]) for i in infos] == [
        ("crash", "crash"), ("idle", "idle"), ("log", "log"),
        ("missing", "missing"), ("pool", "p1"), ("pool", "p2"),
        ("web", "web")]
    for info in infos:
        check_members(info)
        assert abs(info["now"] - now) <= 2
    by = {i["name"]: i for i in infos}
    web = by["web"]
    assert (web["state"], web["statename"], web["spawnerr"],
            web["exitstatus"], web["stop"]) == (20, "RUNNING", "", 0, 0)
    assert web["pid"] == base.pid_of("web") > 1
    assert re.fullmatch(rf"pid {web['pid']}, uptime 0:00:\d\d",
                        web["description"]), web
    assert 0 <= now - web["start"] <= 30
    assert (web["logfile"], web["stdout_logfile"], web["stderr_logfile"]) == \
        ("", "", "")
    log = by["log"]
    assert log["logfile"] == log["stdout_logfile"] == str(tmp_path / "log.out")
    assert log["stderr_logfile"] == str(tmp_path / "log.err")
    idle = by["idle"]
    assert (idle["state"], idle["statename"], idle["pid"], idle["start"],
            idle["description"]) == (0, "STOPPED", 0, 0, "Not started")
    assert by["p1"]["group"] == "pool"


def test_xmlrpc_get_process_info_and_bad_names(base):
    s = base.rpc().supervisor
    info = s.getProcessInfo("web")
    check_members(info)
    assert (info["name"], info["statename"]) == ("web", "RUNNING")
    info = s.getProcessInfo("pool:p2")
    assert (info["name"], info["group"]) == ("p2", "pool")
    for name in ["nosuch", "pool:*", "p2", "pool:nosuch"]:
        with pytest.raises(xmlrpc.client.Fault) as e:
            s.getProcessInfo(name)
        assert (e.value.faultCode, e.value.faultString) == (
            10, f"BAD_NAME: {name}"), name


def test_xmlrpc_identity_methods(base):
    s = base.rpc().supervisor
    version = subprocess.run([TEND, "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    assert s.getAPIVersion() == "3.0"
    assert s.getVersion() == "3.0"
    assert s.getSupervisorVersion() == version
    assert s.getState() == {"statecode": 1, "statename": "RUNNING"}
    assert s.getPID() == 1
    assert isinstance(s.getIdentification(), str)


def fault_of(call, *args):
    with pytest.raises(xmlrpc.client.Fault) as e:
        call(*args)
    return e.value.faultCode, e.value.faultString


def test_xmlrpc_faults_carry_supervisords_codes(base):
    proxy = base.rpc()
    s = proxy.supervisor
    assert fault_of(s.nosuch) == (1, "UNKNOWN_METHOD")
    assert fault_of(proxy.nosuch)[0] == 1
    assert fault_of(getattr(proxy, "supervisor.getState.x"))[0] == 1
    assert fault_of(getattr(proxy, "getState"))[0] == 1
    assert fault_of(getattr(s, "_dispatch"))[0] == 1
    for args in [(), (1,), ("web", "x"), (1.5,), (["web"],), ({"a": 1},)]:
        assert fault_of(s.getProcessInfo, *args)[0] == 2, args
    assert fault_of(s.startProcess, "idle", "yes")[0] == 2
    assert fault_of(s.readProcessStdoutLog, "log", "0", 0)[0] == 2
    assert fault_of(s.getAllProcessInfo, "x")[0] == 2
    assert fault_of(s.startProcess, "web") == (60, "ALREADY_STARTED: web")
    assert fault_of(s.stopProcess, "idle") == (70, "NOT_RUNNING: idle")
    assert fault_of(s.signalProcess, "idle", "HUP") == (
        70, "NOT_RUNNING: idle")
    assert fault_of(s.signalProcess, "web", "BOGUS") == (
        11, "BAD_SIGNAL: BOGUS")
    assert fault_of(s.startProcess, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault_of(s.stopProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault_of(s.startProcess, "missing") == (
        20, "NO_FILE: can't find command '/nonexistent/binary'")
    assert fault_of(s.startProcess, "crash") == (50, "SPAWN_ERROR: crash")
    assert fault_of(s.readProcessStdoutLog, "idle", 0, 0) == (
        20, "NO_FILE: idle")
    assert fault_of(s.readProcessStdoutLog, "log", -1, 5)[0] == 3
    # nothing of that changed anything
    assert base.state("web") == "RUNNING" and base.state("idle") == "STOPPED"


def results(array):
    return [(r["group"], r["name"], r["status"], r["description"])
            for r in array]


def test_xmlrpc_group_and_all_methods_return_result_arrays(base):
    s = base.rpc().supervisor
    assert results(s.stopProcessGroup("pool")) == [
        ("pool", "p1", 80, "OK"), ("pool", "p2", 80, "OK")]
    assert s.stopProcessGroup("pool") == []	# only what runs
    assert base.state("p1") == base.state("p2") == "STOPPED"
    assert results(s.startProcessGroup("pool")) == [
        ("pool", "p1", 80, "OK"), ("pool", "p2", 80, "OK")]
    assert s.startProcessGroup("pool") == []
    assert base.state("p1") == base.state("p2") == "RUNNING"
    assert results(s.signalProcessGroup("pool", "CONT")) == [
        ("pool", "p1", 80, "OK"), ("pool", "p2", 80, "OK")]
    assert results(s.stopProcess("pool:*")) == [
        ("pool", "p1", 80, "OK"), ("pool", "p2", 80, "OK")]
    assert results(s.startProcess("pool:*")) == [
        ("pool", "p1", 80, "OK"), ("pool", "p2", 80, "OK")]

    assert sorted(results(s.signalAllProcesses("CONT"))) == [
        ("log", "log", 80, "OK"), ("pool", "p1", 80, "OK"),
        ("pool", "p2", 80, "OK"), ("web", "web", 80, "OK")]
    assert sorted(results(s.stopAllProcesses())) == [
        ("log", "log", 80, "OK"), ("pool", "p1", 80, "OK"),
        ("pool", "p2", 80, "OK"), ("web", "web", 80, "OK")]
    assert {i["statename"] for i in s.getAllProcessInfo()} == {"STOPPED"}
    assert s.stopAllProcesses() == []
    assert sorted(results(s.startAllProcesses())) == [
        ("crash", "crash", 50, "SPAWN_ERROR: crash"),
        ("idle", "idle", 80, "OK"), ("log", "log", 80, "OK"),
        ("missing", "missing", 20,
         "NO_FILE: can't find command '/nonexistent/binary'"),
        ("pool", "p1", 80, "OK"), ("pool", "p2", 80, "OK"),
        ("web", "web", 80, "OK")]
    assert base.state("web") == "RUNNING"


def test_xmlrpc_start_and_stop_without_waiting_answer_at_once(base):
    s = base.rpc().supervisor
    sent = time.monotonic()
    assert s.startProcess("idle", False) is True
    assert time.monotonic() - sent < 0.9	# startsecs is 1
    assert base.state("idle") == "STARTING"
    base.wait_states({"idle": "RUNNING"})
    assert s.stopProcess("idle", False) is True
    base.wait_states({"idle": "STOPPED"})


def test_xmlrpc_read_and_tail_process_logs(base, tmp_path):
    s = base.rpc().supervisor
    path = tmp_path / "log.out"
    assert s.readProcessStdoutLog("log", 0, 5) == "line "
    assert s.readProcessLog("log", 0, 12) == "line 1\nline "
    whole = s.readProcessStdoutLog("log", 0, 0)
    assert path.read_text().startswith(whole) and len(whole) > 2000
    end = s.readProcessStdoutLog("log", -10, 0)
    assert len(end) == 10 and end in path.read_text()
    assert s.readProcessStderrLog("log", 0, 0) == "oops\n"

    text, offset, overflow = s.tailProcessStdoutLog("log", 0, 20)
    assert overflow is True and len(text) == 20
    assert path.read_bytes()[offset - 20:offset].decode() == text
    text, offset2, overflow = s.tailProcessLog("log", 10 ** 9, 10)
    assert (text, overflow) == ("", False) and offset2 >= offset
    assert s.tailProcessStderrLog("log", 0, 100) == ["oops\n", 5, False]
    assert s.tailProcessStdoutLog("idle", 0, 10) == ["", 0, False]
    assert fault_of(s.tailProcessStdoutLog, "nosuch", 0, 10)[0] == 10


WRITE_BYTES = """\
import sys, time
sys.stdout.buffer.write(open(sys.argv[1], "rb").read())
sys.stdout.flush()
time.sleep(600)
"""


@pytest.fixture
def binary_log(control, tmp_path):
    """start(data): a program that writes data to its log file, and tend."""
    def start(data):
        (tmp_path / "data").write_bytes(data)
        (tmp_path / "write.py").write_text(WRITE_BYTES)
        c = control(f"""
            [program:bin]
            command = {shutil.which("python3")} @DIR@/write.py @DIR@/data
            stdout_logfile = @DIR@/bin.log
            startsecs = 0
            """)
        wait_until(lambda: (tmp_path / "bin.log").exists() and
                   (tmp_path / "bin.log").read_bytes() == data,
                   what="the data in bin.log")
        return c
    return start


def test_xmlrpc_log_with_control_bytes_and_bad_utf8_gives_a_valid_reply(
        binary_log):
    data = (b"ok \x01\x02\x1b[31mred\x1b[0m \x00nul \xff\xfe bad \xc3( cut "
            b"\xe2\x82 tab\there\r\nend \xf0\x9f\x98\x80 & <b>\n")
    c = binary_log(data)
    s = c.rpc().supervisor
    got = s.readProcessStdoutLog("bin", 0, 0)
    r = "\ufffd"
    # each byte XML cannot carry becomes U+FFFD; CR LF reads as LF in XML
    assert got == (f"ok {r}{r}{r}[31mred{r}[0m {r}nul {r}{r} bad {r}( cut "
                   f"{r}{r} tab\there\nend \U0001f600 & <b>\n"), repr(got)
    text, offset, overflow = s.tailProcessStdoutLog("bin", 0, 1000)
    assert (text, offset, overflow) == (got, len(data), False)
    # a read that cuts a UTF-8 sequence is still a valid reply
    for n in range(1, 8):
        part = s.readProcessStdoutLog("bin", -n, 0)
        assert isinstance(part, str) and len(part) <= n
    # tend ctl's tail prints the bytes as they are
    r = subprocess.run([TEND, "ctl", "-s", c.sock, "tail", "bin"],
                       capture_output=True, env=ctl_env(), timeout=30)
    assert (r.returncode, r.stdout) == (0, data + b"\n"), r


def test_xmlrpc_log_with_xml_forbidden_noncharacters_gives_a_valid_reply(
        binary_log):
    # U+FFFE and U+FFFF are well-formed UTF-8 that XML 1.0 forbids
    data = "a\ufffeb\uffffc\n".encode()
    c = binary_log(data)
    s = c.rpc().supervisor
    got = s.readProcessStdoutLog("bin", 0, 0)
    assert re.fullmatch("a\ufffd?b\ufffd?c\n", got), repr(got)
    text, _, _ = s.tailProcessStdoutLog("bin", 0, 100)
    assert text == got


def test_xmlrpc_after_shutdown_supervisor_methods_fault_shutdown_state(
        control):
    c = control("""
        [program:slow]
        command = sh -c 'trap "" TERM; touch @DIR@/slow.ready; while :; do sleep 0.1; done'
        startsecs = 0
        stopwaitsecs = 2
        """)
    c.wait_states({"slow": "RUNNING"})
    c.wait_ready("slow")
    s = c.rpc().supervisor
    assert s.shutdown() is True
    for call in (s.getState, s.getAllProcessInfo, s.shutdown):
        assert fault_of(call) == (6, "SHUTDOWN_STATE")
    assert c.s.wait(timeout=20) == 0


# --- the JSON API ------------------------------------------------------------

PROGRAM_KEYS = {"name", "group", "state", "pid", "start_time", "uptime",
                "exit_status", "restarts", "critical", "ready", "description",
                "logfile", "stderr_logfile"}


def test_json_get_programs_lists_every_process(base, tmp_path):
    status, hdrs, data = base.request("GET", "/api/v1/programs")
    assert status == 200
    assert hdrs["content-type"] == "application/json"
    body = json.loads(data)
    progs = body["programs"]
    assert [p["name"] for p in progs] == ["crash", "idle", "log", "missing",
                                          "p1", "p2", "web"]
    for p in progs:
        assert set(p) == PROGRAM_KEYS, p
    web = {p["name"]: p for p in progs}["web"]
    assert (web["group"], web["state"], web["critical"], web["ready"],
            web["exit_status"], web["restarts"], web["logfile"]) == (
        "web", "RUNNING", False, True, None, 0, None)
    assert web["pid"] > 1 and 0 <= time.time() - web["start_time"] <= 30
    assert isinstance(web["uptime"], int)
    assert web["description"].startswith(f"pid {web['pid']}, uptime ")
    log = {p["name"]: p for p in progs}["log"]
    assert log["logfile"] == str(tmp_path / "log.out")
    assert log["stderr_logfile"] == str(tmp_path / "log.err")
    idle = {p["name"]: p for p in progs}["idle"]
    assert (idle["state"], idle["pid"], idle["ready"], idle["description"]) \
        == ("STOPPED", 0, False, "Not started")


def test_json_get_one_program_and_404_for_an_unknown_one(base):
    for url, name in [("/api/v1/programs/web", "web"),
                      ("/api/v1/programs/pool:p1", "p1"),
                      ("/api/v1/programs/p2", "p2"),
                      ("/api/v1/programs/pool%3Ap2", "p2")]:
        status, body = base.api("GET", url)
        assert status == 200, (url, body)
        assert set(body) == PROGRAM_KEYS and body["name"] == name, url
    for url in ["/api/v1/programs/nosuch", "/api/v1/programs/pool:nosuch",
                "/api/v1/nosuch"]:
        status, body = base.api("GET", url)
        assert status == 404, (url, body)
        assert isinstance(body["error"], str), body


def one(name, group, ok, result, error):
    return {"results": [{"name": name, "group": group, "ok": ok,
                         "result": result, "error": error}]}


def test_json_post_start_stop_restart_answer_once_done(base):
    status, body = base.api("POST", "/api/v1/programs/idle/start")
    assert (status, body) == (200, one("idle", "idle", True, "SUCCESS", None))
    assert base.state("idle") == "RUNNING"
    status, body = base.api("POST", "/api/v1/programs/idle/start")
    assert (status, body) == (409, one("idle", "idle", False,
                                       "ALREADY_STARTED",
                                       "ALREADY_STARTED: idle"))
    old = base.pid_of("idle")
    status, body = base.api("POST", "/api/v1/programs/idle/restart")
    assert (status, body) == (200, one("idle", "idle", True, "SUCCESS", None))
    assert base.pid_of("idle") not in (0, old)
    status, body = base.api("POST", "/api/v1/programs/idle/stop")
    assert (status, body) == (200, one("idle", "idle", True, "SUCCESS", None))
    assert base.state("idle") == "STOPPED"
    status, body = base.api("POST", "/api/v1/programs/idle/stop")
    assert (status, body) == (409, one("idle", "idle", False, "NOT_RUNNING",
                                       "NOT_RUNNING: idle"))
    status, body = base.api("POST", "/api/v1/programs/missing/start")
    assert status == 500 and body["results"][0]["result"] == "NO_FILE", body
    status, body = base.api("POST", "/api/v1/programs/crash/start")
    assert status == 500 and body["results"][0]["result"] == "SPAWN_ERROR", \
        body
    status, body = base.api("POST", "/api/v1/programs/nosuch/start")
    assert status == 404, body

    # groups: GROUP:* or the bare group name
    status, body = base.api("POST", "/api/v1/programs/pool:*/stop")
    assert status == 200, body
    assert [(r["name"], r["ok"]) for r in body["results"]] == [
        ("p1", True), ("p2", True)]
    status, body = base.api("POST", "/api/v1/programs/pool/start")
    assert status == 200, body
    assert [(r["name"], r["ok"]) for r in body["results"]] == [
        ("p1", True), ("p2", True)]
    assert base.state("p1") == base.state("p2") == "RUNNING"


def test_json_post_signal(base):
    status, body = base.api("POST", "/api/v1/programs/web/signal/CONT")
    assert (status, body) == (200, one("web", "web", True, "SUCCESS", None))
    status, body = base.api("POST", "/api/v1/programs/pool:*/signal/18")
    assert status == 200 and len(body["results"]) == 2, body
    status, body = base.api("POST", "/api/v1/programs/idle/signal/HUP")
    assert (status, body) == (409, one("idle", "idle", False, "NOT_RUNNING",
                                       "NOT_RUNNING: idle"))
    status, body = base.api("POST", "/api/v1/programs/web/signal/BOGUS")
    assert status == 400 and "error" in body, body
    status, body = base.api("POST", "/api/v1/programs/nosuch/signal/HUP")
    assert status == 404, body
    old = base.pid_of("web")
    status, body = base.api("POST", "/api/v1/programs/web/signal/SIGHUP")
    assert status == 200, body
    base.err.wait_for(r"exited: web \(terminated by SIGHUP")
    wait_until(lambda: base.pid_of("web") not in (0, old))


def test_json_methods_actions_and_origins_are_checked(base):
    status, body = base.api("GET", "/api/v1/programs/web/start")
    assert status == 405, body
    status, body = base.api("POST", "/api/v1/programs/web/bogus")
    assert status == 404, body
    status, body = base.api("POST", "/api/v1/programs/web")
    assert status == 405, body
    # a browser's cross-site request changes nothing
    status, _, _ = base.request("POST", "/api/v1/programs/web/stop",
                                headers={"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = base.request("POST", "/api/v1/programs/web/stop",
                                headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    assert base.state("web") == "RUNNING"


def test_json_tend_describes_tend_itself(base):
    status, body = base.api("GET", "/api/v1/tend")
    assert status == 200, body
    version = subprocess.run([TEND, "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    assert body["version"] == version
    assert body["pid"] == 1
    assert body["phase"] == "running"
    assert body["config_file"] == str(base.conf)
    assert 0 <= time.time() - body["start_time"] <= 60
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0


def test_health_endpoints(control):
    c = control("""
        [program:crit]
        command = sleep 600
        critical = true
        startsecs = 2
        """)
    assert c.request("GET", "/livez")[:1] == (200,)
    status, _, data = c.request("GET", "/healthz")
    assert (status, data) == (503, b"not healthy: crit\n")
    status, _, data = c.request("GET", "/readyz")
    assert (status, data) == (503, b"not ready: crit\n")
    c.wait_states({"crit": "RUNNING"})
    for url in ("/livez", "/readyz", "/healthz"):
        status, _, data = c.request("GET", url)
        assert (status, data) == (200, b"ok\n"), url


def test_json_post_shutdown_stops_tend(control):
    c = control("""
        [program:web]
        command = sleep 600
        """)
    c.wait_states({"web": "RUNNING"})
    status, body = c.api("POST", "/api/v1/shutdown")
    assert status == 202, body
    assert c.s.wait(timeout=20) == 0
    assert "stopped: web" in c.err.text()


# --- clients that misbehave --------------------------------------------------

# A crash loop that tend restarts once a second (startsecs=0, exits at
# once): its spawn lines show whether a client ever held the loop up.
VICTIM = """
    [program:crashloop]
    command = /bin/true
    startsecs = 0
    autorestart = true

    [program:web]
    command = sleep 600
    """


@pytest.fixture
def victim(control):
    def start(extra=""):
        c = control(VICTIM + extra)
        c.wait_states({"web": "RUNNING"})
        c.err.wait_for(r"spawned: 'crashloop'", count=2)
        c.baseline = c.settled_fds()
        c.since = time.time()
        c.rss = rss_kib(c.pid)
        return c
    return start


def assert_unharmed(c):
    """The next good client is answered at once, the crash loop was
    restarted once a second all along, and tend holds no descriptor more
    than before."""
    sent = time.monotonic()
    status, _, data = c.request("GET", "/livez", timeout=10)
    assert (status, data) == (200, b"ok\n")
    r = c.ctl("status", "web", timeout=10)
    assert r.returncode == 0, r
    assert time.monotonic() - sent < 3
    now = time.time()
    spawns = [t for t in c.s.spawns("crashloop") if t >= c.since - 1.5]
    gaps = [round(b - a, 3) for a, b in zip(spawns, spawns[1:])]
    assert spawns and now - spawns[-1] < 2.5, (now - c.since, spawns)
    assert gaps and all(0.8 <= g <= 2.5 for g in gaps), gaps
    assert len(spawns) >= (now - c.since) / 1.6, (now - c.since, gaps)
    wait_until(lambda: c.fds() == c.baseline, timeout=20,
               what=f"tend's descriptors back to {c.baseline} "
                    f"(now {c.fds()}: {os.listdir(f'/proc/{c.pid}/fd')})")
    assert c.s.running()


def http_status(reply):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    return int(m[1]) if m else None


def test_random_bytes_and_malformed_requests_get_a_status_or_the_door(victim):
    c = victim()
    rng = random.Random(20261201)
    valid = (b"POST /api/v1/programs/web/signal/CONT HTTP/1.1\r\n"
             b"Host: tend\r\nContent-Length: 3\r\n\r\nabc")
    blobs = [
        b"\r\n\r\n", b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1 extra\r\n\r\n",
        b"get / HTTP/1.1\r\n\r\n", b"GET noslash HTTP/1.1\r\n\r\n",
        b"GET /%00 HTTP/1.1\r\n\r\n", b"GET /%zz HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 100 + b"\r\n",
        b"\x00" * 100 + b"\r\n\r\n", b"GET / HTTP/1.1\r\nX: \x00\r\n\r\n",
        b"GET /api/v1/programs HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n",
    ]
    blobs += [rng.randbytes(n) for n in (1, 7, 100, 4096, 8191, 9000)]
    blobs += [rng.randbytes(rng.randrange(1, 3000)) + b"\r\n\r\n"
              for _ in range(30)]
    for _ in range(150):		# the valid request, with bytes flipped
        b = bytearray(valid)
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        blobs.append(bytes(b))
    codes = set()
    for blob in blobs:
        s = raw_connect(c.sock)
        try:
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        reply = read_all(s, timeout=15)
        s.close()
        status = http_status(reply)
        assert reply == b"" or status is not None, (blob, reply)
        codes.add(status)
    assert {400, 505} <= codes, codes
    assert c.s.running()
    assert_unharmed(c)


def test_a_10_mb_request_is_refused_with_413_and_a_10_mb_head_with_431(victim):
    c = victim()
    head = (b"POST /RPC2 HTTP/1.1\r\nHost: tend\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 10485760\r\n\r\n")
    # refused from the head alone, before any body
    s = raw_connect(c.sock)
    s.sendall(head)
    reply = read_all(s)
    s.close()
    assert http_status(reply) == 413, reply

    def flood(s, data):
        try:
            s.sendall(data)
        except OSError:
            pass

    for data, code in [(head + b"<" * 10485760, 413),
                       (b"GET /" + b"a" * 10485760, 431),
                       (b"GET / HTTP/1.1\r\nX: " + b"b" * 10485760, 431)]:
        s = raw_connect(c.sock, timeout=30)
        t = threading.Thread(target=flood, args=(s, data), daemon=True)
        t.start()
        reply = read_all(s, timeout=30)
        t.join(30)
        s.close()
        assert http_status(reply) == code, reply[:200]
    assert rss_kib(c.pid) - c.rss < 16 * 1024
    assert_unharmed(c)


def test_1000_connections_at_once_64_are_served_and_the_rest_get_503(victim):
    c = victim()
    socks = []
    try:
        for _ in range(1000):
            socks.append(raw_connect(c.sock, timeout=20))
        time.sleep(1)
        busy = held = 0
        for s in socks:
            s.setblocking(False)
            try:
                data = s.recv(4096)
            except BlockingIOError:
                held += 1
                continue
            finally:
                s.setblocking(True)
            assert http_status(data) == 503, data
            busy += 1
        assert (held, busy) == (64, 936)
        # the 64 are real clients: one of them is answered
        socks[0].sendall(b"GET /livez HTTP/1.1\r\nHost: tend\r\n"
                         b"Connection: close\r\n\r\n")
        reply = read_all(socks[0])
        assert http_status(reply) == 200 and reply.endswith(b"ok\n"), reply
    finally:
        for s in socks:
            s.close()
    assert_unharmed(c)


def test_a_silent_client_is_dropped_when_idle_and_blocks_no_one(victim):
    c = victim()
    start = time.monotonic()
    silent = raw_connect(c.sock)
    partial = raw_connect(c.sock)
    partial.sendall(b"GET /livez HTTP/1.1\r\nHost: tend\r\n")
    ended = {}
    while len(ended) < 2 and time.monotonic() - start < 100:
        for name, s in (("partial", partial), ("silent", silent)):
            if name not in ended and closed_by_peer(s):
                ended[name] = time.monotonic() - start
        # the others are answered all along
        sent = time.monotonic()
        status, _, _ = c.request("GET", "/livez", timeout=10)
        assert status == 200 and time.monotonic() - sent < 2
        time.sleep(1)
    silent.close()
    partial.close()
    # 10 s from a request's first byte to its last; 60 s idle
    assert 9 <= ended.get("partial", 0) <= 17, ended
    assert 59 <= ended.get("silent", 0) <= 75, ended
    assert_unharmed(c)


def test_slow_headers_are_answered_within_10_s_and_dropped_after(victim):
    c = victim()
    s = raw_connect(c.sock)
    for b in b"GET /livez HTTP/1.1\r\nHost: tend\r\nConnection: close\r\n\r\n":
        s.sendall(bytes([b]))
        time.sleep(0.08)
    reply = read_all(s)
    s.close()
    assert http_status(reply) == 200 and reply.endswith(b"ok\n"), reply

    # a byte every 0.5 s, without end: progress does not buy more time
    s = raw_connect(c.sock)
    start = time.monotonic()
    dropped = None
    for b in b"GET /livez HTTP/1.1\r\nX-Slow: " + b"z" * 100:
        try:
            s.sendall(bytes([b]))
        except OSError:
            dropped = time.monotonic() - start
            break
        if closed_by_peer(s):
            dropped = time.monotonic() - start
            break
        time.sleep(0.5)
    s.close()
    assert dropped is not None and 9 <= dropped <= 17, dropped
    assert_unharmed(c)


BIG_WRITER = """\
import sys, time
sys.stdout.write(("x" * 99 + "\\n") * 30000)
sys.stdout.flush()
time.sleep(600)
"""


def test_a_client_that_never_reads_its_large_replies_is_dropped(victim,
                                                                 tmp_path):
    (tmp_path / "big.py").write_text(BIG_WRITER)
    c = victim(f"""
    [program:big]
    command = {shutil.which("python3")} @DIR@/big.py
    stdout_logfile = @DIR@/big.log
    """)
    wait_until(lambda: (tmp_path / "big.log").exists() and
               (tmp_path / "big.log").stat().st_size == 3000000)
    body = xmlrpc.client.dumps(("big", 0, 0),
                               "supervisor.readProcessStdoutLog").encode()
    one_request = (b"POST /RPC2 HTTP/1.1\r\nHost: tend\r\n"
                   b"Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
                   % len(body)) + body
    s = raw_connect(c.sock)
    s.sendall(one_request * 20)		# 20 replies of 1 MiB, never read
    start = time.monotonic()
    # meanwhile tend answers others
    time.sleep(2)
    assert c.fds() == c.baseline + 1
    status, _, _ = c.request("GET", "/livez", timeout=5)
    assert status == 200
    # 10 s without progress: dropped
    wait_until(lambda: c.fds() == c.baseline, timeout=30,
               what="the reader that does not read to be dropped")
    took = time.monotonic() - start
    assert 9 <= took <= 20, took
    assert rss_kib(c.pid) - c.rss < 16 * 1024
    s.close()
    assert_unharmed(c)


TAIL_WRITER = """\
import sys, time
line = "y" * 1023 + "\\n"
while True:
    sys.stdout.write(line * 64)
    sys.stdout.flush()
    time.sleep(0.1)
"""


def test_a_log_tail_client_that_never_reads_is_dropped(victim, tmp_path):
    (tmp_path / "tail.py").write_text(TAIL_WRITER)
    c = victim(f"""
    [program:chatty]
    command = {shutil.which("python3")} @DIR@/tail.py
    stdout_logfile = @DIR@/chatty.log
    stdout_logfile_maxbytes = 1MB
    stdout_logfile_backups = 1
    """)
    c.wait_states({"chatty": "RUNNING"})
    c.baseline = c.settled_fds()
    s = raw_connect(c.sock)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /logtail/chatty HTTP/1.1\r\nHost: tend\r\n\r\n")
    wait_until(lambda: c.fds() == c.baseline, timeout=30,
               what="the log tail that does not read to be dropped")
    s.close()
    assert_unharmed(c)


def test_bad_xml_unknown_methods_and_wrong_types_harm_nothing(victim):
    c = victim()

    def post(body, ctype="text/xml"):
        hdrs = {"Content-Type": ctype} if ctype else {}
        status, _, data = c.request("POST", "/RPC2", body, hdrs)
        return status, data

    def call(name, params):
        return (f"<?xml version='1.0'?><methodCall><methodName>{name}"
                f"</methodName><params>{params}</params></methodCall>"
                ).encode()

    for body in [b"", b"not xml at all", b"<methodCall>",
                 b"<methodCall><methodName>supervisor.getState</methodName>",
                 b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><methodCall><methodName>"
                 b"&a;</methodName></methodCall>",
                 call("supervisor.getProcessInfo",
                      "<param><value><string>&#x41;</string></value></param>"),
                 call("supervisor.getProcessInfo",
                      "<param><value><string>&bogus;</string></value>"
                      "</param>"),
                 call("supervisor.getProcessInfo",
                      "<param><value><int>99999999999</int></value></param>"),
                 call("supervisor.getProcessInfo",
                      "<param>" + "<value><array><data>" * 2000 + "</param>"),
                 call("supervisor.getProcessInfo", "<param><value><string "
                      "a='1'>web</string></value></param>"),
                 call("supervisor.getState", "") + b"trailing"]:
        status, data = post(body)
        assert status == 400, (body[:100], status, data)

    def fault(body):
        status, data = post(body)
        assert status == 200, (status, data)
        with pytest.raises(xmlrpc.client.Fault) as e:
            xmlrpc.client.loads(data)
        return e.value.faultCode

    assert fault(call("supervisor.nosuch", "")) == 1
    status, data = post(b"<methodCall><methodName></methodName></methodCall>")
    assert status == 400 or (status == 200 and b"UNKNOWN_METHOD" in data)
    assert fault(call("system.listMethods.x", "")) == 1
    for value in ["<double>1.5</double>", "<base64>d2Vi</base64>",
                  "<dateTime.iso8601>20261201T00:00:00</dateTime.iso8601>",
                  "<int>1</int>", "<boolean>1</boolean>",
                  "<array><data></data></array>", "<struct></struct>"]:
        assert fault(call("supervisor.getProcessInfo",
                          f"<param><value>{value}</value></param>")) == 2, \
            value
    many = "<value><int>1</int></value>" * 30000
    status, _ = post(call("supervisor.getProcessInfo",
                          f"<param><value><array><data>{many}</data></array>"
                          "</value></param>"))
    assert status in (200, 400)
    # an untyped value is a string, as in supervisord
    status, data = post(call("supervisor.getProcessInfo",
                             "<param><value>web</value></param>"))
    assert status == 200
    assert xmlrpc.client.loads(data)[0][0]["name"] == "web"
    assert post(call("supervisor.getState", ""), ctype=None)[0] == 415
    assert c.request("GET", "/RPC2")[0] == 405
    assert_unharmed(c)


def test_a_client_gone_during_a_held_reply_leaks_nothing(victim):
    c = victim("""
    [program:x]
    command = sleep 600
    startsecs = 2
    autostart = false
    """)
    body = xmlrpc.client.dumps(("x",), "supervisor.startProcess").encode()
    s = raw_connect(c.sock)
    s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: tend\r\n"
              b"Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
              % len(body) + body)
    wait_until(lambda: c.state("x") == "STARTING")
    s.close()
    # the start goes on without its client
    c.wait_states({"x": "RUNNING"})
    # and a stop whose client is gone too
    s = raw_connect(c.sock)
    s.sendall(b"POST /api/v1/programs/x/stop HTTP/1.1\r\nHost: tend\r\n\r\n")
    s.close()
    c.wait_states({"x": "STOPPED"})
    assert_unharmed(c)


# --- who may connect ---------------------------------------------------------

@pytest.fixture
def open_dir():
    """A directory anyone may enter, with a copy of tend anyone may run:
    only the socket's own mode decides who connects."""
    d = tempfile.mkdtemp(prefix="tend-ctl-", dir="/tmp")
    os.chmod(d, 0o755)
    shutil.copy(TEND, os.path.join(d, "tend"))
    os.chmod(os.path.join(d, "tend"), 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.skipif(not shutil.which("setpriv"), reason="no setpriv")
def test_the_default_socket_mode_0700_refuses_another_user(control, open_dir):
    sock = os.path.join(open_dir, "tend.sock")
    c = control("""
        [program:web]
        command = sleep 600
        """, sock=sock)
    c.wait_states({"web": "RUNNING"})
    assert oct(os.stat(sock).st_mode & 0o7777) == "0o700"
    copy = os.path.join(open_dir, "tend")
    for args, code in [(["status"], 4), (["stop", "web"], 1),
                       (["shutdown"], 1)]:
        r = run_ctl(["-s", sock, *args], argv0=copy, prefix=AS_NOBODY)
        assert r.returncode == code, (args, r)
        assert r.stderr == (f"tend ctl: cannot connect to {sock}: "
                            "Permission denied\n"), r
    assert c.state("web") == "RUNNING" and c.s.running()
    # root still may
    assert c.ctl("status").returncode == 0


@pytest.mark.skipif(not shutil.which("setpriv"), reason="no setpriv")
def test_a_socket_chmod_0777_lets_another_user_in(control, open_dir):
    sock = os.path.join(open_dir, "tend.sock")
    c = control("""
        [unix_http_server]
        file = @SOCK@
        chmod = 0777

        [program:web]
        command = sleep 600
        """, sock=sock, socket_env=False)
    c.wait_states({"web": "RUNNING"})
    assert oct(os.stat(sock).st_mode & 0o7777) == "0o777"
    r = run_ctl(["-s", sock, "status"], argv0=os.path.join(open_dir, "tend"),
                prefix=AS_NOBODY)
    assert (r.returncode, mask(r.stdout)) == (
        0, row("web", "RUNNING", "pid N, uptime U") + "\n"), r



@needs_supervisor
def test_socket_credentials_are_needed_by_every_client_but_health(control):
    digest = hashlib.sha1(b"s3cret").hexdigest()
    c = control(f"""
        [unix_http_server]
        file = @SOCK@
        username = admin
        password = {{SHA}}{digest}

        [supervisorctl]
        serverurl = unix://@SOCK@
        username = admin
        password = s3cret

        [program:web]
        command = sleep 600
        """, socket_env=False)
    auth = {"Authorization": "Basic " +
            base64.b64encode(b"admin:s3cret").decode()}
    c.headers = auth
    c.wait_states({"web": "RUNNING"})
    # the configuration's credentials, for both clients
    r = supervisorctl(c.conf, "status")
    assert (r.returncode, mask(r.stdout)) == (
        0, row("web", "RUNNING", "pid N, uptime U") + "\n"), r
    r = run_ctl(["-c", str(c.conf), "status"])
    assert r.returncode == 0, r
    # none, or wrong ones
    bare = c.conf.with_name("bare.ini")
    bare.write_text(f"[supervisorctl]\nserverurl = unix://{c.sock}\n")
    r = supervisorctl(bare, "stop", "web")
    assert r.returncode == 1, r
    assert r.stdout.startswith("Server requires authentication\n"), r
    for creds in ([], ["-u", "admin", "-p", "wrong"],
                  ["-u", "admin", "-p", f"{{SHA}}{digest}"]):
        r = run_ctl(["-s", c.sock, *creds, "stop", "web"])
        assert r.returncode == 1, (creds, r)
        assert r.stderr.startswith(f"tend ctl: {c.sock} requires "
                                   "authentication"), (creds, r)
    c.headers = {}
    assert c.request("POST", "/api/v1/programs/web/stop")[0] == 401
    assert c.request("GET", "/api/v1/programs/web")[0] == 401
    c.headers = auth
    assert c.state("web") == "RUNNING"
    # health needs none
    r = run_ctl(["-s", c.sock, "health"])
    assert (r.returncode, r.stdout) == (0, "ok\n"), r
    r = run_ctl(["-s", c.sock, "-u", "admin", "-p", "s3cret", "stop", "web"])
    assert (r.returncode, r.stdout) == (0, "web: stopped\n"), r

# --- the socket file ---------------------------------------------------------

def test_a_stale_socket_is_replaced_and_the_socket_goes_with_tend(control,
                                                                   tmp_path):
    sock = str(tmp_path / "stale.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(sock)
    dead.close()			# the file stays, nobody listens
    c = control("""
        [program:web]
        command = sleep 600
        """, sock=sock)
    c.wait_states({"web": "RUNNING"})
    assert c.ctl("status").returncode == 0
    assert c.ctl("shutdown").returncode == 0
    assert c.s.wait(timeout=20) == 0
    assert not os.path.exists(sock)


def test_a_live_socket_of_another_server_is_left_alone(supervise, tmp_path):
    sock = str(tmp_path / "live.sock")
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(sock)
    other.listen(8)
    try:
        inode = os.stat(sock).st_ino
        s = supervise("""
            [program:web]
            command = sleep 600
            """, env={**os.environ, "TEND_CONTROL_SOCKET": sock})
        s.err.wait_for(r"another server answers there; running without a "
                       r"control socket")
        s.err.wait_for(r"success: web entered RUNNING")
        assert os.stat(sock).st_ino == inode
        rc, _ = s.stop()
        assert rc == 0
        # tend removed nothing that was not its own
        assert os.path.exists(sock) and os.stat(sock).st_ino == inode
    finally:
        other.close()


# --- races between clients, and clients that cost tend more than they send ------

SLOW_STOP = """
    [program:slow]
    command = sh -c 'trap "sleep 1; exit 0" TERM; touch @DIR@/slow.ready; while :; do sleep 0.1; done'
    startsecs = 0
    stopwaitsecs = 10
    """


def in_thread(fn, *args, **kw):
    """fn(*args) in a thread; .join(timeout) then .result."""
    class Run(threading.Thread):
        result = None

        def run(self):
            self.result = fn(*args, **kw)
    t = Run(daemon=True)
    t.start()
    return t


def test_a_held_stop_answers_when_another_client_starts_the_program(control):
    c = control(SLOW_STOP)
    c.wait_states({"slow": "RUNNING"})
    c.wait_ready("slow")
    stop = in_thread(c.ctl, "stop", "slow")
    c.wait_states({"slow": "STOPPING"})
    start = c.ctl("start", "slow")
    assert start.returncode == 0 and start.stdout == "slow: started\n", start
    stop.join(15)
    assert not stop.is_alive(), "the held stop never answered"
    # it stopped and started again, or the start overtook the stop:
    # either way an answer, about slow
    assert "slow" in stop.result.stdout, stop.result
    assert c.state("slow") == "RUNNING"


def test_a_restart_of_a_program_a_reload_removes_does_not_bring_it_back(
        control):
    c = control(SLOW_STOP + """
    [program:other]
    command = sleep 600
    """)
    c.wait_states({"slow": "RUNNING", "other": "RUNNING"})
    c.wait_ready("slow")
    restart = in_thread(c.ctl, "restart", "slow")
    c.wait_states({"slow": "STOPPING"})
    c.rewrite("""
    [program:other]
    command = sleep 600
    """)
    assert c.ctl("update").returncode == 0
    restart.join(15)
    assert not restart.is_alive(), "the held restart never answered"
    assert restart.result.returncode != 0, restart.result
    wait_until(lambda: "slow" not in c.programs(), what="slow dropped")
    time.sleep(1)
    assert "slow" not in c.programs()
    assert c.s.spawns("slow") and len(c.s.spawns("slow")) == 1, \
        c.err.text()


def test_a_start_waiting_on_a_oneshot_that_failed_answers(control):
    # what app waits for rests, EXITED with an unexpected code, and
    # nothing will start it again: the start is a spawn error, at once
    c = control("""
        [program:once]
        command = sh -c 'sleep 0.5; exit 1'
        ready = exited
        startsecs = 0
        autorestart = false
        autostart = false
        [program:app]
        command = sleep 600
        depends_on = once
        autostart = false
        """)
    r = c.ctl("start", "app", timeout=20)
    assert r.returncode == 7, r
    assert r.stdout.startswith("app: ERROR (spawn error"), r
    assert c.info("app")["description"] == \
        "Not started: dependency once is EXITED"
    said = r"app: not started: its dependency once is EXITED"
    c.err.wait_for(said)
    time.sleep(0.5)
    assert c.err.count(said) == 1, c.err.text()


def test_ctl_status_names_a_process_once_however_often_it_is_asked(base):
    r = base.ctl("status", "web", "web", "web:*", "all")
    assert [line.split()[0] for line in r.stdout.splitlines()].count(
        "web") == 1, r.stdout
    r = base.ctl("signal", "CONT", "web", "web", "web")
    assert r.stdout == "web: signalled\n", r


def test_a_command_line_past_1024_words_is_refused_by_client_and_server(
        base):
    r = base.ctl("status", *["web"] * 1024)
    assert r.returncode == 2, r
    assert r.stderr == "tend ctl: at most 1024 words after the options\n"
    body = b"status\0" + b"web\0" * 1024
    status, _, data = base.request("POST", "/ctl", body)
    assert status == 400 and b"too many arguments" in data, (status, data)
    body = b"status\0" + b"web\0" * 1023
    status, _, data = base.request("POST", "/ctl", body)
    assert status == 200 and data.count(b"\nweb ") + \
        data.startswith(b"web ") == 1, (status, data[:300])


def test_xmlrpc_signal_past_the_last_signal_is_bad_signal(base):
    s = base.rpc().supervisor
    with pytest.raises(xmlrpc.client.Fault) as e:
        s.signalProcess("web", "100")
    assert (e.value.faultCode, e.value.faultString) == (11, "BAD_SIGNAL: 100")
    assert base.state("web") == "RUNNING"


def test_a_client_that_half_closes_and_does_not_read_costs_no_cpu(victim,
                                                                 tmp_path):
    c = victim(f"""
    [program:chatty]
    command = sh -c 'head -c 2000000 /dev/zero | tr "\\\\0" x; sleep 600'
    stdout_logfile = {tmp_path}/chatty.log
    """)
    wait_until(lambda: os.path.exists(tmp_path / "chatty.log") and
               os.path.getsize(tmp_path / "chatty.log") >= 2000000,
               what="the log written")
    body = xmlrpc.client.dumps(("chatty", 0, 1000000),
                               "supervisor.readProcessStdoutLog").encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(c.sock)
    s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.5)
    before = cpu_seconds(c.pid)
    time.sleep(3)
    spent = cpu_seconds(c.pid) - before
    assert spent < 0.3, f"{spent:.2f} s of CPU in 3 s for a stalled reader"
    data = read_all(s, timeout=15)
    s.close()
    assert http_status(data) == 200 and len(data) > 1000000
    assert_unharmed(c)


def test_a_long_pipeline_is_answered_whole_while_others_are_served(victim):
    c = victim()
    n = 20000
    s = raw_connect(c.sock)
    request = b"GET /livez HTTP/1.1\r\nHost: t\r\n\r\n"
    got = bytearray()

    def reader():
        s.settimeout(30)
        while got.count(b"HTTP/1.1 200") < n:
            chunk = s.recv(1 << 20)
            if not chunk:
                return
            got.extend(chunk)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    sender = in_thread(s.sendall, request * n)
    # meanwhile, another client is answered at once, and often
    worst = 0.0
    while t.is_alive():
        sent = time.monotonic()
        status, _, _ = c.request("GET", "/livez", timeout=10)
        assert status == 200
        worst = max(worst, time.monotonic() - sent)
        time.sleep(0.01)
    sender.join(10)
    s.close()
    assert got.count(b"HTTP/1.1 200") == n
    assert worst < 1.0, f"another client waited {worst:.2f} s"
    assert_unharmed(c)


def test_a_body_that_comes_later_behind_a_pipelined_request_is_answered(
        base):
    body = xmlrpc.client.dumps((), "supervisor.getState").encode()
    rpc = (b"POST /RPC2 HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body) + body)
    get = b"GET /livez HTTP/1.1\r\nHost: t\r\n\r\n"
    split = len(rpc) - len(body) + 10  # the head and 10 bytes of the body
    s = raw_connect(base.sock)
    s.sendall(get + rpc[:split])
    time.sleep(0.3)  # the first reply out, the second head parsed
    s.sendall(rpc[split:] + b"GET /livez HTTP/1.1\r\nHost: t\r\n"
              b"Connection: close\r\n\r\n")
    got = read_all(s)
    s.close()
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", got) == [b"200"] * 3, got
    assert b"<string>RUNNING</string>" in got, got


def test_a_stopped_process_named_after_its_group_still_answers_for_itself(
        base):
    r = base.ctl("signal", "HUP", "idle:*", "idle")
    assert (r.returncode, r.stdout) == (7, "idle: ERROR (not running)\n"), r
    r = base.ctl("signal", "HUP", "idle", "idle:*")
    assert (r.returncode, r.stdout) == (7, "idle: ERROR (not running)\n"), r
    r = base.ctl("start", "pool:*", "pool:p1")
    assert (r.returncode, r.stdout) == (
        0, "pool:p1: ERROR (already started)\n"), r


def test_a_log_tail_for_a_client_that_half_closed_ends_after_what_there_was(
        victim, tmp_path):
    c = victim(f"""
    [program:chatty]
    command = sh -c 'head -c 2000000 /dev/zero | tr "\\\\0" x; sleep 600'
    stdout_logfile = {tmp_path}/chatty.log
    [program:quiet]
    command = sh -c 'echo hello; exec sleep 600'
    stdout_logfile = {tmp_path}/quiet.log
    """)
    wait_until(lambda: os.path.exists(tmp_path / "chatty.log") and
               os.path.getsize(tmp_path / "chatty.log") >= 2000000 and
               os.path.exists(tmp_path / "quiet.log") and
               os.path.getsize(tmp_path / "quiet.log") > 0,
               what="the logs written")
    c.baseline = c.settled_fds()
    body = xmlrpc.client.dumps(("chatty", 0, 1000000),
                               "supervisor.readProcessStdoutLog").encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(c.sock)
    # a large reply, which the client is slow to read, then a log tail
    s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body +
              b"GET /logtail/quiet HTTP/1.1\r\nHost: t\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.5)  # tend sees the half-close while it writes the first
    sent = time.monotonic()
    got = read_all(s, timeout=15)
    s.close()
    assert time.monotonic() - sent < 8, "the tail went on for a quiet log"
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", got) == [b"200"] * 2
    assert got.rstrip().endswith(b"hello"), got[-300:]
    assert_unharmed(c)
