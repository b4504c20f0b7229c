"use strict";
// The status page: reads the JSON API every two seconds and renders it
// with textContent only, so that no program name or description is ever
// read as HTML. Actions are POSTs from this origin, which tend checks.
(function () {
  const $ = (id) => document.getElementById(id);
  // absolute, without the user:pass@ a page may have been opened with
  const api = (path) => location.origin + path;
  const columns = ["Name", "Group", "State", "PID", "Uptime", "Restarts",
    "Last exit", "Description", "Actions"];
  let mayAct = false;
  let tailAbort = null;

  function duration(s) {
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
    const m = Math.floor(s / 60) % 60, x = s % 60;
    const hms = h + ":" + String(m).padStart(2, "0") + ":" + String(x).padStart(2, "0");
    return d ? d + (d === 1 ? " day, " : " days, ") + hms : hms;
  }

  function cell(row, label, text, cls) {
    const td = row.insertCell();
    td.dataset.label = label;
    if (cls) td.className = cls;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  function button(parent, label, onclick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", onclick);
    parent.appendChild(b);
  }

  async function act(name, verb) {
    $("message").textContent = verb + " " + name + "\u2026";
    try {
      const r = await fetch(api("/api/v1/programs/" + encodeURIComponent(name) + "/" + verb),
        { method: "POST", headers: { "Content-Type": "application/json" } });
      const body = await r.json();
      const failed = (body.results || []).filter((x) => !x.ok);
      $("message").textContent = body.error ? body.error :
        failed.length ? failed.map((x) => x.name + ": " + x.error).join("; ") :
        verb + " " + name + ": done";
    } catch (e) {
      $("message").textContent = "request failed: " + e;
    }
    refresh();
  }

  async function tail(p) {
    if (tailAbort) tailAbort.abort();
    tailAbort = new AbortController();
    $("tail").hidden = false;
    $("tail-name").textContent = p.name;
    const pre = $("tail-text");
    pre.textContent = "";
    try {
      const spec = p.group === p.name ? p.name : p.group + ":" + p.name;
      const r = await fetch(api("/logtail/" + encodeURIComponent(spec)), { signal: tailAbort.signal });
      if (!r.ok) { pre.textContent = "no log file (" + r.status + ")"; return; }
      const reader = r.body.getReader(), dec = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        pre.textContent = (pre.textContent + dec.decode(value, { stream: true })).slice(-65536);
        pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) { /* closed */ }
  }

  function render(programs) {
    const tbody = $("programs").tBodies[0];
    tbody.textContent = "";
    for (const p of programs) {
      const row = tbody.insertRow();
      cell(row, columns[0], p.name);
      cell(row, columns[1], p.group);
      const st = document.createElement("span");
      st.className = "state s-" + p.state;
      st.textContent = p.state;
      cell(row, columns[2]).appendChild(st);
      cell(row, columns[3], p.pid ? String(p.pid) : "", "num");
      cell(row, columns[4], p.state === "RUNNING" ? duration(p.uptime) : "", "num");
      cell(row, columns[5], String(p.restarts), "num");
      cell(row, columns[6], p.exit_status === null ? "" : String(p.exit_status), "num");
      cell(row, columns[7], p.description);
      const actions = cell(row, columns[8]);
      if (mayAct) {
        const running = ["RUNNING", "STARTING", "BACKOFF"].includes(p.state);
        if (!running) button(actions, "Start", () => act(p.name, "start"));
        if (running) button(actions, "Stop", () => act(p.name, "stop"));
        button(actions, "Restart", () => act(p.name, "restart"));
      }
      if (p.logfile) button(actions, "Tail", () => tail(p));
    }
  }

  async function verdict(path, el, word) {
    try {
      const r = await fetch(api(path));
      el.textContent = (r.ok ? "" : "not ") + word;
      el.className = "badge " + (r.ok ? "good" : "bad");
      el.title = (await r.text()).trim();
    } catch (e) { el.textContent = ""; }
  }

  async function refresh() {
    try {
      const [t, p] = await Promise.all([
        fetch(api("/api/v1/tend")).then((r) => r.json()),
        fetch(api("/api/v1/programs")).then((r) => r.json()),
      ]);
      mayAct = !!t.may_act;
      $("version").textContent = t.version;
      $("summary").textContent = "pid " + t.pid + ", up " + duration(t.uptime) +
        ", " + t.phase + (t.config_file ? ", " + t.config_file : "") +
        " \u2014 refreshed " + new Date().toLocaleTimeString();
      $("all-actions").hidden = !mayAct;
      render(p.programs);
    } catch (e) {
      $("summary").textContent = "tend does not answer: " + e;
    }
    verdict("/healthz", $("healthy"), "healthy");
    verdict("/readyz", $("ready"), "ready");
  }

  for (const b of document.querySelectorAll("[data-all]"))
    b.addEventListener("click", () => act("all", b.dataset.all));
  $("tail-close").addEventListener("click", () => {
    if (tailAbort) tailAbort.abort();
    $("tail").hidden = true;
  });
  refresh();
  setInterval(refresh, 2000);
})();
