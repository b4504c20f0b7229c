"""tend as a supervisor of supervisord-style [program:x] sections: the
state machine, exact timers, the set-up of children, output, start and
stop order, the shutdown budget, the critical-program exit contract, the
command after --, --check, configuration errors and warnings, environment
overrides, and the project's design example.

tend's stderr and stdout go to files that a thread tails, stamping every
line with the time it appeared, so tests can wait for lines and measure
the gaps between them. Programs that must report what they saw use the
helpers probe.py (their set-up, as JSON on stdout) and sigrec.py (the
signals they got and when, in a file)."""
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import textwrap
import threading
import time
import urllib.request

import pytest

from conftest import (MODES, PYTHON, Tend, alive, children_of, helper,
                      run_tend, tend_argv, wait_until)

PROBE = helper("probe.py")
SIGREC = helper("sigrec.py")

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (PID namespaces, user=)")


# --- machinery ---------------------------------------------------------------

class Lines:
    """A file that tend writes, tailed by a thread: each complete line is
    stamped with time.time() when it appears."""

    def __init__(self, path):
        self.path = path
        self._items = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._tail, daemon=True)
        self._thread.start()

    def _tail(self):
        pending = b""
        with open(self.path, "rb") as f:
            while True:
                finishing = self._done.is_set()
                chunk = f.read()
                if chunk:
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    now = time.time()
                    with self._lock:
                        self._items.extend(
                            (now, line.decode(errors="replace"))
                            for line in complete)
                elif finishing:
                    return
                else:
                    time.sleep(0.005)

    def stop(self):
        self._done.set()
        self._thread.join(5)

    def stamped(self, pattern=None):
        """(time, line) pairs, those matching pattern (a regex) if given."""
        with self._lock:
            items = list(self._items)
        if pattern is None:
            return items
        return [(t, line) for t, line in items if re.search(pattern, line)]

    def lines(self, pattern=None):
        return [line for _, line in self.stamped(pattern)]

    def text(self):
        return "\n".join(self.lines())

    def count(self, pattern):
        return len(self.stamped(pattern))

    def wait_for(self, pattern, count=1, timeout=20.0):
        """Waits for count lines matching pattern; returns the time the
        count-th appeared."""
        wait_until(lambda: len(self.stamped(pattern)) >= count,
                   timeout=timeout,
                   what=f"{count} line(s) matching {pattern!r} in "
                        f"{self.path.name}; so far:\n{self.text()}")
        return self.stamped(pattern)[count - 1][0]


class QuickTend(Tend):
    """conftest's Tend, but one that may exit at once: as PID 1, its pid
    is looked for only while unshare still runs (-1 if it has gone)."""

    def __init__(self, mode, args, **popen):
        self.mode = mode
        self.proc = subprocess.Popen(tend_argv(mode, args), **popen)
        if mode == "pid1":
            self.pid = wait_until(
                lambda: (children_of(self.proc.pid) or [0])[0] or
                (self.proc.poll() is not None and -1),
                what="tend to start in its namespace")
        else:
            self.pid = self.proc.pid


class Supervisor:
    """One tend started on an INI file (None: no -c), its stderr and
    stdout tailed."""

    def __init__(self, workdir, ini, mode, args, command, env, popen):
        workdir.mkdir(parents=True, exist_ok=True)
        self.dir = workdir
        self.conf = None
        argv = list(args)
        if ini is not None:
            self.conf = workdir / "tend.ini"
            self.conf.write_text(textwrap.dedent(ini).lstrip("\n"))
            argv = ["-c", str(self.conf), *argv]
        if command:
            argv += ["--", *command]
        err_path, out_path = workdir / "tend.stderr", workdir / "tend.stdout"
        with open(err_path, "wb") as errf, open(out_path, "wb") as outf:
            self.started = time.time()
            self.t = QuickTend(mode, argv, stdout=outf, stderr=errf,
                               env=env, **popen)
        self.err = Lines(err_path)
        self.out = Lines(out_path)
        self.rc = None
        self.ended = None

    @property
    def pid(self):
        return self.t.pid

    def spawns(self, name):
        """Times at which 'spawned: NAME' lines appeared."""
        return [t for t, _ in self.err.stamped(
            rf"^tend: spawned: '{re.escape(name)}' with pid \d+$")]

    def wait(self, timeout=30):
        """Waits for tend to exit; its output is then read to the end."""
        self.rc = self.t.proc.wait(timeout=timeout)
        self.ended = time.time()
        self.err.stop()
        self.out.stop()
        return self.rc

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig to tend and waits for it: (exit status, seconds)."""
        sent = time.time()
        self.t.kill(sig)
        rc = self.wait(timeout)
        return rc, self.ended - sent

    def running(self):
        return self.t.proc.poll() is None

    def close(self):
        """Stops tailing; kills tend and its tree if still running."""
        self.err.stop()
        self.out.stop()
        self.t.close()


@pytest.fixture
def supervise(tmp_path):
    """supervise(ini, mode="pid1", args=(), command=(), env=None, **popen)
    writes the INI and starts tend on it."""
    runs = []

    def start(ini, mode="pid1", args=(), command=(), env=None, **popen):
        s = Supervisor(tmp_path / f"run{len(runs)}", ini, mode, args,
                       command, env, popen)
        runs.append(s)
        return s

    yield start
    for s in runs:
        s.close()


def records(path):
    """sigrec.py's log: (name, event, time) triples."""
    try:
        with open(path) as f:
            return [(n, e, float(t)) for n, e, t in
                    (line.split() for line in f if line.strip())]
    except FileNotFoundError:
        return []


def record_time(path, name, event):
    for n, e, t in records(path):
        if (n, e) == (name, event):
            return t
    return None


def wait_record(path, name, event, timeout=20.0):
    return wait_until(lambda: record_time(path, name, event),
                      timeout=timeout,
                      what=f"{name} {event} in {path}: {records(path)}")


def sigrec(log, name, *opts):
    """A command= line running sigrec.py."""
    return " ".join([PYTHON, SIGREC, str(log), name, *opts])


def probe_report(s, timeout=20.0):
    """The JSON that probe.py printed on tend's stdout."""
    line = wait_until(lambda: s.out.lines(r"^PROBE "), timeout=timeout,
                      what=f"the probe's report; stderr:\n{s.err.text()}")[0]
    return json.loads(line[len("PROBE "):])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_of(status_text, key):
    for line in status_text.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return None


