"""The relay of the programs' output (issue 4): zero-copy inheritance when
nothing is formatted; the prefix, timestamp and JSON formats and their
overrides; whole lines whatever the programs' writes; long and partial
lines; log files, their rotation and SIGUSR2; write errors; a stuck
stdout that must never hold PID 1 up; no output lost at exit; tend's own
log file; and the stderr tail in the termination message.

Programs that must write known output run helpers/emit.py, whose lines
are a function of their number, so that a loss, a duplicate, a cut or a
mix shows."""
import datetime
import fcntl
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import textwrap
import time

import pytest

from conftest import (PYTHON, TEND, Tend, alive, helper, run_tend,
                      tend_argv, wait_until)
from test_supervise import Lines, supervise  # noqa: F401 (a fixture)

sys.path.insert(0, os.path.dirname(helper("emit.py")))
import emit  # noqa: E402

EMIT = f"{PYTHON} {helper('emit.py')}"
SIGNALS = helper("signals.py")
PIPE_BUF = 4096
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (PID namespaces, mounts)")


# --- machinery ---------------------------------------------------------------

def fd_target(pid, fd):
    return os.readlink(f"/proc/{pid}/fd/{fd}")


def wait_exited(s, name, count=1):
    # [tend] log_timestamp also stamps tend's own lines
    s.err.wait_for(rf"^({STAMP} )?tend: (warning: )?exited: {name} \(",
                   count=count)


def stopped_output(s):
    """Stops tend (SIGTERM) and returns (stdout, stderr) as bytes."""
    rc, _ = s.stop()
    assert rc == 0, s.err.text()
    return (s.dir / "tend.stdout").read_bytes(), \
        (s.dir / "tend.stderr").read_bytes()


def lines_of(data):
    """The lines of bytes, without their newlines, cut at newlines only
    (str.splitlines also cuts at other characters)."""
    lines = data.decode().split("\n")
    assert lines[-1] == "", f"no newline at the end: {lines[-1]!r}"
    return lines[:-1]


def not_tend_lines(err):
    return [line for line in lines_of(err)
            if not re.match(rf"({STAMP} )?tend: ", line)]


def read_bytes(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def vm_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} for {pid}")


class PipedTend:
    """tend (PID 1) on an INI file with its stdout on a pipe that the test
    holds and never reads; stderr tailed like supervise's."""

    def __init__(self, workdir, ini, args=(), command=()):
        workdir.mkdir(parents=True, exist_ok=True)
        self.dir = workdir
        conf = workdir / "tend.ini"
        conf.write_text(textwrap.dedent(ini).lstrip("\n"))
        self.r, w = os.pipe()
        argv = ["-c", str(conf), *args]
        if command:
            argv += ["--", *command]
        err_path = workdir / "tend.stderr"
        with open(err_path, "wb") as errf:
            self.t = Tend("pid1", argv, stdout=w, stderr=errf)
        os.close(w)
        self.err = Lines(err_path)

    def pipe_bytes(self):
        """Bytes waiting in the stdout pipe."""
        buf = bytearray(4)
        fcntl.ioctl(self.r, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)

    def spawns(self, name):
        return self.err.count(rf"^tend: spawned: '{name}' with pid \d+$")

    def close(self):
        self.err.stop()
        self.t.close()
        os.close(self.r)


