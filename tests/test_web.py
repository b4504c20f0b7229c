"""The control plane over TCP as its clients meet it: a real browser on
the status page (Debian's chromium, driven by playwright-core), health
probes and `tend ctl health`/`ready`, Prometheus (`promtool check
metrics`), credentials over TCP and over the socket, supervisord's
XML-RPC, hostile clients (slow, oversized, too many, garbage), and the
page's security headers.

tend runs as PID 1 of a fresh PID namespace with its TCP port on a free
127.0.0.1 port and a private control socket. Requests are written with
http.client, header by header, so each test says exactly what a client
sends (http.client adds only Host and, unless told, nothing else).

The browser tests need /usr/bin/chromium (apt-get install chromium) and
playwright-core from npm; they install what is missing, playwright-core
into $WEB_TESTS_NODE_DIR (default ~/.cache/tend-tests/node). Set
WEB_TESTS_SCREENSHOT=PATH to keep the screenshot of the page (the
README's docs/status-page.png is made so)."""
import base64
import errno
import gzip
import hashlib
import http.client
import http.server
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
import time
import xmlrpc.client

import pytest

from conftest import PYTHON, TEND, Tend, children_of, tend_argv, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root (PID namespaces)")

CHROMIUM = "/usr/bin/chromium"
NODE_DIR = os.environ.get("WEB_TESTS_NODE_DIR") or os.path.expanduser(
    "~/.cache/tend-tests/node")
PLAYWRIGHT = "playwright-core@1.65.1"
USER, PASSWORD = "admin", "s3cret pass"

# A program that records the time of each of its starts, then exits at
# once: restarted 1 s after its previous start, for ever (startsecs=0).
CRASHLOOP = """
[program:crashloop]
command=sh -c 'date +%%s.%%N >> @DIR@/starts && exit 1'
startsecs=0
autorestart=true
"""

# Sends READY=1 and a STATUS= (its first argument), then sleeps.
NOTIFY = """\
import os, socket, sys, time
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(("READY=1\\nSTATUS=" + sys.argv[1]).encode(), addr)
time.sleep(1000)
"""


# --- machinery ---------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return "Basic " + token


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers		# lower-cased names
        self.body = body

    @property
    def text(self):
        return self.body.decode(errors="replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Reply {self.status} {self.headers} {self.body[:200]!r}>"


def request(port, method, path, headers=None, body=b"", auth=None,
            timeout=10):
    """One request on its own connection, with exactly these headers
    (and Host); auth is (user, password)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = basic(*auth)
        if body or method == "POST":
            headers.setdefault("Content-Length", str(len(body)))
        for k, v in headers.items():
            c.putheader(k, v)
        c.endheaders(body or None)
        r = c.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()},
                     r.read())
    finally:
        c.close()


def unix_request(path, method, target, headers=None, body=b"", auth=None,
                 timeout=10):
    """The same over a Unix socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        headers = {"Host": "localhost", "Connection": "close",
                   **(headers or {})}
        if auth:
            headers["Authorization"] = basic(*auth)
        if body or method == "POST":
            headers.setdefault("Content-Length", str(len(body)))
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        s.sendall(head.encode() + body)
        r = http.client.HTTPResponse(s)
        r.begin()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()},
                     r.read())
    finally:
        s.close()


