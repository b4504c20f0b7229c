"""Readiness and dependencies: ready=notify, ready=tcp: and
ready=command: with programs that become ready late and programs that
never do; who may notify; STATUS= text; NOTIFY_SOCKET's reach; the start
and stop order of a chain and a diamond of depends_on; cycles and unknown
names; a FATAL dependency; main_waits; tend ctl start, stop and status
with dependencies; no wake-up once everything is ready; /readyz and
/healthz.

Every tend here is PID 1 of a fresh PID namespace (unless a test says
otherwise) with a private control socket in the test's directory, which
`tend ctl -s` talks to. Programs that must become ready at a moment the
test chooses wait for a file ("go") that the test creates; the helpers
notify.py (an sd_notify sender) and listen.py (a TCP listener) do so."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import PYTHON, TEND, helper, proc_status, run_tend, wait_until
from test_supervise import (record_time, records, sigrec,  # noqa: F401
                            supervise, wait_record)

NOTIFY = f"{PYTHON} {helper('notify.py')}"
LISTEN = f"{PYTHON} {helper('listen.py')}"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (PID namespaces)")


# --- machinery ---------------------------------------------------------------

def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on (at this moment)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(supervise, tmp_path, ini, **kw):
    """supervise() with a [tend] control_socket in tmp_path; the returned
    Supervisor has .sock. TEND_CONTROL_SOCKET (none, from conftest) is
    taken out of tend's environment, where it would win over the file."""
    sock = tmp_path / "tend.sock"
    text = f"[tend]\ncontrol_socket={sock}\n" + \
        textwrap.dedent(ini).lstrip("\n")
    env = dict(kw.pop("env", None) or os.environ)
    env.pop("TEND_CONTROL_SOCKET", None)
    s = supervise(text, env=env, **kw)
    s.sock = sock
    wait_until(lambda: sock.exists() or not s.running(),
               what="the control socket")
    return s


def ctl(s, *args, timeout=30):
    """tend ctl against s's socket; a reply that never comes fails."""
    try:
        return subprocess.run([TEND, "ctl", "-s", str(s.sock), *args],
                              capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"tend ctl {' '.join(args)} got no answer in "
                             f"{timeout} s; tend's log:\n{s.err.text()}")


def status(s):
    """tend ctl status as {name: (state, description)}."""
    r = ctl(s, "status")
    table = {}
    for line in r.stdout.splitlines():
        m = re.fullmatch(r"(\S+)\s+([A-Z]+)\s*(.*)", line)
        assert m, f"not a status line: {line!r}"
        table[m.group(1)] = (m.group(2), m.group(3).strip())
    return table


def state(s, name):
    return status(s)[name][0]


def wait_state(s, name, wanted, timeout=20.0):
    wait_until(lambda: state(s, name) == wanted, timeout=timeout,
               what=f"{name} {wanted}; status: {status(s)}\n{s.err.text()}")


def spawn_time(s, name, count=1):
    return s.err.wait_for(rf"^tend: spawned: '{name}' with pid \d+$",
                          count=count)


def running_time(s, name):
    return s.err.wait_for(rf"^tend: success: {name} entered RUNNING state")


def spawned_names(s):
    return [re.search(r"'([^']+)'", line).group(1)
            for line in s.err.lines(r"^tend: spawned: ")]


def program_pid(s, name):
    """The host pid of a program's process (the log gives the namespace's)."""
    r = ctl(s, "pid", name)
    assert r.returncode == 0, r.stdout + r.stderr
    inner = int(r.stdout.strip())
    if s.t.mode != "pid1":
        return inner
    for pid in s.t.descendants():
        nspid = proc_status(pid, "NSpid")
        if nspid and int(nspid.split()[-1]) == inner:
            return pid
    raise AssertionError(f"no process {inner} in tend's namespace")


def environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(item.decode().split("=", 1)
                    for item in f.read().split(b"\0") if b"=" in item)


def switches(pid):
    return (int(proc_status(pid, "voluntary_ctxt_switches")) +
            int(proc_status(pid, "nonvoluntary_ctxt_switches")))


def http_get(s, path):
    """(HTTP status, body) of a GET on the control socket, with curl."""
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}",
                        "--unix-socket", str(s.sock), f"http://tend{path}"],
                       capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def condition(mode, tmp_path, go):
    """(ready= value, command=) of a program that becomes ready only once
    the file go exists, for each mode."""
    if mode == "notify":
        return "notify", f"{NOTIFY} --wait {go} --stay READY=1"
    if mode == "tcp":
        port = free_port()
        return f"tcp:127.0.0.1:{port}", f"{LISTEN} {port} --wait {go}"
    return f"command:test -e {go}", "sleep 1000"


def never(mode, tmp_path):
    """(ready= value, command=) of a program that never becomes ready."""
    if mode == "notify":
        return "notify", "sleep 1000"
    if mode == "tcp":
        return f"tcp:127.0.0.1:{free_port()}", "sleep 1000"
    return "command:false", "sleep 1000"


MODES = ["notify", "tcp", "command"]


