"""The control plane under load and abuse, as its clients use it: tend ctl, the JSON API and
supervisord's XML-RPC over a private control socket, the TCP port
(health, metrics, the page, read-only without credentials), malformed
and excess requests, and the arena memory of reloads, which must come
back to its level (GET /api/v1/tend says "arena_bytes", the bytes that
arenas map: LeakSanitizer cannot see mmap'd arenas)."""
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import alive, wait_until
from control import (ctl, free_port, get_json, raw, request, rpc)
from test_supervise import supervise  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (PID namespaces)")

TWO = """
[program:a]
command=sleep 1000
startsecs=0

[program:b]
command=sleep 1000
startsecs=0
"""


def with_port(port):
    return TWO + f"\n[tend]\nhttp_port=127.0.0.1:{port}\n"


def start(supervise, tmp_path, ini, mode="pid1", **kw):
    """tend on ini with a private control socket: (run, socket path)."""
    sock = tmp_path / "tend.sock"
    env = dict(os.environ, TEND_CONTROL_SOCKET=str(sock))
    s = supervise(ini, mode=mode, env=env, **kw)
    wait_until(sock.exists, what="the control socket")
    return s, sock


def states(sock):
    return {p["name"]: p["state"]
            for p in get_json(sock, "/api/v1/programs")["programs"]}


@pytest.mark.parametrize("mode", ["pid1", "child"])
def test_tend_ctl_status_stop_start_and_pid_over_the_socket(
        supervise, tmp_path, mode):
    s, sock = start(supervise, tmp_path, TWO, mode=mode)
    wait_until(lambda: ctl(sock, "status").stdout.count("RUNNING") == 2,
               what="both RUNNING")
    r = ctl(sock, "status")
    assert [line.split()[:2] for line in r.stdout.splitlines()] == \
        [["a", "RUNNING"], ["b", "RUNNING"]], r.stdout
    r = ctl(sock, "stop", "a")
    assert r.returncode == 0 and r.stdout == "a: stopped\n", r
    r = ctl(sock, "status")
    assert r.returncode == 3, r
    assert "STOPPED" in r.stdout
    r = ctl(sock, "start", "a")
    assert r.returncode == 0 and r.stdout == "a: started\n", r
    r = ctl(sock, "pid", "b")
    assert r.returncode == 0 and int(r.stdout) > 1, r
    if mode == "child":         # as PID 1 the pid is the namespace's
        assert int(r.stdout) in s.t.descendants()
    r = ctl(sock, "status", "nosuch")
    assert r.returncode == 4, r
    rc, _ = s.stop()
    assert rc == 0, s.err.text()
    assert not sock.exists(), "the socket is removed at exit"


def test_the_json_api_lists_acts_and_refuses_bad_names(supervise, tmp_path):
    s, sock = start(supervise, tmp_path, TWO)
    wait_until(lambda: states(sock) == {"a": "RUNNING", "b": "RUNNING"},
               what="both RUNNING")
    before = {p["name"]: p["pid"]
              for p in get_json(sock, "/api/v1/programs")["programs"]}
    status, _, data = request(sock, "POST", "/api/v1/programs/a/restart")
    assert status == 200, data
    (result,) = json.loads(data)["results"]
    assert result["name"] == "a" and result["ok"], result
    after = get_json(sock, "/api/v1/programs/a")
    assert after["state"] == "RUNNING" and after["pid"] != before["a"]
    status, _, data = request(sock, "POST", "/api/v1/programs/b/signal/HUP")
    assert status == 200, data
    wait_until(lambda: states(sock)["b"] != "RUNNING", what="b killed by HUP")
    status, _, data = request(sock, "GET", "/api/v1/programs/nosuch")
    assert status == 404 and "error" in json.loads(data)
    status, _, data = request(sock, "POST", "/api/v1/programs/a/start")
    assert status == 409, data
    info = get_json(sock, "/api/v1/tend")
    assert info["pid"] >= 1 and info["phase"] == "running"
    assert info["arena_bytes"] > 0
    assert s.running()


