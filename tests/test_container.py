"""Real-container tests: tend as the ENTRYPOINT of a FROM-scratch image
(docker/Dockerfile), run by podman with runc.

Everything podman keeps lives in a private temporary directory: storage
(vfs), run root, containers.conf (CONTAINERS_CONF), storage.conf,
registries.conf, network configuration and podman's tmpdir. Each container
also gets a private cgroup parent, removed at the end. The few paths a
rootful podman insists on (/run/runc, /run/containers/networks, the image
blob cache) are removed afterwards when this module created them.

Needs root, podman, runc and a static /bin/busybox (busybox-static), and
tend built by `make`. Run: /usr/bin/python3 -m pytest -v tests/test_container.py
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEND = os.path.join(ROOT, "tend")
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")
BUSYBOX = "/bin/busybox"

# Generous limits for a loaded 2-core machine.
PODMAN_TIMEOUT = 120	# any single podman call
BUILD_TIMEOUT = 600
READY_TIMEOUT = 60	# until a detached command prints its ready line
STOP_TIMEOUT = 10	# podman's own SIGKILL after this (podman stop -t)
STOP_LIMIT = 8.0	# a stop ended by tend must take less than this
BUDGET_OVER = "tend: warning: shutdown budget of {} ms is over, killing what remains"

# Created by a rootful podman outside --root/--runroot whatever the
# configuration says; removed afterwards if they did not exist before
# (files unlinked, directories only if empty). Deepest first.
HOST_SIDE_EFFECTS = [
    "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
    "/var/lib/containers/cache",
    "/var/lib/containers",
    "/var/cache/containers/short-name-aliases.conf.lock",
    "/var/cache/containers",
    "/run/containers/networks",
    "/run/containers",
    "/run/runc",
]

CONTAINERS_CONF = """\
[containers]
default_ulimits = []
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{base}/tmp"
image_copy_tmp_dir = "{base}/tmp"