# --- each readiness mode -------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_a_program_is_starting_until_its_condition_holds_then_running(
        supervise, tmp_path, mode):
    # startsecs=1 does not apply with a condition: the program stays
    # STARTING well past it, and is RUNNING only once the condition holds.
    go = tmp_path / "go"
    ready, command = condition(mode, tmp_path, go)
    s = start(supervise, tmp_path, f"""
        [program:late]
        command={command}
        ready={ready}
        ready_interval=0.2
        startsecs=1
        """)
    spawned = spawn_time(s, "late")
    time.sleep(2.5)
    assert state(s, "late") == "STARTING", s.err.text()
    assert not s.err.lines("success: late")
    made = time.time()
    go.touch()
    running = running_time(s, "late")
    assert made <= running <= made + 3, (made, running)
    assert running - spawned >= 2.5
    assert s.err.lines(r"^tend: success: late entered RUNNING state, process "
                       r"is ready \(" + re.escape(ready) + r"\)$")
    assert state(s, "late") == "RUNNING"
    assert len(s.spawns("late")) == 1
    assert s.stop()[0] == 0, s.err.text()


@pytest.mark.parametrize("mode", MODES)
def test_a_condition_that_never_holds_is_a_failed_start_up_to_fatal(
        supervise, tmp_path, mode):
    ready, command = never(mode, tmp_path)
    s = start(supervise, tmp_path, f"""
        [program:never]
        command={command}
        ready={ready}
        ready_timeout=2
        ready_interval=0.3
        startretries=1
        """)
    first = spawn_time(s, "never")
    not_ready = rf"^tend: warning: never: not ready after 2\.000 s " \
        rf"\(ready={re.escape(ready)}\): a failed start$"
    t1 = s.err.wait_for(not_ready)
    assert 1.5 <= t1 - first <= 3.5, t1 - first
    s.err.wait_for(r"^tend: warning: exited: never \(terminated by SIGTERM; "
                   r"not expected\)$")
    second = spawn_time(s, "never", count=2)
    assert 0.7 <= second - t1 <= 2.5, second - t1	# the 1 s backoff
    t2 = s.err.wait_for(not_ready, count=2)
    assert 1.5 <= t2 - second <= 3.5, t2 - second
    fatal = s.err.wait_for(r"^tend: gave up: never entered FATAL state, too "
                           r"many start retries too quickly$")
    assert fatal - t2 < 2
    assert status(s)["never"] == ("FATAL", "Not ready within ready_timeout")
    time.sleep(1.5)
    assert len(s.spawns("never")) == 2
    assert s.running()
    assert s.stop()[0] == 0, s.err.text()


def test_check_commands_stop_at_the_first_success_and_after_fatal(
        supervise, tmp_path):
    # Each run of the check appends a line; they run every ready_interval
    # while the program starts, never once it is ready or FATAL.
    runs_ok, runs_bad, go = tmp_path / "ok", tmp_path / "bad", tmp_path / "go"
    s = start(supervise, tmp_path, f"""
        [program:ok]
        command=sleep 1000
        ready=command:sh -c 'echo run >> {runs_ok}; test -e {go}'
        ready_interval=0.25
        [program:bad]
        command=sleep 1000
        ready=command:sh -c 'echo run >> {runs_bad}; exit 1'
        ready_interval=0.25
        ready_timeout=1.5
        startretries=0
        """)
    time.sleep(1.5)
    go.touch()
    running_time(s, "ok")
    s.err.wait_for(r"^tend: gave up: bad entered FATAL state")
    time.sleep(0.3)
    ok_runs = runs_ok.read_text().count("run")
    bad_runs = runs_bad.read_text().count("run")
    assert ok_runs >= 4 and bad_runs >= 3, (ok_runs, bad_runs)
    time.sleep(2)
    assert runs_ok.read_text().count("run") == ok_runs
    assert runs_bad.read_text().count("run") == bad_runs
    assert s.stop()[0] == 0, s.err.text()


def test_a_check_command_that_hangs_is_killed_and_tried_again(supervise,
                                                              tmp_path):
    # Each run is given ready_interval, then killed: none piles up.
    go, runs = tmp_path / "go", tmp_path / "runs"
    s = start(supervise, tmp_path, f"""
        [program:slow]
        command=sleep 1000
        ready=command:sh -c 'echo run >> {runs}; test -e {go} || exec sleep 1000'
        ready_interval=0.3
        """)
    time.sleep(2)
    sleeps = [p for p in s.t.descendants()
              if open(f"/proc/{p}/cmdline", "rb").read() == b"sleep\x001000\x00"]
    # the program itself and at most the check of the moment
    assert 1 <= len(sleeps) <= 2, sleeps
    assert runs.read_text().count("run") >= 4
    go.touch()
    running_time(s, "slow")
    time.sleep(0.5)
    assert len(s.t.descendants()) == 1, s.t.descendants()
    assert s.stop()[0] == 0, s.err.text()


def test_a_check_command_runs_as_the_program_would(supervise, tmp_path):
    # README: "it runs as the program would, with its user, directory and
    # environment, output discarded". nobody cannot enter tmp_path: it
    # writes to a directory of its own, removed afterwards.
    with tempfile.TemporaryDirectory(prefix="tend-ready-") as shared:
        os.chmod(shared, 0o777)
        seen = os.path.join(shared, "seen")
        s = start(supervise, tmp_path, f"""
            [program:svc]
            command=sleep 1000
            user=nobody
            directory=/tmp
            environment=CHECKED="by the check"
            ready=command:sh -c 'echo "$(id -un) $(pwd) $CHECKED" > {seen} && echo noise'
            """)
        running_time(s, "svc")
        with open(seen) as f:
            assert f.read() == "nobody /tmp by the check\n"
        assert not s.out.lines(r"^noise$") and not s.err.lines(r"^noise$")
        assert s.stop()[0] == 0, s.err.text()