def line_of(text, needle):
    """1-based number of the line of the dedented INI text holding needle."""
    for i, line in enumerate(textwrap.dedent(text).lstrip("\n").splitlines()):
        if needle in line:
            return i + 1
    raise AssertionError(f"{needle!r} not in the INI")


SPAWN_TIMES = "sh -c 'date +%%s.%%N >> {path}{then}'"


def spawn_times(path):
    try:
        with open(path) as f:
            return [float(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


# --- the state machine --------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_failed_starts_back_off_1_2_3_seconds_then_fatal(supervise, tmp_path,
                                                         mode):
    # Each run lasts 0.5 s, within startsecs=2, and exits 0, a code listed
    # in exitcodes: still a failed start. The delays before the retries
    # are measured from each failure.
    started, failed = tmp_path / "started", tmp_path / "failed"
    s = supervise(f"""
        [program:flaky]
        command=sh -c 'date +%%s.%%N >> {started}; sleep 0.5; date +%%s.%%N >> {failed}; exit 0'
        startsecs=2
        startretries=3
        exitcodes=0
        autorestart=true
        """, mode=mode, args=["-v"])
    fatal_at = s.err.wait_for(r"^tend: gave up: flaky entered FATAL state, "
                              r"too many start retries too quickly$",
                              timeout=30)
    starts, failures = spawn_times(started), spawn_times(failed)
    assert len(starts) == 4, s.err.text()
    assert len(failures) == 4, s.err.text()
    assert len(s.spawns("flaky")) == 4
    delays = [b - a for a, b in zip(failures, starts[1:])]
    for expected, delay in zip([1, 2, 3], delays):
        assert expected - 0.1 <= delay <= expected + 0.9, delays
    assert 7.8 <= fatal_at - starts[0] <= 11, fatal_at - starts[0]
    assert fatal_at - failures[-1] < 0.5
    assert s.err.count(r"^tend: warning: exited: flaky \(exit status 0; "
                       r"not expected\)$") == 4
    assert s.err.count(r"^tend: debug: flaky: STARTING -> BACKOFF$") == 4
    assert s.err.count(r"^tend: debug: flaky: BACKOFF -> STARTING$") == 3
    assert s.err.count(r"^tend: debug: flaky: BACKOFF -> FATAL$") == 1
    assert s.err.count(r"RUNNING") == 0
    time.sleep(1.5)
    assert len(spawn_times(started)) == 4, "spawned again after FATAL"
    assert s.running()


def test_startretries_0_gives_up_after_one_attempt(supervise, tmp_path):
    spawned = tmp_path / "spawned"
    s = supervise(f"""
        [program:once]
        command={SPAWN_TIMES.format(path=spawned, then="; exit 1")}
        startretries=0
        """)
    s.err.wait_for(r"^tend: gave up: once entered FATAL state")
    time.sleep(1.5)
    assert len(spawn_times(spawned)) == 1
    assert len(s.spawns("once")) == 1


def test_crash_within_startsecs_retries_even_with_autorestart_false(
        supervise, tmp_path):
    spawned = tmp_path / "spawned"
    s = supervise(f"""
        [program:early]
        command={SPAWN_TIMES.format(path=spawned, then="; exit 1")}
        autorestart=false
        startretries=2
        """, args=["-v"])
    s.err.wait_for(r"^tend: gave up: early entered FATAL state")
    assert len(spawn_times(spawned)) == 3
    assert s.err.count(r"^tend: debug: early: STARTING -> BACKOFF$") == 3


def test_autorestart_false_does_not_restart_after_running(supervise,
                                                          tmp_path):
    spawned = tmp_path / "spawned"
    s = supervise(f"""
        [program:oneshot]
        command={SPAWN_TIMES.format(path=spawned, then="; exit 3")}
        startsecs=0
        autorestart=false
        """, args=["-v"])
    s.err.wait_for(r"^tend: warning: exited: oneshot \(exit status 3; "
                   r"not expected\)$")
    time.sleep(1.5)
    assert len(spawn_times(spawned)) == 1
    assert s.err.count(r"^tend: debug: oneshot: RUNNING -> EXITED$") == 1
    assert s.running()


def test_autorestart_unexpected_restarts_only_on_codes_not_in_exitcodes(
        supervise, tmp_path):
    # The first run exits 3 (unexpected: restarted), the second exits 2
    # (listed in exitcodes: left EXITED).
    count = tmp_path / "count"
    s = supervise(f"""
        [program:picky]
        command=sh -c 'n=$(cat {count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {count}; [ $n = 1 ] && exit 3; exit 2'
        startsecs=0
        autorestart=unexpected
        exitcodes=0,2
        """)
    s.err.wait_for(r"^tend: warning: exited: picky \(exit status 3; "
                   r"not expected\)$")
    s.err.wait_for(r"^tend: exited: picky \(exit status 2; expected\)$")
    time.sleep(1.5)
    assert len(s.spawns("picky")) == 2
    assert count.read_text().split() == ["2"]


def test_autorestart_true_restarts_after_an_expected_exit(supervise):
    s = supervise("""
        [program:always]
        command=sh -c 'exit 0'
        startsecs=0
        autorestart=true
        exitcodes=0
        """)
    s.err.wait_for(r"^tend: spawned: 'always'", count=3)
    assert s.err.count(r"^tend: exited: always \(exit status 0; "
                       r"expected\)$") >= 2
    assert s.err.count(r"not expected") == 0


def test_death_by_signal_is_never_expected(supervise):
    s = supervise("""
        [program:victim]
        command=sh -c 'kill -KILL $$'
        startsecs=0
        exitcodes=0
        autorestart=unexpected
        """)
    s.err.wait_for(r"^tend: warning: exited: victim \(terminated by SIGKILL; "
                   r"not expected\)$")
    s.err.wait_for(r"^tend: spawned: 'victim'", count=2)


def test_stop_sends_the_configured_stopsignal(supervise, tmp_path):
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:gentle]
        command={sigrec(log, "gentle")}
        stopsignal=INT
        """, args=["-t", "20"])
    wait_record(log, "gentle", "ready")
    rc, _ = s.stop()
    assert rc == 0, s.err.text()
    events = [e for n, e, _ in records(log) if n == "gentle"]
    assert events == ["ready", "SIGINT", "exit"]
    assert s.err.count(r"^tend: stopped: gentle \(exit status 0\)$") == 1


def test_stop_escalates_to_sigkill_after_stopwaitsecs(supervise, tmp_path):
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:stubborn]
        command={sigrec(log, "stubborn", "--ignore", "TERM")}
        stopwaitsecs=1
        """, args=["-t", "20"])
    wait_record(log, "stubborn", "ready")
    rc, elapsed = s.stop()
    termed = record_time(log, "stubborn", "SIGTERM")
    (killing_at, _), = s.err.stamped(
        r"^tend: warning: killing 'stubborn' \(\d+\) with SIGKILL$")
    assert 0.9 <= killing_at - termed <= 3.5, killing_at - termed
    assert s.err.count(r"^tend: warning: stopped: stubborn \(terminated by "
                       r"SIGKILL\)$") == 1
    assert elapsed < 6, "waited for the budget instead of stopwaitsecs"
    assert rc == 0, s.err.text()