def raw_exchange(port, data, timeout=15):
    """Sends bytes, reads until tend closes: (reply bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got, True
            except socket.timeout:
                return got, False
            if not chunk:
                return got, True
            got += chunk
        return got, False
    finally:
        s.close()


def status_of(reply_bytes):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply_bytes)
    return int(m.group(1)) if m else None


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class QuickTend(Tend):
    """conftest's Tend as PID 1, but one that may exit at once (a
    configuration error): its pid is then -1."""

    def __init__(self, args, **popen):
        self.mode = "pid1"
        self.proc = subprocess.Popen(tend_argv("pid1", args), **popen)
        self.pid = wait_until(
            lambda: (children_of(self.proc.pid) or [0])[0] or
            (self.proc.poll() is not None and -1),
            what="tend to start in its namespace")


class Web:
    """One tend as PID 1 on an INI file in which @PORT@ (a free port),
    @SOCK@ (its private control socket) and @DIR@ (the work directory)
    are replaced; auth is what reads are made with."""

    def __init__(self, workdir, ini, auth=None, env=None, wait=True):
        workdir.mkdir(parents=True, exist_ok=True)
        self.dir = workdir
        self.port = free_port()
        self.sock = str(workdir / "tend.sock")
        self.auth = auth
        text = textwrap.dedent(ini).lstrip("\n")
        for key, value in (("@PORT@", str(self.port)), ("@SOCK@", self.sock),
                           ("@DIR@", str(workdir))):
            text = text.replace(key, value)
        self.conf = workdir / "tend.ini"
        self.conf.write_text(text)
        self.env = dict(os.environ, TEND_CONTROL_SOCKET=self.sock)
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = v
        self.err_path = workdir / "tend.stderr"
        self.out_path = workdir / "tend.stdout"
        with open(self.err_path, "wb") as errf, \
                open(self.out_path, "wb") as outf:
            self.t = QuickTend(["-c", str(self.conf)], stdout=outf,
                               stderr=errf, env=self.env)
        assert self.t.pid > 0, f"tend exited {self.t.proc.returncode}: " \
            f"{self.err()}"
        self.url = f"http://127.0.0.1:{self.port}"
        if wait:
            try:
                wait_until(self._answers, what=f"tend to listen on "
                           f"{self.url}")
            except AssertionError:
                self.close()
                raise AssertionError(f"tend does not answer on {self.url}; "
                                     f"its stderr:\n{self.err()}")

    def _answers(self):
        try:
            return self.get("/livez").status == 200
        except OSError:
            return False

    @property
    def pid(self):
        return self.t.pid

    def err(self):
        return self.err_path.read_text(errors="replace")

    def out(self):
        return self.out_path.read_text(errors="replace")

    def get(self, path, headers=None, auth="default", **kw):
        return request(self.port, "GET", path, headers,
                       auth=self.auth if auth == "default" else auth, **kw)

    def post(self, path, headers=None, body=b"", auth="default", **kw):
        return request(self.port, "POST", path, headers, body,
                       auth=self.auth if auth == "default" else auth, **kw)

    def programs(self):
        r = self.get("/api/v1/programs")
        assert r.status == 200, r
        return {p["name"]: p for p in r.json()["programs"]}

    def program(self, name):
        return self.programs()[name]

    def wait_state(self, name, state, timeout=20):
        return wait_until(
            lambda: (lambda p: p if p["state"] == state else None)(
                self.program(name)),
            timeout=timeout, what=f"{name} to be {state}; stderr:\n"
                                  f"{self.err()}")

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return r.text

    def ctl(self, *args, timeout=30):
        return subprocess.run([TEND, "ctl", "-s", self.sock, *args],
                              capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def starts(self):
        """The crash-looping program's start times."""
        try:
            with open(self.dir / "starts") as f:
                return [float(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    def running(self):
        return self.t.proc.poll() is None

    def wait(self, timeout=30):
        return self.t.proc.wait(timeout=timeout)

    def close(self):
        self.t.close()


@pytest.fixture
def web(tmp_path):
    """web(ini, auth=None, env=None) starts tend on the INI."""
    runs = []

    def start(ini, **kw):
        w = Web(tmp_path / f"run{len(runs)}", ini, **kw)
        runs.append(w)
        return w

    yield start
    for w in runs:
        w.close()


def tcp_ini(body="", creds=False, sha=False):
    """[tend] with the port (and credentials), then body."""
    text = "[tend]\nhttp_port=127.0.0.1:@PORT@\ncontrol_socket=@SOCK@\n"
    if creds:
        password = ("{SHA}" + hashlib.sha1(PASSWORD.encode()).hexdigest()
                    if sha else PASSWORD)
        text += f"http_username={USER}\nhttp_password={password}\n"
    return text + textwrap.dedent(body)


def assert_restarted_on_time(w, since, until):
    """The crash loop went on: one start about every second between
    since and until, none missing."""
    starts = [t for t in w.starts() if since - 1.5 <= t <= until + 1.5]
    assert len(starts) >= 2, f"no starts around the load: {w.starts()}"
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert max(gaps) < 1.9, f"a restart came late: gaps {gaps}"
    assert min(gaps) > 0.8, f"restarts closer than 1 s: gaps {gaps}"
    assert starts[0] <= since + 1.9 and starts[-1] >= until - 1.9, \
        f"starts stopped during the load: {starts} ({since}..{until})"


def baseline_fds(w):
    """tend's descriptors at rest (a spawn may hold one for a moment)."""
    counts = []
    for _ in range(10):
        counts.append(fd_count(w.pid))
        time.sleep(0.05)
    return min(counts)


def assert_fds_back(w, baseline):
    wait_until(lambda: fd_count(w.pid) <= baseline, timeout=20,
               what=f"tend's descriptors to return to {baseline} "
                    f"(now {fd_count(w.pid)}: "
                    f"{sorted(os.listdir(f'/proc/{w.pid}/fd'))})")


# --- the browser -------------------------------------------------------------

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]

# The start of every browser script: a fresh profile, every dialog and
# console message recorded, and the result printed as one JSON line.
PRELUDE = r"""
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const args = JSON.parse(process.argv[2]);
const out = { dialogs: [], console: [], pageErrors: [] };
function watch(page) {
  page.on("dialog", (d) => { out.dialogs.push(d.type() + ": " + d.message());
    d.dismiss().catch(() => {}); });
  page.on("console", (m) => out.console.push(m.type() + ": " + m.text()));
  page.on("pageerror", (e) => out.pageErrors.push(String(e)));
}
async function rows(page) {
  return page.$$eval("#programs tbody tr", (trs) => trs.map((tr) => {
    const cells = [...tr.cells].map((td) => td.textContent);
    return { name: cells[0], group: cells[1], state: cells[2],
      pid: cells[3], description: cells[7],
      stateClass: tr.cells[2].firstChild ? tr.cells[2].firstChild.className : "",
      buttons: [...tr.querySelectorAll("button")].map((b) => b.textContent) };
  }));
}
// The page's first refresh: a page that could not read the API says so.
async function waitLoaded(page) {
  await page.waitForFunction(() =>
    document.getElementById("summary").textContent !== "loading\u2026",
    null, { timeout: 15000 });
  const summary = await page.textContent("#summary");
  if (summary.startsWith("tend does not answer"))
    throw new Error("the page says: " + summary);
}
// The row of the program named name, once rendered.
async function waitRow(page, name) {
  await waitLoaded(page);
  await page.waitForFunction((n) => [...document.querySelectorAll(
    "#programs tbody tr")].some((tr) => tr.cells[0].textContent === n),
    name, { timeout: 15000 });
}
// Clicks (with the mouse) a button of a program's row, and waits for
// the page to report; the table is drawn anew every 2 s, so the button
// is looked up again until the click lands.
async function click(page, name, label) {
  await waitRow(page, name);
  const before = await page.textContent("#message");
  await page.locator("#programs tbody tr")
    .filter({ has: page.locator("td:first-child").getByText(name, { exact: true }) })
    .getByRole("button", { name: label, exact: true })
    .click({ timeout: 15000 });
  await page.waitForFunction((b) => {
    const t = document.getElementById("message").textContent;
    return t !== b && !t.endsWith("\u2026");
  }, before, { timeout: 30000 });
  return page.textContent("#message");
}
async function run(body) {
  const ctx = await chromium.launchPersistentContext(args.profile, Object.assign({
    executablePath: args.chromium, headless: true, args: args.flags,
    viewport: { width: 1200, height: 700 },
  }, args.context || {}));
  ctx.on("page", watch);
  ctx.pages().forEach(watch);
  const page = ctx.pages()[0] || await ctx.newPage();
  try {
    await body(page, ctx);
  } finally {
    await ctx.close();
  }
  console.log("RESULT " + JSON.stringify(out));
}
"""


def ensure_chromium():
    if os.access(CHROMIUM, os.X_OK):
        return
    r = subprocess.run(
        "apt-get update -qq && apt-get install -y -qq "
        "--no-install-recommends chromium fonts-liberation",
        shell=True, capture_output=True, text=True,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if r.returncode or not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"chromium cannot be installed: {r.stderr[-500:]}")


def ensure_playwright():
    module = os.path.join(NODE_DIR, "node_modules", "playwright-core")
    if os.path.exists(os.path.join(module, "package.json")):
        return module
    if not shutil.which("npm") or not shutil.which("node"):
        r = subprocess.run(
            "apt-get update -qq && apt-get install -y -qq "
            "--no-install-recommends nodejs npm", shell=True,
            capture_output=True, text=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode or not shutil.which("npm"):
            pytest.skip(f"node and npm cannot be installed: {r.stderr[-500:]}")
    os.makedirs(NODE_DIR, exist_ok=True)
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                        "--no-save", "--prefix", NODE_DIR, PLAYWRIGHT],
                       capture_output=True, text=True, timeout=300)
    if r.returncode or not os.path.exists(module):
        pytest.skip(f"npm cannot install {PLAYWRIGHT}: {r.stderr[-500:]}")
    return module


@pytest.fixture(scope="module")
def playwright():
    ensure_chromium()
    return ensure_playwright()