def test_an_exit_before_the_condition_holds_is_a_failed_start(supervise,
                                                              tmp_path):
    s = start(supervise, tmp_path, f"""
        [program:quitter]
        command=sh -c 'sleep 0.5; exit 0'
        ready=tcp:127.0.0.1:{free_port()}
        startretries=0
        """)
    s.err.wait_for(r"^tend: warning: exited: quitter \(exit status 0; not "
                   r"expected\)$")
    s.err.wait_for(r"^tend: gave up: quitter entered FATAL state")
    assert not s.err.lines("RUNNING")
    assert s.stop()[0] == 0, s.err.text()


# --- who may notify --------------------------------------------------------------

def test_notify_from_the_program_itself_with_status_text(supervise, tmp_path):
    go, done = tmp_path / "go", tmp_path / "done"
    s = start(supervise, tmp_path, f"""
        [program:svc]
        command=sh -c '{NOTIFY} STATUS=warming\\ up && {NOTIFY} --wait {go} "READY=1\\nSTATUS=serving 42 clients" && exec {NOTIFY} --wait {done} --stay STATUS=draining'
        ready=notify
        """)
    wait_until(lambda: "warming up" in status(s)["svc"][1],
               what=f"the first STATUS=: {status(s)}")
    assert status(s)["svc"] == ("STARTING", "warming up")
    go.touch()
    running_time(s, "svc")
    st, desc = status(s)["svc"]
    assert st == "RUNNING"
    assert re.fullmatch(r"pid \d+, uptime \d+:\d\d:\d\d, serving 42 clients",
                        desc), desc
    done.touch()
    wait_until(lambda: status(s)["svc"][1].endswith(", draining"),
               what=f"the last STATUS=: {status(s)}")
    # STATUS= is the text of that process: it goes when the process does
    r = ctl(s, "stop", "svc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "draining" not in status(s)["svc"][1]
    assert s.stop()[0] == 0, s.err.text()


@pytest.mark.parametrize("sender", ["python-with-barrier", "systemd-notify",
                                    "own-session"])
def test_notify_from_a_grandchild_makes_the_program_ready(supervise, tmp_path,
                                                          sender):
    # The program is a shell; a shell under it runs the sender, which is
    # the program's grandchild. systemd-notify sends READY=1 in its
    # parent's name and waits for the message to be read (BARRIER=1), as
    # notify.py --barrier does; own-session is a sender that left the
    # program's process group and session (setsid) but not its tree.
    go = tmp_path / "go"
    wait = f"while [ ! -e {go} ]; do sleep 0.05; done"
    inner = {
        "python-with-barrier": f"{NOTIFY} --wait {go} --barrier READY=1; true",
        "systemd-notify": f"{wait}; systemd-notify --ready --status=up; true",
        "own-session": f"setsid {NOTIFY} --wait {go} --stay READY=1; true",
    }[sender]
    if sender == "systemd-notify" and not os.access("/usr/bin/systemd-notify",
                                                    os.X_OK):
        pytest.skip("no /usr/bin/systemd-notify")
    s = start(supervise, tmp_path, f"""
        [program:svc]
        command=sh -c 'sh -c "{inner}"; exec sleep 1000'
        ready=notify
        """)
    time.sleep(1.5)
    assert state(s, "svc") == "STARTING"
    go.touch()
    running_time(s, "svc")
    if sender == "systemd-notify":
        assert status(s)["svc"][1].endswith(", up")
    assert s.stop()[0] == 0, s.err.text()


def notify_socket_of(s, name):
    """NOTIFY_SOCKET of a program's process, once it has exec'd (before,
    /proc shows tend's own environment)."""
    pid = program_pid(s, name)
    value = wait_until(lambda: environ(pid).get("NOTIFY_SOCKET"),
                       what=f"NOTIFY_SOCKET in {name}'s environment")
    assert re.fullmatch(r"@[0-9a-f]+", value), value
    return value


def test_notify_from_outside_tends_namespace_or_tree_is_refused(supervise,
                                                                tmp_path):
    # Two senders that know the socket's name: the test itself (outside
    # tend's PID namespace) and a process put into the namespace by
    # nsenter (inside it, but not in tend's tree). Neither can make svc
    # ready; svc's own message then does.
    go = tmp_path / "go"
    s = start(supervise, tmp_path, f"""
        [program:svc]
        command={NOTIFY} --wait {go} --stay READY=1
        ready=notify
        """)
    spawn_time(s, "svc")
    addr = notify_socket_of(s, "svc")
    senders = [
        [PYTHON, helper("notify.py"), "--socket", addr, "READY=1\\nSTATUS=forged"],
        ["nsenter", "-t", str(s.pid), "-p", "--", PYTHON, helper("notify.py"),
         "--socket", addr, "--barrier", "READY=1\\nSTATUS=forged"],
    ]
    for argv in senders:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    time.sleep(1.5)
    assert status(s)["svc"] == ("STARTING", ""), s.err.text()
    assert not s.err.lines("success: svc")
    go.touch()
    running_time(s, "svc")
    assert s.stop()[0] == 0, s.err.text()


def test_notify_from_a_process_of_a_program_that_is_not_ready_notify_is_refused(
        supervise, tmp_path):
    # plain's process reads svc's socket from /proc and sends READY=1 to
    # it, then keeps running: the message is its own program's, which
    # does not speak the protocol, so svc stays STARTING.
    go, addr_file = tmp_path / "go", tmp_path / "addr"
    s = start(supervise, tmp_path, f"""
        [program:svc]
        command={NOTIFY} --wait {go} --stay READY=1
        ready=notify
        [program:plain]
        command=sh -c 'while [ ! -s {addr_file} ]; do sleep 0.05; done; exec {NOTIFY} --socket "$(cat {addr_file})" --barrier --stay READY=1'
        startsecs=0
        """)
    addr_file.write_text(notify_socket_of(s, "svc"))
    time.sleep(2)
    assert state(s, "svc") == "STARTING", s.err.text()
    go.touch()
    running_time(s, "svc")
    assert s.stop()[0] == 0, s.err.text()


def test_notify_socket_is_only_in_the_environment_of_ready_notify_programs(
        supervise, tmp_path):
    port = free_port()
    s = start(supervise, tmp_path, f"""
        [program:n]
        command={NOTIFY} --stay READY=1
        ready=notify
        [program:r]
        command=sleep 1000
        startsecs=0
        [program:t]
        command={LISTEN} {port}
        ready=tcp:127.0.0.1:{port}
        [program:c]
        command=sleep 1000
        ready=command:true
        """, command=["sleep", "1000"])
    for name in ("n", "r", "t", "c"):
        running_time(s, name)
    assert notify_socket_of(s, "n")
    for name in ("r", "t", "c", "main"):
        value = environ(program_pid(s, name)).get("NOTIFY_SOCKET")
        assert value is None, f"{name} got NOTIFY_SOCKET={value}"
    assert s.stop()[0] == 143, s.err.text()


def test_a_notify_socket_tend_inherited_reaches_no_program_but_its_own(
        supervise, tmp_path):
    # Under `podman run --sdnotify=container`, or a systemd unit of
    # Type=notify, tend itself gets a NOTIFY_SOCKET: the engine's. A
    # program that is not ready=notify must not get it (a daemon that
    # sees NOTIFY_SOCKET would tell the engine READY=1 for the whole
    # container); a ready=notify program gets tend's socket instead.
    s = start(supervise, tmp_path, f"""
        [program:n]
        command={NOTIFY} --stay READY=1
        ready=notify
        [program:r]
        command=sleep 1000
        startsecs=0
        """, env=dict(os.environ, NOTIFY_SOCKET="@the-engines-socket"))
    running_time(s, "n")
    running_time(s, "r")
    assert notify_socket_of(s, "n") != "@the-engines-socket"
    value = environ(program_pid(s, "r")).get("NOTIFY_SOCKET")
    assert value is None, f"r got NOTIFY_SOCKET={value}"
    assert s.stop()[0] == 0, s.err.text()


# --- order ------------------------------------------------------------------------

def test_a_chain_starts_in_dependency_order_and_stops_in_reverse(supervise,
                                                                 tmp_path):
    # c depends on b, b on a; their priorities say the opposite, and the
    # dependencies win. Each is ready after startsecs=1; each takes 0.5 s
    # to stop.
    log = tmp_path / "signals"
    s = start(supervise, tmp_path, f"""
        [program:a]
        command={sigrec(log, "a", "--delay", "0.5")}
        priority=30
        [program:b]
        command={sigrec(log, "b", "--delay", "0.5")}
        depends_on=a
        priority=20
        [program:c]
        command={sigrec(log, "c", "--delay", "0.5")}
        depends_on=b
        priority=10
        """, args=["-t", "20"])
    running_time(s, "c")
    assert spawned_names(s) == ["a", "b", "c"]
    assert spawn_time(s, "b") >= running_time(s, "a")
    assert spawn_time(s, "c") >= running_time(s, "b")
    assert running_time(s, "c") - spawn_time(s, "a") >= 2.9
    rc, elapsed = s.stop()
    assert rc == 0, s.err.text()
    term = {n: record_time(log, n, "SIGTERM") for n in "abc"}
    done = {n: record_time(log, n, "exit") for n in "abc"}
    assert term["b"] >= done["c"], records(log)
    assert term["a"] >= done["b"], records(log)
    assert elapsed < 8
    assert [m.group(1) for m in (re.search(r"stopped: (\w+)", line) for line
            in s.err.lines(r"^tend: stopped: "))] == ["c", "b", "a"]


def test_a_diamond_starts_the_top_first_the_middle_together_and_the_bottom_last(
        supervise, tmp_path):
    # d depends on b and c, both on a. b is ready after 2 s, c after 1 s:
    # d waits for the later one. At shutdown d goes first, then b and c
    # together, then a.
    log = tmp_path / "signals"
    s = start(supervise, tmp_path, f"""
        [program:a]
        command={sigrec(log, "a", "--delay", "0.5")}
        [program:b]
        command={sigrec(log, "b", "--delay", "0.8")}
        depends_on=a
        startsecs=2
        [program:c]
        command={sigrec(log, "c", "--delay", "0.8")}
        depends_on=a
        [program:d]
        command={sigrec(log, "d", "--delay", "0.5")}
        depends_on=b, c
        """, args=["-t", "20"])
    running_time(s, "d")
    a_ready = running_time(s, "a")
    assert spawned_names(s)[0] == "a" and spawned_names(s)[3] == "d"
    b, c = spawn_time(s, "b"), spawn_time(s, "c")
    assert b >= a_ready and c >= a_ready
    assert abs(b - c) < 0.5
    assert spawn_time(s, "d") >= running_time(s, "b") >= running_time(s, "c")
    rc, _ = s.stop()
    assert rc == 0, s.err.text()
    term = {n: record_time(log, n, "SIGTERM") for n in "abcd"}
    done = {n: record_time(log, n, "exit") for n in "abcd"}
    assert term["b"] >= done["d"] and term["c"] >= done["d"], records(log)
    # together: each got TERM before the other had finished its stop
    assert term["b"] < done["c"] and term["c"] < done["b"], records(log)
    assert term["a"] >= max(done["b"], done["c"]), records(log)


# --- configuration errors -----------------------------------------------------------

CYCLES = {
    "two": [("a", "b"), ("b", "a")],
    "three": [("a", "b"), ("b", "c"), ("c", "a")],
    "self": [("a", "a")],
    # longer than any fixed-size path a message could be built from
    "twenty": [(f"p{i}", f"p{(i + 1) % 20}") for i in range(20)],
}


@pytest.mark.parametrize("case", CYCLES)
def test_a_dependency_cycle_is_a_config_error_naming_it(tmp_path, case):
    edges = CYCLES[case]
    lines = []
    for name, dep in edges:
        lines += [f"[program:{name}]", "command=sleep 1000",
                  f"depends_on={dep}"]
    conf = tmp_path / "tend.ini"
    conf.write_text("\n".join(lines) + "\n")
    r = run_tend("child", ["--check", "-c", str(conf)])
    assert r.returncode == 2, r.stdout + r.stderr
    m = re.search(rf"^tend: {re.escape(str(conf))}:(\d+): \[program:(\w+)\]: "
                  rf"depends_on makes a cycle: (.*)$", r.stderr, re.M)
    assert m, r.stderr
    # the cycle, whole, from the program it names: each depends on the next
    names = m.group(3).split(" -> ")
    assert names[0] == names[-1] == m.group(2), names
    assert len(names) == len(edges) + 1, names
    assert all((x, y) in edges for x, y in zip(names, names[1:])), names
    # the line is that of the depends_on of the program it names, as for
    # any other bad value
    assert lines[int(m.group(1)) - 1] == \
        f"depends_on={dict(edges)[m.group(2)]}", lines[int(m.group(1)) - 1]
    # and tend itself refuses to start anything
    r = run_tend("pid1", ["-c", str(conf)])
    assert r.returncode == 2
    assert "depends_on makes a cycle" in r.stderr
    assert "spawned" not in r.stderr


def test_an_unknown_dependency_is_a_config_error_with_file_and_line(tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:a]\ncommand=sleep 1000\n\n[program:b]\n"
                    "command=sleep 1000\ndepends_on=a, nosuch\n")
    r = run_tend("child", ["--check", "-c", str(conf)])
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"tend: {conf}:6: [program:b]: depends_on: no program or group " \
        f"named 'nosuch'" in r.stderr.splitlines(), r.stderr
    r = run_tend("pid1", ["-c", str(conf)])
    assert r.returncode == 2 and "spawned" not in r.stderr