def test_stopasgroup_signals_the_whole_process_group(supervise, tmp_path):
    # Both programs have a child in their group and stop on USR1; only
    # the group-stopped one's child gets USR1 (the other's gets SIGTERM
    # later, as a leftover process of the tree).
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:grouped]
        command={sigrec(log, "grouped", "--child")}
        stopsignal=USR1
        stopasgroup=true

        [program:alone]
        command={sigrec(log, "alone", "--child")}
        stopsignal=USR1
        """, args=["-t", "20"])
    wait_record(log, "grouped", "ready")
    wait_record(log, "alone", "ready")
    rc, _ = s.stop()
    assert rc == 0, s.err.text()
    assert record_time(log, "grouped", "SIGUSR1")
    assert record_time(log, "grouped.child", "SIGUSR1"), records(log)
    assert record_time(log, "alone", "SIGUSR1")
    assert record_time(log, "alone.child", "SIGUSR1") is None, records(log)


def test_crash_loop_with_startsecs_0_is_throttled_and_cheap(supervise):
    s = supervise("""
        [program:crasher]
        command=false
        startsecs=0
        autorestart=true
        """)
    first = s.err.wait_for(r"^tend: spawned: 'crasher'")
    cpu_before = cpu_seconds(s.pid)
    time.sleep(max(0.0, 3 - (time.time() - first)))
    spawns = [t for t in s.spawns("crasher") if t - first < 3]
    assert 2 <= len(spawns) <= 5, len(spawns)
    assert cpu_seconds(s.pid) - cpu_before < 0.5
    assert cpu_seconds(s.pid) < 0.5


# --- timers -----------------------------------------------------------------

def test_startsecs_is_an_exact_timer_and_the_first_spawn_is_immediate(
        supervise):
    s = supervise("""
        [program:slow]
        command=sleep 1000
        startsecs=2
        """)
    spawned = s.err.wait_for(r"^tend: spawned: 'slow'")
    running = s.err.wait_for(r"^tend: success: slow entered RUNNING state, "
                             r"process has stayed up for > than 2 seconds "
                             r"\(startsecs\)$")
    assert spawned - s.started < 0.5, spawned - s.started
    assert 1.9 <= running - spawned <= 4, running - spawned


# --- children -------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_child_has_own_group_devnull_stdin_and_only_fds_0_1_2(supervise,
                                                               mode):
    leaked = os.open("/dev/null", os.O_RDONLY)   # inheritable, tend gets it
    try:
        s = supervise(f"""
            [program:probe]
            command={PYTHON} {PROBE}
            """, mode=mode, pass_fds=(leaked,))
        report = probe_report(s)
    finally:
        os.close(leaked)
    assert report["pgid"] == report["pid"]
    assert report["stdin"] == "/dev/null"
    assert report["fds"] == [0, 1, 2]


@pytest.mark.parametrize("mode", MODES)
def test_child_has_a_clean_signal_mask_and_no_ignored_signals(supervise,
                                                               mode):
    def dirty_signal_state():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM,
                                                  signal.SIGUSR1})
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    s = supervise("""
        [program:status]
        command=cat /proc/self/status
        startsecs=0
        autorestart=false
        """, mode=mode, preexec_fn=dirty_signal_state)
    s.out.wait_for(r"^SigIgn:")
    s.out.wait_for(r"^SigBlk:")
    status = s.out.text()
    assert status_of(status, "SigBlk") == "0000000000000000", status
    assert status_of(status, "SigIgn") == "0000000000000000", status


def test_child_environment_is_tends_plus_supervisor_vars_global_then_program(
        supervise):
    env = dict(os.environ, FROM_TEND="tend", LAYER2="tend", LAYER3="tend",
               TEND_SHUTDOWN_TIMEOUT="5")
    s = supervise(f"""
        [supervisord]
        environment=LAYER2="global",LAYER3="global",GLOBAL_ONLY=g

        [program:probe]
        command={PYTHON} {PROBE}
        environment=LAYER3="program",PROGRAM_ONLY='p q'
        """, env=env)
    child = probe_report(s)["env"]
    assert child["FROM_TEND"] == "tend"
    assert child["PATH"] == os.environ["PATH"]
    assert child["SUPERVISOR_ENABLED"] == "1"
    assert child["SUPERVISOR_PROCESS_NAME"] == "probe"
    assert child["SUPERVISOR_GROUP_NAME"] == "probe"
    assert child["GLOBAL_ONLY"] == "g"
    assert child["LAYER2"] == "global"
    assert child["LAYER3"] == "program"
    assert child["PROGRAM_ONLY"] == "p q"
    assert [k for k in child if k.startswith("TEND_")] == []


def test_directory_and_umask_are_applied(supervise, tmp_path):
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    s = supervise(f"""
        [program:probe]
        command={PYTHON} {PROBE}
        directory={workdir}
        umask=077
        """, cwd="/")
    report = probe_report(s)
    assert report["cwd"] == str(workdir)
    assert report["umask"] == 0o077


def user_with_supplementary_groups():
    with open("/etc/group") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) == 4 and fields[3]:
                return fields[3].split(",")[0]
    return None


@pytest.mark.parametrize("user", ["nobody", "with-groups"])
def test_user_sets_uid_gid_and_supplementary_groups(supervise, user):
    if user == "with-groups":
        user = user_with_supplementary_groups()
        if user is None:
            pytest.skip("no user in /etc/group has supplementary groups")
    pw = pwd.getpwnam(user)
    s = supervise(f"""
        [program:probe]
        command={PYTHON} {PROBE}
        user={user}
        """, cwd="/")
    report = probe_report(s)
    assert (report["uid"], report["euid"]) == (pw.pw_uid, pw.pw_uid)
    assert (report["gid"], report["egid"]) == (pw.pw_gid, pw.pw_gid)
    assert report["groups"] == sorted(set(os.getgrouplist(user, pw.pw_gid)))


def test_chdir_failure_is_reported_and_is_a_failed_start(supervise):
    s = supervise("""
        [program:lost]
        command=sleep 1000
        directory=/nonexistent
        startretries=1
        """, args=["-v"])
    s.err.wait_for(r"^tend: gave up: lost entered FATAL state")
    assert s.err.count(r"^tend: error: lost: cannot chdir to /nonexistent: "
                       r"No such file or directory$") == 2
    assert s.err.count(r"^tend: debug: lost: STARTING -> BACKOFF$") == 2
    assert s.err.count(r"RUNNING") == 0


def test_exec_failure_is_reported_and_is_a_failed_start(supervise):
    s = supervise("""
        [program:ghost]
        command=/nonexistent --flag
        startretries=1
        """, args=["-v"])
    s.err.wait_for(r"^tend: gave up: ghost entered FATAL state")
    assert s.err.count(r"^tend: error: ghost: cannot execute '/nonexistent': "
                       r"No such file or directory$") == 2
    assert s.err.count(r"^tend: debug: ghost: STARTING -> BACKOFF$") == 2


# --- output ---------------------------------------------------------------------

def test_output_goes_to_tends_stdout_and_stderr_by_default(supervise):
    s = supervise("""
        [program:talker]
        command=sh -c 'echo to-stdout; echo to-stderr >&2; exec sleep 1000'
        """)
    s.out.wait_for(r"^to-stdout$")
    s.err.wait_for(r"^to-stderr$")
    assert "to-stderr" not in s.out.text()
    assert "to-stdout" not in s.err.text()


def test_stdout_logfile_is_appended_to(supervise, tmp_path):
    logfile = tmp_path / "talker.log"
    logfile.write_text("earlier\n")
    s = supervise(f"""
        [program:talker]
        command=sh -c 'echo to-stdout; echo to-stderr >&2; exec sleep 1000'
        stdout_logfile={logfile}
        """)
    wait_until(lambda: "to-stdout" in logfile.read_text(), what="the log")
    s.err.wait_for(r"^to-stderr$")
    assert logfile.read_text() == "earlier\nto-stdout\n"
    assert "to-stdout" not in s.out.text()


def test_logfile_none_discards_output(supervise, tmp_path):
    s = supervise("""
        [program:silent]
        command=sh -c 'echo to-stdout; echo to-stderr >&2; exec sleep 1000'
        stdout_logfile=NONE
        stderr_logfile=NONE

        [program:marker]
        command=sh -c 'sleep 0.5; echo marker; exec sleep 1000'
        """)
    s.out.wait_for(r"^marker$")
    assert "to-stdout" not in s.out.text()
    assert "to-stderr" not in s.err.text()


def test_redirect_stderr_sends_stderr_to_stdout(supervise, tmp_path):
    logfile = tmp_path / "both.log"
    s = supervise(f"""
        [program:both]
        command=sh -c 'echo to-stdout; echo to-stderr >&2; exec sleep 1000'
        stdout_logfile={logfile}
        redirect_stderr=true
        """)
    wait_until(lambda: logfile.exists() and
               "to-stderr" in logfile.read_text(), what="the log")
    assert logfile.read_text() == "to-stdout\nto-stderr\n"
    assert "to-stderr" not in s.err.text()


# --- start ----------------------------------------------------------------------

def test_autostart_in_ascending_priority_ties_by_name(supervise):
    s = supervise("""
        [program:a_default]
        command=sleep 1000

        [program:d_five]
        command=sleep 1000
        priority=5

        [program:c_five]
        command=sleep 1000
        priority=5

        [program:z_one]
        command=sleep 1000
        priority=1

        [program:b_manual]
        command=sleep 1000
        priority=0
        autostart=false
        """)
    s.err.wait_for(r"^tend: spawned: ", count=4)
    time.sleep(0.5)
    order = [re.search(r"'(\w+)'", line).group(1)
             for line in s.err.lines(r"^tend: spawned: ")]
    assert order == ["z_one", "c_five", "d_five", "a_default"]


# --- shutdown -----------------------------------------------------------------

def test_shutdown_stops_by_descending_priority_equal_ones_together(
        supervise, tmp_path):
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:high]
        command={sigrec(log, "high", "--delay", "1")}
        priority=300

        [program:mid_a]
        command={sigrec(log, "mid_a", "--delay", "1")}
        priority=200

        [program:mid_b]
        command={sigrec(log, "mid_b", "--delay", "1")}
        priority=200

        [program:low]
        command={sigrec(log, "low")}
        priority=100
        """, args=["-t", "20"])
    for name in ("high", "mid_a", "mid_b", "low"):
        wait_record(log, name, "ready")
    rc, elapsed = s.stop()
    assert rc == 0, s.err.text()
    term = {n: record_time(log, n, "SIGTERM") for n in
            ("high", "mid_a", "mid_b", "low")}
    done = {n: record_time(log, n, "exit") for n in term}
    # high first; the mids wait for it to have stopped (~1 s)
    assert term["mid_a"] >= done["high"] and term["mid_b"] >= done["high"]
    assert 0.9 <= term["mid_a"] - term["high"] <= 3, term
    # the two mids are stopped together: each got TERM before the other
    # had finished its 1 s stop
    assert term["mid_a"] < done["mid_b"] and term["mid_b"] < done["mid_a"]
    assert abs(term["mid_a"] - term["mid_b"]) < 0.5, term
    # low after both mids
    assert term["low"] >= max(done["mid_a"], done["mid_b"])
    assert elapsed < 6


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT,
                                 signal.SIGQUIT], ids=lambda s: s.name)
