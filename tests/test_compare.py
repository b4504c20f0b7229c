"""tend against supervisord itself: the same [program:x] configuration runs
under both (each as PID 1 of its own PID namespace, side by side), and the
per-program sequences of state-change log lines (spawned, success, exited,
gave up, stopped) and the spawn counts must be identical.

supervisord (Debian's supervisor 4.2.5) checks its timers on a 1 s tick,
tend on exact deadlines, so every lifetime below is at least 0.5 s away
from a startsecs boundary: the tick cannot change an outcome, only delay
it. Timing is compared only loosely.

One race of supervisord's sets the startsecs of the programs that die at
once: it wakes up on the EOF of a child's output pipes, which the kernel
closes before the child becomes a zombie, so its waitpid() can come too
early; the child is then reaped on the next tick, up to 1 s later, with
transition() running first. With startsecs=1 that is right on the
boundary: the dead child is declared RUNNING ("success:"), its exit is a
RUNNING -> EXITED that autorestart restarts. startsecs=2 leaves a margin
of about 1 s."""
import datetime
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import TEND, alive, children_of, wait_until

SUPERVISORD = "/usr/bin/supervisord"

# One file for both: %(here)s (the file's directory) keeps every path of a
# run inside that run's own directory, so the two copies are byte-identical.
CONFIG = """\
[supervisord]
nodaemon = true
user = root
loglevel = info
logfile = %(here)s/supervisord.log
pidfile = %(here)s/supervisord.pid
childlogdir = %(here)s

; healthy: STARTING, RUNNING after startsecs, stopped at the end
[program:healthy]
command = sleep 600
startsecs = 1

; crash loop: every run exits 1 at once, within startsecs: BACKOFF, a retry
; after 1 s then 2 s, then FATAL: 3 spawns (startsecs=2: see above)
[program:crashloop]
command = sh -c 'exit 1'
startsecs = 2
startretries = 2

; oneshot: up 1.5 s > startsecs, so RUNNING, then an expected exit that
; autorestart=unexpected does not restart
[program:oneshot]
command = sh -c 'sleep 1.5; exit 0'
startsecs = 1
autorestart = unexpected

; flaky: runs 1 and 2 reach RUNNING and exit 3 (not expected) after 1.6 s,
; so they are restarted; run 3 (counted in a file) stays up until the end
[program:flaky]
command = sh -c 'n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n >runs; [ $n -ge 3 ] && exec sleep 600; sleep 1.6; exit 3'
directory = %(here)s
startsecs = 1
autorestart = unexpected

; no retry: one failed start, then FATAL at once (startsecs=2: see above)
[program:once]
command = sh -c 'exit 2'
startsecs = 2
startretries = 0
"""

PROGRAMS = ["healthy", "crashloop", "oneshot", "flaky", "once"]

# What supervisord is meant to do with CONFIG: a check of the harness, so
# that a comparison of two equally wrong runs cannot pass.
FAILED = "exited (exit status {}; not expected)"
EXPECTED = {
    "healthy": ["spawned", "success", "stopped (terminated by SIGTERM)"],
    "crashloop": ["spawned", FAILED.format(1)] * 3 + ["gave up"],
    "oneshot": ["spawned", "success", "exited (exit status 0; expected)"],
    "flaky": ["spawned", "success", FAILED.format(3)] * 2 +
             ["spawned", "success", "stopped (terminated by SIGTERM)"],
    "once": ["spawned", FAILED.format(2), "gave up"],
}

# The message of each state-change line, the same words in both logs.
EVENTS = [
    (re.compile(r"spawned: '([^']+)' with pid \d+$"), lambda m: "spawned"),
    (re.compile(r"success: (\S+) entered RUNNING state"), lambda m: "success"),
    (re.compile(r"exited: (\S+) \((.*)\)$"), lambda m: f"exited ({m[2]})"),
    (re.compile(r"gave up: (\S+) entered FATAL state"), lambda m: "gave up"),
    (re.compile(r"stopped: (\S+) \((.*)\)$"), lambda m: f"stopped ({m[2]})"),
    (re.compile(r"spawnerr: .*'([^']+)'"), lambda m: "spawnerr"),
    (re.compile(r"killing '([^']+)' \(\d+\) with (\S+)"),
     lambda m: f"killing with {m[2]}"),
]


