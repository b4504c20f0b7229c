"""The examples of examples/, run for real: the Docker images are built
FROM scratch with podman and run with runc, the Kubernetes manifests with
`podman kube play --network none` (what podman 4.3.1 does and does not do
of a Pod is in examples/README.md).

Everything podman keeps lives in one private temporary directory, as in
test_container.py, whose machinery this module reuses: storage (vfs), run
root, containers.conf, network configuration and podman's tmpdir. Each
container gets a private cgroup parent; the pods' cgroups (podman puts
them under libpod_parent), pods, volumes, containers and images are
removed at the end, and so are the host paths a rootful podman creates
outside its root when this module created them.

Needs root, podman, runc, catatonit (the pods' pause process), a static
/bin/busybox and tend built by `make`; the nodehook image also needs
/usr/bin/node (nodejs), and is skipped without it.
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
import yaml

from test_container import (HOST_SIDE_EFFECTS, PODMAN_TIMEOUT, Podman,
                            _skip_reason, wait_for_log)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
KUBE = os.path.join(EXAMPLES, "kubernetes")
BUILD_CONTEXT = os.path.join(EXAMPLES, "build-context.sh")
HAVE_NODE = os.access("/usr/bin/node", os.X_OK)

BUILD_TIMEOUT = 900
READY_TIMEOUT = 60
STOP_LIMIT = 8.0	# a stop that tend ends takes less than its 8 s budget

# The images the manifests name (imagePullPolicy: Never); built in the
# private storage, so the tags cannot clash with anything on the host.
IMAGES = {"tini": "localhost/tend-example-tini:latest",
          "web": "localhost/tend-example-web:latest",
          "nodehook": "localhost/tend-example-nodehook:latest"}

# podman puts its pods' cgroups under libpod_parent of every hierarchy
# (cgroupfs); each pod's is removed afterwards, and libpod_parent too when
# this module created it.
CGROUP_SIDE_EFFECTS = sorted(
    os.path.join("/sys/fs/cgroup", h, "libpod_parent")
    for h in (os.listdir("/sys/fs/cgroup") if os.path.isdir("/sys/fs/cgroup")
              else [])
    if not os.path.isfile(os.path.join("/sys/fs/cgroup", h))) + \
    ["/sys/fs/cgroup/libpod_parent"]

pytestmark = pytest.mark.skipif(
    _skip_reason is not None or shutil.which("catatonit") is None,
    reason=_skip_reason or "catatonit is not installed (the pause process)")


class Examples(Podman):
    """test_container's private podman, with the examples' images and pods."""

    def __init__(self, base):
        super().__init__(base)
        # no systemd here: podman would log an error for every health check
        self.env["DISABLE_HC_SYSTEMD"] = "true"
        self.pod_ids = []	# every pod played, for its cgroups
        self.built = set()
        # buildah runs each RUN step in the cgroup it is given, which
        # runc cannot set up while containers run below it: builds get
        # one of their own
        self.build_cgroup = self.cgroup_parent + "-build"

    def build_example(self, name):
        """Builds examples/NAME with the image name the manifests use."""
        if name in self.built:
            return IMAGES[name]
        ctx = os.path.join(self.base, "ctx", name)
        subprocess.run(["sh", BUILD_CONTEXT, name, ctx], check=True,
                       capture_output=True, timeout=PODMAN_TIMEOUT)
        self("build", "--pull=never", "--network", "none", "--format",
             "docker", "--cgroup-parent", self.build_cgroup,
             "-t", IMAGES[name], ctx, timeout=BUILD_TIMEOUT)
        shutil.rmtree(ctx, ignore_errors=True)
        self.built.add(name)
        return IMAGES[name]

    def play(self, documents, name):
        """podman kube play of the YAML documents; returns the pod's name."""
        path = os.path.join(self.base, f"{name}-{uuid.uuid4().hex[:6]}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump_all(documents, f, sort_keys=False)
        self("kube", "play", "--network", "none", path)
        pods = [d["metadata"]["name"] for d in documents
                if d.get("kind") == "Pod"]
        for pod in pods:
            res = self("pod", "inspect", "--format", "{{.Id}}", pod)
            self.pod_ids.append(res.stdout.strip())
        return pods[0]

    def exec(self, container, *argv, timeout=PODMAN_TIMEOUT):
        return self("exec", container, *argv, timeout=timeout, check=False)

    def cleanup(self):
        problems = []
        for args in (("pod", "rm", "-a", "-f", "-t", "0"),
                     ("volume", "rm", "-a", "-f")):
            res = self(*args, check=False)
            if res.returncode != 0:
                problems.append(f"podman {' '.join(args)}: {res.stderr}")
        problems += super().cleanup()
        run_parent, self.cgroup_parent = self.cgroup_parent, self.build_cgroup
        self._remove_cgroups()
        self.cgroup_parent = run_parent
        for pod_id in self.pod_ids:
            for top in CGROUP_SIDE_EFFECTS:
                _rmdir_tree(os.path.join(top, pod_id))
        return problems


def _rmdir_tree(top):
    """Removes a tree of empty cgroup directories, deepest first."""
    if not os.path.isdir(top):
        return
    for d in sorted((d for d, _, _ in os.walk(top)), key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass


def _existing():
    return {p for p in HOST_SIDE_EFFECTS + CGROUP_SIDE_EFFECTS
            if os.path.lexists(p)}


def _undo(existed):
    for path in HOST_SIDE_EFFECTS + CGROUP_SIDE_EFFECTS:
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
    tend = os.path.join(ROOT, "tend")
    assert os.access(tend, os.X_OK), f"{tend} is missing: run `make` first"
    existed = _existing()
    p = Examples(tempfile.mkdtemp(prefix="tend-examples-"))
    try:
        yield p
    finally:
        problems = p.cleanup()
        _undo(existed)
        assert not problems, "\n".join(problems)


@pytest.fixture
def container(podman):
    """Starts detached containers of an image; removed after the test."""
    names = []

    def start(image, *args, opts=()):
        name = f"tend-ex-{podman.run_id}-{uuid.uuid4().hex[:8]}"
        names.append(name)
        podman("run", "--detach", "--name", name, *podman.run_opts, *opts,
               image, *args)
        return name

    yield start
    if names:
        podman("rm", "-f", "-t", "0", *names, check=False)


@pytest.fixture
def pods(podman):
    """Plays manifests; their pods and volumes are removed after the test."""
    played = []

    def play(documents, name):
        pod = podman.play(documents, name)
        played.append((pod, documents))
        return pod

    yield play
    for pod, documents in played:
        podman("pod", "rm", "-f", "-t", "0", pod, check=False)
        for d in documents:
            if d.get("kind") == "ConfigMap":
                podman("volume", "rm", "-f", d["metadata"]["name"],
                       check=False)


def wait_until(predicate, timeout=READY_TIMEOUT, what="condition",
               logs=None):
    """Polls predicate; on a time-out, fails with the logs of the
    container logs names (podman, name), as they are then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    text = "\n" + logs[0].logs(logs[1]) if logs else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{text}")


def wait_for_line(podman, name, pattern):
    """Waits for a line of the container's logs matching pattern."""
    return wait_until(lambda: re.search(pattern, podman.logs(name), re.M),
                      what=repr(pattern), logs=(podman, name))


def timed_stop(podman, name, timeout=10):
    start = time.monotonic()
    podman("stop", "-t", str(timeout), name,
           timeout=timeout + PODMAN_TIMEOUT)
    return time.monotonic() - start


def prefixed(logs, name):
    """The lines a program printed, from the NAME | prefix of tend.ini."""
    return [line.split(" | ", 1)[1] for line in logs.splitlines()
            if line.startswith(f"{name} | ")]


def log_index(lines, pattern):
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            return i
    raise AssertionError(f"no line matching {pattern!r} in:\n" +
                         "\n".join(lines))


# --- Docker: one command, tini style --------------------------------------------

def test_tini_example_serves_and_stops_with_the_commands_status(podman,
                                                                container):
    image = podman.build_example("tini")
    name = container(image)
    page = wait_until(lambda: podman.exec(name, "wget", "-qO-",
                                          "http://127.0.0.1:8080/").stdout,
                      what="the page")
    assert "with tend as PID 1" in page
    res = podman.exec(name, "cat", "/proc/1/cmdline")
    assert res.stdout.split("\0")[:2] == ["/sbin/tend", "--"]
    elapsed = timed_stop(podman, name)
    # httpd has no handler: SIGTERM kills it, and that is its status
    assert podman.wait(name) == 128 + signal.SIGTERM
    assert elapsed < STOP_LIMIT
    assert "shutdown budget" not in podman.logs(name)


@pytest.mark.parametrize("script, code", [("exit 0", 0), ("exit 3", 3),
                                          ("kill -INT $$", 130)])
def test_tini_example_exits_with_the_commands_status(podman, script, code):
    image = podman.build_example("tini")
    res = podman.run(image, "sh", "-c", script)
    assert res.returncode == code, res.stderr


# --- Docker: several programs with dependencies ----------------------------------

def test_web_example_starts_in_dependency_order_and_becomes_healthy(
        podman, container):
    image = podman.build_example("web")
    name = container(image)
    wait_until(lambda: podman("healthcheck", "run", name,
                              check=False).returncode == 0,
               what="a healthy container", logs=(podman, name))
    assert podman.state(name)["Health"]["Status"] == "healthy"
    api = podman.exec(name, "wget", "-qO-",
                      "http://127.0.0.1:8080/cgi-bin/api")
    assert api.stdout == "schema v3\n", api.stdout + api.stderr
    status = podman.exec(name, "/sbin/tend", "ctl", "status").stdout
    assert re.search(r"^migrate\s+EXITED", status, re.M), status
    assert re.search(r"^app\s+RUNNING", status, re.M), status
    assert re.search(r"^web\s+RUNNING", status, re.M), status
    # tend's lines alone: podman logs does not keep the order between
    # stdout and stderr
    logs = podman.logs(name)
    lines = [line for line in logs.splitlines() if line.startswith("tend: ")]
    assert log_index(lines, r"^tend: success: app entered RUNNING") < \
        log_index(lines, r"^tend: spawned: 'web'")
    # app after the migration has run, so at its first try
    assert log_index(lines, r"^tend: exited: migrate \(exit status 0; "
                     r"expected\)$") < log_index(lines, r"^tend: spawned: 'app'")
    for program in ("migrate", "app", "web"):
        assert len(re.findall(rf"^tend: spawned: '{program}'", logs,
                              re.M)) == 1, logs
    assert "no schema" not in logs, logs
    # ready too: the migration is done, the servers are up
    res = podman.exec(name, "/sbin/tend", "ctl", "ready")
    assert (res.returncode, res.stdout) == (0, "ok\n"), res.stdout


def test_web_example_stops_the_web_server_before_the_app_server(podman,
                                                                 container):
    image = podman.build_example("web")
    name = container(image)
    wait_for_line(podman, name, r"^tend: success: web entered RUNNING")
    elapsed = timed_stop(podman, name)
    # a configuration without main, every program stopped in time: 0
    assert podman.wait(name) == 0
    assert elapsed < STOP_LIMIT
    lines = podman.logs(name).splitlines()
    assert log_index(lines, r"stopped: web ") < log_index(lines,
                                                          r"stopped: app ")
    assert not [line for line in lines if "shutdown budget" in line]


def test_web_example_ends_with_the_status_of_a_critical_program_that_fails(
        podman):
    # The app server's command replaced from the environment by one that
    # fails: app goes FATAL, web is never started, and the container ends
    # with app's status.
    image = podman.build_example("web")
    res = podman.run("-e", "TEND_PROGRAM_APP_COMMAND=sh -c 'echo cannot "
                     "open the database >&2; exit 3'",
                     "-e", "TEND_PROGRAM_APP_STARTRETRIES=0", image)
    assert res.returncode == 3, res.stdout + res.stderr
    logs = res.stdout + res.stderr
    assert "app | cannot open the database" in logs
    assert "gave up: app entered FATAL state" in logs
    assert "spawned: 'web'" not in logs


def test_web_example_is_unhealthy_while_a_critical_program_is_not_ready(
        podman, container):
    # The app server never listens: the health check says which program.
    image = podman.build_example("web")
    name = container(image, opts=["-e", "TEND_PROGRAM_APP_COMMAND=sleep 1000"])
    wait_for_line(podman, name, r"^tend: spawned: 'app'")
    res = podman("healthcheck", "run", name, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    res = podman.exec(name, "/sbin/tend", "ctl", "health")
    assert (res.returncode, res.stdout) == (1, "not healthy: app, web\n")


# --- Docker: the original nodehook example --------------------------------------------

needs_node = pytest.mark.skipif(not HAVE_NODE, reason="no /usr/bin/node "
                                "(apt-get install nodejs)")


def answer(podman, name):
    res = podman.exec(name, "wget", "-qO-", "http://127.0.0.1:9000/")
    return json.loads(res.stdout) if res.returncode == 0 else None


@needs_node
def test_nodehook_example_runs_its_supervisord_section_verbatim(podman,
                                                                 container):
    image = podman.build_example("nodehook")
    name = container(image)
    wait_for_line(podman, name, r"^tend: success: nodehook entered RUNNING")
    seen = wait_until(lambda: answer(podman, name),
                      what="the receiver's answer", logs=(podman, name))
    assert seen == {"program": "http.js", "uid": 33, "gid": 33,
                    "cwd": "/srv", "a": 14, "b": 14}
    out = podman.exec(name, "cat", "/var/log/webhook/nodehook.out.log").stdout
    err = podman.exec(name, "cat", "/var/log/webhook/nodehook.err.log").stdout
    assert "nodehook listening on 9000" in out
    assert "secret lengths 14 14" in err
    logs = podman.logs(name)
    assert "success: nodehook entered RUNNING state" in logs
    assert "this is secret" not in logs and "listening" not in logs
    elapsed = timed_stop(podman, name)
    assert podman.wait(name) == 0
    assert elapsed < STOP_LIMIT


@needs_node
def test_nodehook_example_command_is_overridden_from_the_environment(
        podman, container):
    image = podman.build_example("nodehook")
    name = container(image, opts=[
        "-e", "TEND_PROGRAM_NODEHOOK_COMMAND=/usr/bin/node /srv/other.js"])
    seen = wait_until(lambda: answer(podman, name),
                      what="the receiver's answer", logs=(podman, name))
    assert seen == {"program": "other.js", "uid": 33}
    assert podman.exec(name, "cat", "/proc/1/environ").stdout.count(
        "TEND_PROGRAM_NODEHOOK_COMMAND") == 1
    # tend's own settings never reach the program (read as www-data: the
    # container's root lacks CAP_SYS_PTRACE for another user's environ)
    pid = podman.exec(name, "/sbin/tend", "ctl", "pid", "nodehook").stdout
    env = podman("exec", "--user", "33:33", name, "cat",
                 f"/proc/{pid.strip()}/environ").stdout
    assert "TEND_" not in env and "SECRET_TWO=another secret" in env
    assert timed_stop(podman, name) < STOP_LIMIT
    assert podman.wait(name) == 0


# --- Kubernetes -----------------------------------------------------------------------

def manifest(name):
    """The documents of examples/kubernetes/NAME, as podman can play them:
    without containerPort (podman refuses ports with --network none)."""
    with open(os.path.join(KUBE, name)) as f:
        documents = list(yaml.safe_load_all(f))
    for d in documents:
        if d.get("kind") == "Pod":
            for c in d["spec"].get("containers", []):
                c.pop("ports", None)
    return documents


def pod_spec(documents):
    return next(d for d in documents if d.get("kind") == "Pod")["spec"]


def container_spec(documents, name):
    spec = pod_spec(documents)
    return next(c for c in spec.get("containers", []) +
                spec.get("initContainers", []) if c["name"] == name)


def exit_code(podman, name):
    return podman.wait(name)


def test_pod_example_probes_pass_and_the_command_comes_from_env(podman, pods):
    podman.build_example("web")
    pod = pods(manifest("pod.yaml"), "pod")
    app = f"{pod}-app"
    wait_for_line(podman, app, r"^tend: success: web entered RUNNING")
    # the livenessProbe, as podman runs it; the readinessProbe's command
    # with podman exec (podman does not run readiness probes)
    live = podman("healthcheck", "run", app, check=False)
    assert live.returncode == 0, live.stdout + live.stderr + podman.logs(app)
    # TEND_PROGRAM_APP_COMMAND replaced the ConfigMap's command
    banner = podman.exec(app, "wget", "-qO-", "http://127.0.0.1:8081/banner.txt")
    assert banner.stdout == "served from a Kubernetes pod\n", banner.stderr
    # the ConfigMap's tend.ini, through TEND_CONFIG
    res = podman.exec(app, "/sbin/tend", "ctl", "status")
    assert re.search(r"^app\s+RUNNING", res.stdout, re.M), res.stdout
    assert re.search(r"^migrate\s+EXITED", res.stdout, re.M), res.stdout
    # the readinessProbe's command, with podman exec (podman does not
    # run readiness probes): every program is up, the migration done
    ready = container_spec(manifest("pod.yaml"), "app")["readinessProbe"]
    res = podman.exec(app, *ready["exec"]["command"])
    assert (res.returncode, res.stdout) == (0, "ok\n"), res.stdout


def test_pod_example_stops_gracefully_within_its_budget(podman, pods):
    podman.build_example("web")
    pod = pods(manifest("pod.yaml"), "pod")
    app = f"{pod}-app"
    wait_for_line(podman, app, r"^tend: success: web entered RUNNING")
    # podman ignores terminationGracePeriodSeconds: its SIGKILL is given
    # with -t, here well beyond tend's 25 s budget
    start = time.monotonic()
    podman("pod", "stop", "-t", "40", pod, timeout=40 + PODMAN_TIMEOUT)
    elapsed = time.monotonic() - start
    assert exit_code(podman, app) == 0
    assert elapsed < 20, elapsed
    lines = [line for line in podman.logs(app).splitlines()
             if line.startswith("tend: ")]
    assert log_index(lines, r"^tend: SIGTERM received") < \
        log_index(lines, r"stopped: web ") < log_index(lines, r"stopped: app ")
    assert not [line for line in lines if "budget" in line and "over" in line]


def test_pod_example_writes_the_termination_message(podman, pods, tmp_path):
    # A failing app server, no restart, and the termination log that
    # podman does not mount, as a hostPath file (the kubelet would read it
    # into the container's status).
    podman.build_example("web")
    documents = manifest("pod.yaml")
    spec = pod_spec(documents)
    spec["restartPolicy"] = "Never"
    app_spec = container_spec(documents, "app")
    for var in app_spec["env"]:
        if var["name"] == "TEND_PROGRAM_APP_COMMAND":
            var["value"] = ("sh -c 'echo connecting to the database >&2; "
                            "echo cannot open the database >&2; exit 3'")
    app_spec["env"].append({"name": "TEND_PROGRAM_APP_STARTRETRIES",
                            "value": "0"})
    term = tmp_path / "termination-log"
    app_spec["volumeMounts"].append({"name": "termination",
                                     "mountPath": "/dev/termination-log"})
    spec["volumes"].append({"name": "termination", "hostPath": {
        "path": str(term), "type": "FileOrCreate"}})
    pod = pods(documents, "pod-fails")
    app = f"{pod}-app"
    assert exit_code(podman, app) == 3, podman.logs(app)
    assert term.read_text() == (
        "tend: critical program 'app' ended in state FATAL (exit status 3); "
        "tend exited with status 3\n"
        "last lines on its stderr:\n"
        "connecting to the database\n"
        "cannot open the database\n")
    assert "spawned: 'web'" not in podman.logs(app)


def test_shared_pid_example_runs_tend_as_a_subreaper_that_spares_the_others(
        podman, pods):
    podman.build_example("web")
    podman.build_example("tini")
    pod = pods(manifest("shared-pid.yaml"), "shared")
    app, debug = f"{pod}-app", f"{pod}-debug"
    wait_for_line(podman, app, r"^tend: success: web entered RUNNING")
    # PID 1 is the pod's pause process; tend is another pid, seen by both
    init = podman.exec(app, "cat", "/proc/1/cmdline").stdout.split("\0")[0]
    assert "tend" not in init, init
    ps = podman.exec(debug, "ps", "-o", "pid,args").stdout
    tend_pid = int(re.search(r"^\s*(\d+)\s+/sbin/tend$", ps, re.M).group(1))
    assert tend_pid != 1
    assert podman.exec(app, "/sbin/tend", "ctl", "health").returncode == 0
    # stopping the app container alone: tend stops its own tree and
    # exits 0; the debug container's sleep is not touched
    sleep_pid = int(re.search(r"^\s*(\d+)\s+sleep 100000$", ps, re.M).group(1))
    timed_stop(podman, app)
    assert exit_code(podman, app) == 0, podman.logs(app)
    assert podman.exec(debug, "kill", "-0", str(sleep_pid)).returncode == 0
    assert podman.state(debug)["Running"]


def test_sidecar_example_ships_the_apps_log_and_answers_its_probes(podman,
                                                                    pods):
    # podman runs a native sidecar as a blocking init container: here it
    # is moved among the containers, without its restartPolicy, as the
    # manifest's comment says. What depends on the kubelet (start order,
    # termination after the main container) is not run here.
    podman.build_example("tini")
    documents = manifest("sidecar.yaml")
    spec = pod_spec(documents)
    sidecar = spec.pop("initContainers")[0]
    assert sidecar.pop("restartPolicy") == "Always"
    spec["containers"].insert(0, sidecar)
    pod = pods(documents, "sidecar")
    helpers = f"{pod}-helpers"
    wait_for_line(podman, helpers, r"^shipper \| request 3$")
    wait_for_line(podman, helpers, r"^tend: success: status entered RUNNING")
    ready = sidecar["readinessProbe"]["exec"]["command"]
    assert podman.exec(helpers, *ready).returncode == 0
    live = podman("healthcheck", "run", helpers, check=False)
    assert live.returncode == 0, live.stdout + live.stderr
    page = podman.exec(helpers, "wget", "-qO-",
                       "http://127.0.0.1:9100/access.log").stdout
    assert page.startswith("request 1\n"), page
    podman("pod", "stop", "-t", "20", pod, timeout=20 + PODMAN_TIMEOUT)
    assert exit_code(podman, helpers) == 0, podman.logs(helpers)
    assert exit_code(podman, f"{pod}-app") == 128 + signal.SIGTERM