def test_term_int_and_quit_start_a_shutdown(supervise, tmp_path, sig):
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:svc]
        command={sigrec(log, "svc")}
        """)
    wait_record(log, "svc", "ready")
    rc, elapsed = s.stop(sig)
    assert rc == 0, s.err.text()
    assert [e for n, e, _ in records(log)] == ["ready", "SIGTERM", "exit"]
    assert elapsed < 5


@pytest.mark.parametrize("mode,budget_from", [
    ("pid1", "option"), ("child", "option"), ("pid1", "tend_section")])
def test_shutdown_budget_sigkills_a_program_ignoring_term(supervise, tmp_path,
                                                          mode, budget_from):
    log = tmp_path / "signals"
    section = "[tend]\nshutdown_timeout=2\n" if budget_from == "tend_section" \
        else ""
    args = ["-t", "2"] if budget_from == "option" else []
    # Two levels that would each take stopwaitsecs=30: one budget for all.
    s = supervise(section + textwrap.dedent(f"""
        [program:stubborn]
        command={sigrec(log, "stubborn", "--ignore", "TERM")}
        stopwaitsecs=30
        priority=2

        [program:later]
        command={sigrec(log, "later", "--ignore", "TERM")}
        stopwaitsecs=30
        priority=1
        """), mode=mode, args=args)
    wait_record(log, "stubborn", "ready")
    wait_record(log, "later", "ready")
    rc, elapsed = s.stop()
    assert record_time(log, "stubborn", "SIGTERM")
    assert record_time(log, "later", "SIGTERM") is None, records(log)
    assert rc == 137, s.err.text()
    assert 1.8 <= elapsed <= 6, elapsed


@pytest.mark.parametrize("mode", MODES)
def test_shutdown_budget_kills_an_orphan_ignoring_term(supervise, tmp_path,
                                                       mode):
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:parent]
        command={sigrec(log, "parent", "--orphan")}
        """, mode=mode, args=["-t", "2"])
    wait_record(log, "parent", "ready")
    tree = s.t.descendants()
    assert len(tree) == 2, tree   # the program and its orphan
    rc, elapsed = s.stop()
    assert record_time(log, "parent.orphan", "SIGTERM"), records(log)
    assert 1.8 <= elapsed <= 6, elapsed
    assert not any(alive(pid) for pid in tree)
    assert rc == 137, s.err.text()