@pytest.fixture
def piped(tmp_path):
    runs = []

    def start(ini, args=(), command=()):
        p = PipedTend(tmp_path / f"piped{len(runs)}", ini, args, command)
        runs.append(p)
        return p

    yield start
    for p in runs:
        p.close()


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs mounted on a temporary directory, unmounted after."""
    path = tmp_path / "small"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755",
                    "tend-test", str(path)], check=True)
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


# --- the default: tend's own descriptors, zero copy ----------------------------

@pytest.mark.parametrize("mode", ["pid1", "child"])
def test_without_formatting_the_program_gets_tends_own_stdout_and_stderr(
        tend, tmp_path, mode):
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:svc]\ncommand=sleep 1000\n")
    t = tend(mode, ["-c", str(conf)])          # stdout and stderr: pipes
    child = wait_until(lambda: t.descendants(), what="the program")[0]
    wait_until(lambda: "sleep" in open(f"/proc/{child}/cmdline").read(),
               what="the program's exec")
    for fd in (1, 2):
        assert fd_target(t.pid, fd).startswith("pipe:")
        assert fd_target(child, fd) == fd_target(t.pid, fd), fd


def test_a_formatted_stream_goes_through_a_pipe_that_tend_reads(tend,
                                                                tmp_path):
    conf = tmp_path / "tend.ini"
    conf.write_text("[program:svc]\ncommand=sleep 1000\nlog_prefix=true\n")
    t = tend("pid1", ["-c", str(conf)])
    child = wait_until(lambda: t.descendants(), what="the program")[0]
    wait_until(lambda: "sleep" in open(f"/proc/{child}/cmdline").read(),
               what="the program's exec")
    tends = {fd_target(t.pid, int(fd)) for fd in os.listdir(f"/proc/{t.pid}/fd")}
    for fd in (1, 2):
        target = fd_target(child, fd)
        assert target.startswith("pipe:"), target
        assert target != fd_target(t.pid, fd)
        assert target in tends      # tend holds the other end


@pytest.mark.parametrize("key,value,child_fd,tend_fd", [
    ("stdout_logfile", "/dev/stderr", 1, 2),
    ("stdout_logfile", "/proc/self/fd/2", 1, 2),
    ("stderr_logfile", "/dev/stdout", 2, 1),
    ("stderr_logfile", "/proc/self/fd/1", 2, 1),
    ("stdout_logfile", "/dev/stdout", 1, 1),
    ("stderr_logfile", "AUTO", 2, 2),
])
def test_dev_stdout_and_dev_stderr_name_tends_own_streams_whatever_maxbytes(
        tend, tmp_path, key, value, child_fd, tend_fd):
    conf = tmp_path / "tend.ini"
    conf.write_text(f"[program:svc]\ncommand=sleep 1000\n{key}={value}\n"
                    f"{key}_maxbytes=1KB\n{key}_backups=2\n")
    t = tend("pid1", ["-c", str(conf)])
    child = wait_until(lambda: t.descendants(), what="the program")[0]
    wait_until(lambda: "sleep" in open(f"/proc/{child}/cmdline").read(),
               what="the program's exec")
    assert fd_target(t.pid, 1) != fd_target(t.pid, 2)
    assert fd_target(child, child_fd) == fd_target(t.pid, tend_fd)


def test_stdout_logfile_dev_stderr_sends_a_programs_stdout_to_tends_stderr(
        supervise):
    # 5 KB through a target with maxbytes=1KB: nothing rotated, nothing lost.
    s = supervise(f"""
        [program:plain]
        command={EMIT} lines 50 1
        stdout_logfile=/dev/stderr
        stdout_logfile_maxbytes=1KB
        startsecs=0
        autorestart=false

        [program:marked]
        command=sh -c 'echo marked-out; echo marked-err >&2'
        stdout_logfile=/dev/stderr
        stderr_logfile=/dev/stdout
        log_prefix=true
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "plain")
    wait_exited(s, "marked")
    out, err = stopped_output(s)
    assert out == b"marked | marked-err\n"
    lines = not_tend_lines(err)
    assert lines.count("marked | marked-out") == 1, lines
    assert [x for x in lines if x != "marked | marked-out"] == \
        [emit.numbered_line(i).rstrip("\n") for i in range(50)]


# --- formats ------------------------------------------------------------------

def test_log_prefix_writes_name_bar_line_exactly(supervise):
    s = supervise(r"""
        [tend]
        log_prefix=true

        [program:svc]
        command=sh -c 'printf "one\ntwo\n\nthree"; printf "err\n" >&2'
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "svc")
    out, err = stopped_output(s)
    assert out == b"svc | one\nsvc | two\nsvc | \nsvc | three\n"
    assert not_tend_lines(err) == ["svc | err"]


@pytest.mark.parametrize("prefix", [False, True], ids=["plain", "prefixed"])
def test_main_takes_tends_format_and_without_one_inherits_tends_streams(
        tmp_path, prefix):
    conf = tmp_path / "tend.ini"
    conf.write_text("[tend]\nlog_prefix=%s\n[program:svc]\ncommand=sleep 1000\n"
                    % ("true" if prefix else "false"))
    p = subprocess.Popen(
        tend_argv("pid1", ["-c", str(conf), "--", "sh", "-c",
                           "echo out; echo err >&2; readlink /proc/$$/fd/1"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ours = f"pipe:[{os.fstat(p.stdout.fileno()).st_ino}]"
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    lines = out.splitlines()
    if prefix:
        assert lines[0] == "main | out"
        assert lines[1].startswith("main | pipe:[") and lines[1][7:] != ours
        assert "main | err" in err.splitlines()
    else:
        assert lines == ["out", ours]
        assert "err" in err.splitlines()


@pytest.mark.parametrize("prefix", [False, True], ids=["alone", "with_prefix"])
def test_log_timestamp_starts_each_line_with_utc_iso8601_milliseconds(
        supervise, prefix):
    s = supervise(f"""
        [tend]
        log_timestamp=true
        log_prefix={str(prefix).lower()}

        [program:svc]
        command=sh -c 'echo one; echo two >&2'
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "svc")
    now = time.time()
    out, err = stopped_output(s)
    name = "svc \\| " if prefix else ""
    (line,) = lines_of(out)
    m = re.fullmatch(rf"({STAMP}) {name}one", line)
    assert m, line
    when = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
    when = when.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert now - 30 < when <= now + 1, (line, now)
    (line,) = not_tend_lines(err)
    assert re.fullmatch(rf"{STAMP} {name}two", line), line


