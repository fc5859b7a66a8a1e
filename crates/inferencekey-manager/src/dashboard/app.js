"use strict";
// Everything here is built with textContent, never innerHTML: workload names, model names
// and log lines are tenants' text.
// Polling re-renders the page every second, so what the user is choosing lives here, not
// in the DOM.
const state = { selected: null, data: null, secret: null, scope: {} };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function table(headers, rows, empty) {
  if (!rows.length) return el("p", { class: "empty" }, empty);
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map(h => el("th", {}, h)))), el("tbody", {}, ...rows));
}

function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "–"; }

async function api(path, options) {
  const resp = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (resp.status === 401) { showLogin(true); throw new Error("not logged in"); }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error((body.error && body.error.message) || ("HTTP " + resp.status));
  return body;
}

function post(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-IK-Dashboard": "1" },
    body: JSON.stringify(body || {}),
  });
}

function showLogin(on) {
  document.getElementById("login").hidden = !on;
  document.getElementById("projects").hidden = on;
  document.getElementById("live").textContent = on ? "not logged in" : document.getElementById("live").textContent;
}

function policyText(w) {
  const cfg = w.execution_policy_config || {};
  const keys = Object.keys(cfg);
  return keys.length ? w.execution_policy + " " + JSON.stringify(cfg) : w.execution_policy;
}

function workloadRows(p) {
  return p.workloads.map(w => el("tr", {
      class: "workload" + (state.selected === w.id ? " selected" : ""),
      "data-slug": w.slug, "data-id": w.id,
      onclick: () => { state.selected = state.selected === w.id ? null : w.id; render(); loadDetail(); },
    },
    el("td", {}, el("strong", {}, w.slug), el("div", { class: "muted" }, w.name)),
    el("td", {}, w.task_type, el("div", { class: "muted" }, w.backend || "–")),
    el("td", {}, el("code", {}, w.model_name)),
    el("td", {}, policyText(w)),
    el("td", {}, el("span", { class: "phase " + w.phase, "data-phase": w.phase }, w.phase)),
    el("td", { class: "replicas" }, w.replicas.ready + " / " + w.replicas.wanted,
      w.replicas.in_flight ? el("div", { class: "muted" }, w.replicas.in_flight + " in flight") : null),
    el("td", { class: "why" }, w.message || ""),
  ));
}

function keyRows(p) {
  return p.keys.map(k => el("tr", { "data-key": k.id },
    el("td", { class: k.revoked_at ? "revoked" : "" }, el("code", {}, k.redacted)),
    el("td", {}, k.scope === "*" ? "all workloads" : k.scope),
    el("td", {}, when(k.created_at)),
    el("td", {}, k.revoked_at ? "revoked " + when(k.revoked_at)
      : el("button", { class: "danger", "data-revoke": k.id, onclick: () => revoke(k) }, "Revoke")),
  ));
}

function jobRows(p) {
  return p.jobs.map(j => el("tr", { "data-job": j.id },
    el("td", {}, el("code", {}, j.id)),
    el("td", {}, j.workload || j.workload_id),
    el("td", {}, j.kind),
    el("td", {}, el("span", { class: "phase status " + j.status }, j.status)),
    el("td", {}, when(j.created_at)),
    el("td", { class: "muted" }, j.error ? (typeof j.error === "string" ? j.error : JSON.stringify(j.error)) : ""),
  ));
}

function newKeyForm(p) {
  const scope = el("select", { name: "scope", onchange: (ev) => { state.scope[p.slug] = ev.target.value; } },
    el("option", { value: "*" }, "all workloads"),
    ...p.workloads.map(w => el("option", { value: w.slug }, w.slug)));
  scope.value = state.scope[p.slug] || "*";
  return el("form", { class: "newkey", "data-project": p.slug, onsubmit: async (ev) => {
      ev.preventDefault();
      const body = scope.value === "*" ? { all: true } : { workload: scope.value };
      try {
        const made = await post("/dashboard/api/projects/" + encodeURIComponent(p.slug) + "/keys", body);
        state.secret = { project: p.slug, key: made.key, id: made.id };
      } catch (e) { alert("Could not create the key: " + e.message); }
      refresh();
    } },
    el("span", { class: "muted" }, "New data key for"), scope, el("button", { type: "submit" }, "Create key"));
}