@pytest.fixture
def browser(playwright, tmp_path):
    """browser(script, context={}, **args) runs a script in a fresh
    chromium: the script is the body of an async function of page and
    ctx, with args (and PRELUDE's helpers) in scope; its result is the
    JSON object `out` (dialogs, console, pageErrors, and what the
    script adds)."""
    runs = [0]

    def run(script, context=None, timeout=150, **kw):
        runs[0] += 1
        path = tmp_path / f"browser{runs[0]}.js"
        path.write_text(PRELUDE + "run(async (page, ctx) => {\n" +
                        textwrap.dedent(script) + "\n});\n")
        params = dict(kw, chromium=CHROMIUM, flags=BROWSER_ARGS,
                      context=context or {},
                      profile=str(tmp_path / f"profile{runs[0]}"))
        proc = subprocess.Popen(
            ["node", str(path), json.dumps(params)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
            env=dict(os.environ, PLAYWRIGHT_CORE=playwright))
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        finally:
            # chromium and its helpers are in node's session
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
        results = [line[7:] for line in stdout.splitlines()
                   if line.startswith("RESULT ")]
        assert proc.returncode == 0 and results, \
            f"the browser script failed ({proc.returncode}):\n{stderr}\n{stdout}"
        return json.loads(results[-1])

    return run


def csp_violations(out):
    return [m for m in out["console"] if "Content Security Policy" in m]


def test_page_in_a_browser_shows_every_program_with_its_state_in_words(
        web, browser, tmp_path):
    (tmp_path / "notify.py").write_text(NOTIFY)
    w = web(tcp_ini(f"""
        [program:web]
        command=sh -c 'for i in 1 2 3; do echo "GET /items/$i 200 3ms"; done && exec sleep 1000'
        stdout_logfile=@DIR@/web.log
        [program:api]
        command={PYTHON} {tmp_path}/notify.py 'serving on :8080, 12 clients'
        ready=notify
        [program:worker]
        command=sleep 1000
        numprocs=2
        process_name=worker_%(process_num)02d
        [program:migrate]
        command=true
        startsecs=0
        autorestart=false
        [program:cron]
        command=sleep 1000
        autostart=false
        [program:flaky]
        command=sh -c 'exit 2'
        startretries=0
        [program:retry]
        command=sh -c 'sleep 0.5 && exit 1'
        startretries=100
        """, creds=True), auth=(USER, PASSWORD))
    for name, state in (("web", "RUNNING"), ("api", "RUNNING"),
                        ("worker_00", "RUNNING"), ("worker_01", "RUNNING"),
                        ("migrate", "EXITED"), ("cron", "STOPPED"),
                        ("flaky", "FATAL")):
        w.wait_state(name, state)
    shot = tmp_path / "status-page.png"
    out = browser("""
        const resp = await page.goto(args.url);
        out.status = resp.status();
        out.encoding = (await resp.allHeaders())["content-encoding"];
        await page.waitForFunction(() =>
          document.querySelectorAll("#programs tbody tr").length >= 8 &&
          document.getElementById("ready").textContent !== "",
          null, { timeout: 15000 });
        out.rows = await rows(page);
        out.version = await page.textContent("#version");
        out.summary = await page.textContent("#summary");
        out.allActionsHidden = await page.$eval("#all-actions", (e) => e.hidden);
        out.badges = [await page.textContent("#healthy"), await page.textContent("#ready")];
        // the style ran (its hash is in the CSP): RUNNING is green
        out.runningColour = await page.$eval(".s-RUNNING",
          (e) => getComputedStyle(e).backgroundColor);
        // the tail view of a program with a log file
        await page.locator("#programs tbody tr")
          .filter({ has: page.locator("td:first-child").getByText("web", { exact: true }) })
          .getByRole("button", { name: "Tail", exact: true }).click();
        await page.waitForFunction(() =>
          document.getElementById("tail-text").textContent.includes("/items/3"),
          null, { timeout: 15000 });
        out.tail = await page.textContent("#tail-text");
        await page.screenshot({ path: args.shot });
        """, context={"httpCredentials": {"username": USER,
                                          "password": PASSWORD}},
        url=w.url + "/", shot=str(shot))
    assert out["status"] == 200 and out["encoding"] == "gzip"
    rows = {r["name"]: r for r in out["rows"]}
    assert set(rows) == {"web", "api", "worker_00", "worker_01", "migrate",
                         "cron", "flaky", "retry"}
    assert rows["retry"]["state"] in ("STARTING", "BACKOFF")
    assert rows["retry"]["stateClass"] == "state s-" + rows["retry"]["state"]
    expect = {"web": "RUNNING", "api": "RUNNING", "worker_00": "RUNNING",
              "worker_01": "RUNNING", "migrate": "EXITED",
              "cron": "STOPPED", "flaky": "FATAL"}
    programs = w.programs()
    for name, state in expect.items():
        assert rows[name]["state"] == state, rows[name]
        assert rows[name]["stateClass"] == f"state s-{state}"
        pid = programs[name]["pid"]
        assert rows[name]["pid"] == (str(pid) if pid else "")
    assert rows["worker_00"]["group"] == "worker"
    # supervisord's description, then the STATUS= the program sent
    assert re.fullmatch(r"pid \d+, uptime 0:00:\d\d, serving on :8080, 12 clients",
                        rows["api"]["description"]), rows["api"]
    assert "Restart" in rows["web"]["buttons"] and \
        "Tail" in rows["web"]["buttons"]
    assert "Start" in rows["cron"]["buttons"]
    assert out["allActionsHidden"] is False
    version = subprocess.run([TEND, "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    assert out["version"] == version
    assert out["summary"].startswith("pid 1, up ")
    assert out["badges"] == ["healthy", "not ready"]	# flaky is FATAL
    assert out["runningColour"] == "rgb(26, 127, 55)"
    assert "GET /items/1 200 3ms" in out["tail"]
    assert not csp_violations(out) and not out["pageErrors"], out
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), \
        int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 700)
    keep = os.environ.get("WEB_TESTS_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


@pytest.mark.parametrize("width,height", [(390, 844), (1920, 1080)])
def test_page_is_readable_on_a_phone_and_on_a_wide_screen(web, browser,
                                                          width, height):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        [program:broken]
        command=/nonexistent/a/rather/long/path/to/a/program/that/is/not/installed
        startretries=0
        """, creds=True), auth=(USER, PASSWORD))
    w.wait_state("web", "RUNNING")
    w.wait_state("broken", "FATAL")
    out = browser("""
        await page.goto(args.url);
        await waitRow(page, "broken");
        out.rows = await rows(page);
        out.layout = await page.evaluate(() => {
          const vw = document.documentElement.clientWidth;
          const cells = [...document.querySelectorAll("#programs td")];
          return {
            viewport: vw,
            scrollWidth: document.documentElement.scrollWidth,
            headerShown: getComputedStyle(document.querySelector("thead"))
              .display !== "none",
            // every cell, the state badges and the buttons inside the window
            widest: Math.max(...cells.concat([...document.querySelectorAll(
              ".state, button")]).map((e) => e.getBoundingClientRect().right)),
            labels: cells.slice(0, 9).map((td) =>
              getComputedStyle(td, "::before").content),
            stateText: [...document.querySelectorAll(".state")]
              .map((e) => e.textContent),
            // for the message: what is wider inside than its box
            overflowing: [...document.querySelectorAll("body *")]
              .filter((e) => e.clientWidth && e.scrollWidth > e.clientWidth)
              .map((e) => e.tagName + " " + e.scrollWidth + " > " +
                   e.clientWidth + ": " + e.textContent.slice(0, 40)),
          };
        });
        """, context={"viewport": {"width": width, "height": height},
                      "httpCredentials": {"username": USER,
                                          "password": PASSWORD}},
        url=w.url + "/")
    layout = out["layout"]
    assert layout["viewport"] == width
    assert layout["scrollWidth"] <= width, layout
    assert layout["widest"] <= width, layout
    assert sorted(layout["stateText"]) == ["FATAL", "RUNNING"]
    rows = {r["name"]: r for r in out["rows"]}
    assert "/nonexistent/a/rather/long/path" in rows["broken"]["description"]
    if width < 500:
        # one card per process, each value under its column's name
        assert not layout["headerShown"]
        assert layout["labels"][:3] == ['"Name"', '"Group"', '"State"'], layout
    else:
        assert layout["headerShown"]
    assert not csp_violations(out) and not out["pageErrors"], out


# How a browser is given the credentials: answering its prompt (what
# playwright's httpCredentials does), or in the URL as user:pass@.
CREDENTIAL_WAYS = ["prompt", "url"]


@pytest.mark.parametrize("way", CREDENTIAL_WAYS)
def test_page_with_credentials_shows_buttons_that_restart_stop_and_start(
        web, browser, way):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        [program:other]
        command=sleep 1000
        """, creds=True), auth=(USER, PASSWORD))
    w.wait_state("web", "RUNNING")
    w.wait_state("other", "RUNNING")
    before = w.programs()
    if way == "prompt":
        context = {"httpCredentials": {"username": USER,
                                       "password": PASSWORD}}
        url = w.url + "/"
    else:
        context = {}
        url = f"http://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{w.port}/"
    script = """
        await page.goto(args.url);
        await waitRow(page, "web");
        await page.waitForFunction(() => !document.getElementById("all-actions").hidden,
          null, { timeout: 15000 });
        out.rows = await rows(page);
        out.message = await click(page, args.name, args.label);
        """
    out = browser(script, context, url=url, name="web", label="Restart")
    assert {r["name"]: r["buttons"] for r in out["rows"]} == {
        "web": ["Stop", "Restart"], "other": ["Stop", "Restart"]}
    assert out["message"] == "restart web: done"
    after = w.wait_state("web", "RUNNING")
    assert after["pid"] != before["web"]["pid"]
    assert w.program("other")["pid"] == before["other"]["pid"]

    out = browser(script, context, url=url, name="other", label="Stop")
    assert out["message"] == "stop other: done"
    assert w.program("other")["state"] == "STOPPED"
    out = browser(script, context, url=url, name="other", label="Start")
    assert out["message"] == "start other: done"
    assert w.program("other")["state"] == "RUNNING"
    assert not out["pageErrors"], out