def test_log_format_json_gives_one_valid_escaped_object_per_line(supervise):
    # log_prefix and log_timestamp are ignored in JSON.
    s = supervise(f"""
        [tend]
        log_format=json
        log_prefix=true
        log_timestamp=true

        [program:svc]
        command={EMIT} json
        startsecs=0
        autorestart=false
        """)
    # tend's own lines are JSON too ("program":"tend")
    s.err.wait_for(r'^\{.*"program":"tend".*"line":"exited: svc \(')
    now = time.time()
    out, err = stopped_output(s)
    objects = [json.loads(line) for line in lines_of(err)]
    assert {o["program"] for o in objects} == {"svc", "tend"}
    err_lines = [line for line, o in zip(lines_of(err), objects)
                 if o["program"] == "svc"]
    for lines, stream in ((lines_of(out), "stdout"),
                          (err_lines, "stderr")):
        assert len(lines) == 2, lines
        for line, expected in zip(lines, emit.JSON_LINES):
            assert re.fullmatch(
                r'\{"time":"[^"]*","program":"svc","stream":"std(out|err)",'
                r'"line":".*"\}', line), line
            obj = json.loads(line)
            assert list(obj) == ["time", "program", "stream", "line"]
            assert obj["program"] == "svc"
            assert obj["stream"] == stream
            assert obj["line"] == expected
            assert re.fullmatch(STAMP, obj["time"]), obj["time"]
            when = datetime.datetime.strptime(obj["time"],
                                              "%Y-%m-%dT%H:%M:%S.%fZ")
            when = when.replace(tzinfo=datetime.timezone.utc).timestamp()
            assert now - 30 < when <= now + 1
        raw = lines[0]
        for escape in (r'\"', r"\\", r"\t", r"\r"):
            assert escape in raw, (escape, raw)
        for byte in (1, 0x1f):
            assert re.search(rf"\\u00{byte:02x}", raw, re.I), (byte, raw)
        assert "\x01" not in raw and "\t" not in raw and "\r" not in raw


@pytest.mark.parametrize("env", [
    {},
    {"TEND_PROGRAM_PLAIN_LOG_PREFIX": "true"},
    {"TEND_LOG_PREFIX": "false", "TEND_PROGRAM_PLAIN_LOG_PREFIX": "true"},
], ids=["file", "program_env", "global_and_program_env"])
def test_each_program_may_override_the_default_and_env_overrides_the_file(
        supervise, env):
    s = supervise("""
        [tend]
        log_prefix=true

        [program:marked]
        command=sh -c 'echo from-marked; exec sleep 1000'

        [program:plain]
        command=sh -c 'echo from-plain; exec sleep 1000'
        log_prefix=false

        [program:jsonic]
        command=sh -c 'echo from-jsonic; exec sleep 1000'
        log_format=json
        """, env=dict(os.environ, **env))
    for name in ("marked", "plain", "jsonic"):
        s.out.wait_for(f"from-{name}")
    marked = "from-marked" if env.get("TEND_LOG_PREFIX") == "false" \
        else "marked | from-marked"
    plain = "plain | from-plain" if env else "from-plain"
    lines = s.out.lines()
    assert sorted(x for x in lines if "jsonic" not in x) == \
        sorted([marked, plain]), lines
    (js,) = [json.loads(x) for x in lines if "jsonic" in x]
    assert (js["program"], js["line"]) == ("jsonic", "from-jsonic")