def test_supervisords_xmlrpc_answers_as_supervisorctl_expects(
        supervise, tmp_path):
    s, sock = start(supervise, tmp_path, TWO)
    server = rpc(sock)
    wait_until(lambda: all(p["statename"] == "RUNNING" for p in
                           server.supervisor.getAllProcessInfo()),
               what="both RUNNING")
    infos = server.supervisor.getAllProcessInfo()
    assert [p["name"] for p in infos] == ["a", "b"]
    assert server.supervisor.getState() == {"statecode": 1,
                                            "statename": "RUNNING"}
    assert server.supervisor.getAPIVersion() == "3.0"
    assert server.supervisor.stopProcess("a", True) is True
    assert server.supervisor.getProcessInfo("a")["statename"] == "STOPPED"
    assert server.supervisor.startProcess("a", True) is True
    assert server.supervisor.signalProcess("b", "CONT") is True
    try:
        server.supervisor.getProcessInfo("nosuch")
        raise AssertionError("no fault for a bad name")
    except Exception as e:      # xmlrpc.client.Fault
        assert "BAD_NAME" in str(e)
    if shutil.which("supervisorctl"):
        r = subprocess.run(["supervisorctl", "-s", f"unix://{sock}",
                            "status"], capture_output=True, text=True,
                           timeout=30)
        assert [line.split()[:2] for line in r.stdout.splitlines()] == \
            [["a", "RUNNING"], ["b", "RUNNING"]], r
    assert s.running()


def test_the_tcp_port_serves_health_metrics_and_the_page_read_only(
        supervise, tmp_path):
    port = free_port()
    s, sock = start(supervise, tmp_path, with_port(port))
    wait_until(lambda: states(sock) == {"a": "RUNNING", "b": "RUNNING"},
               what="both RUNNING")
    for path in ("/livez", "/readyz", "/healthz"):
        status, _, data = request(None, "GET", path, port=port)
        assert status == 200, (path, data)
    status, headers, data = request(None, "GET", "/metrics", port=port)
    assert status == 200
    assert 'tend_program_up{program="a",group="a"} 1' in data.decode()
    status, headers, data = request(None, "GET", "/", port=port,
                                    headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("content-encoding") == "gzip"
    assert b"<html" in gzip.decompress(data).lower()
    # without credentials the port may look, not act
    status, headers, _ = request(None, "POST", "/api/v1/programs/a/stop",
                                 port=port)
    assert status == 401 and "www-authenticate" in headers
    assert states(sock)["a"] == "RUNNING"


MALFORMED = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"get / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
    (b"POST /ctl HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"POST /ctl HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
     400),
    (b"POST /ctl HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nX: " + b"x" * 9000 + b"\r\n\r\n", 431),
    (b"GET /\x00 HTTP/1.1\r\n\r\n", 400),
    # well framed, so answered on a connection that stays open: close it
    (b"PUT /api/v1/tend HTTP/1.1\r\nConnection: close\r\n\r\n", 405),
    (b"POST /RPC2 HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 9"
     b"\r\nConnection: close\r\n\r\n<garbage>", 400),
    (b"POST /ctl HTTP/1.1\r\nContent-Length: 3\r\nConnection: close"
     b"\r\n\r\nabc", 400),
    (b"GET /nosuch HTTP/1.0\r\n\r\n", 404),
]


@pytest.mark.parametrize("mode", ["pid1", "child"])
def test_malformed_requests_get_a_status_and_tend_stays_up(
        supervise, tmp_path, mode):
    port = free_port()
    s, sock = start(supervise, tmp_path, with_port(port), mode=mode)
    for data, want in MALFORMED:
        for target in ({"sock": sock}, {"sock": None, "port": port}):
            reply = raw(data=data, **target)
            assert re.match(rb"HTTP/1\.[01] %d " % want, reply), \
                (data[:60], reply[:200])
    # a client that sends half a request and goes away
    c = socket.socket(socket.AF_UNIX)
    c.connect(str(sock))
    c.sendall(b"GET /api/v1/programs HTTP/1.1\r\nHost: t\r\n")
    c.close()
    # pipelined requests are answered in order
    reply = raw(sock, b"GET /livez HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /api/v1/tend HTTP/1.1\r\nHost: t\r\n"
                      b"Connection: close\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200 ") == 2, reply
    assert s.running() and alive(s.pid)
    assert get_json(sock, "/api/v1/tend")["phase"] == "running"
    rc, _ = s.stop()
    assert rc == 0, s.err.text()


def test_more_than_64_clients_get_503_and_the_others_are_served(
        supervise, tmp_path):
    s, sock = start(supervise, tmp_path, TWO)
    held = []
    try:
        for _ in range(64):
            c = socket.socket(socket.AF_UNIX)
            c.connect(str(sock))
            held.append(c)
        time.sleep(0.5)             # tend accepts them all
        reply = raw(sock, b"GET /livez HTTP/1.1\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 503 "), reply
    finally:
        for c in held:
            c.close()
    wait_until(lambda: raw(sock, b"GET /livez HTTP/1.1\r\nConnection: "
                                 b"close\r\n\r\n").startswith(
        b"HTTP/1.1 200 "), what="a connection slot again")
    assert s.running()