def test_browser_without_configured_credentials_sees_no_action_buttons(
        web, browser):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        [program:idle]
        command=sleep 1000
        autostart=false
        """))
    pid = w.wait_state("web", "RUNNING")["pid"]
    out = browser("""
        await page.goto(args.url);
        await waitRow(page, "web");
        await waitRow(page, "idle");
        out.rows = await rows(page);
        out.allActionsHidden = await page.$eval("#all-actions", (e) => e.hidden);
        out.buttons = await page.$$eval("#programs button", (bs) => bs.length);
        // what a script of the page could still try: tend's 401 makes
        // the browser ask for credentials (a prompt, which headless
        // chromium leaves pending), never a success
        out.forced = await page.evaluate(() => Promise.race([
          fetch("/api/v1/programs/web/stop", { method: "POST" })
            .then((r) => r.status, (e) => String(e)),
          new Promise((done) => setTimeout(() => done("pending"), 3000)),
        ]));
        """, url=w.url + "/")
    assert {r["name"] for r in out["rows"]} == {"web", "idle"}
    assert all(r["buttons"] == [] for r in out["rows"]), out["rows"]
    assert out["buttons"] == 0 and out["allActionsHidden"] is True
    assert out["forced"] in (401, "pending"), out["forced"]
    p = w.program("web")
    assert p["state"] == "RUNNING" and p["pid"] == pid


class EvilSite:
    """A page from another origin (another 127.0.0.1 port) that forges
    POSTs to tend: a fetch and a form submission."""

    def __init__(self, target):
        page = f"""<!doctype html><html><body>
<form id="f" method="POST" action="{target}/api/v1/programs/other/stop">
<input type="hidden" name="x" value="1"></form>
<script>
fetch("{target}/api/v1/programs/web/stop", {{method: "POST",
  mode: "no-cors", credentials: "include"}})
  .then(() => {{ document.title = "fetched"; }},
        () => {{ document.title = "fetch failed"; }})
  .finally(() => document.getElementById("f").submit());
</script></body></html>""".encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_cross_site_post_from_a_logged_in_browser_is_refused_with_403(
        web, browser):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        [program:other]
        command=sleep 1000
        """, creds=True), auth=(USER, PASSWORD))
    before = {n: w.wait_state(n, "RUNNING")["pid"] for n in ("web", "other")}
    evil = EvilSite(w.url)
    try:
        out = browser("""
            out.forged = [];
            ctx.on("response", async (r) => {
              if (!r.url().includes("/stop")) return;
              const h = await r.request().allHeaders();
              out.forged.push({ url: r.url(), status: r.status(),
                origin: h.origin || null, authorized: !!h.authorization });
            });
            // logged in to tend first: the browser holds its credentials
            await page.goto(args.tend);
            await waitRow(page, "web");
            await page.goto(args.evil);
            await page.waitForURL(/\\/stop$/, { timeout: 15000 });
            await page.waitForLoadState();
            out.landed = await page.textContent("body");
            await page.waitForTimeout(500);
            """, {"httpCredentials": {"username": USER, "password": PASSWORD}},
            tend=w.url + "/", evil=evil.url)
    finally:
        evil.close()
    forged = {f["url"].rsplit("/", 2)[-2]: f for f in out["forged"]}
    assert set(forged) == {"web", "other"}, out["forged"]
    for f in forged.values():
        assert f["status"] == 403, out["forged"]
        assert f["origin"] == evil.url.rstrip("/")
        # the browser sent its credentials with the forgery
        assert f["authorized"], out["forged"]
    assert "cross-site request refused" in out["landed"]
    after = w.programs()
    for name, pid in before.items():
        assert after[name]["state"] == "RUNNING" and after[name]["pid"] == pid
    # the same request from a client that is no browser does act: the
    # origin check alone refused the forgeries
    r = w.post("/api/v1/programs/other/stop")
    assert r.status == 200, r
    assert w.program("other")["state"] == "STOPPED"


def test_html_in_names_and_descriptions_shows_as_text_and_runs_nothing(
        web, browser, tmp_path):
    (tmp_path / "notify.py").write_text(NOTIFY)
    svg = "<svg\fonload=alert(1)>"
    img = "<img\fsrc=x\fonerror=alert(2)>"
    bad_cmd = "/nonexistent/<img src=x onerror=alert(3)>"
    status = "<script>alert(4)</script><i>italic</i><img src=x onerror=alert(5)>"
    w = web(tcp_ini(f"""
        [program:{svg}]
        command=sleep 1000
        [program:{img}]
        command=sleep 1000
        [program:bad]
        command='{bad_cmd}'
        startretries=0
        [program:notes]
        command={PYTHON} {tmp_path}/notify.py '{status}'
        ready=notify
        """))
    w.wait_state("bad", "FATAL")
    w.wait_state("notes", "RUNNING")
    w.wait_state(svg, "RUNNING")
    out = browser("""
        await page.goto(args.url);
        for (const n of [args.svg, args.img, "bad", "notes"]) await waitRow(page, n);
        await page.waitForTimeout(2500);	// and one refresh more
        out.rows = await rows(page);
        out.elements = await page.$$eval("#programs tbody *", (es) =>
          [...new Set(es.map((e) => e.tagName.toLowerCase()))].sort());
        out.title = await page.title();
        """, url=w.url + "/", svg=svg, img=img)
    rows = {r["name"]: r for r in out["rows"]}
    assert set(rows) == {svg, img, "bad", "notes"}
    assert rows[svg]["group"] == svg
    assert rows["bad"]["description"] == f"can't find command '{bad_cmd}'"
    assert rows["notes"]["description"].endswith(", " + status)
    # only the page's own elements: cells and state badges
    assert out["elements"] == ["span", "td", "tr"], out["elements"]
    assert out["dialogs"] == [] and out["title"] == "tend"
    assert not out["pageErrors"], out


# --- health and readiness ----------------------------------------------------

def verdicts(w):
    return {p: (lambda r: (r.status, r.text.strip()))(w.get(p, auth=None))
            for p in ("/livez", "/readyz", "/healthz")}