def test_redirect_stderr_joins_stdout_and_none_or_off_discard(supervise):
    s = supervise("""
        [tend]
        log_prefix=true

        [program:both]
        command=sh -c 'echo both-out; echo both-err >&2'
        redirect_stderr=true
        startsecs=0
        autorestart=false

        [program:silent]
        command=sh -c 'echo silent-out; echo silent-err >&2'
        stdout_logfile=NONE
        stderr_logfile=OFF
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "both")
    wait_exited(s, "silent")
    out, err = stopped_output(s)
    assert out == b"both | both-out\nboth | both-err\n"
    assert not_tend_lines(err) == []


# --- whole lines ----------------------------------------------------------------

def test_two_programs_writing_pieces_of_lines_fast_give_only_whole_lines(
        supervise):
    count = 3000
    s = supervise(f"""
        [tend]
        log_prefix=true

        [program:a]
        command={EMIT} interleave a {count}
        startsecs=0
        autorestart=false

        [program:b]
        command={EMIT} interleave b {count}
        startsecs=0
        autorestart=false
        """, args=["-v"])
    wait_exited(s, "a")
    wait_exited(s, "b")
    out, err = stopped_output(s)
    for stream, lines in (("out", lines_of(out)),
                          ("err", not_tend_lines(err))):
        seen = {"a": 0, "b": 0}
        for line in lines:
            m = re.fullmatch(r"(a|b) \| (.*)", line)
            assert m, f"not a whole prefixed line on std{stream}: {line!r}"
            name, text = m.groups()
            i = seen[name]
            assert text == emit.interleave_line(name, stream, i), \
                f"std{stream}: {line!r} is not line {i} of {name}"
            seen[name] += 1
        assert seen == {"a": count, "b": count}, stream


@pytest.mark.parametrize("fmt", ["prefix", "timestamp", "json"])
def test_a_long_line_is_cut_into_formatted_pieces_of_at_most_4096_bytes(
        supervise, fmt):
    text = emit.long_text(20000)
    s = supervise(f"""
        [program:svc]
        command={EMIT} long 20000
        startsecs=0
        autorestart=false
        log_prefix={str(fmt != "json").lower()}
        log_timestamp={str(fmt == "timestamp").lower()}
        log_format={"json" if fmt == "json" else "text"}
        """)
    wait_exited(s, "svc")
    out, _ = stopped_output(s)
    assert out.endswith(b"\n")
    pieces = out.split(b"\n")[:-1]
    assert len(pieces) >= 5, [len(p) for p in pieces]
    payloads = []
    for piece in pieces:
        assert len(piece) + 1 <= PIPE_BUF, len(piece)
        line = piece.decode()       # strict: no cut inside a character
        if fmt == "json":
            obj = json.loads(line)
            assert obj["program"] == "svc" and obj["stream"] == "stdout"
            payloads.append(obj["line"])
        else:
            m = re.fullmatch(rf"{STAMP} svc \| (.*)" if fmt == "timestamp"
                             else r"svc \| (.*)", line)
            assert m, line[:80]
            payloads.append(m.group(1))
    assert "".join(payloads) == text


def test_steady_output_cut_anywhere_for_seconds_keeps_every_line_whole(
        supervise):
    # writes never end on a line: a partial line is always pending, and
    # each one is due 100 ms after its own first byte, not the first one's
    count = 6000
    s = supervise(f"""
        [program:svc]
        command={EMIT} steady {count} 1.5
        log_prefix=true
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "svc")
    out, _ = stopped_output(s)
    assert lines_of(out) == ["svc | " + emit.numbered_line(i)[:-1]
                             for i in range(count)]


def test_a_partial_line_is_written_after_100_ms_while_the_program_runs(
        supervise, tmp_path):
    stamp = tmp_path / "wrote"
    s = supervise(f"""
        [program:svc]
        command=sh -c 'date +%%s.%%N > {stamp}; printf waiting; sleep 2; echo " rest"; exec sleep 1000'
        log_prefix=true
        """)
    shown = s.out.wait_for(r"^svc \| waiting$")
    wrote = float(stamp.read_text())
    assert 0.095 <= shown - wrote <= 1.5, shown - wrote
    assert s.err.count(r"exited: svc") == 0, "the program has ended"
    s.out.wait_for(r"^svc \|  rest$")
    assert s.out.lines() == ["svc | waiting", "svc |  rest"]


def test_a_file_of_one_unformatted_stream_gets_the_exact_bytes(supervise,
                                                               tmp_path):
    log = tmp_path / "exact.log"
    supervise(f"""
        [program:svc]
        command=sh -c 'printf waiting; sleep 1; printf " rest\\n"; printf "no newline"; exec sleep 1000'
        stdout_logfile={log}
        """)
    wait_until(lambda: read_bytes(log) == b"waiting", what="the partial line")
    time.sleep(0.5)
    assert read_bytes(log) == b"waiting", "a newline was added"
    wait_until(lambda: read_bytes(log) == b"waiting rest\nno newline",
               what=f"the rest; so far {read_bytes(log)!r}")
    time.sleep(0.3)
    assert read_bytes(log) == b"waiting rest\nno newline"
    assert os.stat(log).st_mode & 0o777 == 0o644


