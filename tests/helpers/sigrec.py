"""A supervised program that records, with timestamps, the signals it
gets and when it exits, so that tests can see stop order and timing.

usage: sigrec.py LOG NAME [--delay S] [--ignore SIG]... [--child]
                 [--orphan] [--code N]

Every event is one line "NAME EVENT TIME" appended to LOG (O_APPEND, one
write per line, so concurrent writers do not mix): "ready" once it waits
for signals, the signal name on each TERM, INT, QUIT, HUP, USR1 or USR2,
then "exit" just before exiting with status N (default 0) S seconds
(default 0) after the first signal not listed with --ignore.

The signals are blocked and taken one at a time with sigwaitinfo, never
in a handler, so that a second signal cannot interrupt the recording of
the first.

--child   forks a child first, in the same process group, recording as
          NAME.child; the parent waits for it to be ready.
--orphan  double-forks a process recording as NAME.orphan that ignores
          every signal it records: an orphan that only SIGKILL ends.
"""
import argparse
import os
import signal
import time

RECORDED = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
            signal.SIGUSR1, signal.SIGUSR2}

ap = argparse.ArgumentParser()
ap.add_argument("log")
ap.add_argument("name")
ap.add_argument("--delay", type=float, default=0.0)
ap.add_argument("--ignore", action="append", default=[])
ap.add_argument("--child", action="store_true")
ap.add_argument("--orphan", action="store_true")
ap.add_argument("--code", type=int, default=0)
args = ap.parse_args()
IGNORED = {"SIG" + s.upper().removeprefix("SIG") for s in args.ignore}


def record(name, event):
    fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{name} {event} {time.time():.6f}\n".encode())
    os.close(fd)


def serve(name, ignore_all=False):
    """Records 'ready', then every signal; never returns."""
    record(name, "ready")
    while True:
        info = signal.sigwaitinfo(RECORDED)
        signame = signal.Signals(info.si_signo).name
        record(name, signame)
        if ignore_all or signame in IGNORED:
            continue
        time.sleep(args.delay)
        record(name, "exit")
        os._exit(args.code)


def wait_ready(name, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(args.log) as f:
                if any(line.split()[:2] == [name, "ready"] for line in f):
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.01)


# Blocked before any fork, so that no signal is ever lost or handled by
# default between the fork and the wait.
signal.pthread_sigmask(signal.SIG_SETMASK, RECORDED)
if args.orphan:
    if os.fork() == 0:
        if os.fork() == 0:
            serve(args.name + ".orphan", ignore_all=True)
        os._exit(0)
    os.wait()
    wait_ready(args.name + ".orphan")
if args.child:
    if os.fork() == 0:
        serve(args.name + ".child")
    wait_ready(args.name + ".child")
serve(args.name)
