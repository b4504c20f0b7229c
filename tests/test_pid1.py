"""tend as PID 1 of a PID namespace and as a plain child (subreaper):
reaping, signal forwarding, signal state of the command, parent death,
and the graceful shutdown of the whole process tree."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (MODES, PYTHON, alive, children_of, helper, proc_status,
                      run_tend, wait_until)


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


# --- reaping ---------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_100_orphans_exiting_at_once_are_all_reaped(mode):
    r = run_tend(mode, [PYTHON, helper("orphans.py"), "100"], timeout=60)
    assert r.returncode == 0, r.stderr
    assert "reaped 100" in r.stdout
    assert "subreaper" not in r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_w_logs_every_reaped_orphan(mode):
    r = run_tend(mode, ["-w", PYTHON, helper("orphans.py"), "20"], timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("tend: reaped orphan pid") == 20


def test_orphans_are_reparented_to_tend_when_not_pid1(tend):
    t = tend("child", ["sh", "-c", "(sleep 1000 &); sleep 1000"])
    # sh and the orphaned sleep, whose parent subshell has exited.
    wait_until(lambda: len(children_of(t.pid)) == 2, what="the orphan")
    assert "subreaper" not in t.err if t.proc.poll() else True


@pytest.mark.parametrize("mode", MODES)
def test_command_exit_is_seen_when_sigchld_coalesces(mode):
    # The command and 50 orphans die together: the command's exit must be
    # found inside the reaping loop, whichever SIGCHLD is delivered.
    script = ("for i in $(seq 50); do (sleep 0.3 &) ; done; sleep 0.3; exit 6")
    start = time.monotonic()
    r = run_tend(mode, ["sh", "-c", script], timeout=30)
    assert r.returncode == 6
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("mode", MODES)
def test_no_zombie_survives_under_load(mode):
    script = ('for i in $(seq 200); do sh -c "true &" & done; wait; '
              'for i in $(seq 100); do '
              '  z=$(ps -eo stat= 2>/dev/null | grep -c "^Z" || true); '
              '  [ "$z" = 0 ] && exit 0; sleep 0.05; done; exit 1')
    r = run_tend(mode, ["sh", "-c", script], timeout=60)
    assert r.returncode == 0


# --- signals ---------------------------------------------------------------

FORWARDED = [signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM, signal.SIGTERM,
             signal.SIGCONT, signal.SIGURG, signal.SIGXCPU, signal.SIGXFSZ,
             signal.SIGVTALRM, signal.SIGPROF, signal.SIGWINCH, signal.SIGIO,
             signal.SIGPWR, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU,
             signal.SIGSTKFLT, *range(34, 65)]


def start_signal_printer(tend, mode, tmp_path, args=()):
    out = tmp_path / "signals"
    t = tend(mode, ["-t", "60", *args, PYTHON, helper("signals.py"), str(out)])
    wait_until(lambda: "ready" in read_lines(out), what="the command")
    return t, out


@pytest.mark.parametrize("mode", MODES)
def test_every_forwardable_signal_reaches_the_command(tend, mode, tmp_path):
    t, out = start_signal_printer(tend, mode, tmp_path)
    for sig in FORWARDED:
        t.kill(sig)
        wait_until(lambda: str(int(sig)) in read_lines(out),
                   what=f"signal {int(sig)} to arrive")
    assert alive(t.pid)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sig", [32, 33])
def test_libc_reserved_signals_are_forwarded_not_fatal_to_tend(tend, mode, sig,
                                                              tmp_path):
    # musl keeps 32..34 for itself (34 is glibc's SIGRTMIN, covered above):
    # tend must forward them like the others instead of dying of them.
    # glibc programs cannot catch 32 and 33, and whether the sleep dies of
    # one depends on the disposition it inherited, so tend's own debug
    # line is the witness of the forwarding.
    log = tmp_path / "stderr"
    with open(log, "w") as err:
        t = tend(mode, ["-vv", "sleep", "1000"], stderr=err)
    wait_until(lambda: t.descendants(), what="sleep")
    t.kill(sig)
    wait_until(lambda: f"forwarded signal {sig} to " in log.read_text(),
               what=f"signal {sig} forwarded")
    if alive(t.pid):	# the sleep inherited SIG_IGN for it
        t.kill(signal.SIGTERM)
    assert t.wait() in (128 + sig, 128 + signal.SIGTERM), log.read_text()


FAULTS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL,
          signal.SIGABRT, signal.SIGTRAP, signal.SIGSYS)


@pytest.mark.parametrize("mode", MODES)
def test_fault_signals_sent_with_kill_are_forwarded(tend, mode, tmp_path):
    # Sent by another process, a fault signal is not a fault of tend's:
    # tend forwards it (as dumb-init does) and, not PID 1, does not die
    # of it and orphan its tree.
    t, out = start_signal_printer(tend, mode, tmp_path)
    for sig in FAULTS:
        t.kill(sig)
        wait_until(lambda: str(int(sig)) in read_lines(out),
                   what=f"signal {int(sig)} to arrive")
    assert read_lines(out) == ["ready", *(str(int(s)) for s in FAULTS)]
    assert alive(t.pid)


@pytest.mark.skipif(shutil.which("gdb") is None, reason="needs gdb")
def test_a_real_fault_still_ends_tend(tend, tmp_path):
    # A jump to address 0 inside tend: the kernel forces SIGSEGV through
    # the mask, and tend dies of it as any faulting program does.
    t, out = start_signal_printer(tend, "child", tmp_path)
    orphans = t.descendants()
    try:
        r = subprocess.run(["gdb", "-p", str(t.pid), "-batch", "-nx",
                            "-ex", "set $pc = 0", "-ex", "detach"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert t.proc.wait(timeout=30) == -signal.SIGSEGV
        assert str(int(signal.SIGSEGV)) not in read_lines(out)
    finally:
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)


def test_signals_tend_raises_itself_are_not_forwarded(tend, tmp_path):
    # With -v, tend's first log line hits a closed pipe: EPIPE and a
    # SIGPIPE of its own, which the command must not receive.
    out = tmp_path / "signals"
    r, w = os.pipe()
    os.close(r)
    t = tend("child", ["-vv", "-t", "60", PYTHON, helper("signals.py"), str(out)],
             stderr=w)
    os.close(w)
    wait_until(lambda: "ready" in read_lines(out), what="the command")
    t.kill(signal.SIGUSR1)
    wait_until(lambda: "10" in read_lines(out), what="the marker")
    assert str(int(signal.SIGPIPE)) not in read_lines(out)


WAIT_FOR_SLEEP = ("trap 'echo usr1' USR1; sleep 1000 & "
                  "while kill -0 $! 2>/dev/null; do wait $!; done; exit 3")


def sleep_has_started(t):
    """sh and its sleep, once the sleep has exec'd: until then the forked
    child still runs sh's USR1 trap instead of dying of the signal."""
    procs = t.descendants()
    if len(procs) != 2:
        return False
    try:
        with open(f"/proc/{procs[1]}/comm") as f:
            return f.read().strip() == "sleep"
    except OSError:
        return False


