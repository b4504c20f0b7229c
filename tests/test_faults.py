"""Fault injection: the static tend as PID 1 under real faults, each
while programs crash-loop and a control client keeps asking: no
descriptors left (RLIMIT_NOFILE), fork failing (RLIMIT_NPROC), a full
filesystem under a log file, a log directory removed and recreated
(then SIGUSR2), 100,000 orphans, and a control socket whose directory
is missing, read-only or removed. In each case tend stays up, reports
the fault once per episode, recovers when it clears, and its
descriptors and resident memory come back to their levels."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
import time

import pytest

from conftest import TEND, alive, children_of, helper, wait_until
from control import fd_count, get_json, rss_kb
from control import request as ask
from test_supervise import Lines

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (PID namespaces, "
                                       "prlimit, mounts)")

# EMFILE and EAGAIN as musl (the static build) and glibc say them
EMFILE = "(No file descriptors available|Too many open files)"
EAGAIN = "Resource temporarily unavailable"
# resident memory may wander a little (page cache of /proc reads, the
# loop's buffers): a leak would grow without bound
RSS_SLACK_KB = 4096


class FaultTend:
    """tend as PID 1 of a new PID namespace on an INI file, with a private
    control socket; prefix runs before tend (setpriv, to be another user).
    Its stderr is tailed."""

    def __init__(self, workdir, ini, prefix=(), sock=True):
        self.dir = workdir
        self.conf = workdir / "tend.ini"
        self.conf.write_text(textwrap.dedent(ini).lstrip("\n"))
        self.sock = workdir / "tend.sock" if sock is True else sock
        env = dict(os.environ)
        if self.sock:
            env["TEND_CONTROL_SOCKET"] = str(self.sock)
        else:
            env.pop("TEND_CONTROL_SOCKET", None)
        err_path = workdir / "tend.stderr"
        with open(err_path, "wb") as errf:
            self.proc = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount-proc",
                 "--kill-child", *prefix, TEND, "-c", str(self.conf)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=errf, env=env)
        self.err = Lines(err_path)
        self.pid = wait_until(lambda: (children_of(self.proc.pid) or [0])[0],
                              what="tend to start in its namespace")
        wait_until(lambda: os.readlink(f"/proc/{self.pid}/exe") ==
                   os.path.realpath(TEND), what="tend to exec")
        if sock is True:       # the private socket: nothing keeps it away
            wait_until(self.sock.exists, what="the control socket")

    def running(self):
        return self.proc.poll() is None and alive(self.pid)

    def spawns(self, name):
        return self.err.count(rf"^tend: spawned: '{re.escape(name)}' with "
                              r"pid \d+$")

    def descendants(self):
        todo, found = [self.pid], []
        while todo:
            for c in children_of(todo.pop()):
                found.append(c)
                todo.append(c)
        return found

    def stop(self, timeout=30):
        os.kill(self.pid, signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.err.stop()
        return rc

    def close(self):
        self.err.stop()
        if self.proc.poll() is None:
            # tend itself too: a change of user (setpriv) clears the
            # parent-death signal that unshare --kill-child relies on
            for pid in [*self.descendants(), self.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def faulty(tmp_path):
    """faulty(ini, prefix=(), workdir=None, sock=True): a FaultTend."""
    runs = []

    def start(ini, prefix=(), workdir=None, sock=True):
        t = FaultTend(workdir or tmp_path, ini, prefix, sock)
        runs.append(t)
        return t

    yield start
    for t in runs:
        t.close()


class Poller:
    """A control client that asks for the programs every 50 ms in a
    thread, with a fresh connection each time, and keeps what came back:
    the longest wait, and the errors."""

    def __init__(self, sock, timeout=30):
        self.sock = sock
        self.timeout = timeout
        self.ok = 0
        self.errors = []
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                status, _, _ = ask(self.sock, "GET", "/api/v1/programs",
                                       timeout=self.timeout)
                if status == 200:
                    self.ok += 1
                else:
                    self.errors.append(status)
            except OSError as e:
                self.errors.append(repr(e))
            self.longest = max(self.longest, time.monotonic() - t0)
            self._stop.wait(0.05)

    def count(self):
        return self.ok

    def stop(self):
        self._stop.set()
        self._thread.join(self.timeout + 5)


def steady(pid, seconds=2.0):
    """Descriptors and RSS over a few seconds: (most fds, most RSS kB)."""
    fds, rss = 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fds = max(fds, fd_count(pid))
        rss = max(rss, rss_kb(pid))
        time.sleep(0.05)
    return fds, rss


def back_to(pid, base, timeout=30):
    """Waits until tend holds no more descriptors than before the fault,
    and its RSS is within RSS_SLACK_KB of what it was."""
    fds, rss = base
    wait_until(lambda: fd_count(pid) <= fds, timeout=timeout,
               what=f"the descriptors back to {fds} (now {fd_count(pid)}: "
                    f"{sorted(os.listdir(f'/proc/{pid}/fd'), key=int)})")
    wait_until(lambda: rss_kb(pid) <= rss + RSS_SLACK_KB, timeout=timeout,
               what=f"RSS back near {rss} kB (now {rss_kb(pid)} kB)")


def limit(pid, resource):
    """The soft and hard limits of a resource of pid, as prlimit names
    them (nofile, nproc)."""
    r = subprocess.run(["prlimit", "--pid", str(pid), f"--{resource}",
                        "--raw", "--noheadings", "--output=SOFT,HARD"],
                       capture_output=True, text=True, check=True)
    return r.stdout.split()


def set_limit(pid, resource, soft, hard=None):
    value = f"{soft}:{hard}" if hard is not None else f"{soft}:"
    subprocess.run(["prlimit", "--pid", str(pid), f"--{resource}={value}"],
                   check=True)


CRASH_LOOP = """
    [program:crash1]
    command=sh -c 'echo out; echo err >&2; sleep 0.2; exit 1'
    startsecs=0
    autorestart=true
    startretries=1000
    stdout_logfile={logs}/crash1.log
    stderr_logfile={logs}/crash1.err

    [program:crash2]
    command=sh -c 'echo out; sleep 0.3; exit 2'
    startsecs=0
    autorestart=true
    startretries=1000
    stdout_logfile={logs}/crash2.log
    log_prefix=true

    [program:steady]
    command=sh -c 'while :; do echo tick; sleep 0.2; done'
    stdout_logfile={logs}/steady.log
    """


def episode_lines(t, pattern, since):
    """Lines of tend's stderr matching pattern that appeared after since."""
    return [line for when, line in t.err.stamped(pattern) if when >= since]