def test_a_bad_depends_on_from_the_environment_names_the_variable(tmp_path):
    # README: "tend: $VARIABLE: message" for an override; the file did
    # not say it.
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:a]\ncommand=sleep 1000\n"
                    "[program:b]\ncommand=sleep 1000\ndepends_on=a\n")
    for value, message in (("nosuch", "depends_on: no program or group named "
                            "'nosuch'"), ("b", "depends_on makes a cycle")):
        r = run_tend("child", ["--check", "-c", str(conf)],
                     env=dict(os.environ, TEND_PROGRAM_A_DEPENDS_ON=value))
        assert r.returncode == 2, r.stdout + r.stderr
        line, = r.stderr.splitlines()
        assert message in line
        assert line.startswith("tend: $TEND_PROGRAM_A_DEPENDS_ON: "), line


def test_a_group_name_in_depends_on_means_all_its_processes(supervise,
                                                            tmp_path):
    go = tmp_path / "go"
    s = start(supervise, tmp_path, f"""
        [group:backend]
        programs=db,cache
        [program:db]
        command=sleep 1000
        ready=command:test -e {go}
        [program:cache]
        command=sleep 1000
        startsecs=0
        [program:app]
        command=sleep 1000
        depends_on=backend
        """)
    running_time(s, "cache")
    time.sleep(1)
    assert "app" not in spawned_names(s)
    assert status(s)["app"] == ("STOPPED", "Waiting for db")
    go.touch()
    assert spawn_time(s, "app") >= running_time(s, "db")
    assert s.stop()[0] == 0, s.err.text()