@pytest.mark.parametrize("mode", MODES)
def test_g_forwards_to_the_whole_process_group(tend, mode):
    # sh handles USR1 (a handler, unlike SIG_IGN, is not inherited by the
    # sleep) and exits only once the sleep is gone.
    script = WAIT_FOR_SLEEP
    t = tend(mode, ["-g", "sh", "-c", script])
    wait_until(lambda: sleep_has_started(t), what="sh and sleep")
    t.kill(signal.SIGUSR1)
    assert t.wait() == 3


@pytest.mark.parametrize("mode", MODES)
def test_without_g_only_the_command_gets_the_signal(tend, mode):
    t = tend(mode, ["sh", "-c", WAIT_FOR_SLEEP])
    wait_until(lambda: sleep_has_started(t), what="sh and sleep")
    sleeper = t.descendants()[1]
    t.kill(signal.SIGUSR1)
    wait_until(lambda: "usr1" in os.read(t.proc.stdout.fileno(), 100).decode(),
               what="the command's trap")
    assert alive(sleeper)


def test_command_gets_the_mask_and_dispositions_tend_inherited(tmp_path):
    def setup():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1,
                                                   signal.SIGTTIN})
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    for mode in MODES:
        r = run_tend(mode, ["cat", "/proc/self/status"], preexec_fn=setup)
        status = dict(line.split(":\t", 1) for line in r.stdout.splitlines()
                      if ":\t" in line)
        blocked = int(status["SigBlk"], 16)
        ignored = int(status["SigIgn"], 16)
        bit = lambda s: 1 << (int(s) - 1)
        assert blocked == bit(signal.SIGTERM) | bit(signal.SIGUSR1) | bit(signal.SIGTTIN), mode
        assert ignored & (bit(signal.SIGHUP) | bit(signal.SIGINT) | bit(signal.SIGTTOU)) \
            == bit(signal.SIGHUP) | bit(signal.SIGINT) | bit(signal.SIGTTOU), mode