# --- log files: rotation and reopening ------------------------------------------

def check_rotated(files, expected, maxbytes):
    """files oldest first; expected: every line written, in order. Each
    file holds whole lines, at most maxbytes, and was rotated only when
    the next line did not fit; together they are the last lines written."""
    contents = [f.read_text() for f in files]
    for f, text in zip(files, contents):
        assert len(text.encode()) <= maxbytes, (f, len(text.encode()))
        assert text.endswith("\n"), f
    for f, text, newer in zip(files, contents, contents[1:]):
        first = newer.splitlines(keepends=True)[0]
        assert len(text.encode()) + len(first.encode()) > maxbytes, \
            f"{f} rotated with room for the next line"
    together = "".join(contents).splitlines(keepends=True)
    assert together == expected[-len(together):], \
        "the files are not the last lines written, whole and in order"
    return together


@pytest.mark.parametrize("stream,prefix", [("stdout", False),
                                           ("stderr", True)])
def test_rotation_keeps_backups_named_like_supervisord_each_within_maxbytes(
        supervise, tmp_path, stream, prefix):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "svc.log"
    count = 300                                    # about 24 KB
    s = supervise(f"""
        [program:svc]
        command={EMIT} lines {count} {1 if stream == "stdout" else 2}
        {stream}_logfile={log}
        {stream}_logfile_maxbytes=1KB
        {stream}_logfile_backups=3
        log_prefix={str(prefix).lower()}
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "svc")
    stopped_output(s)
    assert sorted(os.listdir(logs)) == ["svc.log", "svc.log.1", "svc.log.2",
                                        "svc.log.3"]
    name = "svc | " if prefix else ""
    expected = [name + emit.numbered_line(i) for i in range(count)]
    files = [logs / "svc.log.3", logs / "svc.log.2", logs / "svc.log.1", log]
    together = check_rotated(files, expected, 1024)
    assert together[-1] == expected[-1]
    assert len(together) < count, "nothing dropped"


def test_rotation_with_no_backups_truncates_the_file(supervise, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "svc.log"
    s = supervise(f"""
        [program:svc]
        command={EMIT} lines 300 1
        stdout_logfile={log}
        stdout_logfile_maxbytes=1024
        stdout_logfile_backups=0
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "svc")
    stopped_output(s)
    assert os.listdir(logs) == ["svc.log"]
    expected = [emit.numbered_line(i) for i in range(300)]
    text = log.read_text()
    assert 0 < len(text.encode()) <= 1024
    lines = text.splitlines(keepends=True)
    assert lines == expected[-len(lines):]


def test_a_line_longer_than_maxbytes_stays_whole_in_one_file(
        supervise, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "svc.log"
    long = "L" * 250
    s = supervise(f"""
        [program:svc]
        command=sh -c 'echo first; echo {long}; echo last'
        stdout_logfile={log}
        stdout_logfile_maxbytes=100
        stdout_logfile_backups=5
        startsecs=0
        autorestart=false
        """)
    wait_exited(s, "svc")
    stopped_output(s)
    files = {p.name: p.read_text() for p in logs.iterdir()}
    assert files == {"svc.log.2": "first\n", "svc.log.1": long + "\n",
                     "svc.log": "last\n"}


def test_a_rotation_that_fails_is_reported_once_and_tend_goes_on(
        supervise, tmp_path):
    # tend's own log file, whose rotation warning goes into that same file
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "tend.log.1").mkdir()
    (logs / "tend.log.1" / "keep").write_text("a directory in the way\n")
    s = supervise(f"""
        [tend]
        logfile={logs / "tend.log"}
        logfile_maxbytes=100
        logfile_backups=1

        [program:crash]
        command=false
        startsecs=0
        autorestart=true
        """)
    s.err.wait_for(r"tend\.log: cannot rotate")
    # each restart adds a few lines: the file grows on past maxbytes
    wait_until(lambda: (logs / "tend.log").stat().st_size > 300,
               what="tend's log to grow on")
    rc, _ = s.stop()
    assert rc == 0, s.err.text()
    assert s.err.text().count("cannot rotate") == 1