def test_depends_on_names_a_program_whatever_its_process_names_and_group(
        supervise, tmp_path):
    go = tmp_path / "go"
    s = start(supervise, tmp_path, f"""
        [group:pool]
        programs=worker
        [program:worker]
        command=sleep 1000
        numprocs=2
        process_name=%(program_name)s_%(process_num)d
        ready=command:test -e {go}
        [program:app]
        command=sleep 1000
        depends_on=worker
        """)
    spawn_time(s, "worker_1")
    time.sleep(1)
    assert "app" not in spawned_names(s)
    assert status(s)["app"][0] == "STOPPED", status(s)
    go.touch()
    assert spawn_time(s, "app") >= max(running_time(s, "worker_0"),
                                       running_time(s, "worker_1"))
    assert s.stop()[0] == 0, s.err.text()


# --- a FATAL dependency ---------------------------------------------------------------

def test_dependents_of_a_fatal_program_are_not_started_and_say_why(supervise,
                                                                   tmp_path):
    s = start(supervise, tmp_path, """
        [program:db]
        command=sh -c 'exit 1'
        startretries=1
        [program:app]
        command=sleep 1000
        depends_on=db
        [program:other]
        command=sleep 1000
        """)
    s.err.wait_for(r"^tend: gave up: db entered FATAL state")
    s.err.wait_for(r"^tend: warning: app: not started: its dependency db is "
                   r"FATAL$")
    time.sleep(1)
    assert "app" not in spawned_names(s)
    table = status(s)
    assert table["app"] == ("STOPPED", "Not started: dependency db is FATAL")
    assert table["other"][0] == "RUNNING"
    assert s.running()
    # a start asked for by hand fails the same way, at once
    r = ctl(s, "start", "app")
    assert (r.returncode, r.stdout) == (7, "app: ERROR (spawn error)\n"), \
        r.stdout + r.stderr
    assert s.stop()[0] == 0, s.err.text()


