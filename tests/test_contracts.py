"""The contracts a tini user and a new user rely on: which configuration
tend reads (with a command, only its own; without one, supervisord's
too), tini's environment variables, the termination message with default
output settings, a terminal left alone, and main's exec failure reported
before any RUNNING line."""
import os
import pty
import shutil
import signal
import subprocess
import textwrap

import pytest

from conftest import MODES, PYTHON, TEND, alive, helper, run_tend, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (namespaces, mounts)")

SUPERVISORD_CONF = textwrap.dedent("""\
    [supervisord]
    logfile=/tmp/tend-contract-supervisord.log

    [program:from_supervisord_conf]
    command=sleep 1000
    """)


def with_etc(tmp_path, files, argv, env=None, timeout=30):
    """Runs argv (tend as PID 1 of a new PID namespace) with /etc replaced
    by a copy holding files, in a private mount namespace."""
    etc = tmp_path / "etc"
    shutil.copytree("/etc", etc, symlinks=True,
                    ignore=shutil.ignore_patterns("supervisor*", "tend.ini"))
    for name, text in files.items():
        path = etc / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    script = f'mount --bind "{etc}" /etc && exec "$@"'
    env = dict(os.environ if env is None else env)
    env.pop("TEND_CONFIG", None)	# the search itself is tested
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
         "--mount-proc", "--kill-child", "sh", "-c", script, "sh", *argv],
        capture_output=True, text=True, timeout=timeout, env=env)


def test_with_a_command_a_supervisord_conf_is_not_read(tmp_path):
    r = with_etc(tmp_path, {"supervisor/supervisord.conf": SUPERVISORD_CONF},
                 [TEND, "--", "sh", "-c", "kill -USR2 $$; exit 5"])
    # no warning about [supervisord], and USR2 reached the command
    assert r.stderr == "", r.stderr
    assert r.returncode == 128 + signal.SIGUSR2


def test_with_a_command_etc_tend_ini_is_still_read(tmp_path):
    ini = "[program:side]\ncommand=sleep 1000\n"
    r = with_etc(tmp_path, {"tend.ini": ini},
                 [TEND, "-v", "--", "sh", "-c", "exit 4"])
    assert r.returncode == 4
    assert "spawned: 'side'" in r.stderr, r.stderr


def test_without_a_command_supervisord_conf_is_found(tmp_path):
    r = with_etc(tmp_path, {"supervisor/supervisord.conf": SUPERVISORD_CONF},
                 [TEND, "--check"])
    assert r.returncode == 0, r.stderr
    assert "config: /etc/supervisor/supervisord.conf" in r.stdout
    assert "[from_supervisord_conf]" in r.stdout


def test_help_says_which_files_are_read():
    r = subprocess.run([TEND, "--help"], capture_output=True, text=True)
    assert "without COMMAND also /etc/supervisord.conf" in r.stdout


# --- tini's environment variables -------------------------------------------

WAIT_FOR_SLEEP = ("trap 'echo usr1' USR1; sleep 1000 & "
                  "while kill -0 $! 2>/dev/null; do wait $!; done; exit 3")


@pytest.mark.parametrize("mode", MODES)
def test_tini_kill_process_group_forwards_to_the_group(tend, mode):
    env = dict(os.environ, TINI_KILL_PROCESS_GROUP="1")
    t = tend(mode, ["sh", "-c", WAIT_FOR_SLEEP], env=env)
    wait_until(lambda: len(t.descendants()) == 2 and
               open(f"/proc/{t.descendants()[1]}/comm").read().strip() ==
               "sleep", what="sh and its sleep")
    t.kill(signal.SIGUSR1)
    # the sleep got USR1 too, died, and sh exited 3
    assert t.wait() == 3


def test_tini_subreaper_is_accepted_quietly():
    r = run_tend("child", ["sh", "-c", "exit 0"],
                 env=dict(os.environ, TINI_SUBREAPER=""))
    assert r.returncode == 0
    assert r.stderr == ""


@pytest.mark.parametrize("level,shown,hidden", [
    ("0", [], ["debug: ", "spawned: 'main'"]),
    ("2", ["spawned: 'main'"], ["debug: "]),
    ("3", ["debug: ", "spawned: 'main'"], []),
])
def test_tini_verbosity_replaces_the_level_of_v(level, shown, hidden):
    r = run_tend("pid1", ["-vvv", "sh", "-c", "exit 0"],
                 env=dict(os.environ, TINI_VERBOSITY=level))
    assert r.returncode == 0
    for text in shown:
        assert text in r.stderr, r.stderr
    for text in hidden:
        assert text not in r.stderr, r.stderr