@pytest.fixture
def world_readable_dir():
    d = tempfile.mkdtemp(prefix="tend-test-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d)


def first_child(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
    except FileNotFoundError:
        return None
    return int(kids[0]) if kids else None


def test_a_stuck_stdout_that_tend_may_not_reopen_does_not_block_it(
        world_readable_dir):
    # tend not root, its stdout a pipe of root's (mode 0600): opening
    # /proc/self/fd/1 is refused, yet PID 1 must not block on that pipe
    conf = world_readable_dir / "tend.ini"
    conf.write_text("[tend]\nlog_prefix=true\n[program:spam]\n"
                    "command=sh -c 'while :; do echo spam spam spam; done'\n")
    conf.chmod(0o644)
    r, w = os.pipe()
    p = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
         "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
         TEND, "-t", "1", "-c", str(conf)],
        stdout=w, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        tend = wait_until(lambda: first_child(p.pid), what="tend")
        wait_until(lambda: first_child(tend), what="the spam program")
        time.sleep(1.5)             # the pipe is full long before this
        start = time.monotonic()
        os.kill(tend, signal.SIGTERM)
        p.wait(timeout=20)
        took = time.monotonic() - start
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(r)
    assert p.returncode == 0
    assert took < 1 + 3, f"{took:.1f} s for a budget of 1 s"


def test_sigusr2_reopens_program_and_tend_log_files_after_an_external_rename(
        supervise, tmp_path):
    log, tend_log = tmp_path / "ticker.log", tmp_path / "tend.log"
    s = supervise(f"""
        [tend]
        logfile={tend_log}

        [program:ticker]
        command={EMIT} tick 1 0.05
        stdout_logfile={log}

        [program:crasher]
        command=sh -c 'sleep 0.2; exit 1'
        startsecs=0
        autorestart=true
        """)
    wait_until(lambda: read_bytes(log).count(b"\n") >= 5, what="ticks")
    wait_until(lambda: b"spawned: 'crasher'" in read_bytes(tend_log),
               what="tend's log file")
    ticker = [p for p in s.t.descendants()
              if "tick" in open(f"/proc/{p}/cmdline").read()]
    log.rename(tmp_path / "ticker.log.old")
    tend_log.rename(tmp_path / "tend.log.old")
    time.sleep(0.3)                 # still written through the old names
    s.t.kill(signal.SIGUSR2)
    wait_until(lambda: read_bytes(log).count(b"\n") >= 5,
               what="ticks in the new file")
    wait_until(lambda: b"spawned: 'crasher'" in read_bytes(tend_log),
               what="tend's lines in its new log file")
    assert s.running()
    assert all(alive(p) for p in ticker), "SIGUSR2 reached the program"
    stopped_output(s)
    old = (tmp_path / "ticker.log.old").read_text()
    new = log.read_text()
    assert old and new
    together = (old + new).splitlines(keepends=True)
    assert together == [emit.numbered_line(i) for i in range(len(together))]
    assert "spawned: 'ticker'" in (tmp_path / "tend.log.old").read_text()
    assert "spawned: 'ticker'" not in tend_log.read_text()


@pytest.mark.parametrize("logfile", [False, True],
                         ids=["no_log_file", "a_log_file"])
def test_sigusr2_reaches_main_and_reopens_the_log_files(
        supervise, tmp_path, logfile):
    """gunicorn, nginx and puma take USR2 for upgrades: main always gets
    it, as every other signal, and the log files are reopened too."""
    got = tmp_path / "main-signals"
    log = tmp_path / "svc.log"
    target = f"stdout_logfile={log}" if logfile else ""
    s = supervise(f"""
        [tend]
        log_prefix=true

        [program:svc]
        command={EMIT} tick 1 0.05
        {target}
        """, args=["-t", "1"], command=[PYTHON, SIGNALS, str(got)])
    wait_until(lambda: got.exists() and "ready" in got.read_text().split(),
               what="main")
    if logfile:
        wait_until(lambda: read_bytes(log).count(b"\n") >= 2, what="ticks")
        log.rename(tmp_path / "svc.log.old")
    s.t.kill(signal.SIGUSR2)
    wait_until(lambda: str(int(signal.SIGUSR2)) in got.read_text().split(),
               what="SIGUSR2 in main")
    if logfile:
        wait_until(lambda: read_bytes(log).count(b"\n") >= 2,
                   what="ticks in the reopened file")
    assert s.running()


def test_a_log_file_in_a_missing_directory_is_a_config_error(tmp_path):
    for key in ("stdout_logfile", "stderr_logfile"):
        conf = tmp_path / "tend.ini"
        conf.write_text(f"[program:svc]\ncommand=sleep 1\n"
                        f"{key}=/nonexistent/dir/svc.log\n")
        r = run_tend("pid1", ["-c", str(conf)])
        assert r.returncode == 2, r.stderr
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"tend: {conf}:3: {key}: "), lines[0]
        assert "existing directory" in lines[0]


# --- write errors ----------------------------------------------------------------

NO_SPACE = ("^tend: warning: {path}: No space left on device; "
            "output is dropped until it can be written$")
