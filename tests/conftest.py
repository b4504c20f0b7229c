"""Shared test machinery: running the real static tend binary either as
PID 1 of a fresh PID namespace or as an ordinary child (subreaper)."""
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TEND_BIN runs the suite against another build (the sanitized one); it
# is taken out of the environment, where tend would refuse a TEND_* it
# does not know.
TEND = os.environ.pop("TEND_BIN", "") or os.path.join(ROOT, "tend")
HELPERS = os.path.join(ROOT, "tests", "helpers")
PYTHON = sys.executable
MODES = ["pid1", "child"]

# Never pick up a configuration installed on the machine (Debian's
# supervisor package creates /etc/supervisor/supervisord.conf): an empty
# TEND_CONFIG means "no file". Tests that want one pass -c.
os.environ["TEND_CONFIG"] = ""
# Nor the machine's /run/tend.sock: tests that want a control socket
# name a private one.
os.environ["TEND_CONTROL_SOCKET"] = "none"


def helper(name):
    return os.path.join(HELPERS, name)


def tend_argv(mode, args):
    if mode == "pid1":
        return ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
                TEND, *args]
    return [TEND, *args]


def wait_until(predicate, timeout=20.0, what="condition"):
    """Polls a condition on a loaded machine; fails after a generous timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return None


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Tend:
    """A running tend; .pid is tend's pid as seen from the test."""

    def __init__(self, mode, args, **popen):
        self.mode = mode
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        self.proc = subprocess.Popen(tend_argv(mode, args), **popen)
        if mode == "pid1":
            self.pid = wait_until(lambda: (children_of(self.proc.pid) or [0])[0],
                                  what="tend to start in its namespace")
        else:
            self.pid = self.proc.pid

    def kill(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout=30):
        out, err = self.proc.communicate(timeout=timeout)
        self.out = out.decode() if out is not None else ""
        self.err = err.decode() if err is not None else ""
        return self.proc.returncode

    def descendants(self):
        todo, found = [self.pid], []
        while todo:
            for c in children_of(todo.pop()):
                found.append(c)
                todo.append(c)
        return found

    def close(self):
        if self.proc.poll() is None:
            for pid in self.descendants():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def tend():
    """Starts tends and makes sure none outlives the test."""
    started = []

    def start(mode, args, **popen):
        t = Tend(mode, args, **popen)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()


def run_tend(mode, args, timeout=30, **kw):
    kw.setdefault("capture_output", True)
    return subprocess.run(tend_argv(mode, args), timeout=timeout, text=True, **kw)


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    passed = len(stats.get("passed", []))
    failed = len(stats.get("failed", [])) + len(stats.get("error", []))
    skipped = len(stats.get("skipped", []))
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    terminalreporter.write_line(line)