# --- the termination message with default output settings ------------------

STDERR_THEN_EXIT = ("for i in 1 2 3; do echo \"line $i of the failure\" >&2; "
                    "done; echo out; exit 3")


def test_main_fills_the_termination_message_with_default_settings(tmp_path):
    term = tmp_path / "termination-log"
    term.write_text("")
    env = dict(os.environ, TEND_TERMINATION_LOG=str(term))
    r = run_tend("pid1", ["sh", "-c", STDERR_THEN_EXIT], env=env)
    assert r.returncode == 3
    text = term.read_text()
    assert text.startswith("tend: critical program 'main' ended"), text
    assert text.endswith("last lines on its stderr:\nline 1 of the failure\n"
                         "line 2 of the failure\nline 3 of the failure\n"), text
    # the bytes still reach tend's stderr and stdout unchanged
    assert r.stderr == ("line 1 of the failure\nline 2 of the failure\n"
                        "line 3 of the failure\n"), r.stderr
    assert r.stdout == "out\n"


def test_a_critical_program_fills_the_message_with_default_settings(tmp_path):
    term = tmp_path / "termination-log"
    term.write_text("")
    conf = tmp_path / "tend.ini"
    conf.write_text(textwrap.dedent(f"""\
        [tend]
        termination_log={term}

        [program:vital]
        command=sh -c '{STDERR_THEN_EXIT}'
        critical=true
        autorestart=false
        startsecs=0
        """))
    r = run_tend("pid1", ["-c", str(conf)])
    assert r.returncode == 3, r.stderr
    text = term.read_text()
    assert text.startswith("tend: critical program 'vital' ended"), text
    assert "last lines on its stderr:\nline 1 of the failure\n" in text
    assert "line 3 of the failure\n" in r.stderr


def test_without_a_termination_log_main_keeps_tends_stderr(tmp_path, tend):
    env = dict(os.environ, TEND_TERMINATION_LOG=str(tmp_path / "absent"))
    t = tend("pid1", ["sleep", "1000"], env=env)
    wait_until(lambda: t.descendants(), what="main")
    main = t.descendants()[0]
    assert os.readlink(f"/proc/{main}/fd/2") == os.readlink(
        f"/proc/{t.pid}/fd/2")


def test_a_terminal_on_stderr_is_left_to_main(tmp_path):
    """docker run -it: main keeps the terminal, even with a termination
    log, which then has no tail."""
    term = tmp_path / "termination-log"
    term.write_text("")
    env = dict(os.environ, TEND_TERMINATION_LOG=str(term))
    report = tmp_path / "fd2"
    script = f"readlink /proc/self/fd/2 > {report}; tty > {report}.tty; exit 3"
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("unshare", ["unshare", "--pid", "--fork", "--mount-proc",
                               "--kill-child", TEND, "sh", "-c", script], env)
    try:
        wait_until(lambda: os.path.exists(f"{report}.tty") and
                   os.path.getsize(f"{report}.tty") > 0, what="main's report")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 3
    assert report.read_text().strip() == open(f"{report}.tty").read().strip()
    assert report.read_text().startswith("/dev/pts/")
    assert "last lines on its stderr" not in term.read_text()


# --- main's exec failure ------------------------------------------------------

def test_main_is_not_running_before_its_exec_worked():
    r = run_tend("pid1", ["-vvv", "--", "--", "true"])
    assert r.returncode == 127
    assert "cannot execute '--'" in r.stderr
    assert "RUNNING" not in r.stderr, r.stderr


def test_main_is_running_once_its_exec_worked():
    r = run_tend("pid1", ["-vvv", "--", "sh", "-c", "sleep 0.2"])
    assert r.returncode == 0
    lines = r.stderr.splitlines()
    running = [i for i, line in enumerate(lines)
               if "main: STARTING -> RUNNING" in line]
    spawned = [i for i, line in enumerate(lines) if "spawned: 'main'" in line]
    assert running and spawned and spawned[0] < running[0], r.stderr