AGAIN = r"^tend: warning: {path}: writing again, (\d+) bytes of output were dropped$"


def test_dev_full_as_target_is_reported_once_and_tend_goes_on(supervise):
    s = supervise("""
        [program:filler]
        command=sh -c 'for i in $(seq 200); do echo line $i of the filler; done; exit 1'
        stdout_logfile=/dev/full
        startsecs=0
        autorestart=true

        [program:svc]
        command=sleep 1000
        """)
    s.err.wait_for(r"^tend: spawned: 'filler'", count=4)
    s.err.wait_for(r"^tend: success: svc entered RUNNING")
    assert s.err.count(NO_SPACE.format(path="/dev/full")) == 1, s.err.text()
    assert s.err.count(r"writing again") == 0
    assert s.running()
    rc, elapsed = s.stop()
    assert rc == 0, s.err.text()
    assert elapsed < 5
    assert s.err.count(r"^tend: warning: stopped: svc \(terminated by "
                       r"SIGTERM\)$") == 1


def test_a_full_filesystem_is_reported_once_then_writing_again(
        small_fs, supervise):
    log = small_fs / "out.log"
    filler = small_fs / "filler"
    try:
        with open(filler, "wb") as f:
            f.write(b"x" * 40960)
    except OSError:
        pass
    s = supervise(f"""
        [program:ticker]
        command={EMIT} tick 1 0.005
        stdout_logfile={log}
        stdout_logfile_maxbytes=0
        """)
    pattern = NO_SPACE.format(path=re.escape(str(log)))
    s.err.wait_for(pattern)
    time.sleep(1)
    assert s.err.count(pattern) == 1, s.err.text()
    assert s.err.count(r"writing again") == 0
    size = log.stat().st_size
    filler.unlink()
    s.err.wait_for(AGAIN.format(path=re.escape(str(log))))
    wait_until(lambda: log.stat().st_size > size, what="new output")
    (line,) = s.err.lines(AGAIN.format(path=re.escape(str(log))))
    assert int(re.search(AGAIN.format(path=re.escape(str(log))),
                         line).group(1)) > 0
    assert s.running()
    rc, _ = s.stop()
    assert rc == 0, s.err.text()


# --- a stuck stdout never holds PID 1 up ------------------------------------------