def test_ctl_start_of_a_dependent_starts_its_fatal_dependency_again(
        supervise, tmp_path):
    # db fails until its file exists, and goes FATAL; app, autostart,
    # is not started. Once db can work, `tend ctl start app` starts what
    # app depends on first (README), db included, then app: as it does
    # for a dependent that was not autostart.
    fixed = tmp_path / "fixed"
    s = start(supervise, tmp_path, f"""
        [program:db]
        command=sh -c 'test -e {fixed} && exec sleep 1000'
        startretries=0
        [program:app]
        command=sleep 1000
        depends_on=db
        """)
    s.err.wait_for(r"^tend: warning: app: not started: its dependency db is "
                   r"FATAL$")
    fixed.touch()
    r = ctl(s, "start", "app")
    assert (r.returncode, r.stdout) == (0, "app: started\n"), \
        r.stdout + r.stderr + s.err.text()
    assert len(s.spawns("db")) == 2
    assert spawn_time(s, "app") >= running_time(s, "db")
    assert s.stop()[0] == 0, s.err.text()


def test_start_of_a_program_whose_indirect_dependency_is_fatal_does_not_hang(
        supervise, tmp_path):
    # web depends on app, app on db, and db is FATAL: app is never
    # started, so neither is web; tend ctl start web must say so rather
    # than wait for ever.
    s = start(supervise, tmp_path, """
        [program:db]
        command=sh -c 'exit 1'
        startretries=0
        [program:app]
        command=sleep 1000
        depends_on=db
        [program:web]
        command=sleep 1000
        depends_on=app
        """)
    s.err.wait_for(r"^tend: warning: app: not started: its dependency db is "
                   r"FATAL$")
    time.sleep(0.5)
    r = ctl(s, "start", "web", timeout=20)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "web" not in spawned_names(s)
    assert s.stop()[0] == 0, s.err.text()


def test_a_critical_dependency_going_fatal_ends_tend(supervise, tmp_path):
    s = start(supervise, tmp_path, """
        [program:db]
        command=sh -c 'exit 3'
        startretries=1
        critical=true
        [program:app]
        command=sleep 1000
        depends_on=db
        [program:other]
        command=sleep 1000
        """)
    assert s.wait() == 3, s.err.text()
    assert "app" not in spawned_names(s)
    assert s.err.lines(r"^tend: warning: db is critical and has ended: "
                       r"shutting down$")


# --- a oneshot dependency ------------------------------------------------------------

ONESHOT = """
    [program:migrate]
    command=sh -c 'echo migrating; sleep 2; echo migrated'
    ready=exited
    autorestart=false
    [program:app]
    command=sleep 1000
    depends_on=migrate
    """


def test_a_dependent_of_a_oneshot_starts_once_the_oneshot_has_succeeded(
        supervise, tmp_path):
    # README's own example: depends_on = db, migrate. A oneshot
    # (ready=exited, autorestart=false) is ready when it exits with an
    # expected status; what depends on it must not run beside the
    # migration.
    s = start(supervise, tmp_path, ONESHOT)
    done = s.err.wait_for(r"^tend: exited: migrate \(exit status 0; "
                          r"expected\)$")
    app = spawn_time(s, "app")
    assert app >= done, (f"app spawned {done - app:.2f} s before the "
                         f"migration ended:\n{s.err.text()}")
    assert s.stop()[0] == 0, s.err.text()


def test_a_oneshot_that_succeeded_does_not_keep_readyz_at_503(supervise,
                                                              tmp_path):
    # Once the migration has run and exited 0, and app is up, nothing is
    # left to wait for: /readyz (a Kubernetes readinessProbe) must pass.
    s = start(supervise, tmp_path, ONESHOT)
    s.err.wait_for(r"^tend: exited: migrate \(exit status 0; expected\)$")
    running_time(s, "app")
    assert state(s, "migrate") == "EXITED"
    assert http_get(s, "/readyz") == (200, "ok\n")
    assert ctl(s, "ready").returncode == 0
    assert s.stop()[0] == 0, s.err.text()