@pytest.mark.parametrize("mode", MODES)
def test_requested_stop_exits_0_as_soon_as_everything_is_reaped(
        supervise, tmp_path, mode):
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:one]
        command={sigrec(log, "one")}

        [program:two]
        command={sigrec(log, "two")}
        priority=5

        [program:three]
        command=sleep 1000
        """, mode=mode)
    wait_record(log, "one", "ready")
    wait_record(log, "two", "ready")
    s.err.wait_for(r"^tend: success: three entered RUNNING")
    rc, elapsed = s.stop()
    assert rc == 0, s.err.text()
    assert elapsed < 1, elapsed
    assert s.err.count(r"^tend: stopped: one \(exit status 0\)$") == 1
    assert s.err.count(r"^tend: warning: stopped: three \(terminated by "
                       r"SIGTERM\)$") == 1


def test_default_shutdown_budget_fits_in_dockers_stop_timeout(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:x]\ncommand=sleep 1000\n")
    r = run_tend("pid1", ["--check", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    seconds = float(re.search(r"^shutdown_timeout: ([\d.]+) s$", r.stdout,
                              re.M).group(1))
    assert 0 < seconds < 10


# --- the critical-program exit contract -------------------------------------

CRITICAL_CASES = {
    "exit_5_after_running": ("sh -c 'sleep 1.3; exit 5'",
                             "startsecs=1\nautorestart=false", 5),
    "killed_by_sigusr2": ("sh -c 'kill -USR2 $$'",
                          "startsecs=0\nautorestart=false",
                          128 + signal.SIGUSR2),
    "not_found": ("/nonexistent", "startretries=0", 127),
    "not_executable": ("{not_executable}", "startretries=0", 126),
    "fatal_after_exit_0": ("sh -c 'exit 0'", "startsecs=5\nstartretries=0", 1),
    "fatal_after_exit_3": ("sh -c 'exit 3'", "startsecs=5\nstartretries=0", 3),
    "child_setup_failed": ("sleep 1000",
                           "directory=/nonexistent\nstartretries=0", 127),
}


@pytest.mark.parametrize("case", CRITICAL_CASES)
def test_critical_program_ending_for_good_ends_tend_with_its_status(
        supervise, tmp_path, case):
    command, keys, expected = CRITICAL_CASES[case]
    not_executable = tmp_path / "not-executable"
    not_executable.write_text("#!/bin/sh\nexit 0\n")
    not_executable.chmod(0o644)
    log = tmp_path / "signals"
    s = supervise("\n".join([
        "[program:other]",
        f"command={sigrec(log, 'other')}",
        "priority=1",
        "",
        "[program:vital]",
        f"command={command.format(not_executable=not_executable)}",
        "critical=true",
        keys,
        ""]))
    rc = s.wait(timeout=30)
    assert rc == expected, s.err.text()
    assert s.err.count(r"vital is critical and has ended: shutting down") == 1
    assert s.err.count(r"stopped: other") == 1, s.err.text()
    if case == "not_executable":
        assert s.err.count(r"^tend: error: vital: cannot execute '.*': "
                           r"Permission denied$") == 1


def test_non_critical_fatal_program_leaves_tend_running(supervise):
    s = supervise("""
        [program:doomed]
        command=sh -c 'exit 1'
        startretries=0

        [program:svc]
        command=sleep 1000
        """)
    s.err.wait_for(r"^tend: gave up: doomed entered FATAL state")
    time.sleep(1)
    assert s.running()
    assert alive(s.pid)
    rc, _ = s.stop()
    assert rc == 0, s.err.text()


# --- the command after -- ----------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_command_is_a_critical_main_started_last_whose_status_is_tends(
        supervise, tmp_path, mode):
    log = tmp_path / "signals"
    s = supervise(f"""
        [program:svc]
        command={sigrec(log, "svc")}
        priority=1000000
        """, mode=mode, command=["sh", "-c", "sleep 1; exit 4"])
    rc = s.wait()
    assert rc == 4, s.err.text()
    order = [re.search(r"'(\w+)'", line).group(1)
             for line in s.err.lines(r"^tend: spawned: ")]
    assert order == ["svc", "main"]
    assert record_time(log, "svc", "SIGTERM"), records(log)
    assert s.err.count(r"stopped: svc") == 1


def test_critical_program_other_than_main_sets_the_status_over_main(
        supervise):
    s = supervise("""
        [program:vital]
        command=sh -c 'sleep 1.3; exit 5'
        critical=true
        autorestart=false
        """, command=["sleep", "1000"])
    rc = s.wait()
    assert rc == 5, s.err.text()
    assert s.err.count(r"stopped: main") == 1, s.err.text()


def test_term_to_tend_is_forwarded_to_main(supervise, tmp_path):
    ready = tmp_path / "ready"
    s = supervise("""
        [program:svc]
        command=sleep 1000
        """, command=["sh", "-c", f'trap "exit 7" TERM; touch {ready}; '
                                  'sleep 1000 & wait'])
    wait_until(ready.exists, what="main's trap")
    rc, elapsed = s.stop()
    assert rc == 7, s.err.text()
    assert elapsed < 5


def test_main_does_not_inherit_tends_settings_and_their_secrets(
        supervise, tmp_path):
    env_file = tmp_path / "main-env"
    env = dict(os.environ, TEND_PROGRAM_DB_COMMAND="sleep 1000",
               TEND_PROGRAM_DB_ENVIRONMENT="PW=hunter2", KEEP_ME="yes")
    s = supervise("", env=env,
                  command=["sh", "-c", f"env > {env_file}; exit 0"])
    assert s.wait() == 0, s.err.text()
    seen = env_file.read_text()
    assert "KEEP_ME=yes" in seen
    assert "TEND_" not in seen and "hunter2" not in seen


def test_hup_and_usr1_to_tend_reach_main(supervise, tmp_path):
    out = tmp_path / "main-signals"
    s = supervise("""
        [program:svc]
        command=sleep 1000
        """, args=["-t", "1"],
        command=[PYTHON, helper("signals.py"), str(out)])
    wait_until(lambda: out.exists() and "ready" in out.read_text().split(),
               what="main")
    for sig in (signal.SIGHUP, signal.SIGUSR1):
        s.t.kill(sig)
        wait_until(lambda: str(int(sig)) in out.read_text().split(),
                   what=f"signal {int(sig)} in main")
    assert s.running()


# --- --check --------------------------------------------------------------------

def test_check_prints_the_program_table_and_starts_nothing(tmp_path):
    marker = tmp_path / "marker"
    conf = tmp_path / "tend.ini"
    conf.write_text(f"[program:maker]\ncommand=touch {marker}\n"
                    "priority=7\n")
    r = run_tend("pid1", ["--check", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert "[maker]" in r.stdout
    assert re.search(rf"^\s+command\s+touch {re.escape(str(marker))}$",
                     r.stdout, re.M)
    assert re.search(r"^\s+priority\s+7$", r.stdout, re.M)
    time.sleep(0.5)
    assert not marker.exists()


def test_check_masks_environment_values(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:x]\ncommand=sleep 1000\n"
                    "environment=SECRET=hunter2,OTHER='pass word'\n")
    r = run_tend("pid1", ["--check", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert "SECRET=***" in r.stdout
    assert "OTHER=***" in r.stdout
    assert "hunter2" not in r.stdout + r.stderr
    assert "pass word" not in r.stdout + r.stderr


@pytest.mark.parametrize("where", ["program", "supervisord", "override"])
def test_environment_values_never_appear_even_in_error_messages(tmp_path,
                                                                where):
    # An environment= that does not parse is an error; the message must
    # not print the secrets it holds, wherever the value comes from.
    bad = "SECRET=hunter2,BROKEN"
    conf = tmp_path / "tend.ini"
    env = dict(os.environ)
    if where == "program":
        conf.write_text(f"[program:x]\ncommand=sleep 1\nenvironment={bad}\n")
    elif where == "supervisord":
        conf.write_text(f"[supervisord]\nenvironment={bad}\n"
                        "[program:x]\ncommand=sleep 1\n")
    else:
        conf.write_text("[program:x]\ncommand=sleep 1\n")
        env["TEND_PROGRAM_X_ENVIRONMENT"] = bad
    for args in (["--check", "-c", str(conf)], ["-c", str(conf)]):
        r = run_tend("pid1", args, env=env)
        assert r.returncode == 2, r.stderr
        assert "environment" in r.stderr
        assert "hunter2" not in r.stdout + r.stderr, r.stderr


def test_check_exits_2_on_an_invalid_config(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:x]\ncommand=sleep 1000\nstartsecs=soon\n")
    r = run_tend("pid1", ["--check", "-c", str(conf)])
    assert r.returncode == 2
    assert f"tend: {conf}:3: startsecs:" in r.stderr


# --- bad input -------------------------------------------------------------------

MARKER_PROGRAM = "[program:marker]\ncommand=touch {marker}\nstartsecs=0\n"

BAD_INPUTS = {
    # name: (INI after the marker program or None for no file, extra env,
    #        the one expected line as a regex, {conf} for the file)
    "missing_file": (None, {},
                     r"^tend: {conf}: cannot read: No such file or directory$"),
    "syntax_error": ("\nthis line is not ini\n", {},
                     r"^tend: {conf}:5: expected 'key = value'"),
    "bad_integer": ("[program:x]\ncommand=sleep 1\nstartsecs=abc\n", {},
                    r"^tend: {conf}:6: startsecs: .*integer.*'abc'"),
    "unknown_expansion": ("[program:x]\ncommand=echo %(nope)s\n", {},
                          r"^tend: {conf}:5: command: .*nope"),
    "unknown_user": ("[program:x]\ncommand=sleep 1\nuser=no_such_user\n", {},
                     r"^tend: {conf}:6: user: .*no_such_user"),
    "bad_override": ("", {"TEND_PROGRAM_X_NOPE": "1"},
                     r"^tend: \$TEND_PROGRAM_X_NOPE: .*TEND_PROGRAM_<NAME>_<KEY>"),
    "unknown_tend_variable": ("", {"TEND_NO_SUCH_SETTING": "1"},
                              r"^tend: \$TEND_NO_SUCH_SETTING: unknown setting"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_starts_nothing_and_exits_2_with_one_line(tmp_path, case):
    extra, env, expected = BAD_INPUTS[case]
    marker = tmp_path / "marker"
    conf = tmp_path / "tend.ini"
    if extra is not None:
        conf.write_text(MARKER_PROGRAM.format(marker=marker) + extra)
    r = run_tend("pid1", ["-c", str(conf)], env=dict(os.environ, **env))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert re.search(expected.format(conf=re.escape(str(conf))), lines[0]), \
        lines[0]
    assert r.stdout == ""
    time.sleep(0.3)
    assert not marker.exists()


def test_empty_config_is_an_error_saying_there_is_nothing_to_run(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("")
    r = run_tend("pid1", ["-c", str(conf)])
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"tend: {conf}: no [program:x] section and no command: nothing to run"]


def test_a_bad_override_does_not_hide_the_errors_of_the_file(tmp_path):
    # README: "all of them are reported, then tend exits 2".
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:x]\ncommand=sleep 1\nstartsecs=abc\n")
    r = run_tend("pid1", ["-c", str(conf)],
                 env=dict(os.environ, TEND_PROGRAM_X_NOPE="1"))
    assert r.returncode == 2
    lines = sorted(r.stderr.splitlines())
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith("tend: $TEND_PROGRAM_X_NOPE: ")
    assert lines[1].startswith(f"tend: {conf}:3: startsecs: ")


def test_no_config_and_no_command_is_an_error(tmp_path):
    r = run_tend("pid1", [], env=dict(os.environ, TEND_CONFIG=""))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    # no search happened: the message says why, and claims none
    assert lines[0].startswith("tend: no command given, and TEND_CONFIG is "
                               "empty"), r.stderr
    assert "tried" not in lines[0]


def test_every_error_of_a_file_is_reported(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:x]\ncommand=sleep 1\nstartsecs=abc\n"
                    "autostart=maybe\n")
    r = run_tend("pid1", ["-c", str(conf)])
    assert r.returncode == 2
    lines = sorted(r.stderr.splitlines())
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f"tend: {conf}:3: startsecs: ")
    assert lines[1].startswith(f"tend: {conf}:4: autostart: ")


# --- warnings -------------------------------------------------------------------

def test_unknown_and_unsupported_settings_warn_once_each_and_tend_runs(
        supervise):
    ini = """
        [fcgi-program:php]
        command=php-fpm

        [program:svc]
        command=sleep 1000
        no_such_key=1
        stdout_syslog=true

        [eventlistener:listener]
        command=sleep 1000
        events=PROCESS_STATE
        """
    s = supervise(ini)
    s.err.wait_for(r"^tend: success: svc entered RUNNING")
    conf = re.escape(str(s.conf))
    warnings = s.err.lines(r"^tend: warning: ")
    assert len(warnings) == 4, warnings
    for needle, about in [("[fcgi-program:php]", "fcgi-program"),
                          ("no_such_key", "no_such_key"),
                          ("stdout_syslog", "stdout_syslog"),
                          ("[eventlistener:listener]", "eventlistener")]:
        n = line_of(ini, needle)
        assert s.err.count(rf"^tend: warning: {conf}:{n}: .*{about}") == 1, \
            warnings
    assert s.running()


# --- environment overrides --------------------------------------------------------

def test_env_override_replaces_a_file_value(supervise):
    env = dict(os.environ, TEND_PROGRAM_WORKER_COMMAND=(
        "sh -c 'echo from-env; exec sleep 1000'"))
    s = supervise("""
        [program:worker]
        command=sh -c 'echo from-file; exec sleep 1000'
        """, env=env)
    s.out.wait_for(r"^from-env$")
    assert "from-file" not in s.out.text()


def test_env_alone_defines_a_program(supervise):
    env = dict(os.environ, TEND_CONFIG="",
               TEND_PROGRAM_WORKER_COMMAND='sh -c "echo hi"')
    s = supervise(None, env=env)
    s.out.wait_for(r"^hi$")
    s.err.wait_for(r"^tend: spawned: 'worker' with pid \d+$")
    rc, _ = s.stop()
    assert rc == 0, s.err.text()


def test_env_shutdown_timeout_sets_the_budget_over_the_file(supervise,
                                                             tmp_path):
    log = tmp_path / "signals"
    env = dict(os.environ, TEND_SHUTDOWN_TIMEOUT="1")
    s = supervise(f"""
        [tend]
        shutdown_timeout=20

        [program:stubborn]
        command={sigrec(log, "stubborn", "--ignore", "TERM")}
        stopwaitsecs=30
        """, env=env)
    wait_record(log, "stubborn", "ready")
    rc, elapsed = s.stop()
    assert rc == 137, s.err.text()
    assert 0.8 <= elapsed <= 5, elapsed


def test_env_shutdown_timeout_is_shown_by_check(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[tend]\nshutdown_timeout=5\n"
                    "[program:x]\ncommand=sleep 1000\n")
    r = run_tend("pid1", ["--check", "-c", str(conf)],
                 env=dict(os.environ, TEND_SHUTDOWN_TIMEOUT="1.5"))
    assert r.returncode == 0, r.stderr
    assert "shutdown_timeout: 1.500 s" in r.stdout


# --- the design example ---------------------------------------------------------

DESIGN_EXAMPLE = """\
[program:nodehook]
command=/usr/bin/node /srv/http.js
directory=/srv
autostart=true
autorestart=true
startretries=3
stderr_logfile=/var/log/webhook/nodehook.err.log
stdout_logfile=/var/log/webhook/nodehook.out.log
user=www-data
environment=SECRET_PASSPHRASE='this is secret',SECRET_TWO='another secret'
"""

HTTP_JS = """\
const http = require('http');
const a = process.env.SECRET_PASSPHRASE || '';
const b = process.env.SECRET_TWO || '';
const server = http.createServer((req, res) => {
  res.end(JSON.stringify({uid: process.getuid(), gid: process.getgid(),
                          cwd: process.cwd(), a: a.length, b: b.length}));
});
server.listen(0, '127.0.0.1', () => {
  console.log(`nodehook listening on ${server.address().port}`);
  console.error(`secret lengths ${a.length} ${b.length}`);
});
process.on('SIGTERM', () => process.exit(0));
"""

# Where /usr/bin/node is missing, the same server in Python, run through
# TEND_PROGRAM_NODEHOOK_COMMAND (the file is still used verbatim).
HTTP_PY = """\
import http.server, json, os, sys
a = os.environ.get("SECRET_PASSPHRASE", "")
b = os.environ.get("SECRET_TWO", "")
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"uid": os.getuid(), "gid": os.getgid(),
                           "cwd": os.getcwd(), "a": len(a), "b": len(b)})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"nodehook listening on {server.server_address[1]}", flush=True)