def wchan(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read()
    except OSError:
        return ""


def writer(p):
    for pid in p.t.descendants():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().startswith(b"yes\0"):
                    return pid
        except OSError:
            pass
    return -1


def test_a_stdout_nobody_reads_blocks_neither_restarts_signals_nor_shutdown(
        piped, tmp_path):
    got = tmp_path / "main-signals"
    p = piped("""
        [tend]
        log_prefix=true
        shutdown_timeout=2

        [program:writer]
        command=yes a line of output to fill the pipe that nobody reads

        [program:crasher]
        command=sh -c 'echo crashing; exit 1'
        startsecs=0
        autorestart=true
        """, command=[PYTHON, SIGNALS, str(got)])
    wait_until(lambda: got.exists() and "ready" in got.read_text().split(),
               what="main")
    wait_until(lambda: p.pipe_bytes() >= 32768 and
               "pipe_write" in wchan(writer(p)), what="a full stdout pipe")
    rss = vm_kb(p.t.pid, "VmRSS")
    spawns = p.spawns("crasher")
    time.sleep(4)
    assert p.spawns("crasher") >= spawns + 2, "restarts stopped"
    p.t.kill(signal.SIGHUP)
    wait_until(lambda: str(int(signal.SIGHUP)) in got.read_text().split(),
               what="SIGHUP in main")
    assert vm_kb(p.t.pid, "VmRSS") < max(8192, rss + 2048)
    sent = time.monotonic()
    p.t.kill(signal.SIGTERM)
    p.t.proc.wait(timeout=30)
    elapsed = time.monotonic() - sent
    assert elapsed <= 2 + 3, (elapsed, p.err.text())


# --- nothing lost --------------------------------------------------------------

@pytest.mark.parametrize("target", ["prefix", "file"])
def test_no_byte_is_lost_when_a_program_writes_1_mib_and_exits_at_once(
        supervise, tmp_path, target):
    # A critical program: tend exits right after it, and must first write
    # out what is still in the pipe.
    log = tmp_path / "bulk.log"
    option = "log_prefix=true" if target == "prefix" else \
        f"stdout_logfile={log}"
    s = supervise(f"""
        [program:bulk]
        command={EMIT} bulk 1048576
        critical=true
        startsecs=0
        autorestart=false
        {option}
        """)
    assert s.wait() == 0, s.err.text()
    lines = [emit.bulk_line(i) for i in range(1048576 // 64)]
    if target == "prefix":
        data = (s.dir / "tend.stdout").read_bytes()
        expected = "".join("bulk | " + x for x in lines).encode()
    else:
        data = log.read_bytes()
        expected = "".join(lines).encode()
    assert len(data) == len(expected)
    assert data == expected


def test_a_grandchilds_output_after_the_program_exited_is_delivered(
        supervise):
    s = supervise("""
        [program:svc]
        command=sh -c '(sleep 1; echo from-grandchild) & echo from-parent'
        log_prefix=true
        startsecs=0
        autorestart=false
        """)
    s.out.wait_for(r"^svc \| from-parent$")
    exited = s.err.wait_for(r"^tend: exited: svc \(exit status 0")
    shown = s.out.wait_for(r"^svc \| from-grandchild$")
    assert shown > exited


def test_output_written_during_the_shutdown_by_an_orphan_is_delivered(
        supervise, tmp_path):
    # main ends tend; the shutdown's SIGTERM to what is left makes the
    # orphan write, after the program whose pipe it holds has gone.
    ready = tmp_path / "ready"
    s = supervise(f"""
        [program:svc]
        command=sh -c '(trap "sleep 0.5; echo cleanup-output; exit 0" TERM; touch {ready}; sleep 1000 & wait) & exec sleep 1000'
        log_prefix=true
        """, args=["-t", "5"], command=[
        "sh", "-c", f"while [ ! -e {ready} ]; do sleep 0.05; done; exit 0"])
    assert s.wait() == 0, s.err.text()
    assert s.out.lines() == ["svc | cleanup-output"]


# --- tend's own log file -----------------------------------------------------------

@pytest.mark.parametrize("section", ["tend", "supervisord"])
def test_tends_logfile_is_a_copy_of_its_log_rotated_by_logfile_maxbytes(
        supervise, tmp_path, section):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tend.log"
    programs = "".join(f"[program:p{i:02d}]\ncommand=true\nstartsecs=0\n"
                       f"autorestart=false\n\n" for i in range(30))
    s = supervise(f"""
[{section}]
logfile={log}
logfile_maxbytes=1KB
logfile_backups=2

{programs}""", args=["-v"])
    s.err.wait_for(r"^tend: exited: p\d\d ", count=30)
    rc, _ = s.stop()
    assert rc == 0, s.err.text()
    assert sorted(os.listdir(logs)) == ["tend.log", "tend.log.1",
                                        "tend.log.2"]
    expected = [line + "\n" for line in s.err.lines()]
    files = [logs / "tend.log.2", logs / "tend.log.1", log]
    together = check_rotated(files, expected, 1024)
    assert len(together) < len(expected)
    assert all(line.startswith("tend: ") for line in together)


# --- the termination message ---------------------------------------------------------

FIRST = ("tend: critical program 'vital' ended in state FATAL (exit status 3); "
         "tend exited with status 3\n")


@pytest.mark.parametrize("relay,long", [
    ("prefix", 0), ("file", 0), ("none", 0), ("prefix", 3500)],
    ids=["prefix", "file", "none", "prefix_long_line"])
def test_termination_log_holds_the_stderr_tail_with_any_output_settings(
        supervise, tmp_path, relay, long):
    """With a termination log, a critical program's stderr is relayed
    even without a format or file ("none"), so its tail is kept."""
    # long: one line of that many bytes among the last ones
    term = tmp_path / "termination-log"
    term.write_text("")
    option = {"prefix": "log_prefix=true",
              "file": f"stderr_logfile={tmp_path / 'vital.err'}",
              "none": ""}[relay]
    count = 500                           # about 20 KB of stderr
    s = supervise(f"""
        [tend]
        termination_log={term}

        [program:vital]
        command={EMIT} stderr {count} {long}
        critical=true
        startsecs=10
        startretries=0
        environment=SECRET=hunter2
        {option}

        [program:svc]
        command=sleep 1000
        """)
    assert s.wait() == 3, s.err.text()
    data = term.read_bytes()
    assert len(data) <= 4096, len(data)
    text = data.decode()
    assert "hunter2" not in text
    header = FIRST + "last lines on its stderr:\n"
    assert text.startswith(header), text[:300]
    lines = text[len(header):].splitlines(keepends=True)
    expected = [emit.stderr_line(i, count, long) for i in range(count)]
    assert len(lines) >= 5, text
    assert lines[-1] == expected[-1], text
    wrong = [line for line in lines if line not in expected]
    assert not wrong, f"lines the program never wrote: {wrong}"
    assert lines == expected[-len(lines):], \
        f"not the last lines, whole and in order:\n{text}"