[network]
network_backend = "netavark"
network_config_dir = "{base}/networks"
"""

STORAGE_CONF = """\
[storage]
driver = "vfs"
graphroot = "{base}/root"
runroot = "{base}/runroot"
"""

REGISTRIES_CONF = """\
unqualified-search-registries = []
short-name-mode = "disabled"
"""


def _missing_requirements():
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.access(BUSYBOX, os.X_OK):
        return f"{BUSYBOX} is missing (apt-get install busybox-static)"
    return None


_skip_reason = _missing_requirements()
pytestmark = pytest.mark.skipif(_skip_reason is not None,
                                reason=_skip_reason or "")


def _mounts_under(path):
    """Mount points at or below path, deepest first."""
    found = []
    prefix = path.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4].replace("\\040", " ")
            if mnt == path or mnt.startswith(prefix):
                found.append(mnt)
    return sorted(found, key=len, reverse=True)


def _pids_mentioning(text):
    """Processes whose command line mentions text (conmon names its paths)."""
    found = []
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


class Podman:
    """podman with private storage and configuration under base."""

    def __init__(self, base):
        self.base = base
        self.run_id = uuid.uuid4().hex[:10]
        self.image = f"localhost/tend-test:{self.run_id}"
        self.cgroup_parent = f"/tend-test-{self.run_id}"
        for sub in ("root", "runroot", "tmp", "networks", "conf", "ctx"):
            os.makedirs(os.path.join(base, sub))
        conf = os.path.join(base, "conf")
        files = {"containers.conf": CONTAINERS_CONF,
                 "storage.conf": STORAGE_CONF,
                 "registries.conf": REGISTRIES_CONF}
        for name, text in files.items():
            with open(os.path.join(conf, name), "w") as f:
                f.write(text.format(base=base))
        self.env = dict(os.environ,
                        CONTAINERS_CONF=os.path.join(conf, "containers.conf"),
                        CONTAINERS_STORAGE_CONF=os.path.join(conf, "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=os.path.join(conf, "registries.conf"),
                        TMPDIR=os.path.join(base, "tmp"))
        self.argv = ["podman",
                     "--root", os.path.join(base, "root"),
                     "--runroot", os.path.join(base, "runroot"),
                     "--storage-driver", "vfs",
                     "--runtime", "runc",
                     "--cgroup-manager", "cgroupfs",
                     "--events-backend", "file",
                     "--tmpdir", os.path.join(base, "tmp")]
        # Options of every container: nothing pulled, no network to set up,
        # a cgroup parent of our own.
        self.run_opts = ["--pull", "never", "--network", "none",
                         "--cgroup-parent", self.cgroup_parent]

    def __call__(self, *args, timeout=PODMAN_TIMEOUT, check=True):
        try:
            res = subprocess.run(self.argv + list(args), env=self.env,
                                 stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"podman {' '.join(args)} took more than "
                                 f"{timeout}s:\n{e.stdout}\n{e.stderr}")
        if check and res.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} exited {res.returncode}:\n"
                f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def build(self):
        ctx = os.path.join(self.base, "ctx")
        shutil.copy2(TEND, os.path.join(ctx, "tend"))
        shutil.copy2(BUSYBOX, os.path.join(ctx, "busybox"))
        shutil.copy2(DOCKERFILE, os.path.join(ctx, "Dockerfile"))
        self("build", "--pull=never", "--network", "none",
             "--cgroup-parent", self.cgroup_parent,
             "-f", os.path.join(ctx, "Dockerfile"), "-t", self.image, ctx,
             timeout=BUILD_TIMEOUT)

    def run(self, *args, timeout=PODMAN_TIMEOUT):
        """podman run --rm in the foreground; returns the CompletedProcess."""
        return self("run", "--rm", *self.run_opts, *args, timeout=timeout,
                    check=False)

    def logs(self, name):
        res = self("logs", name, check=False)
        return res.stdout + res.stderr

    def state(self, name):
        res = self("inspect", "--format", "{{json .State}}", name)
        return json.loads(res.stdout)

    def wait(self, name, timeout=PODMAN_TIMEOUT):
        """Waits for the container to exit and returns its exit code."""
        res = self("wait", name, timeout=timeout)
        return int(res.stdout.strip().splitlines()[-1])

    def cleanup(self):
        """Removes containers, images and storage; leaves no process."""
        problems = []
        for args in (("rm", "-a", "-f", "-t", "0"), ("rmi", "-a", "-f")):
            try:
                res = self(*args, check=False)
                if res.returncode != 0:
                    problems.append(f"podman {' '.join(args)}: {res.stderr}")
            except AssertionError as e:
                problems.append(str(e))
        # conmon and "podman container cleanup" go away by themselves once
        # their container is removed; anything still holding our paths
        # after a while was started by this module and is killed.
        deadline = time.monotonic() + 30
        while _pids_mentioning(self.base) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in _pids_mentioning(self.base):
            problems.append(f"process {pid} outlived its container, killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for mnt in _mounts_under(self.base):
            subprocess.run(["umount", "-l", mnt], timeout=60, check=False)
        shutil.rmtree(self.base, ignore_errors=True)
        if os.path.exists(self.base):
            problems.append(f"could not remove {self.base}")
        self._remove_cgroups()
        return problems

    def _remove_cgroups(self):
        name = self.cgroup_parent.strip("/")
        try:
            hierarchies = os.listdir("/sys/fs/cgroup")
        except OSError:
            return
        candidates = [os.path.join("/sys/fs/cgroup", h, name)
                      for h in hierarchies]
        if os.path.exists(os.path.join("/sys/fs/cgroup", "cgroup.procs")):
            candidates.append(os.path.join("/sys/fs/cgroup", name))
        for top in candidates:
            if not os.path.isdir(top):
                continue
            dirs = [d for d, _, _ in os.walk(top)]
            for d in sorted(dirs, key=len, reverse=True):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def _existing_side_effects():
    return {p for p in HOST_SIDE_EFFECTS if os.path.lexists(p)}


def _undo_side_effects(existed):
    for path in HOST_SIDE_EFFECTS:
        if path in existed or not os.path.lexists(path):
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)	# only when empty
            else:
                os.unlink(path)
        except OSError:
            pass


@pytest.fixture(scope="module")
def podman():
    """Builds the image once for the module in a private podman root."""
    assert os.access(TEND, os.X_OK), \
        f"{TEND} is missing: run `make` in {ROOT} first"
    assert os.path.isfile(DOCKERFILE), f"{DOCKERFILE} is missing"
    existed = _existing_side_effects()
    p = Podman(tempfile.mkdtemp(prefix="tend-podman-"))
    try:
        p.build()
        yield p
    finally:
        problems = p.cleanup()
        _undo_side_effects(existed)
        assert not problems, "\n".join(problems)


@pytest.fixture
def container(podman):
    """Starts detached containers and removes them after the test."""
    names = []

    def start(*args, entrypoint=None):
        name = f"tend-test-{podman.run_id}-{uuid.uuid4().hex[:8]}"
        names.append(name)
        opts = ["--detach", "--name", name, *podman.run_opts]
        if entrypoint is not None:
            opts += ["--entrypoint", json.dumps(entrypoint)]
        podman("run", *opts, podman.image, *args)
        return name

    yield start
    if names:
        podman("rm", "-f", "-t", "0", *names, check=False)


def wait_for_log(podman, name, *lines, timeout=READY_TIMEOUT):
    """Polls podman logs until every line appears; fails early if the
    container exits first."""
    deadline = time.monotonic() + timeout
    while True:
        logs = podman.logs(name)
        have = logs.splitlines()
        if all(line in have for line in lines):
            return logs
        state = podman.state(name)
        if not state.get("Running"):
            logs = podman.logs(name)
            if all(line in logs.splitlines() for line in lines):
                return logs
            raise AssertionError(f"container exited ({state.get('ExitCode')}) "
                                 f"before printing {lines}:\n{logs}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {lines} after {timeout}s:\n{logs}")
        time.sleep(0.2)


def timed_stop(podman, name):
    start = time.monotonic()
    podman("stop", "-t", str(STOP_TIMEOUT), name,
           timeout=STOP_TIMEOUT + PODMAN_TIMEOUT)
    return time.monotonic() - start


@pytest.mark.parametrize("script, code", [
    ("exit 0", 0),
    ("exit 3", 3),
    ("exit 255", 255),
    ("kill -TERM $$", 128 + signal.SIGTERM),
    ("kill -KILL $$", 128 + signal.SIGKILL),
])
def test_exit_code_is_the_containers(podman, script, code):
    res = podman.run(podman.image, "sh", "-c", script)
    assert res.returncode == code, res.stderr


def test_output_reaches_the_container_streams(podman):
    res = podman.run(podman.image, "sh", "-c", "echo to-stdout; echo to-stderr >&2")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "to-stdout\n"
    assert "to-stderr\n" in res.stderr


@pytest.mark.parametrize("command, code, reason", [
    ("/nonexistent", 127, "No such file or directory"),
    ("no-such-command", 127, "No such file or directory"),
    ("/sbin", 126, "Permission denied"),	# a directory
])
def test_exec_failure(podman, container, command, code, reason):
    # Kept (no --rm) so that inspect can tell tend's code from podman's own
    # 126/127, which mean that podman could not start the entrypoint.
    name = container(command)
    assert podman.wait(name) == code
    assert podman.state(name)["ExitCode"] == code
    logs = podman.logs(name)
    assert f"tend: error: cannot execute '{command}': {reason}" in logs

    res = podman.run(podman.image, command)
    assert res.returncode == code
    assert command in res.stderr and reason in res.stderr


def test_default_command_and_stop(podman, container):
    name = container()
    wait_for_log(podman, name, "hello from tend")
    elapsed = timed_stop(podman, name)
    assert podman.wait(name) == 128 + signal.SIGTERM
    assert elapsed < STOP_LIMIT


def test_stop_runs_the_commands_trap(podman, container):
    name = container("sh", "-c",
                     'trap "echo trapped; exit 7" TERM; echo ready; '
                     'sleep 1000 & wait')
    wait_for_log(podman, name, "ready")
    elapsed = timed_stop(podman, name)
    assert podman.wait(name) == 7
    logs = podman.logs(name)
    assert "trapped" in logs.splitlines()
    assert "shutdown budget" not in logs
    # Well under podman's own timeout: tend exited, podman did not SIGKILL.
    assert elapsed < STOP_LIMIT, logs


def test_tend_kills_after_its_grace(podman, container):
    name = container("sh", "-c", 'trap "" TERM; echo ready; sleep 1000',
                     entrypoint=["/sbin/tend", "-t", "1", "--"])
    wait_for_log(podman, name, "ready")
    elapsed = timed_stop(podman, name)
    assert podman.wait(name) == 128 + signal.SIGKILL
    logs = podman.logs(name)
    assert BUDGET_OVER.format(1000) \
        in logs.splitlines()
    assert 0.9 <= elapsed < STOP_LIMIT, logs


@pytest.mark.parametrize("sig, code", [("HUP", 42), ("USR1", 43), ("WINCH", 44)])
def test_kill_signal_reaches_the_command(podman, container, sig, code):
    name = container("sh", "-c",
                     f'trap "exit {code}" {sig}; echo ready; '
                     'while :; do sleep 1; done')
    wait_for_log(podman, name, "ready")
    podman("kill", "-s", sig, name)
    assert podman.wait(name) == code


def test_signal_does_not_stop_the_command(podman, container):
    # A non-stop signal is only forwarded: the command keeps running.
    name = container("sh", "-c",
                     'trap "echo got-hup" HUP; trap "exit 5" TERM; '
                     'echo ready; while :; do sleep 1; done')
    wait_for_log(podman, name, "ready")
    podman("kill", "-s", "HUP", name)
    wait_for_log(podman, name, "got-hup")
    assert podman.state(name)["Running"]
    elapsed = timed_stop(podman, name)
    assert podman.wait(name) == 5
    assert elapsed < STOP_LIMIT


def test_grandchild_cleans_up_on_stop(podman, container):
    # podman stop sends TERM to tend (PID 1), which forwards it to the
    # command only. The command (sh, no trap) dies with 143; tend then
    # sends TERM to everything left (kill(-1)) and waits for it, so the
    # grandchild subshell runs its own trap before the container ends.
    name = container("sh", "-c",
                     '(trap "echo grandchild-cleanup; exit 0" TERM; '
                     'echo grandchild-ready; sleep 1000 & wait) & '
                     'echo ready; sleep 1000 & wait')
    wait_for_log(podman, name, "ready", "grandchild-ready")
    elapsed = timed_stop(podman, name)
    assert podman.wait(name) == 128 + signal.SIGTERM
    logs = podman.logs(name)
    assert "grandchild-cleanup" in logs.splitlines(), logs
    assert "shutdown budget" not in logs
    assert elapsed < STOP_LIMIT, logs


def test_default_grace_ends_before_podmans_timeout(podman, container):
    # An orphan ignores TERM: tend SIGKILLs it when its default grace (8 s)
    # runs out, below podman's 10 s, so the container still exits with the
    # command's own code (143), not the 137 of podman's SIGKILL to tend.
    name = container("sh", "-c",
                     '(trap "" TERM; echo orphan-ready; exec sleep 1000) & '
                     'echo ready; sleep 1000 & wait')
    wait_for_log(podman, name, "ready", "orphan-ready")
    elapsed = timed_stop(podman, name)
    assert podman.wait(name) == 128 + signal.SIGTERM
    logs = podman.logs(name)
    assert BUDGET_OVER.format(8000) \
        in logs.splitlines(), logs
    assert elapsed >= 7.9, logs


def test_prefixed_programs_print_only_whole_lines(podman):
    # Two programs defined by the environment alone, each line written in
    # two pieces; main waits for both to be done. The container's stdout
    # must hold each line whole, prefixed, in order.
    count = 2000
    tail = "0123456789abcdefghijklmnopqrstuvwxyz"
    env = ["-e", "TEND_LOG_PREFIX=true"]
    for name in ("a", "b"):
        loop = (f'i=0; while [ $i -lt {count} ]; do printf "{name}-$i-"; '
                f'printf "{tail}\\n"; i=$((i+1)); done; touch /{name}.done')
        prog = f"TEND_PROGRAM_{name.upper()}_"
        env += ["-e", f"{prog}COMMAND=sh -c '{loop}'",
                "-e", f"{prog}STARTSECS=0",
                "-e", f"{prog}AUTORESTART=false"]
    res = podman.run(*env, podman.image, "sh", "-c",
                     "while [ ! -e /a.done ] || [ ! -e /b.done ]; "
                     "do sleep 0.1; done")
    assert res.returncode == 0, res.stderr
    seen = {"a": 0, "b": 0}
    for line in res.stdout.split("\n")[:-1]:
        m = re.fullmatch(rf"(a|b) \| (a|b)-(\d+)-{tail}", line)
        assert m and m.group(1) == m.group(2), f"not a whole line: {line!r}"
        assert int(m.group(3)) == seen[m.group(1)], line
        seen[m.group(1)] += 1
    assert res.stdout.endswith("\n")
    assert seen == {"a": count, "b": count}, res.stderr