def arena_bytes(sock):
    return get_json(sock, "/api/v1/tend")["arena_bytes"]


def reload(sock):
    status, _, data = request(sock, "POST", "/api/v1/reload")
    return status, json.loads(data)


@pytest.mark.parametrize("mode", ["pid1", "child"])
def test_arena_memory_returns_to_its_baseline_after_reloads(
        supervise, tmp_path, mode):
    s, sock = start(supervise, tmp_path, TWO, mode=mode)
    wait_until(lambda: states(sock) == {"a": "RUNNING", "b": "RUNNING"},
               what="both RUNNING")
    base = arena_bytes(sock)
    for _ in range(10):
        status, result = reload(sock)
        assert status == 200 and result["result"] == "reloaded", result
        assert arena_bytes(sock) == base
    # a file with errors changes nothing, and its load is released
    original = s.conf.read_text()
    s.conf.write_text(original + "[program:bad]\nautostart=maybe\n")
    for _ in range(5):
        status, result = reload(sock)
        assert status != 200, result
        assert arena_bytes(sock) == base
    # programs that come and go: one cycle to warm up, then no growth
    grown = original + "[program:c]\ncommand=sleep 1000\nstartsecs=0\n"

    def cycle():
        s.conf.write_text(grown)
        status, result = reload(sock)
        assert status == 200 and result["added"] == ["c"], result
        wait_until(lambda: states(sock).get("c") == "RUNNING",
                   what="c RUNNING")
        s.conf.write_text(original)
        status, result = reload(sock)
        assert status == 200 and result["removed"] == ["c"], result
        wait_until(lambda: "c" not in states(sock), what="c dropped")
    cycle()
    warm = arena_bytes(sock)
    for _ in range(5):
        cycle()
        assert arena_bytes(sock) == warm
    # SIGHUP reloads too, without a main
    for n in range(1, 4):
        s.t.kill(signal.SIGHUP)
        s.err.wait_for(r"^tend: SIGHUP received, reloading", count=n)
        wait_until(lambda: arena_bytes(sock) == warm,
                   what="the arena back to its level after SIGHUP")
    assert s.running()


def test_numprocs_processes_are_each_supervised_named_and_grouped(
        supervise, tmp_path):
    s, sock = start(supervise, tmp_path, """
        [program:w]
        command=sh -c 'echo "$SUPERVISOR_PROCESS_NAME $SUPERVISOR_GROUP_NAME"; exec sleep 1000'
        process_name=%(program_name)s_%(process_num)02d
        numprocs=3
        numprocs_start=1
        startsecs=0
        log_prefix=true

        [program:crash]
        command=sh -c 'exit 3'
        process_name=c%(process_num)d
        numprocs=2
        startsecs=0
        autorestart=true
        startretries=1000
        """)
    names = ["c0", "c1", "w_01", "w_02", "w_03"]
    wait_until(lambda: sorted(states(sock)) == names and
               all(states(sock)[n] == "RUNNING" for n in names[2:]),
               what="the processes of both programs")
    for n in names[2:]:
        s.out.wait_for(rf"^{n} \| {n} w$")
    # the crash loops of numprocs go on, each process on its own
    for n in ("c0", "c1"):
        wait_until(lambda: len(s.spawns(n)) >= 3, what=f"{n} crash-looping")
    # one process of the group (the whole group: see the test below)
    status, _, data = request(sock, "POST", "/api/v1/programs/w:w_01/restart")
    assert status == 200, data
    (result,) = json.loads(data)["results"]
    assert result["name"] == "w_01" and result["ok"], result
    status, _, data = request(sock, "POST", "/api/v1/programs/w:w_02/stop")
    assert status == 200, data
    assert states(sock)["w_02"] == "STOPPED"
    rc, _ = s.stop()
    assert rc == 0, s.err.text()


GROUP = """
    [program:w]
    command=sleep 1000
    process_name=%(program_name)s_%(process_num)02d
    numprocs=3
    startsecs=0
    """


def test_restarting_a_whole_group_always_answers(supervise, tmp_path):
    s, sock = start(supervise, tmp_path, GROUP)
    wait_until(lambda: list(states(sock).values()) == ["RUNNING"] * 3,
               what="the group RUNNING")
    for _ in range(20):
        status, _, data = request(sock, "POST",
                                  "/api/v1/programs/w:*/restart", timeout=10)
        assert status == 200, data
        results = json.loads(data)["results"]
        assert [r["ok"] for r in results] == [True] * 3, results