# --- main waits ---------------------------------------------------------------------

@pytest.mark.parametrize("waits", [True, False])
def test_main_waits_for_the_programs_to_be_ready_only_with_main_waits(
        supervise, tmp_path, waits):
    go = tmp_path / "go"
    port = free_port()
    s = start(supervise, tmp_path, f"""
        [tend]
        main_waits={"true" if waits else "false"}
        [program:db]
        command={LISTEN} {port} --wait {go}
        ready=tcp:127.0.0.1:{port}
        ready_interval=0.2
        [program:worker]
        command=sleep 1000
        startsecs=1
        """, command=["sh", "-c", "echo main is up; exec sleep 1000"])
    if not waits:
        s.out.wait_for(r"^main is up$")
        assert state(s, "db") == "STARTING"
        go.touch()
        running_time(s, "db")
    else:
        running_time(s, "worker")
        time.sleep(1.5)
        assert "main" not in spawned_names(s)
        assert not s.out.lines("main is up")
        assert status(s)["main"] == ("STOPPED", "Waiting for db")
        go.touch()
        main = spawn_time(s, "main")
        assert main >= running_time(s, "db")
        assert main >= running_time(s, "worker")
        s.out.wait_for(r"^main is up$")
    assert s.stop()[0] == 143, s.err.text()


# --- tend ctl with dependencies ------------------------------------------------------

CHAIN = """
    [program:a]
    command={a}
    autostart=false
    [program:b]
    command={b}
    depends_on=a
    autostart=false
    [program:c]
    command={c}
    depends_on=b
    autostart=false
    [program:other]
    command=sleep 1000
    startsecs=0
    """


def test_ctl_start_starts_the_dependencies_first(supervise, tmp_path):
    s = start(supervise, tmp_path, CHAIN.format(a="sleep 1000", b="sleep 1000",
                                                c="sleep 1000"))
    running_time(s, "other")
    r = ctl(s, "start", "c")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "c: started\n"
    assert spawned_names(s) == ["other", "a", "b", "c"]
    assert spawn_time(s, "b") >= running_time(s, "a")
    assert spawn_time(s, "c") >= running_time(s, "b")
    assert {n: v[0] for n, v in status(s).items()} == dict.fromkeys(
        "abc", "RUNNING") | {"other": "RUNNING"}
    assert s.stop()[0] == 0, s.err.text()