async function revoke(k) {
  if (!confirm("Revoke " + k.redacted + "? Clients using it stop working at once.")) return;
  try { await post("/dashboard/api/keys/" + encodeURIComponent(k.id) + "/revoke"); }
  catch (e) { alert("Could not revoke: " + e.message); }
  refresh();
}

function render() {
  const d = state.data;
  if (!d) return;
  // A render count, so tests (and curious users) can tell a live update happened.
  document.body.dataset.renders = String((Number(document.body.dataset.renders) || 0) + 1);
  document.getElementById("meta").textContent =
    d.manager.url + " · v" + d.manager.version + (d.manager.dev ? " · --dev (reference engine stands in)" : "");
  const root = document.getElementById("projects");
  const sections = d.projects.map(p => el("section", { class: "project", "data-project": p.slug },
    el("h2", {}, "Project ", el("code", {}, p.slug)),
    el("h3", {}, "Workloads"),
    table(["Workload", "Task / backend", "Model", "Policy", "Phase", "Replicas ready / wanted", "Why"], workloadRows(p), "No workloads yet: ensure() one."),
    p.workloads.some(w => w.id === state.selected) ? el("div", { id: "detail" }, state.detail || el("p", { class: "muted" }, "Loading…")) : null,
    el("h3", {}, "Data keys"),
    table(["Key", "Scope", "Created", ""], keyRows(p), "No data keys."),
    newKeyForm(p),
    state.secret && state.secret.project === p.slug
      ? el("div", { class: "secret", id: "new-key" }, "New key (shown once, copy it now): ", el("code", {}, state.secret.key), " ",
          el("button", { onclick: () => { state.secret = null; render(); } }, "Done"))
      : null,
    el("h3", {}, "Jobs"),
    table(["Job", "Workload", "Kind", "Status", "Created", "Error"], jobRows(p), "No jobs."),
  ));
  root.replaceChildren(...(sections.length ? sections : [el("p", { class: "empty" }, "No projects yet: run `inferencekey init --project NAME`.")]));
}

async function loadDetail() {
  if (!state.selected) { state.detail = null; return; }
  try {
    const d = await api("/dashboard/api/workloads/" + encodeURIComponent(state.selected));
    state.detail = el("div", {},
      el("h3", {}, "Readiness log"),
      table(["Phase", "Step", "Message", "Elapsed"], d.readiness.map(e => el("tr", {},
        el("td", {}, el("span", { class: "phase " + e.phase }, e.phase)), el("td", {}, e.step || ""),
        el("td", {}, e.message), el("td", {}, (e.elapsed_ms / 1000).toFixed(1) + " s"))), "No events."),
      el("h3", {}, "Engine log (last lines)"),
      ...(d.logs.length ? d.logs.map(l => el("div", {}, el("div", { class: "muted" }, "replica " + l.replica), el("pre", { class: "log" }, l.tail || "(empty)")))
        : [el("p", { class: "empty" }, "No engine log yet.")]),
    );
  } catch (e) { state.detail = el("p", { class: "muted" }, "Could not load: " + e.message); }
  render();
}

let ticks = 0;
async function refresh() {
  try {
    state.data = await api("/dashboard/api/state");
    showLogin(false);
    document.getElementById("live").textContent = "live · updated " + new Date().toLocaleTimeString();
    render();
    if (state.selected && (ticks++ % 2 === 0)) loadDetail();
  } catch (e) {
    if (e.message !== "not logged in") document.getElementById("live").textContent = "offline: " + e.message;
  }
}

refresh();
setInterval(refresh, 1000);