def test_command_starts_with_a_clean_mask_when_tend_had_one():
    r = run_tend("child", ["cat", "/proc/self/status"])
    assert "SigBlk:\t0000000000000000" in r.stdout


def test_command_gets_its_own_process_group(tend):
    t = tend("child", ["sleep", "1000"])
    wait_until(lambda: t.descendants(), what="sleep")
    child = t.descendants()[0]
    assert os.getpgid(child) == child != os.getpgid(t.pid)


def test_parent_death_signal_reaches_the_command(tmp_path):
    out = tmp_path / "signals"
    # The parent runs tend and is then SIGKILLed; tend gets USR1 and
    # forwards it.
    parent = subprocess.Popen(
        [PYTHON, "-c", "import subprocess, sys, time; "
         "subprocess.Popen(sys.argv[1:]); time.sleep(1000)",
         os.path.join(os.path.dirname(helper("x")), "..", "..", "tend"),
         "-p", "SIGUSR1", "-t", "1", PYTHON, helper("signals.py"), str(out)])
    try:
        wait_until(lambda: "ready" in read_lines(out), what="the command")
        parent.kill()
        parent.wait()
        wait_until(lambda: str(int(signal.SIGUSR1)) in read_lines(out),
                   what="SIGUSR1 after the parent's death")
    finally:
        subprocess.run(["pkill", "-KILL", "-f", str(out)])
        parent.kill()
        parent.wait()


# --- graceful shutdown of the whole tree -----------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_grandchild_runs_its_term_handler_before_tend_exits(mode, tmp_path):
    out = tmp_path / "grandchild"
    script = f'"$0" {helper("grandchild.py")} {out} 0.5 & sleep 0.5; exit 0'
    r = run_tend(mode, ["sh", "-c", script, PYTHON])
    assert r.returncode == 0
    lines = read_lines(out)
    assert "started" in lines and "handled" in lines, lines


@pytest.mark.parametrize("mode", MODES)
def test_term_to_tend_ends_the_whole_tree_with_the_commands_status(tend, mode):
    t = tend(mode, ["sh", "-c", "sleep 1000 & sleep 1000 & wait"])
    wait_until(lambda: len(t.descendants()) == 3, what="sh and two sleeps")
    tree = t.descendants()
    start = time.monotonic()
    t.kill(signal.SIGTERM)
    assert t.wait() == 143
    assert time.monotonic() - start < 5     # far below the 8 s grace
    assert not any(alive(p) for p in tree)


@pytest.mark.parametrize("mode", MODES)
def test_trap_exit_code_passes_through_a_stop(tend, mode):
    t = tend(mode, ["sh", "-c", 'trap "exit 7" TERM; sleep 1000 & wait'])
    wait_until(lambda: len(t.descendants()) == 2, what="sh and sleep")
    t.kill(signal.SIGTERM)
    assert t.wait() == 7


