"""A terminal, as with `docker run -it IMAGE sh`: the command's process
group owns the terminal, so Ctrl-C and Ctrl-Z reach it and a shell has
job control."""
import os
import pty
import select
import time

import pytest

from conftest import MODES, tend_argv


class Terminal:
    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp(argv[0], argv)
        self.seen = b""

    def expect(self, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} in {self.seen!r}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:
                    break
        assert needle.encode() in self.seen, self.seen

    def send(self, text):
        os.write(self.fd, text.encode())

    def status(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(st)
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:
                    pass
        os.kill(self.pid, 9)
        raise AssertionError(f"still running; saw {self.seen!r}")


@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_on_the_terminal_reaches_the_command(mode):
    term = Terminal(tend_argv(mode, ["sh", "-c", "echo ready; sleep 1000"]))
    term.expect("ready")
    time.sleep(0.2)     # let sh start its sleep in the foreground group
    term.send("\x03")
    assert term.status() == 130


@pytest.mark.parametrize("mode", MODES)
def test_interactive_shell_has_job_control(mode):
    term = Terminal(tend_argv(mode, ["sh", "-i"]))
    term.send("echo flags=$-\n")
    term.expect("flags=")
    term.expect("m")
    term.send("sleep 1000\n")
    time.sleep(0.5)
    term.send("\x1a")                 # Ctrl-Z stops the job, not tend
    term.send("jobs\n")
    term.expect("Stopped")
    term.send("kill -9 %1; wait; echo gone-$?\n")
    term.expect("gone-")
    term.send("exit 7\n")
    term.expect("exit 7")
    term.send("exit 7\n")     # dash warns once about the killed job
    assert term.status() == 7
