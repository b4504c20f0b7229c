"""The sanitized build (make asan: tend and the unit tests with glibc,
-fsanitize=address,undefined) against the unit tests and a
representative part of the behaviour tests: crash loops, numprocs, log
files with rotation and SIGUSR2, prefixed and JSON output, the
termination message, the control socket and the HTTP port, reloads and
their arena memory, the loader's pipes and bounds. Every error is fatal
(halt_on_error) and written to a report file under tmp; the bar is that
no report file exists at all."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

ASAN = os.path.join(ROOT, "build", "asan")

# The behaviour tests that run against the sanitized tend.
BEHAVIOUR = [
    # crash loops, backoff, FATAL
    "tests/test_supervise.py::test_crash_loop_with_startsecs_0_is_throttled_and_cheap",
    "tests/test_supervise.py::test_failed_starts_back_off_1_2_3_seconds_then_fatal",
    "tests/test_supervise.py::test_autorestart_unexpected_restarts_only_on_codes_not_in_exitcodes",
    "tests/test_supervise.py::test_stop_escalates_to_sigkill_after_stopwaitsecs",
    "tests/test_supervise.py::test_shutdown_stops_by_descending_priority_equal_ones_together",
    "tests/test_supervise.py::test_bad_input_starts_nothing_and_exits_2_with_one_line",
    # numprocs, the control socket, the HTTP port, reloads and their arenas
    "tests/test_control_limits.py",
    # log files, rotation, SIGUSR2
    "tests/test_output.py::test_rotation_keeps_backups_named_like_supervisord_each_within_maxbytes",
    "tests/test_output.py::test_rotation_with_no_backups_truncates_the_file",
    "tests/test_output.py::test_a_line_longer_than_maxbytes_stays_whole_in_one_file",
    "tests/test_output.py::test_a_rotation_that_fails_is_reported_once_and_tend_goes_on",
    "tests/test_output.py::test_sigusr2_reopens_program_and_tend_log_files_after_an_external_rename",
    "tests/test_output.py::test_tends_logfile_is_a_copy_of_its_log_rotated_by_logfile_maxbytes",
    # prefixed and JSON output
    "tests/test_output.py::test_log_prefix_writes_name_bar_line_exactly",
    "tests/test_output.py::test_log_format_json_gives_one_valid_escaped_object_per_line",
    "tests/test_output.py::test_two_programs_writing_pieces_of_lines_fast_give_only_whole_lines",
    "tests/test_output.py::test_a_long_line_is_cut_into_formatted_pieces_of_at_most_4096_bytes",
    "tests/test_output.py::test_a_full_filesystem_is_reported_once_then_writing_again",
    # the termination message
    "tests/test_supervise.py::test_termination_log_says_which_critical_program_ended_tend",
    "tests/test_output.py::test_termination_log_holds_the_stderr_tail_with_any_output_settings",
    # the loader on pipes and FIFOs, its errors and bounds
    "tests/test_loader.py::test_process_name_failing_in_two_programs_of_a_group_is_two_errors",
    "tests/test_loader.py::test_a_config_on_stdin_is_read_whole",
    "tests/test_loader.py::test_a_config_from_a_fifo_written_slowly_is_read_whole",
    "tests/test_loader.py::test_a_fifo_without_a_writer_stops_on_a_stop_signal",
    "tests/test_loader.py::test_a_nul_byte_in_the_file_is_a_config_error_with_its_line",
    "tests/test_loader.py::test_an_empty_command_is_a_config_error_with_its_line",
    "tests/test_loader.py::test_sigusr2_says_how_many_log_files_could_not_be_reopened",
    "tests/test_loader.py::test_a_spawn_out_of_descriptors_is_not_reported_as_cannot_fork",
]

# tend ctl itself is run under UBSan on its own below.
DESELECTED = [
    "tests/test_control_limits.py::test_tend_ctl_status_stop_start_and_pid_over_the_socket",
]

# Expected failures of logic, not memory: their outcome under the
# slower sanitized build proves nothing either way.
LOGIC = [
    "tests/test_control_limits.py::test_restarting_a_whole_group_always_answers",
]

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (the behaviour tests)")


@pytest.fixture(scope="module")
def sanitized():
    """build/asan, built with make asan (clang, else gcc)."""
    cc = shutil.which("clang") or shutil.which("gcc")
    if not cc:
        pytest.skip("no clang or gcc for the sanitized build")
    r = subprocess.run(["make", "-s", "asan", f"ASAN_CC={os.path.basename(cc)}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("tend", "unit"):
        assert os.access(os.path.join(ASAN, name), os.X_OK), name
    return ASAN


def sanitizer_env(logs):
    """Every report is fatal and goes to a file under logs."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join([
        "halt_on_error=1", "abort_on_error=0", "detect_leaks=1",
        "detect_stack_use_after_return=1", "strict_string_checks=1",
        "check_initialization_order=1", f"log_path={logs}/asan",
    ])
    env["UBSAN_OPTIONS"] = ":".join([
        "halt_on_error=1", "print_stacktrace=1", f"log_path={logs}/ubsan",
    ])
    return env


def reports(logs):
    found = []
    for name in sorted(os.listdir(logs)):
        with open(os.path.join(logs, name), errors="replace") as f:
            found.append(f"--- {name}\n{f.read()}")
    return found


def test_the_unit_tests_under_asan_and_ubsan(sanitized, tmp_path):
    logs = tmp_path / "reports"
    logs.mkdir()
    r = subprocess.run([os.path.join(sanitized, "unit")], capture_output=True,
                       text=True, timeout=300, env=sanitizer_env(logs))
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout
    assert reports(logs) == []


def test_the_behaviour_tests_under_asan_and_ubsan(sanitized, tmp_path):
    logs = tmp_path / "reports"
    logs.mkdir()
    env = sanitizer_env(logs)
    env["TEND_BIN"] = os.path.join(sanitized, "tend")
    r = subprocess.run([sys.executable, "-m", "pytest", "-p",
                        "no:cacheprovider", "-q", "-x", *BEHAVIOUR,
                        *(f"--deselect={d}" for d in DESELECTED + LOGIC)],
                       cwd=ROOT, capture_output=True, text=True,
                       timeout=1800, env=env)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert reports(logs) == [], "\n".join(reports(logs))[:20000]


def test_tend_ctl_under_asan_and_ubsan(sanitized, tmp_path):
    logs = tmp_path / "reports"
    logs.mkdir()
    env = sanitizer_env(logs)
    env["TEND_BIN"] = os.path.join(sanitized, "tend")
    r = subprocess.run([sys.executable, "-m", "pytest", "-p",
                        "no:cacheprovider", "-q", "-x", *DESELECTED],
                       cwd=ROOT, capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert reports(logs) == [], "\n".join(reports(logs))[:20000]