def parse(lines):
    """[(time, line)] -> {program: [(time, event, line)]}, in log order."""
    seqs = {}
    for t, line in lines:
        for rx, event in EVENTS:
            m = rx.search(line)
            if m:
                seqs.setdefault(m[1], []).append((t, event(m), line))
                break
    return seqs


def events(seqs, name):
    return [e for _, e, _ in seqs.get(name, [])]


def finished(seqs):
    """Every program has reached the state it keeps until the shutdown."""
    def count(name, event):
        return events(seqs, name).count(event)
    return (count("healthy", "success") == 1 and
            count("crashloop", "gave up") == 1 and
            count("oneshot", "exited (exit status 0; expected)") == 1 and
            count("flaky", "success") == 3 and
            count("once", "gave up") == 1)


class Namespaced:
    """A supervisor as PID 1 of a fresh PID namespace (unshare --kill-child:
    killing unshare kills the supervisor, and with it the namespace)."""

    def __init__(self, argv, cwd, stdout, stderr):
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
             *argv], cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=stderr, start_new_session=True)
        self.pid = wait_until(lambda: (children_of(self.proc.pid) or [0])[0],
                              what=f"{argv[0]} to start in its namespace")

    def terminate(self):
        os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.kill()
            self.proc.wait(timeout=10)
        # the namespace's init is gone, so is every process it held
        wait_until(lambda: not alive(self.pid), timeout=10,
                   what=f"pid {self.pid} to end")


class TendRun(Namespaced):
    """tend -vv -c FILE; stderr lines are stamped as they arrive."""

    def __init__(self, conf, cwd):
        super().__init__([TEND, "-vv", "-c", conf], cwd,
                         subprocess.DEVNULL, subprocess.PIPE)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append((time.time(), raw.decode(errors="replace")
                               .rstrip("\n")))

    def log(self):
        return list(self.lines)

    def close(self):
        super().close()
        self.reader.join(timeout=10)


class SupervisordRun(Namespaced):
    """supervisord -n -c FILE; its log file has millisecond timestamps."""

    STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (.*)$")

    def __init__(self, conf, cwd):
        self.logfile = os.path.join(cwd, "supervisord.log")
        self.out = open(os.path.join(cwd, "supervisord.out"), "wb")
        super().__init__([SUPERVISORD, "-n", "-c", conf], cwd,
                         self.out, subprocess.STDOUT)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        lines = []
        for line in text.splitlines():
            m = self.STAMP.match(line)
            if m:
                t = datetime.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S")
                lines.append((t.timestamp() + int(m[2]) / 1000, m[3]))
        return lines

    def close(self):
        try:
            super().close()
        finally:
            self.out.close()


def relevant(lines, name=None):
    """The state-change lines of a log (of one program), for messages."""
    seqs = parse(lines)
    names = [name] if name else sorted(seqs)
    return "\n".join(f"    {line}" for n in names
                     for _, _, line in seqs.get(n, []))


@pytest.mark.skipif(not os.access(SUPERVISORD, os.X_OK),
                    reason="supervisord is not installed")