# --- no descriptors left ------------------------------------------------------------

def test_descriptors_exhausted_while_crash_looping_with_clients(
        faulty, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    t = faulty(CRASH_LOOP.format(logs=logs))
    wait_until(lambda: t.spawns("crash1") >= 3 and t.spawns("crash2") >= 3,
               what="the crash loops")
    poller = Poller(t.sock)
    base = steady(t.pid)
    original = limit(t.pid, "nofile")[0]
    began = time.time()
    set_limit(t.pid, "nofile", 3)       # not one new descriptor
    try:
        # clients keep connecting; spawns need pipes
        t.err.wait_for(rf"^tend: warning: spawnerr: cannot make the output "
                       rf"pipes of 'crash1': {EMFILE}$")
        t.err.wait_for(r"^tend: warning: control server: cannot accept")
        time.sleep(4)
        assert t.running()
    finally:
        set_limit(t.pid, "nofile", original)
    cleared = time.time()
    during_ok = poller.count()
    # recovery: clients are served, the crash loops go on
    wait_until(lambda: poller.count() > during_ok + 5, timeout=30,
               what="clients served again")
    spawned = t.spawns("crash1")
    wait_until(lambda: t.spawns("crash1") > spawned, timeout=40,
               what="crash1 spawned again")
    poller.stop()
    assert t.err.count(r"cannot fork") == 0, t.err.text()
    accept = episode_lines(t, r"control server: cannot accept", began)
    assert 1 <= len(accept) <= 10, "\n".join(accept)
    # spawn failures: one line for each attempt the backoff allowed
    attempts = episode_lines(t, r"spawnerr: cannot make the output pipes of "
                                r"'crash1'", began)
    assert 1 <= len(attempts) <= 8, "\n".join(attempts)
    back_to(t.pid, base)
    assert t.running()
    assert t.stop() == 0, t.err.text()


def test_an_accept_without_descriptors_is_reported_once_per_episode(
        faulty, tmp_path):
    t = faulty("""
    [program:steady]
    command=sleep 100000
    """)
    t.err.wait_for(r"^tend: success: steady entered RUNNING")
    original = limit(t.pid, "nofile")[0]
    poller = Poller(t.sock)
    set_limit(t.pid, "nofile", 3)
    try:
        t.err.wait_for(r"control server: cannot accept")
        time.sleep(4.5)
    finally:
        set_limit(t.pid, "nofile", original)
    ok = poller.count()
    wait_until(lambda: poller.count() > ok, what="clients served again")
    poller.stop()
    assert t.err.count(r"control server: cannot accept") == 1, t.err.text()


# --- fork failing ---------------------------------------------------------------------

UID = 54321         # a user of its own: RLIMIT_NPROC counts its processes


def processes_of(uid):
    n = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat(f"/proc/{p}").st_uid == uid:
                    n += 1
            except FileNotFoundError:
                pass
    return n


@pytest.fixture
def user_dir():
    """A directory that user UID owns, outside pytest's private tmp."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="tend-fault-"))
    os.chmod(d, 0o755)
    os.chown(d, UID, UID)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_user(*argv):
    return ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
            "--inh-caps=-all", *argv]


def test_fork_failing_during_a_crash_loop(faulty, user_dir):
    """tend runs as a user of its own with RLIMIT_NPROC at 20; the fault
    is that user's other processes taking all 20 (which the kernel counts
    per user), so that tend's forks fail with EAGAIN until they end."""
    if processes_of(UID):
        pytest.skip(f"uid {UID} has processes already")
    logs = user_dir / "logs"
    logs.mkdir()
    os.chown(logs, UID, UID)
    t = faulty(CRASH_LOOP.format(logs=logs), workdir=user_dir,
               prefix=["prlimit", "--nproc=20:20", *as_user()])
    wait_until(lambda: t.spawns("crash1") >= 3, what="the crash loop")
    poller = Poller(t.sock)
    base = steady(t.pid)
    began = time.time()
    fillers = [subprocess.Popen(as_user("sleep", "1000"))
               for _ in range(20)]
    try:
        t.err.wait_for(rf"^tend: warning: spawnerr: cannot fork 'crash\d': "
                       rf"{EAGAIN}$", timeout=30)
        time.sleep(4)
        assert t.running()
        assert poller.errors == [], poller.errors
    finally:
        for f in fillers:
            f.kill()
            f.wait()
    spawned = t.spawns("crash1") + t.spawns("crash2")
    wait_until(lambda: t.spawns("crash1") + t.spawns("crash2") > spawned + 2,
               timeout=40, what="the crash loops again")
    poller.stop()
    assert poller.errors == [], poller.errors
    assert poller.longest < 10, poller.longest
    for name in ("crash1", "crash2"):
        # a line for each attempt the backoff allowed, no flood
        failures = episode_lines(t, rf"spawnerr: cannot fork '{name}'", began)
        assert len(failures) <= 8, "\n".join(failures)
    back_to(t.pid, base)
    assert t.running()
    assert t.stop() == 0, t.err.text()


