"""Clients of tend's control plane for the tests: HTTP over the control
socket or the TCP port, XML-RPC over the socket (as supervisorctl
speaks it), raw bytes for malformed requests, tend ctl; and what the
fault and soak tests measure of a running tend (descriptors, RSS)."""
import http.client
import json
import os
import socket
import subprocess
import xmlrpc.client

from conftest import TEND


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("tend", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def request(sock, method, url, body=None, headers=None, timeout=10,
            port=None):
    """One request over the socket path (or to 127.0.0.1:port):
    (status, headers as a dict with lower-case names, body bytes)."""
    if port is not None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = UnixHTTPConnection(str(sock), timeout=timeout)
    try:
        conn.request(method, url, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def get_json(sock, url, **kw):
    status, _, data = request(sock, "GET", url, **kw)
    assert status == 200, (status, data)
    return json.loads(data)


def raw(sock, data, timeout=10, port=None):
    """Sends bytes as they are and reads until tend closes: the reply."""
    if port is not None:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(sock))
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass        # refused before the end: its reply is still there
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        s.close()


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.unix_path = path

    def make_connection(self, host):
        return UnixHTTPConnection(self.unix_path)


def rpc(sock):
    """An xmlrpc.client proxy on the control socket (supervisorctl's)."""
    return xmlrpc.client.ServerProxy(
        "http://tend/RPC2", transport=_UnixTransport(str(sock)))


def ctl(sock, *args, timeout=30):
    return subprocess.run([TEND, "ctl", "-s", str(sock), *args],
                          capture_output=True, text=True, timeout=timeout)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- what a running tend holds ----------------------------------------------------

def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
