"""make soak: tend as PID 1 for SOAK_SECONDS (default 600) of crash
loops, SIGKILLs of running programs, reloads and status requests
(tend ctl and curl over the control socket), then tend's resident
memory, descriptors and CPU time at the start and at the end.

Exits 1 when tend died, a request failed, or its descriptors or memory
grew past their start (plus a little slack); 0 otherwise. Not part of
make test: it takes ten minutes.

usage: SOAK_SECONDS=600 python3 tests/soak.py [TEND]"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from control import cpu_seconds, fd_count, request, rss_kb  # noqa: E402

TEND = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tend")
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
FD_SLACK = 4                # a client being answered at the moment
RSS_SLACK_KB = 4096

CONF = """
[tend]
shutdown_timeout = 5

[program:crash]
command = sh -c 'echo crash out; echo crash err >&2; exit 3'
startsecs = 0
autorestart = true
startretries = 1000000
stdout_logfile = {dir}/crash.log
stdout_logfile_maxbytes = 4KB
stdout_logfile_backups = 2
log_prefix = true

[program:fast]
command = sh -c 'sleep 0.$$$$; exit 1'
process_name = fast_%(process_num)d
numprocs = 3
startsecs = 0
autorestart = true
startretries = 1000000
log_format = json

[program:victim]
command = sh -c 'while :; do echo tick; sleep 0.1; done'
process_name = victim_%(process_num)02d
numprocs = 4
startsecs = 0
autorestart = true
startretries = 1000000
stdout_logfile = {dir}/victim.log
stdout_logfile_maxbytes = 16KB
stdout_logfile_backups = 1
"""


def sample(pid):
    return {"rss_kb": rss_kb(pid), "fds": fd_count(pid),
            "cpu_s": cpu_seconds(pid)}


def show(label, s, elapsed):
    print(f"soak: {label:5} t={elapsed:7.1f} s  rss={s['rss_kb']} kB  "
          f"fds={s['fds']}  cpu={s['cpu_s']:.2f} s", flush=True)


def main():
    work = tempfile.mkdtemp(prefix="tend-soak-")
    sock = os.path.join(work, "tend.sock")
    conf = os.path.join(work, "tend.ini")
    with open(conf, "w") as f:
        f.write(CONF.format(dir=work))
    env = dict(os.environ, TEND_CONTROL_SOCKET=sock, TEND_CONFIG="")
    log = open(os.path.join(work, "tend.stderr"), "wb")
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc",
                             "--kill-child", TEND, "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    failures = []
    counts = {"kills": 0, "ctl": 0, "curl": 0, "api": 0, "reloads": 0}
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("soak: tend did not start")
            time.sleep(0.05)
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            pid = int(f.read().split()[0])
        time.sleep(5)                   # the loops get going
        began = time.monotonic()
        start = sample(pid)
        show("start", start, 0)
        next_report = began + 60
        while time.monotonic() - began < SECONDS:
            if proc.poll() is not None:
                failures.append("tend exited")
                break
            r = random.random()
            try:
                if r < 0.3:
                    # SIGKILL a running process (pids are the namespace's:
                    # the host's are found through tend's children)
                    kids = open(f"/proc/{pid}/task/{pid}/children").read()
                    kids = [int(k) for k in kids.split()]
                    if kids:
                        os.kill(random.choice(kids), signal.SIGKILL)
                        counts["kills"] += 1
                elif r < 0.5:
                    c = subprocess.run([TEND, "ctl", "-s", sock, "status"],
                                       capture_output=True, text=True,
                                       timeout=30)
                    # 3: some are not RUNNING, as crash loops go
                    if c.returncode not in (0, 3) or "victim_00" not in \
                            c.stdout:
                        failures.append(f"tend ctl status: {c.returncode} "
                                        f"{c.stderr.strip()}")
                    counts["ctl"] += 1
                elif r < 0.7:
                    c = subprocess.run(["curl", "-sf", "--unix-socket", sock,
                                        "http://tend/api/v1/programs"],
                                       capture_output=True, text=True,
                                       timeout=30)
                    if c.returncode != 0 or len(
                            json.loads(c.stdout)["programs"]) != 8:
                        failures.append(f"curl: {c.returncode}")
                    counts["curl"] += 1
                elif r < 0.98:
                    status, _, _ = request(sock, "GET", "/metrics")
                    if status != 200:
                        failures.append(f"/metrics: {status}")
                    counts["api"] += 1
                else:
                    status, _, data = request(sock, "POST", "/api/v1/reload")
                    if status != 200:
                        failures.append(f"reload: {status} {data!r}")
                    counts["reloads"] += 1
            except (OSError, ValueError, subprocess.TimeoutExpired) as e:
                failures.append(repr(e))
            if time.monotonic() >= next_report:
                show("now", sample(pid), time.monotonic() - began)
                next_report += 60
            time.sleep(0.05)
        end = sample(pid)
        show("end", end, time.monotonic() - began)
        print("soak: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
              flush=True)
        with open(os.path.join(work, "tend.stderr"), errors="replace") as f:
            text = f.read()
        print(f"soak: {text.count('spawned:')} spawns, "
              f"{text.count('exited:')} exits logged")
        if end["fds"] > start["fds"] + FD_SLACK:
            failures.append(f"descriptors grew: {start['fds']} -> "
                            f"{end['fds']}")
        if end["rss_kb"] > start["rss_kb"] + RSS_SLACK_KB:
            failures.append(f"RSS grew: {start['rss_kb']} -> "
                            f"{end['rss_kb']} kB")
        os.kill(pid, signal.SIGTERM)
        rc = proc.wait(timeout=30)
        if rc != 0:
            failures.append(f"tend exited {rc} at the end")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    for f in failures[:20]:
        print(f"soak: FAIL {f}")
    if failures:
        print(f"soak: {len(failures)} failures; tend's log is in {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("soak: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