# --- a full filesystem under a log file ---------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs on a temporary directory, unmounted after."""
    path = tmp_path / "small"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755",
                    "tend-fault", str(path)], check=True)
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def fill(fs):
    """Fills fs to the last byte with a file; returns its path."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            os.write(fd, b"x" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_filesystem_under_a_log_file_twice(faulty, tmp_path,
                                                  small_fs):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = small_fs / "out.log"
    t = faulty(CRASH_LOOP.format(logs=logs) + f"""
    [program:writer]
    command=sh -c 'i=0; while :; do i=$((i+1)); echo line $i; sleep 0.01; done'
    stdout_logfile={log}
    stdout_logfile_maxbytes=0
    """)
    wait_until(lambda: log.exists() and log.stat().st_size > 1000,
               what="the writer's output")
    poller = Poller(t.sock)
    base = steady(t.pid)
    full = re.escape(f"tend: warning: {log}: No space left on device; "
                     "output is dropped until it can be written")
    again = re.escape(f"tend: warning: {log}: writing again, ") + \
        r"\d+ bytes of output were dropped$"
    for episode in (1, 2):
        filler = fill(small_fs)
        t.err.wait_for("^" + full, count=episode)
        time.sleep(2)
        assert t.err.count("^" + full) == episode, t.err.text()
        assert t.running()
        size = log.stat().st_size
        filler.unlink()
        t.err.wait_for("^" + again, count=episode)
        wait_until(lambda: log.stat().st_size > size, what="new output")
        # a fresh start for the next episode: the log emptied
        log.write_bytes(b"")
    poller.stop()
    assert poller.errors == [], poller.errors
    assert t.err.count("^" + full) == 2 and t.err.count("^" + again) == 2
    back_to(t.pid, base)
    assert t.stop() == 0, t.err.text()


# --- a log directory removed and recreated, then SIGUSR2 -----------------------------

def deleted_fds(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith(" (deleted)"):
                out.append(fd)
        except OSError:
            pass
    return out


def test_a_log_directory_removed_and_recreated_then_sigusr2(faulty,
                                                           tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    t = faulty(CRASH_LOOP.format(logs=logs))
    wait_until(lambda: t.spawns("crash1") >= 2, what="the crash loop")
    poller = Poller(t.sock)
    base = steady(t.pid)
    began = time.time()
    shutil.rmtree(logs)
    time.sleep(1)                   # written on into the deleted files
    assert t.running()
    os.kill(t.pid, signal.SIGUSR2)
    t.err.wait_for(r"^tend: SIGUSR2 received: ")
    (summary,) = episode_lines(t, r"^tend: SIGUSR2 received: ", began)
    assert summary == ("tend: SIGUSR2 received: 0 log files reopened, "
                       "4 could not be"), t.err.text()
    failed = episode_lines(t, r"cannot reopen", began)
    assert len(failed) == 4, "\n".join(failed)   # once each
    time.sleep(1)
    assert t.running()
    logs.mkdir()
    again = time.time()
    os.kill(t.pid, signal.SIGUSR2)
    t.err.wait_for(r"^tend: SIGUSR2 received: 4 log files reopened, 0 could "
                   r"not be$")
    wait_until(lambda: all((logs / n).exists() and (logs / n).stat().st_size
                           for n in ("crash1.log", "crash2.log",
                                     "steady.log")),
               what="output in the recreated directory")
    assert episode_lines(t, r"cannot reopen", again) == []
    poller.stop()
    assert poller.errors == [], poller.errors
    wait_until(lambda: deleted_fds(t.pid) == [],
               what="no descriptor left on a deleted file")
    back_to(t.pid, base)
    assert t.stop() == 0, t.err.text()


# --- 100,000 orphans -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def storm(tmp_path_factory):
    """orphan_storm built static (musl-gcc) if it can be, else with cc."""
    out = tmp_path_factory.mktemp("storm") / "orphan_storm"
    src = helper("orphan_storm.c")
    for cc in (["musl-gcc", "-static"], ["cc"]):
        if shutil.which(cc[0]) and subprocess.run(
                [*cc, "-O2", "-o", str(out), src]).returncode == 0:
            return out
    pytest.skip("no C compiler for the orphan helper")


def zombies_of(pid):
    n = 0
    for c in children_of(pid):
        try:
            with open(f"/proc/{c}/stat") as f:
                n += f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            pass
    return n


def test_100000_orphans_while_a_control_client_polls(faulty, tmp_path,
                                                     storm):
    done = tmp_path / "storm.out"
    t = faulty(f"""
    [program:storm]
    command=sh -c '{storm} 100000 2000 > {done}'
    autostart=false
    autorestart=false
    startsecs=0

    [program:steady]
    command=sleep 100000
    """)
    wait_until(lambda: get_json(t.sock, "/api/v1/programs/steady")["state"]
               == "RUNNING", what="steady RUNNING")
    base = steady(t.pid)
    poller = Poller(t.sock)
    status, _, data = ask(t.sock, "POST", "/api/v1/programs/storm/start")
    assert status == 200, data
    wait_until(lambda: done.exists() and done.read_text() == "made 100000\n",
               timeout=600, what="the orphans made")
    wait_until(lambda: len(children_of(t.pid)) == 1 and
               zombies_of(t.pid) == 0, timeout=60,
               what="every orphan reaped")
    poller.stop()
    assert poller.errors == [], poller.errors
    assert poller.ok > 10
    assert poller.longest < 10, f"a request waited {poller.longest:.1f} s"
    assert t.running()
    back_to(t.pid, base)
    assert t.stop() == 0, t.err.text()


# --- the control socket's directory -------------------------------------------------------

SLEEPER = """
    [program:steady]
    command=sleep 100000
    """

NO_SOCKET = r"^tend: warning: {path}: cannot make the control socket; " \
    r"running without it: .+$"


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only tmpfs on a directory, unmounted after."""
    path = tmp_path / "ro"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k",
                    "tend-fault", str(path)], check=True)
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.parametrize("fault", ["missing", "read-only"])
def test_a_control_socket_directory_that_cannot_take_it(
        faulty, tmp_path, request, fault):
    where = (tmp_path / "nosuch" if fault == "missing"
             else request.getfixturevalue("read_only_dir"))
    sock = where / "tend.sock"
    t = faulty(SLEEPER, sock=sock)
    pattern = NO_SOCKET.format(path=re.escape(str(sock)))
    t.err.wait_for(pattern)
    t.err.wait_for(r"^tend: success: steady entered RUNNING")
    base = steady(t.pid, 1)
    time.sleep(1)
    assert t.err.count(pattern) == 1, t.err.text()
    assert t.err.count(r"warning") == 1, t.err.text()
    assert t.running() and not sock.exists()
    # the fault clears: a reload (SIGHUP) makes the socket, with no new
    # warning
    if fault == "missing":
        where.mkdir()
    else:
        # tend's mount namespace holds its own copy of the mount
        for ns in ([], ["nsenter", "-t", str(t.pid), "-m"]):
            subprocess.run(ns + ["mount", "-o", "remount,rw", str(where)],
                           check=True)
    os.kill(t.pid, signal.SIGHUP)
    t.err.wait_for(r"^tend: SIGHUP received, reloading")
    wait_until(sock.exists, timeout=10, what="the socket made at last")
    assert get_json(sock, "/api/v1/tend")["phase"] == "running"
    assert t.running()
    assert t.err.count(pattern) == 1, t.err.text()
    assert t.err.count(r"warning") == 1, t.err.text()
    back_to(t.pid, (base[0] + 1, base[1]))     # and the socket, listening
    assert t.stop() == 0, t.err.text()