def test_same_state_sequences_and_spawn_counts_as_supervisord(tmp_path):
    confs = {}
    for which in ("tend", "supervisord"):
        d = tmp_path / which
        d.mkdir()
        (d / "supervisord.conf").write_text(CONFIG)
        confs[which] = (str(d / "supervisord.conf"), str(d))

    runs = {}
    start = time.monotonic()
    try:
        runs["supervisord"] = SupervisordRun(*confs["supervisord"])
        runs["tend"] = TendRun(*confs["tend"])

        # Both run side by side until every program has reached its final
        # state (crashloop's 1 s + 2 s of backoff plus supervisord's ticks
        # take about 5 s), then a little longer, so that a wrong restart
        # (supervisord's comes on its next tick, within 1 s) would show.
        deadline = time.monotonic() + 25
        while not all(finished(parse(r.log())) for r in runs.values()):
            if time.monotonic() > deadline:
                pytest.fail("not every program reached its final state "
                            "within 25 s:\n" + "\n".join(
                                f"  {w}:\n{relevant(r.log())}"
                                for w, r in runs.items()))
            time.sleep(0.05)
        time.sleep(1.5)
        settled = {w: {n: events(parse(r.log()), n) for n in PROGRAMS}
                   for w, r in runs.items()}

        # SIGTERM: supervisord stops one group (program) per tick, in
        # reverse priority order, so its shutdown takes about 5 s.
        for run in runs.values():
            run.terminate()
        status = {w: r.wait(timeout=25) for w, r in runs.items()}
    finally:
        for run in runs.values():
            run.close()
    elapsed = time.monotonic() - start

    logs = {w: r.log() for w, r in runs.items()}
    seqs = {w: parse(lines) for w, lines in logs.items()}
    got = {w: {n: events(s, n) for n in PROGRAMS} for w, s in seqs.items()}
    for which, s in seqs.items():	# shown with a failure, or with -s
        t0 = min((t for n in s for t, _, _ in s[n]), default=0)
        print(f"{which} (exit {status[which]}, run {elapsed:.1f} s):")
        for name in PROGRAMS:
            print(f"  {name}: " + ", ".join(
                f"{e} @{t - t0:.2f}" for t, e, _ in s.get(name, [])))

    # Nothing happened between the final states and the SIGTERM but the
    # final states themselves: no restart of an EXITED or FATAL program.
    for which in runs:
        for name in PROGRAMS:
            assert got[which][name][:len(settled[which][name])] == \
                settled[which][name]
            extra = got[which][name][len(settled[which][name]):]
            assert all(e.startswith(("stopped", "killing")) for e in extra), \
                f"{which}: {name} did more than stop after the SIGTERM:\n" \
                f"{relevant(logs[which], name)}"

    # The comparison itself: per program, the same events in the same order,
    # so the same number of spawns.
    diffs = []
    for name in PROGRAMS:
        t, s = got["tend"][name], got["supervisord"][name]
        if t != s or t.count("spawned") != s.count("spawned"):
            diffs.append(f"{name}: tend {t}\n  supervisord {s}\n"
                         f"  tend's lines:\n{relevant(logs['tend'], name)}\n"
                         f"  supervisord's lines:\n"
                         f"{relevant(logs['supervisord'], name)}")
    assert not diffs, "tend and supervisord differ:\n" + "\n".join(diffs)

    # And both did what the configuration means (the harness works).
    assert got["supervisord"] == EXPECTED, relevant(logs["supervisord"])
    assert {n: got["tend"][n].count("spawned") for n in PROGRAMS} == \
        {"healthy": 1, "crashloop": 3, "oneshot": 1, "flaky": 3, "once": 1}

    # Both exited on their own after the SIGTERM, having stopped everything.
    assert status["tend"] == 0, relevant(logs["tend"])
    assert status["supervisord"] == 0, relevant(logs["supervisord"])

    # Timing, loosely: crashloop's retries come 1 s then 2 s after each
    # failure (supervisord: up to a tick later each), and the oneshot's
    # exit 1.5 s after its spawn.
    for which, s in seqs.items():
        spawns = [t for t, e, _ in s["crashloop"] if e == "spawned"]
        assert 2.5 <= spawns[2] - spawns[0] <= 8, (which, spawns)
        one = [t for t, _, _ in s["oneshot"]]
        assert 1.2 <= one[-1] - one[0] <= 5, (which, one)

    assert elapsed < 60