def test_ready_and_healthy_wait_for_startsecs_critical_first(web):
    w = web(tcp_ini("""
        [program:core]
        command=sleep 1000
        critical=true
        startsecs=3
        [program:side]
        command=sleep 1000
        startsecs=9
        """))
    # before anything is ready
    assert w.program("core")["state"] == "STARTING"
    v = verdicts(w)
    assert w.program("core")["state"] == "STARTING", "the machine is too slow"
    assert v["/livez"] == (200, "ok")
    assert v["/readyz"][0] == 503 and "core" in v["/readyz"][1] and \
        "side" in v["/readyz"][1]
    assert v["/healthz"] == (503, "not healthy: core")
    r = w.ctl("health")
    assert r.returncode == 1 and "core" in r.stdout, r
    assert w.ctl("ready").returncode == 1

    # the critical program is ready, the other not yet
    w.wait_state("core", "RUNNING")
    assert w.program("side")["state"] == "STARTING"
    v = verdicts(w)
    assert w.program("side")["state"] == "STARTING", "the machine is too slow"
    assert v["/healthz"] == (200, "ok")
    assert v["/readyz"] == (503, "not ready: side")
    assert w.ctl("health").returncode == 0
    r = w.ctl("ready")
    assert r.returncode == 1 and "side" in r.stdout, r

    w.wait_state("side", "RUNNING")
    assert verdicts(w) == {"/livez": (200, "ok"), "/readyz": (200, "ok"),
                           "/healthz": (200, "ok")}
    assert w.ctl("health").returncode == 0
    assert w.ctl("ready").returncode == 0


def test_livez_stays_200_through_a_crash_loop_that_readyz_names(web):
    w = web(tcp_ini("""
        [program:steady]
        command=sleep 1000
        [program:flap]
        command=sh -c 'exit 1'
        startsecs=0
        autorestart=true
        """))
    w.wait_state("steady", "RUNNING")
    seen = {"/livez": set(), "/readyz": set(), "/healthz": set()}
    first = w.program("flap")["restarts"]
    end = time.monotonic() + 5
    while time.monotonic() < end:
        for path, (status, text) in verdicts(w).items():
            seen[path].add((status, text))
        time.sleep(0.1)
    assert w.program("flap")["restarts"] >= first + 3
    assert seen["/livez"] == {(200, "ok")}
    assert (503, "not ready: flap") in seen["/readyz"]
    assert seen["/healthz"] == {(200, "ok")}	# nothing critical
    assert w.ctl("health").returncode == 0


def test_fatal_critical_program_fails_health_then_the_container_exits(web):
    w = web(tcp_ini("""
        [tend]
        shutdown_timeout=8
        [program:crit]
        command=sh -c 'exit 3'
        critical=true
        startretries=2
        [program:slow]
        command=sh -c 'trap "" TERM && exec sleep 1000'
        stopwaitsecs=4
        """))
    # while it fails to start (BACKOFF, then STARTING again)
    v = verdicts(w)
    assert w.get("/api/v1/tend").json()["phase"] == "running"
    assert v["/livez"] == (200, "ok")
    assert v["/healthz"] == (503, "not healthy: crit"), v
    assert v["/readyz"][0] == 503 and "crit" in v["/readyz"][1]
    r = w.ctl("health")
    assert r.returncode == 1 and "crit" in r.stdout, r

    # FATAL: tend shuts down, slow takes 4 s to die, tend still answers
    wait_until(lambda: w.get("/api/v1/tend").json()["phase"] != "running",
               what="the shutdown to start")
    assert w.program("crit")["state"] == "FATAL"
    v = verdicts(w)
    assert v["/livez"] == (200, "ok")
    assert v["/healthz"][0] == 503 and \
        "tend is shutting down" in v["/healthz"][1], v
    assert v["/readyz"][0] == 503 and \
        "tend is shutting down" in v["/readyz"][1], v
    r = w.ctl("health")
    assert r.returncode == 1 and "shutting down" in r.stdout, r
    assert w.ctl("ready").returncode == 1
    assert w.wait(timeout=20) == 3


def test_during_a_shutdown_ready_and_healthy_are_503_and_live_200(web):
    w = web(tcp_ini("""
        [tend]
        shutdown_timeout=6
        [program:stubborn]
        command=sh -c 'trap "" TERM && exec sleep 1000'
        critical=true
        stopwaitsecs=30
        """))
    w.wait_state("stubborn", "RUNNING")
    assert w.ctl("health").returncode == 0
    sent = time.monotonic()
    w.t.kill(signal.SIGTERM)
    wait_until(lambda: w.program("stubborn")["state"] == "STOPPING",
               what="the stop")
    v = verdicts(w)
    assert time.monotonic() - sent < 5, "the machine is too slow"
    assert v["/livez"] == (200, "ok")
    assert v["/readyz"][0] == 503 and "shutting down" in v["/readyz"][1]
    assert v["/healthz"][0] == 503 and "shutting down" in v["/healthz"][1]
    assert w.ctl("health").returncode == 1
    assert w.ctl("ready").returncode == 1
    w.wait(timeout=30)
    assert time.monotonic() - sent < 6 + 8


# --- metrics -----------------------------------------------------------------