def test_ctl_stop_stops_the_dependents_first_and_restart_brings_them_back(
        supervise, tmp_path):
    log = tmp_path / "signals"
    s = start(supervise, tmp_path, CHAIN.format(
        a=sigrec(log, "a", "--delay", "0.5"),
        b=sigrec(log, "b", "--delay", "0.5"),
        c=sigrec(log, "c", "--delay", "0.5")).replace("autostart=false",
                                                      "autostart=true"),
        args=["-t", "20"])
    running_time(s, "c")
    r = ctl(s, "stop", "a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "a: stopped\n"
    term = {n: record_time(log, n, "SIGTERM") for n in "abc"}
    done = {n: record_time(log, n, "exit") for n in "abc"}
    assert None not in term.values(), records(log)
    assert term["b"] >= done["c"] and term["a"] >= done["b"], records(log)
    table = status(s)
    assert [table[n][0] for n in "abc"] == ["STOPPED"] * 3
    assert table["other"][0] == "RUNNING"
    # stopped on request: nothing comes back by itself
    time.sleep(1.5)
    assert [state(s, n) for n in "abc"] == ["STOPPED"] * 3
    assert s.running()
    assert s.stop()[0] == 0, s.err.text()


def test_ctl_restart_of_a_dependency_starts_its_dependents_again_after_it(
        supervise, tmp_path):
    s = start(supervise, tmp_path, CHAIN.format(
        a="sleep 1000", b="sleep 1000", c="sleep 1000").replace(
            "autostart=false", "autostart=true"))
    running_time(s, "c")
    r = ctl(s, "restart", "a")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_until(lambda: [state(s, n) for n in "abc"] == ["RUNNING"] * 3,
               what=f"a, b and c RUNNING again: {status(s)}")
    assert spawned_names(s)[-3:] == ["a", "b", "c"], spawned_names(s)
    assert spawn_time(s, "b", 2) >= spawn_time(s, "a", 2)
    assert spawn_time(s, "c", 2) >= spawn_time(s, "b", 2)
    assert s.stop()[0] == 0, s.err.text()


def test_ctl_status_says_what_a_program_is_waiting_for(supervise, tmp_path):
    go_a, go_b = tmp_path / "go_a", tmp_path / "go_b"
    s = start(supervise, tmp_path, f"""
        [program:a]
        command=sleep 1000
        ready=command:test -e {go_a}
        ready_interval=0.2
        [program:b]
        command=sleep 1000
        ready=command:test -e {go_b}
        ready_interval=0.2
        [program:c]
        command=sleep 1000
        depends_on=a,b
        """)
    wait_until(lambda: status(s).get("c") == ("STOPPED", "Waiting for a, b"),
               what=f"c waiting: {status(s)}")
    go_a.touch()
    running_time(s, "a")
    assert status(s)["c"] == ("STOPPED", "Waiting for b")
    r = ctl(s, "status", "c")
    assert r.returncode == 3, r.stdout	# not RUNNING
    go_b.touch()
    wait_state(s, "c", "RUNNING")
    assert ctl(s, "status", "c").returncode == 0
    assert s.stop()[0] == 0, s.err.text()


# --- idle ---------------------------------------------------------------------------

def test_no_wake_up_once_everything_is_ready(supervise, tmp_path):
    # A notify program, a tcp check and a command check that held late,
    # after failed tries, and a dependent: once all are RUNNING, tend
    # sleeps in its one blocking call.
    go, port = tmp_path / "go", free_port()
    s = start(supervise, tmp_path, f"""
        [program:n]
        command={NOTIFY} --wait {go} --stay READY=1
        ready=notify
        [program:t]
        command={LISTEN} {port} --wait {go}
        ready=tcp:127.0.0.1:{port}
        ready_interval=0.1
        [program:c]
        command=sleep 1000
        ready=command:test -e {go}
        ready_interval=0.1
        [program:d]
        command=sleep 1000
        depends_on=n,t,c
        startsecs=0
        """)
    time.sleep(1)
    go.touch()
    running_time(s, "d")
    assert ctl(s, "ready").returncode == 0
    time.sleep(0.5)
    before = switches(s.pid)
    time.sleep(3)
    assert switches(s.pid) == before
    assert s.stop()[0] == 0, s.err.text()


# --- health and readiness endpoints ---------------------------------------------------

def test_readyz_and_healthz_follow_readiness(supervise, tmp_path):
    # vital is critical: /healthz waits for it alone; /readyz waits for
    # every autostart program; both turn 503 during the shutdown.
    go_vital, go_extra = tmp_path / "go_vital", tmp_path / "go_extra"
    log = tmp_path / "signals"
    s = start(supervise, tmp_path, f"""
        [program:vital]
        command=sleep 1000
        critical=true
        ready=command:test -e {go_vital}
        ready_interval=0.2
        [program:extra]
        command={NOTIFY} --wait {go_extra} --stay READY=1
        ready=notify
        [program:slowstop]
        command={sigrec(log, "slowstop", "--delay", "3")}
        startsecs=0
        [program:manual]
        command=sleep 1000
        autostart=false
        """, args=["-t", "20"])
    wait_record(log, "slowstop", "ready")
    assert http_get(s, "/readyz") == (503, "not ready: extra, vital\n")
    assert http_get(s, "/healthz") == (503, "not healthy: vital\n")
    r = ctl(s, "ready")
    assert (r.returncode, r.stdout) == (1, "not ready: extra, vital\n")
    assert ctl(s, "health").returncode == 1
    assert http_get(s, "/livez") == (200, "ok\n")
    go_vital.touch()
    running_time(s, "vital")
    assert http_get(s, "/healthz") == (200, "ok\n")
    assert ctl(s, "health").returncode == 0
    assert http_get(s, "/readyz") == (503, "not ready: extra\n")
    go_extra.touch()
    running_time(s, "extra")
    assert http_get(s, "/readyz") == (200, "ok\n")
    r = ctl(s, "ready")
    assert (r.returncode, r.stdout) == (0, "ok\n")
    # the shutdown takes 3 s (slowstop): meanwhile neither is ok
    s.t.kill(signal.SIGTERM)
    wait_record(log, "slowstop", "SIGTERM")
    code, body = http_get(s, "/readyz")
    assert code == 503 and "tend is shutting down" in body, body
    code, body = http_get(s, "/healthz")
    assert code == 503 and "tend is shutting down" in body, body
    assert s.wait() == 0, s.err.text()


def test_healthz_counts_main_and_readyz_names_a_fatal_program(supervise,
                                                              tmp_path):
    s = start(supervise, tmp_path, """
        [program:broken]
        command=sh -c 'exit 1'
        startretries=0
        """, command=["sleep", "1000"])
    s.err.wait_for(r"^tend: gave up: broken entered FATAL state")
    wait_until(lambda: state(s, "main") == "RUNNING", what="main RUNNING")
    assert http_get(s, "/readyz") == (503, "not ready: broken\n")
    assert http_get(s, "/healthz") == (200, "ok\n")
    assert s.stop()[0] == 143, s.err.text()


def test_a_reload_while_a_tcp_check_runs_keeps_checking_with_the_new_load(
        supervise, tmp_path):
    # the check under way reads its program's settings at every try: a
    # reload that keeps the program (unchanged, or changed in place)
    # hands it the new load, whose old one is gone
    port = free_port()
    ini = f"""
        [program:late]
        command=sleep 1000
        ready=tcp:127.0.0.1:{port}
        ready_interval=0.1
        ready_timeout=60
        """
    s = start(supervise, tmp_path, ini)
    spawn_time(s, "late")
    for n in range(1, 4):
        if n == 2:          # a change in place: the ready_timeout
            s.conf.write_text(s.conf.read_text().replace(
                "ready_timeout=60", "ready_timeout=50"))
        os.kill(s.pid, signal.SIGHUP)
        s.err.wait_for(r"^tend: SIGHUP received, reloading", count=n)
        time.sleep(0.5)
    assert s.running(), s.err.text()
    assert status(s)["late"][0] == "STARTING"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        running_time(s, "late")
    assert s.stop()[0] == 0, s.err.text()