print(f"secret lengths {len(a)} {len(b)}", file=sys.stderr, flush=True)
server.serve_forever()
"""

HAVE_NODE = os.access("/usr/bin/node", os.X_OK)
OUT_LOG = "/var/log/webhook/nodehook.out.log"
ERR_LOG = "/var/log/webhook/nodehook.err.log"


@pytest.fixture
def design_paths():
    """/srv/http.js (and the Python stand-in without node) and
    /var/log/webhook/, each removed afterwards if the test created it."""
    created = []

    def create_file(path, text):
        if os.path.exists(path):
            with open(path) as f:
                if f.read() != text:
                    pytest.skip(f"{path} exists and is not the test's")
            return
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        created.append(path)

    if not os.path.isdir("/srv"):
        os.mkdir("/srv")
        created.append("/srv")
    create_file("/srv/http.js", HTTP_JS)
    if not HAVE_NODE:
        create_file("/srv/http-standin.py", HTTP_PY)
    if not os.path.isdir("/var/log/webhook"):
        os.makedirs("/var/log/webhook")
        created.append("/var/log/webhook")
    else:
        created.extend(p for p in (OUT_LOG, ERR_LOG) if not os.path.exists(p))
    yield
    for path in reversed(created):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.unlink(path)


def read_or_empty(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_design_example_runs_verbatim(supervise, design_paths):
    www = pwd.getpwnam("www-data")
    env = None if HAVE_NODE else dict(
        os.environ, TEND_PROGRAM_NODEHOOK_COMMAND=f"{PYTHON} /srv/http-standin.py")
    out_before, err_before = len(read_or_empty(OUT_LOG)), \
        len(read_or_empty(ERR_LOG))
    s = supervise(DESIGN_EXAMPLE, env=env, cwd="/")
    s.err.wait_for(r"^tend: success: nodehook entered RUNNING state")
    port = wait_until(lambda: re.search(r"nodehook listening on (\d+)",
                                        read_or_empty(OUT_LOG)[out_before:]),
                      what="the server's line in the stdout log").group(1)
    wait_until(lambda: "secret lengths 14 14" in
               read_or_empty(ERR_LOG)[err_before:],
               what="the server's line in the stderr log")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        seen = json.load(r)
    assert seen == {"uid": www.pw_uid, "gid": www.pw_gid, "cwd": "/srv",
                    "a": 14, "b": 14}
    server, = s.t.descendants()
    with open(f"/proc/{server}/environ", "rb") as f:
        environ = dict(item.split(b"=", 1) for item in f.read().split(b"\0")
                       if b"=" in item)
    assert environ[b"SECRET_PASSPHRASE"] == b"this is secret"
    assert environ[b"SECRET_TWO"] == b"another secret"
    assert "nodehook listening" not in s.out.text()
    assert "secret lengths" not in s.err.text()
    rc, _ = s.stop()
    assert rc == 0, s.err.text()


def test_design_example_command_is_overridden_from_the_environment(
        supervise, design_paths):
    env = dict(os.environ, TEND_PROGRAM_NODEHOOK_COMMAND=(
        "sh -c 'echo \"override as $(id -un) in $(pwd) "
        "${#SECRET_PASSPHRASE}\"; exec sleep 1000'"))
    out_before = len(read_or_empty(OUT_LOG))
    s = supervise(DESIGN_EXAMPLE, env=env, cwd="/")
    wait_until(lambda: "override as www-data in /srv 14" in
               read_or_empty(OUT_LOG)[out_before:],
               what="the overriding command's line in the stdout log")
    assert "listening" not in read_or_empty(OUT_LOG)[out_before:]
    rc, _ = s.stop()
    assert rc == 0, s.err.text()


@pytest.mark.parametrize("section", ["supervisord", "tend"])
def test_logfile_gets_a_copy_of_tends_log(supervise, tmp_path, section):
    log = tmp_path / "tend.log"
    s = supervise(f"""
        [{section}]
        logfile={log}
        [program:svc]
        command=sleep 1000
        startsecs=0
        """)
    s.err.wait_for(r"^tend: success: svc entered RUNNING")
    wait_until(lambda: log.exists() and "success: svc entered RUNNING" in
               log.read_text(), what="the line in the log file")
    assert s.stop()[0] == 0
    assert "spawned: 'svc'" in log.read_text()


def test_logfile_dev_stdout_moves_tends_log_to_stdout(supervise):
    s = supervise("""
        [supervisord]
        logfile=/dev/stdout
        [program:svc]
        command=sleep 1000
        startsecs=0
        """)
    s.out.wait_for(r"^tend: success: svc entered RUNNING")
    assert s.stop()[0] == 0
    assert "spawned: 'svc'" not in s.err.text()


def test_logfile_in_a_missing_directory_is_a_config_error(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[supervisord]\nlogfile=/nonexistent/dir/tend.log\n"
                    "[program:svc]\ncommand=sleep 1\n")
    r = run_tend("child", ["-c", str(conf)])
    assert r.returncode == 2
    assert f"{conf}:2: logfile: expected a path in an existing directory" \
        in r.stderr


def test_termination_log_says_which_critical_program_ended_tend(supervise,
                                                                tmp_path):
    term = tmp_path / "termination-log"
    term.write_text("")
    s = supervise(f"""
        [tend]
        termination_log={term}
        [program:vital]
        command=sh -c 'exit 3'
        critical=true
        startretries=0
        environment=SECRET=hunter2
        [program:svc]
        command=sleep 1000
        """)
    assert s.wait() == 3, s.err.text()
    text = term.read_text()
    assert text == ("tend: critical program 'vital' ended in state FATAL "
                    "(exit status 3); tend exited with status 3\n")
    assert "hunter2" not in text


def test_termination_log_is_not_created_and_can_be_disabled(supervise,
                                                            tmp_path):
    missing, disabled = tmp_path / "missing", tmp_path / "disabled"
    disabled.write_text("")
    for path, value in ((missing, missing), (disabled, "NONE")):
        s = supervise(f"""
            [tend]
            termination_log={value}
            [program:vital]
            command=sh -c 'exit 4'
            critical=true
            startretries=0
            """)
        assert s.wait() == 4, s.err.text()
    assert not missing.exists()
    assert disabled.read_text() == ""


def test_no_termination_log_after_a_requested_stop(supervise, tmp_path):
    term = tmp_path / "termination-log"
    term.write_text("")
    s = supervise(f"""
        [tend]
        termination_log={term}
        [program:svc]
        command=sleep 1000
        startsecs=0
        """)
    s.err.wait_for(r"^tend: success: svc entered RUNNING")
    assert s.stop()[0] == 0
    assert term.read_text() == ""