def parse_metrics(text):
    """{(name, frozenset(labels)): value}, label values unescaped."""
    out = {}
    label = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(
            (k, re.sub(r"\\(.)", lambda x: "\n" if x.group(1) == "n"
                       else x.group(1), v))
            for k, v in label.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def sample(metrics, name, **labels):
    want = frozenset(labels.items())
    found = [v for (n, ls), v in metrics.items() if n == name and want <= ls]
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


def ensure_promtool():
    if shutil.which("promtool"):
        return shutil.which("promtool")
    r = subprocess.run(
        "apt-get update -qq && apt-get install -y -qq "
        "--no-install-recommends prometheus", shell=True,
        capture_output=True, text=True,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if r.returncode or not shutil.which("promtool"):
        pytest.skip(f"promtool cannot be installed: {r.stderr[-500:]}")
    return shutil.which("promtool")


def test_metrics_pass_promtool_check_with_odd_names_and_every_state(web):
    promtool = ensure_promtool()
    weird = 'we"ird\\name'
    w = web(tcp_ini(f"""
        [program:{weird}]
        command=sleep 1000
        [program:bad]
        command=sh -c 'exit 4'
        startretries=0
        [program:idle]
        command=sleep 1000
        autostart=false
        [program:chatty]
        command=sh -c 'echo hello && sleep 1000'
        log_prefix=true
        """))
    w.wait_state(weird, "RUNNING")
    w.wait_state("bad", "FATAL")
    w.wait_state("chatty", "RUNNING")
    text = w.metrics()
    r = subprocess.run([promtool, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and \
        not r.stderr.strip(), (r, text)
    m = parse_metrics(text)
    for name in (weird, "bad", "idle", "chatty"):
        states = {dict(ls)["state"]: v for (n, ls), v in m.items()
                  if n == "tend_program_state" and
                  dict(ls)["program"] == name}
        assert len(states) == 8 and sum(states.values()) == 1, states
    assert sample(m, "tend_program_state", program=weird,
                  state="RUNNING") == 1
    assert sample(m, "tend_program_up", program=weird, group=weird) == 1
    assert sample(m, "tend_program_state", program="bad",
                  state="FATAL") == 1
    assert sample(m, "tend_program_last_exit_status", program="bad") == 4
    assert sample(m, "tend_program_state", program="idle",
                  state="STOPPED") == 1
    assert sample(m, "tend_output_relayed_bytes_total", program="chatty",
                  stream="stdout") == len("hello\n")
    assert abs(sample(m, "tend_open_fds") - fd_count(w.pid)) <= 2
    assert "chatty | hello" in w.out()


def test_counters_only_grow_while_a_program_crash_loops_writing_output(web):
    w = web(tcp_ini("""
        [program:chatty]
        command=sh -c 'echo out-line && echo err-line >&2 && exit 1'
        startsecs=0
        autorestart=true
        log_prefix=true
        """))
    scrapes = []
    for _ in range(7):
        m = parse_metrics(w.metrics())
        scrapes.append({
            "restarts": sample(m, "tend_program_restarts_total",
                               program="chatty"),
            "out": sample(m, "tend_output_relayed_bytes_total",
                          program="chatty", stream="stdout"),
            "err": sample(m, "tend_output_relayed_bytes_total",
                          program="chatty", stream="stderr"),
            "dropped": sample(m, "tend_output_dropped_bytes_total",
                              program="chatty", stream="stdout"),
        })
        time.sleep(1.1)
    for key in ("restarts", "out", "err"):
        values = [s[key] for s in scrapes]
        assert values == sorted(values), f"{key} went down: {values}"
        assert values[-1] > values[0], f"{key} did not grow: {values}"
    for s in scrapes:
        # every run writes 9 bytes to each; the last run's may be on its way
        for key in ("out", "err"):
            assert s[key] % 9 == 0
            assert 9 * s["restarts"] <= s[key] <= 9 * (s["restarts"] + 1), s
        assert s["dropped"] == 0
    assert scrapes[-1]["restarts"] >= 4
    assert w.out().count("chatty | out-line") >= 4
    assert "chatty | err-line" in w.err()


# --- who may do what ---------------------------------------------------------

def test_without_credentials_tcp_reads_are_open_and_actions_get_401(web):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """))
    pid = w.wait_state("web", "RUNNING")["pid"]
    assert w.get("/api/v1/programs").status == 200
    assert w.get("/api/v1/tend").json()["may_act"] is False
    assert w.get("/metrics").status == 200
    assert w.get("/", {"Accept-Encoding": "gzip"}).status == 200
    for path in ("/api/v1/programs/web/stop", "/api/v1/programs/web/restart",
                 "/api/v1/programs/web/signal/KILL", "/api/v1/shutdown",
                 "/api/v1/reload"):
        r = w.post(path)
        assert r.status == 401, (path, r)
        assert r.headers["www-authenticate"] == 'Basic realm="tend"'
        # credentials nobody configured do not help
        r = w.post(path, auth=(USER, PASSWORD))
        assert r.status == 401, (path, r)
    p = w.program("web")
    assert p["state"] == "RUNNING" and p["pid"] == pid and w.running()
    # tend ctl over TCP: reads work, actions need credentials
    r = subprocess.run([TEND, "ctl", "-s", w.url, "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "web" in r.stdout and "RUNNING" in r.stdout
    r = subprocess.run([TEND, "ctl", "-s", w.url, "stop", "web"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "requires authentication" in r.stderr, r
    assert w.program("web")["pid"] == pid


@pytest.mark.parametrize("form", ["plain", "sha"])
def test_with_credentials_wrong_ones_get_401_and_right_ones_act(web, form):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """, creds=True, sha=form == "sha"), auth=(USER, PASSWORD))
    w.wait_state("web", "RUNNING")
    sha_text = hashlib.sha1(PASSWORD.encode()).hexdigest()
    wrong = [None, (USER, "wrong"), ("root", PASSWORD), (USER, ""),
             (USER, PASSWORD + "x"), (USER, "{SHA}" + sha_text),
             (USER, sha_text)]
    for auth in wrong:
        for method, path in (("GET", "/api/v1/programs"), ("GET", "/"),
                             ("GET", "/metrics"),
                             ("POST", "/api/v1/programs/web/stop")):
            r = request(w.port, method, path, {"Accept-Encoding": "gzip"},
                        auth=auth)
            assert r.status == 401, (auth, method, path, r)
            assert r.headers["www-authenticate"] == 'Basic realm="tend"'
    # garbled credentials
    r = w.get("/api/v1/programs", {"Authorization": "Basic !!!"}, auth=None)
    assert r.status == 400, r
    # probes need none
    assert w.get("/livez", auth=None).status == 200
    assert w.get("/healthz", auth=None).status == 200
    assert w.get("/api/v1/tend").json()["may_act"] is True
    assert w.get("/metrics").status == 200
    r = w.post("/api/v1/programs/web/stop")
    assert r.status == 200 and r.json()["results"][0]["result"] == "SUCCESS"
    assert w.program("web")["state"] == "STOPPED"
    r = subprocess.run([TEND, "ctl", "-s", w.url, "-u", USER, "-p", PASSWORD,
                        "start", "web"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r
    assert w.program("web")["state"] == "RUNNING"


def test_unix_socket_with_credentials_requires_them(web):
    w = web("""
        [unix_http_server]
        file=@SOCK@
        username=sockuser
        password={SHA}%s
        [supervisorctl]
        username=sockuser
        password=sockpass
        [program:web]
        command=sleep 1000
        """ % hashlib.sha1(b"sockpass").hexdigest(),
            env={"TEND_CONTROL_SOCKET": None}, wait=False)
    wait_until(lambda: os.path.exists(w.sock), what="the control socket")
    for auth in (None, ("sockuser", "wrong"), ("admin", "sockpass")):
        r = unix_request(w.sock, "GET", "/api/v1/programs", auth=auth)
        assert r.status == 401, (auth, r)
        r = unix_request(w.sock, "POST", "/api/v1/programs/web/stop",
                         auth=auth)
        assert r.status == 401, (auth, r)
    assert unix_request(w.sock, "GET", "/livez").status == 200
    r = unix_request(w.sock, "GET", "/api/v1/programs",
                     auth=("sockuser", "sockpass"))
    assert r.status == 200 and r.json()["programs"][0]["name"] == "web"
    env = dict(os.environ)
    env.pop("TEND_CONTROL_SOCKET", None)
    r = subprocess.run([TEND, "ctl", "-s", w.sock, "status"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 1 and "requires authentication" in r.stderr, r
    r = subprocess.run([TEND, "ctl", "-s", w.sock, "-u", "sockuser", "-p",
                        "sockpass", "status"], capture_output=True, text=True,
                       timeout=30, env=env)
    assert r.returncode in (0, 3) and "web" in r.stdout, r
    # the configuration's [supervisorctl] credentials
    r = subprocess.run([TEND, "ctl", "-c", str(w.conf), "stop", "web"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r
    r = unix_request(w.sock, "GET", "/api/v1/programs/web",
                     auth=("sockuser", "sockpass"))
    assert r.json()["state"] == "STOPPED"


def test_xmlrpc_over_tcp_reads_without_credentials_but_not_mutates(web):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """))
    pid = w.wait_state("web", "RUNNING")["pid"]
    rpc = xmlrpc.client.ServerProxy(w.url + "/RPC2")
    assert rpc.supervisor.getState()["statename"] == "RUNNING"
    info = rpc.supervisor.getAllProcessInfo()
    assert [(p["name"], p["statename"], p["pid"]) for p in info] == \
        [("web", "RUNNING", pid)]
    assert rpc.supervisor.getProcessInfo("web")["pid"] == pid
    assert rpc.supervisor.getPID() == 1
    rpc.supervisor.getAllConfigInfo()
    for method, params in (
            ("stopProcess", ("web",)), ("startProcess", ("web",)),
            ("stopProcessGroup", ("web",)), ("stopAllProcesses", ()),
            ("startAllProcesses", ()),
            ("signalProcess", ("web", "KILL")),
            ("signalAllProcesses", ("KILL",)), ("reloadConfig", ()),
            ("removeProcessGroup", ("web",)), ("addProcessGroup", ("web",)),
            ("restart", ()), ("shutdown", ())):
        with pytest.raises(xmlrpc.client.ProtocolError) as e:
            getattr(rpc.supervisor, method)(*params)
        assert e.value.errcode == 401, method
        assert e.value.headers["WWW-Authenticate"] == 'Basic realm="tend"'
    p = w.program("web")
    assert p["state"] == "RUNNING" and p["pid"] == pid and w.running()


def test_xmlrpc_over_tcp_with_credentials_mutates(web):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """, creds=True, sha=True), auth=(USER, PASSWORD))
    w.wait_state("web", "RUNNING")
    anon = xmlrpc.client.ServerProxy(w.url + "/RPC2")
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        anon.supervisor.getState()
    assert e.value.errcode == 401
    rpc = xmlrpc.client.ServerProxy(
        f"http://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{w.port}/RPC2")
    assert rpc.supervisor.stopProcess("web") is True
    assert w.program("web")["state"] == "STOPPED"


def test_cross_site_requests_are_refused_whatever_the_credentials(web):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """, creds=True), auth=(USER, PASSWORD))
    pid = w.wait_state("web", "RUNNING")["pid"]
    for headers in ({"Origin": "http://evil.example"},
                    {"Origin": "null"},
                    {"Origin": f"http://127.0.0.1:{w.port + 1}"},
                    {"Origin": f"https://127.0.0.1:{w.port}"},
                    {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": f"http://127.0.0.1:{w.port}",
                     "Sec-Fetch-Site": "cross-site"}):
        for path in ("/api/v1/programs/web/stop", "/api/v1/shutdown"):
            r = w.post(path, headers)
            assert r.status == 403, (headers, path, r)
        r = w.post("/RPC2", {**headers, "Content-Type": "text/xml"},
                   xmlrpc.client.dumps(("web",), "supervisor.stopProcess")
                   .encode())
        assert r.status == 403, (headers, r)
    # actions are POSTs: a link or an image cannot act
    r = w.get("/api/v1/programs/web/stop")
    assert r.status == 405, r
    p = w.program("web")
    assert p["state"] == "RUNNING" and p["pid"] == pid
    r = w.post("/api/v1/programs/web/restart",
               {"Origin": w.url, "Sec-Fetch-Site": "same-origin"})
    assert r.status == 200, r


# --- bad clients ---------------------------------------------------------------

@pytest.fixture
def loaded(web):
    """A tend whose crash loop is watched while clients misbehave."""
    w = web(tcp_ini(textwrap.dedent("""
        [program:web]
        command=sleep 1000
        """) + CRASHLOOP))
    w.wait_state("web", "RUNNING")
    wait_until(lambda: len(w.starts()) >= 2, what="the crash loop")
    w.fds = baseline_fds(w)
    return w


class Prober:
    """A thread that asks for the program list every 0.5 s."""

    def __init__(self, w, path="/api/v1/programs"):
        self.w, self.path = w, path
        self.results = []	# (seconds taken, status or error)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                status = self.w.get(self.path, timeout=10).status
            except OSError as e:
                status = repr(e)
            self.results.append((time.monotonic() - t, status))
            self.stop.wait(0.5)

    def finish(self):
        self.stop.set()
        self.thread.join(15)
        return self.results


def test_slow_headers_are_dropped_after_10_s_and_others_are_served(loaded):
    w = loaded
    n = 40
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", w.port), timeout=5)
        s.setblocking(False)
        conns.append(s)
    begin = time.time()
    prober = Prober(w)
    first, closed = {}, {}
    sent = 0
    # most send their head a byte a second; a quarter send a whole head,
    # then the body a byte a second
    prefix = b"GET /api/v1/programs HTTP/1.1\r\nHost: x\r\nX-Slow: "
    post = (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 1000\r\n\r\n")
    deadline = time.monotonic() + 25
    while len(closed) < n and time.monotonic() < deadline:
        for i, s in enumerate(conns):
            if i in closed:
                continue
            if i % 4 == 0:
                data = post if sent == 0 else b"<"
            else:
                data = prefix[sent:sent + 1] if sent < len(prefix) else b"a"
            try:
                s.send(data)
                first.setdefault(i, time.monotonic())
            except (BrokenPipeError, ConnectionResetError):
                closed[i] = time.monotonic()
        sent += 1
        tick = time.monotonic() + 1
        while time.monotonic() < tick:
            open_ = [s for i, s in enumerate(conns) if i not in closed]
            if not open_:
                break
            readable, _, _ = select.select(open_, [], [],
                                           max(0, tick - time.monotonic()))
            for s in readable:
                i = conns.index(s)
                try:
                    data = s.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                assert not data, f"an answer to a request never finished: {data!r}"
                closed.setdefault(i, time.monotonic())
    end = time.time()
    results = prober.finish()
    for s in conns:
        s.close()
    assert len(closed) == n, f"{n - len(closed)} slow clients still connected"
    lasted = sorted(closed[i] - first[i] for i in closed)
    assert lasted[0] > 9.0 and lasted[-1] < 14, lasted
    assert results and all(status == 200 for _, status in results), results
    assert max(t for t, _ in results) < 2.0, results
    assert_restarted_on_time(w, begin, end)
    assert_fds_back(w, w.fds)


def test_oversized_heads_and_bodies_get_431_and_413(loaded):
    w = loaded
    begin = time.time()
    # a header past 8 KiB, in a head that ends
    big = (b"GET /api/v1/programs HTTP/1.1\r\nHost: x\r\nX-Big: " +
           b"a" * 9000 + b"\r\n\r\n")
    reply, closed = raw_exchange(w.port, big)
    assert status_of(reply) == 431 and closed, reply
    # a head that does not end within 8 KiB
    reply, closed = raw_exchange(w.port, b"GET / HTTP/1.1\r\nX: " +
                                 b"b" * 8300)
    assert status_of(reply) == 431 and closed, reply
    # a body past 1 MiB is refused on its head alone
    reply, closed = raw_exchange(
        w.port, b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml"
        b"\r\nContent-Length: 1048577\r\n\r\n")
    assert status_of(reply) == 413 and closed, reply
    reply, closed = raw_exchange(
        w.port, b"POST /api/v1/shutdown HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 99999999999\r\n\r\n" + b"x" * 100000)
    assert status_of(reply) == 413 and closed, reply
    # 1 MiB itself is read whole, and answered as what it is
    body = b"<" * (1024 * 1024)
    r = w.post("/RPC2", {"Content-Type": "text/xml"}, body)
    assert r.status == 400, r
    # too many header lines
    many = b"GET /livez HTTP/1.1\r\n" + b"".join(
        b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n"
    reply, closed = raw_exchange(w.port, many)
    assert status_of(reply) == 400 and closed, reply
    assert w.get("/livez").status == 200
    time.sleep(2.5)
    assert_restarted_on_time(w, begin, time.time())
    assert_fds_back(w, w.fds)


def test_garbage_bytes_get_400_and_the_connection_closed(loaded):
    w = loaded
    begin = time.time()
    rnd = random.Random(1)
    payloads = [
        bytes(rnd.randrange(256) for _ in range(300)) + b"\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" +
        bytes(rnd.randrange(256) for _ in range(160)) + b"\r\n\r\n",
        b"\x00" * 64 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET  / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n\tfolded\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\n\r\n",
        b"GET /%00 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        b"\r\n\r\n\r\n\r\nGARBAGE\r\n\r\n",
    ]
    for data in payloads:
        reply, closed = raw_exchange(w.port, data)
        assert status_of(reply) == 400 and closed, (data, reply)
        assert b"Connection: close" in reply
    # a valid request still is answered on a fresh connection
    r = w.get("/api/v1/programs")
    assert r.status == 200
    # pipelined garbage after a good request: the good one is answered
    reply, closed = raw_exchange(
        w.port, b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 400 " in reply
    assert closed
    time.sleep(2.5)
    assert_restarted_on_time(w, begin, time.time())
    assert_fds_back(w, w.fds)


def open_many(port, n, timeout=30):
    """n connections at once, then a request on each that tend has not
    answered by itself: {"200": [...], "503": [...], "refused": [...],
    ...} of socket indexes, and the sockets (the 200s stay open)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        assert err in (0, errno.EINPROGRESS), os.strerror(err)
        socks.append(s)
    found = {}
    pending = set(range(n))
    replies = {i: b"" for i in range(n)}

    def collect(wait, quiet):
        """Reads what comes, until nothing did for quiet seconds."""
        deadline = time.monotonic() + wait
        last = time.monotonic()
        while pending and time.monotonic() < deadline and \
                time.monotonic() - last < quiet:
            readable, _, _ = select.select([socks[i] for i in pending], [],
                                           [], 0.2)
            for s in readable:
                i = socks.index(s)
                last = time.monotonic()
                try:
                    data = s.recv(4096)
                except ConnectionRefusedError:
                    found.setdefault("refused", []).append(i)
                    pending.discard(i)
                    continue
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                replies[i] += data
                if data and b"\r\n\r\n" not in replies[i]:
                    continue
                kind = str(status_of(replies[i])) if replies[i] else "closed"
                found.setdefault(kind, []).append(i)
                pending.discard(i)

    # what tend does unasked: a 503 for those beyond its limit
    collect(timeout, 3)
    # the others are held, or still in the kernel's queues: each asks
    for i in sorted(pending):
        try:
            socks[i].send(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
    collect(timeout, 5)
    if pending:
        found["silent"] = sorted(pending)
    return found, socks


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(n, soft),
                                                    max(n, hard)))


def test_a_thousand_connections_at_once_get_503_and_tend_stays_responsive(
        loaded):
    w = loaded
    raise_fd_limit(4096)
    begin = time.time()
    found, socks = open_many(w.port, 1000)
    try:
        counts = {k: len(v) for k, v in found.items()}
        assert set(counts) <= {"200", "503", "refused", "closed"}, counts
        assert sum(counts.values()) == 1000
        assert 1 <= counts.get("200", 0) <= 64, counts
        assert counts.get("503", 0) >= 1000 - 64 - 50, counts
        # while 64 are held, a new client is answered at once
        t = time.monotonic()
        r = w.get("/livez", auth=None)
        assert r.status in (200, 503) and time.monotonic() - t < 2
    finally:
        for s in socks:
            s.close()
    # once they are gone, everyone is answered
    wait_until(lambda: w.get("/livez").status == 200, timeout=5,
               what="tend to answer again")
    assert w.get("/api/v1/programs").status == 200
    time.sleep(2.5)
    assert_restarted_on_time(w, begin, time.time())
    assert_fds_back(w, w.fds)


def test_idle_tcp_clients_cannot_lock_out_the_control_socket(loaded):
    """Clients of the TCP port, which may be anyone when it listens
    beyond this host, must not take the control socket from `tend ctl`
    and the exec probes (`tend ctl health`) that run inside."""
    w = loaded
    raise_fd_limit(4096)
    found, socks = open_many(w.port, 100)
    try:
        held = len(found.get("200", []))
        assert held == 64, {k: len(v) for k, v in found.items()}
        r = w.ctl("health", timeout=20)
        assert r.returncode == 0, \
            f"tend ctl health failed while {held} TCP clients idle: {r}"
        r = unix_request(w.sock, "GET", "/api/v1/programs")
        assert r.status == 200, r
    finally:
        for s in socks:
            s.close()
    assert_fds_back(w, w.fds)


# --- the page's headers --------------------------------------------------------

def test_page_is_gzip_with_a_hash_only_csp_and_the_security_headers(web):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """))
    r = w.get("/", {"Accept-Encoding": "gzip, deflate, br"})
    assert r.status == 200
    h = r.headers
    assert h["content-encoding"] == "gzip"
    assert h["content-type"] == "text/html; charset=utf-8"
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["cache-control"] == "no-store"
    assert "accept-encoding" in h["vary"].lower()
    csp = {d.split()[0]: d.split()[1:] for d in
           (x.strip() for x in h["content-security-policy"].split(";")) if d}
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in h["content-security-policy"]
    assert "'unsafe-eval'" not in h["content-security-policy"]
    html = gzip.decompress(r.body).decode()
    assert '<table id="programs">' in html
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    assert "<script src" not in html and "<link" not in html

    def digest(text):
        return "'sha256-" + base64.b64encode(
            hashlib.sha256(text.encode()).digest()).decode() + "'"
    assert csp["script-src"] == [digest(scripts[0])]
    assert csp["style-src"] == [digest(styles[0])]
    # HEAD: the same head, no body
    r2 = request(w.port, "HEAD", "/", {"Accept-Encoding": "gzip"})
    assert r2.status == 200 and r2.body == b""
    assert r2.headers["content-length"] == str(len(r.body))


@pytest.mark.parametrize("accept", [None, "identity", "deflate, br",
                                    "x-gzip-not"])
def test_page_without_gzip_accepted_gets_406_pointing_to_the_api(web, accept):
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """))
    r = w.get("/", {"Accept-Encoding": accept} if accept else {})
    assert r.status == 406, r
    assert "content-encoding" not in r.headers
    assert "/api/v1/programs" in r.text and "--compressed" in r.text
    # with gzip anywhere in the list, in any case
    for ok in ("GZIP", "br, gzip", "deflate, gzip;q=0.5"):
        assert w.get("/", {"Accept-Encoding": ok}).status == 200


def test_page_honours_a_refusal_of_gzip_and_the_wildcard(web):
    """RFC 9110, 12.5.3: q=0 makes a coding "not acceptable", and "*"
    matches any coding the field does not name."""
    w = web(tcp_ini("""
        [program:web]
        command=sleep 1000
        """))
    for refused in ("gzip;q=0", "gzip; q=0, identity", "identity, gzip;q=0.0"):
        r = w.get("/", {"Accept-Encoding": refused})
        assert r.status == 406, (refused, r.status, r.headers)
    for accepted in ("*", "br, *;q=0.1"):
        r = w.get("/", {"Accept-Encoding": accepted})
        assert r.status == 200 and r.headers["content-encoding"] == "gzip", \
            (accepted, r.status)
