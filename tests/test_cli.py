"""The command line: options, usage errors, exit statuses and exec failures."""
import os
import signal

import pytest

from conftest import MODES, PYTHON, TEND, run_tend


def test_version_prints_name_and_version_on_stdout():
    r = run_tend("child", ["--version"])
    assert r.returncode == 0
    assert r.stdout.startswith("tend ")
    assert r.stderr == ""


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_goes_to_stdout_and_exits_0(flag):
    r = run_tend("child", [flag])
    assert r.returncode == 0
    assert "usage: tend" in r.stdout
    for option in ["-g", "-e CODE", "-p SIGNAL", "-t SECONDS", "-v", "-w", "-s"]:
        assert option in r.stdout


@pytest.mark.parametrize("args,needle", [
    ([], "no command"),
    (["-z", "true"], "'-z'"),
    (["--bogus", "true"], "'--bogus'"),
    (["-e"], "'-e' needs a value"),
    (["-e", "256", "true"], "256"),
    (["-e", "x", "true"], "'x'"),
    (["-e", "-1", "true"], "-1"),
    (["-p", "SIGNOPE", "true"], "SIGNOPE"),
    (["-p", "65", "true"], "65"),
    (["-t", "soon", "true"], "soon"),
    (["-t", "1.5x", "true"], "1.5x"),
])
def test_usage_errors_exit_2_with_one_line_and_a_hint(args, needle):
    r = run_tend("child", args)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("tend: ")
    assert needle in lines[0]
    assert "--help" in lines[0]


def test_option_parsing_stops_at_the_first_non_option():
    r = run_tend("child", ["sh", "-c", "exit 4"])
    assert r.returncode == 4


def test_double_dash_ends_options():
    r = run_tend("child", ["-v", "--", "sh", "-c", "exit 5"])
    assert r.returncode == 5


def test_option_values_attached_and_clustered():
    r = run_tend("child", ["-wvt0.5", "-e3", "sh", "-c", "exit 3"])
    assert r.returncode == 0


def test_s_is_accepted_for_tini_compatibility():
    assert run_tend("child", ["-s", "true"]).returncode == 0


@pytest.mark.parametrize("mode", MODES)
def test_exit_codes_0_to_255_pass_through(mode):
    codes = []
    for n in range(256):
        codes.append(run_tend(mode, ["sh", "-c", f"exit {n}"]).returncode)
    assert codes == list(range(256))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT, signal.SIGQUIT,
                                 signal.SIGKILL, signal.SIGSEGV, signal.SIGTERM,
                                 signal.SIGUSR1, signal.SIGABRT])
def test_command_killed_by_signal_n_exits_128_plus_n(mode, sig):
    # Python installs handlers for some signals; restore the default first.
    reset = "" if sig == signal.SIGKILL else f"signal.signal({int(sig)}, signal.SIG_DFL); "
    code = f"import os, signal; {reset}os.kill(os.getpid(), {int(sig)})"
    r = run_tend(mode, [PYTHON, "-c", code])
    assert r.returncode == 128 + sig


def test_e_maps_every_code_to_zero():
    for n in range(256):
        r = run_tend("child", ["-e", str(n), "sh", "-c", f"exit {n}"])
        assert r.returncode == 0, n


def test_e_leaves_other_codes_alone():
    others = [a for n in range(256) if n != 77 for a in ("-e", str(n))]
    r = run_tend("child", [*others, "sh", "-c", "exit 77"])
    assert r.returncode == 77


def test_e_applies_to_128_plus_n():
    r = run_tend("child", ["-e", "143", "sh", "-c", "kill -TERM $$"])
    assert r.returncode == 0


def test_e_is_repeatable():
    r = run_tend("child", ["-e", "3", "-e", "4", "sh", "-c", "exit 4"])
    assert r.returncode == 0


@pytest.mark.parametrize("mode", MODES)
def test_command_not_found_exits_127_naming_it(mode):
    r = run_tend(mode, ["/nonexistent/cmd"])
    assert r.returncode == 127
    assert r.stderr.count("\n") == 1
    assert "/nonexistent/cmd" in r.stderr
    assert "No such file or directory" in r.stderr


def test_command_not_on_path_exits_127():
    r = run_tend("child", ["no-such-command-anywhere"])
    assert r.returncode == 127
    assert "no-such-command-anywhere" in r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_command_not_executable_exits_126_naming_it(mode, tmp_path):
    f = tmp_path / "script"
    f.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(f, 0o644)
    for target in (str(f), "/etc"):
        r = run_tend(mode, [target])
        assert r.returncode == 126
        assert target in r.stderr
        assert "Permission denied" in r.stderr
        assert r.stderr.count("\n") == 1


def test_quiet_by_default_and_verbose_with_v():
    quiet = run_tend("child", ["true"])
    assert quiet.stderr == ""
    loud = run_tend("child", ["-v", "true"])
    assert "tend: spawned: 'main' with pid" in loud.stderr
    debug = run_tend("child", ["-vv", "true"])
    assert "tend: debug:" in debug.stderr


def test_stdin_is_passed_through():
    r = run_tend("child", ["sh"], input="exit 9\n")
    assert r.returncode == 9


def test_binary_is_static():
    with open(TEND, "rb") as f:
        elf = f.read()
    assert elf[:4] == b"\x7fELF"
    assert b"/lib64/ld-linux" not in elf and b"ld-musl" not in elf