@pytest.mark.parametrize("mode", MODES)
def test_descendant_ignoring_term_is_killed_after_the_grace(mode):
    script = "trap '' TERM; (trap '' TERM; sleep 1000) & sleep 0.2; exit 4"
    start = time.monotonic()
    r = run_tend(mode, ["-t", "1", "sh", "-c", script])
    elapsed = time.monotonic() - start
    assert r.returncode == 4
    assert 1.0 <= elapsed < 6, elapsed


@pytest.mark.parametrize("mode", MODES)
def test_command_ignoring_term_is_killed_after_the_grace(tend, mode):
    t = tend(mode, ["-t", "1", "sh", "-c", "trap '' TERM; sleep 1000; :"])
    wait_until(lambda: len(t.descendants()) == 2, what="sh and sleep")
    start = time.monotonic()
    t.kill(signal.SIGTERM)
    assert t.wait() == 137
    assert 0.9 <= time.monotonic() - start < 6
    assert "shutdown budget of 1000 ms is over" in t.err


@pytest.mark.parametrize("mode", MODES)
def test_no_delay_when_nothing_is_left(mode):
    start = time.monotonic()
    r = run_tend(mode, ["-t", "30", "true"])
    assert r.returncode == 0
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("mode", MODES)
def test_exits_as_soon_as_the_last_descendant_is_reaped(mode):
    # The orphan leaves 0.3 s after its SIGTERM; tend must not wait for
    # the 30 s grace.
    script = "(trap 'sleep 0.3; exit 0' TERM; sleep 1000 & wait) & sleep 0.2; exit 0"
    start = time.monotonic()
    r = run_tend(mode, ["-t", "30", "sh", "-c", script])
    assert r.returncode == 0
    assert time.monotonic() - start < 5


def test_idle_tend_never_wakes_up(tend):
    t = tend("pid1", ["sleep", "1000"])
    wait_until(lambda: t.descendants(), what="sleep")
    time.sleep(0.2)

    def switches():
        return (int(proc_status(t.pid, "voluntary_ctxt_switches")) +
                int(proc_status(t.pid, "nonvoluntary_ctxt_switches")))
    before = switches()
    time.sleep(2)
    assert switches() == before


@pytest.mark.parametrize("mode", MODES)
def test_closed_standard_descriptors_are_reopened_on_dev_null(mode, tmp_path):
    # Otherwise tend's own descriptors (signalfd, epoll) would take 0..2
    # and its messages, or the command's input, would go to them.
    out = tmp_path / "fd0"
    r = run_tend(mode, ["-vv", "sh", "-c", f"readlink /proc/self/fd/0 > {out}"],
                 preexec_fn=lambda: os.close(0))
    assert r.returncode == 0, r.stderr
    assert out.read_text().strip() == "/dev/null"
    assert "spawned: 'main'" in r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_a_full_stderr_never_blocks_tend(tend, mode):
    # Nobody reads tend's stderr while its debug lines (one per forwarded
    # real-time signal, and those queue) overfill the pipe and tend's own
    # 64 KiB buffer behind it (about 40 bytes a line): tend drops
    # lines rather than block, reports the loss once there is room again,
    # and still stops on SIGTERM.
    r, w = os.pipe()
    os.set_blocking(r, False)
    t = tend(mode, ["-vv", "sh", "-c", "trap '' 40; sleep 1000; :"],
             stderr=w)
    os.close(w)
    wait_until(lambda: len(t.descendants()) == 2, what="sh and sleep")
    for _ in range(8000):
        t.kill(40)
    # all of them taken from the queue: only then is the pipe surely over
    wait_until(lambda: not int(proc_status(t.pid, "ShdPnd"), 16) & 1 << 39,
               what="tend to take every queued signal")
    got = bytearray()

    def read_more():
        try:
            got.extend(os.read(r, 65536))
        except BlockingIOError:
            pass
        return got
    wait_until(lambda: len(read_more()) >= 60000, what="a full pipe")
    t.kill(40)                  # one more line, now that there is room
    wait_until(lambda: b"of tend's log dropped" in read_more(),
               what="the report of the dropped lines")
    t.kill(signal.SIGTERM)
    assert t.wait() == 143
    os.close(r)