def test_a_control_socket_directory_that_appears_later_gets_the_socket(
        faulty, tmp_path):
    where = tmp_path / "later"
    sock = where / "tend.sock"
    t = faulty(SLEEPER, sock=sock)
    t.err.wait_for(NO_SOCKET.format(path=re.escape(str(sock))))
    where.mkdir()
    os.kill(t.pid, signal.SIGHUP)
    wait_until(sock.exists, timeout=10, what="the socket made at last")


def test_the_control_sockets_directory_removed_while_tend_runs(
        faulty, tmp_path):
    where = tmp_path / "run"
    where.mkdir()
    sock = where / "tend.sock"
    t = faulty(SLEEPER, sock=sock)
    wait_until(sock.exists, what="the control socket")
    assert get_json(sock, "/api/v1/tend")["phase"] == "running"
    base = steady(t.pid, 1)
    shutil.rmtree(where)
    time.sleep(0.5)
    with pytest.raises(OSError):
        ask(sock, "GET", "/livez")
    assert t.running()
    assert t.err.count(r"warning") == 0, t.err.text()
    # another server's socket at the same path is not tend's to remove
    where.mkdir()
    other = subprocess.Popen(
        [TEND, "-c", str(t.conf)], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ, TEND_CONTROL_SOCKET=str(sock)))
    try:
        wait_until(sock.exists, what="the second tend's socket")
        back_to(t.pid, base)
        assert t.stop() == 0, t.err.text()
        assert sock.exists(), "tend removed a socket that was not its own"
        assert get_json(sock, "/api/v1/tend")["pid"] == other.pid
    finally:
        other.terminate()
        other.wait(30)
