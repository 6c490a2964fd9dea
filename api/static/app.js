/* Prognos planner's desk: one page, views picked by the URL hash.
 * #/queue, #/order/<id>, #/fleet, #/kpis. Talks only to this server's /api/v1. */
"use strict";

const state = { key: sessionStorage.getItem("prognos.key") || "", me: null, stream: null,
  queue: [], seen: new Set(), tick: null, reloadTimer: null, filters: {} };

const $ = (sel, root) => (root || document).querySelector(sel);
const h = (tag, attrs, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
};

class ApiProblem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status; this.body = body;
  }
}

async function api(path, options) {
  const opts = Object.assign({ method: "GET", headers: {} }, options || {});
  opts.headers = Object.assign({ Authorization: `Bearer ${state.key}`, Accept: "application/json" },
    opts.headers);
  if (opts.json !== undefined) {
    opts.body = JSON.stringify(opts.json);
    opts.headers["Content-Type"] = "application/json";
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  const body = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    if (resp.status === 401) signOut("Your key was not accepted; sign in again.");
    throw new ApiProblem(resp.status, body);
  }
  return body;
}

function toast(message, bad) {
  const t = $("#toast");
  t.textContent = message; t.className = bad ? "toast bad" : "toast"; t.hidden = false;
  clearTimeout(t._timer);
  t._timer = setTimeout(() => { t.hidden = true; }, 5000);
}

function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function countdown(iso) {
  if (!iso) return "–";
  let s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const late = s < 0; s = Math.abs(s);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60);
  const txt = d ? `${d}d ${hh}h` : hh ? `${hh}h ${String(mm).padStart(2, "0")}m` : `${mm}m ${s % 60}s`;
  return late ? `${txt} late` : txt;
}

function slaClass(order) {
  return `sla-${order.sla_state || "ok"}`;
}

/* ---------- sign-in and live updates ---------- */

async function signIn(key) {
  state.key = key;
  try {
    state.me = await api("/api/v1/me");
  } catch (err) {
    state.key = ""; state.me = null;
    throw err;
  }
  sessionStorage.setItem("prognos.key", key);
  $("#who-name").textContent = state.me.name;
  $("#who-role").textContent = state.me.role.replace(/_/g, " ");
  $("#who").hidden = false; $("#nav").hidden = false; $("#signin").hidden = true;
  startStream();
}

function signOut(message) {
  sessionStorage.removeItem("prognos.key");
  state.key = ""; state.me = null;
  if (state.stream) state.stream.abort();
  $("#who").hidden = true; $("#nav").hidden = true; $("#view").innerHTML = "";
  $("#signin").hidden = false;
  $("#signin-error").textContent = message || "";
}

/* Server-sent events read with fetch so the key travels in a header, never in a URL. */
async function startStream() {
  if (state.stream) state.stream.abort();
  const ctrl = new AbortController();
  state.stream = ctrl;
  while (!ctrl.signal.aborted && state.key) {
    try {
      const resp = await fetch("/api/v1/events", { headers: { Authorization: `Bearer ${state.key}` },
        signal: ctrl.signal });
      if (!resp.ok) throw new Error(`events ${resp.status}`);
      $("#live").className = "live on";
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let idx;
        while ((idx = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, idx); buf = buf.slice(idx + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
          if (data.length) onEvent(JSON.parse(data.join("\n")));
        }
      }
    } catch (err) {
      if (ctrl.signal.aborted) return;
    }
    $("#live").className = "live off";
    await new Promise((r) => setTimeout(r, 3000));
  }
}

function onEvent(event) {
  if (!event.type.startsWith("work_order.")) return;
  const view = currentView();
  if (view.name === "queue") scheduleReload(renderQueueRows);
  if (view.name === "order" && event.data && event.data.order_id === view.arg) scheduleReload(() => renderOrder(view.arg));
  if (event.type === "work_order.created") toast(`New work order ${event.data.order_id} on ${event.data.device || "a device"}`);
  const sla = event.data && event.data.sla_event;
  if (event.type === "work_order.sla" && sla && sla.kind === "breached") toast(`${event.data.order_id}: ${sla.detail}`, true);
}

function scheduleReload(fn) {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(fn, 300);
}

/* ---------- routing ---------- */

function currentView() {
  const parts = (location.hash || "#/queue").slice(2).split("/");
  return { name: parts[0] || "queue", arg: parts.slice(1).map(decodeURIComponent).join("/") };
}

async function route() {
  if (!state.me) return;
  clearInterval(state.tick);
  const view = currentView();
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    a.classList.toggle("active", a.dataset.view === view.name || (view.name === "order" && a.dataset.view === "queue"));
  }
  const target = $("#view");
  target.innerHTML = "";
  try {
    if (view.name === "order") await renderOrder(view.arg);
    else if (view.name === "fleet") await renderFleet();
    else if (view.name === "kpis") await renderKpis();
    else await renderQueue();
  } catch (err) {
    target.appendChild(h("div", { class: "card error" }, err.message));
  }
}

/* ---------- queue ---------- */

const QUEUE_FILTERS = [
  ["status", "Status", ["", "new", "assigned", "in_progress", "on_hold", "resolved", "closed", "cancelled"]],
  ["priority", "Priority", ["", "P1", "P2", "P3", "P4"]],
  ["sla_state", "SLA", ["", "breached", "at_risk", "ok", "met"]],
  ["tier", "Tier", ["", "vip", "standard"]],
];

async function renderQueue() {
  const view = $("#view");
  const form = h("form", { class: "filters", id: "queue-filters", onsubmit: (e) => { e.preventDefault(); readFilters(); renderQueueRows(); } });
  for (const [name, label, options] of QUEUE_FILTERS) {
    const sel = h("select", { name }, options.map((o) => h("option", { value: o }, o || "any")));
    sel.value = state.filters[name] || "";
    sel.addEventListener("change", () => { readFilters(); renderQueueRows(); });
    form.appendChild(h("label", {}, label, sel));
  }
  for (const [name, label] of [["site", "Site"], ["device", "Device"], ["customer", "Customer"]]) {
    form.appendChild(h("label", {}, label, h("input", { name, value: state.filters[name] || "", size: 12 })));
  }
  form.appendChild(h("button", { type: "submit" }, "Filter"));
  view.appendChild(h("div", { class: "card" },
    h("h1", {}, "Work-order queue"),
    h("p", { class: "muted" }, "Open orders, most urgent SLA first. New orders appear here as they are raised."),
    form,
    h("table", { id: "queue" },
      h("thead", {}, h("tr", {}, ["Due in", "Priority", "Order", "Catalog entry", "Device", "Site", "Status", "Assignee"].map((t) => h("th", {}, t)))),
      h("tbody", { id: "queue-body" }))));
  await renderQueueRows();
  state.tick = setInterval(() => {
    for (const cell of document.querySelectorAll("[data-due]")) cell.textContent = countdown(cell.dataset.due);
  }, 1000);
}

function readFilters() {
  const form = $("#queue-filters");
  if (!form) return;
  state.filters = {};
  for (const field of form.elements) if (field.name && field.value) state.filters[field.name] = field.value;
}

async function renderQueueRows() {
  const body = $("#queue-body");
  if (!body) return;
  const params = new URLSearchParams(Object.assign({ sort: "sla", limit: "100" }, state.filters));
  if (!state.filters.status) params.set("open", "true");
  const page = await api(`/api/v1/work-orders?${params}`);
  if (!body.isConnected) return;
  body.innerHTML = "";
  if (!page.items.length) body.appendChild(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No orders match.")));
  for (const o of page.items) {
    const fresh = state.seen.size > 0 && !state.seen.has(o.order_id);
    state.seen.add(o.order_id);
    body.appendChild(h("tr", { class: `order-row${fresh ? " fresh" : ""}`, "data-order-id": o.order_id,
      onclick: () => { location.hash = `#/order/${encodeURIComponent(o.order_id)}`; } },
      h("td", { class: `countdown nowrap ${slaClass(o)}`, "data-due": o.next_due_at || "", title: `${o.next_due_kind || ""} due ${fmtTime(o.next_due_at)}` }, countdown(o.next_due_at)),
      h("td", {}, h("span", { class: `pill ${o.priority}` }, o.priority)),
      h("td", { class: "nowrap" }, h("a", { href: `#/order/${encodeURIComponent(o.order_id)}` }, o.order_id)),
      h("td", {}, o.title || o.catalog_entry_id, h("div", { class: "muted" }, o.catalog_entry_id)),
      h("td", {}, o.device, h("div", { class: "muted" }, o.asset_type)),
      h("td", {}, o.site, h("div", { class: "muted" }, [o.customer, o.tier].filter(Boolean).join(" · "))),
      h("td", {}, h("span", { class: "pill" }, o.status)),
      h("td", {}, o.assignee || h("span", { class: "muted" }, "unassigned"))));
  }
}

/* ---------- order detail ---------- */

async function renderOrder(orderId) {
  const o = await api(`/api/v1/work-orders/${encodeURIComponent(orderId)}`);
  /* A reload that lands after the user moved on must not paint over the new view. */
  const now = currentView();
  if (now.name !== "order" || now.arg !== orderId) return;
  clearInterval(state.tick);
  const view = $("#view");
  view.innerHTML = "";
  const ev = o.evidence || {};
  const chart = h("div", { id: "chart" });
  view.appendChild(h("div", { class: "card", id: "order", "data-status": o.status, "data-version": o.version },
    h("a", { href: "#/queue" }, "← Queue"),
    h("h1", {}, `${o.order_id} · ${o.title || o.catalog_entry_id}`),
    h("div", { class: "actions" },
      h("span", { class: `pill ${o.priority}` }, o.priority),
      h("span", { class: "pill", id: "order-status" }, o.status),
      h("span", { class: `countdown ${slaClass(o)}` }, `${o.next_due_kind || "SLA"}: `,
        h("span", { "data-due": o.next_due_at || "" }, countdown(o.next_due_at))),
      h("span", { class: "muted" }, `${o.device} (${o.asset_type}) at ${o.site}`))));
  const grid = h("div", { class: "grid" });
  const left = h("div", {});
  const right = h("div", {});
  grid.append(left, right);
  view.appendChild(grid);

  left.appendChild(h("div", { class: "card" }, h("h2", {}, "Telemetry around the flag"),
    h("p", { class: "muted" }, "Each metric is scaled to its own range; the flagged ones are shown first — click a name to show or hide it."),
    chart,
    ev.telemetry_note ? h("p", { class: "muted" }, ev.telemetry_note) : null));
  const lines = [];
  if (ev.predicted_failure_ms) lines.push({ at: ev.predicted_failure_ms, label: "predicted failure", color: "#c62828", testid: "predicted-failure" });
  const flagged = [...new Set((ev.flags || []).flatMap((f) => f.metrics))];
  PrognosChart.timeSeries(chart, ev.telemetry || {},
    { window: ev.window_start_ms ? [ev.window_start_ms, ev.window_end_ms] : null, lines },
    { visible: flagged });

  left.appendChild(h("div", { class: "card" }, h("h2", {}, "Flags"),
    (ev.flags || []).length ? h("table", {},
      h("thead", {}, h("tr", {}, ["Detector", "Failure mode", "Severity", "Score", "Metrics", "Opened"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ev.flags.map((f) => h("tr", {}, h("td", {}, f.detector), h("td", {}, o.failure_mode),
        h("td", {}, f.severity), h("td", {}, PrognosChart.fmt(f.score)), h("td", {}, f.metrics.join(", ")),
        h("td", {}, fmtTime(f.opened_at))))))
      : h("p", { class: "muted" }, "No flags recorded for this order.")));

  /* Each tick is saved on the order at once, so the whole crew sees the same checklist. */
  const canTick = o.is_open && state.me.actions.includes("complete");
  const checklist = h("ul", { class: "checklist", id: "sop" }, (o.sop_checklist || []).map((item) => {
    const id = `sop-${item.index}`;
    const box = h("input", { type: "checkbox", id, "data-step": item.index, disabled: !canTick });
    box.checked = item.done;
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        const saved = await api(`/api/v1/work-orders/${encodeURIComponent(o.order_id)}/checklist/${item.index}`,
          { method: "PUT", json: { done: box.checked } });
        o.version = saved.version;
      } catch (err) {
        box.checked = !box.checked;
        toast(err.message, true);
      }
      box.disabled = false;
    });
    return h("li", {}, box, " ", h("label", { for: id }, item.step));
  }));
  left.appendChild(h("div", { class: "card" }, h("h2", {}, "SOP checklist"),
    (o.sop_checklist || []).length ? checklist : h("p", { class: "muted" }, "The catalog entry lists no steps.")));

  right.appendChild(renderActions(o));
  right.appendChild(h("div", { class: "card" }, h("h2", {}, "Details"), h("dl", { class: "kv" },
    ...[["Category", o.category], ["Failure mode", o.failure_mode], ["Customer", o.customer],
      ["Tier", o.tier], ["Assignee", o.assignee || "unassigned"], ["Required level", o.required_level],
      ["First response due", fmtTime(o.first_response_due_at)], ["On site due", fmtTime(o.onsite_due_at)],
      ["Resolve by", fmtTime(o.resolve_due_at)], ["Predicted failure", o.predicted_failure_at ? fmtTime(o.predicted_failure_at) : ""],
      ["Priority reason", o.priority_reason], ["Catalog match", o.match_reason],
      ["Created", fmtTime(o.created_at)], ["Version", o.version]]
      .filter(([, v]) => v !== null && v !== undefined && v !== "")
      .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))));
  right.appendChild(h("div", { class: "card" }, h("h2", {}, "Knowledge"),
    (o.knowledge_links || []).length ? h("ul", { id: "knowledge" }, o.knowledge_links.map((k) => h("li", {},
      k.url ? h("a", { href: k.url, target: "_blank", rel: "noopener" }, k.title || k.url) : (k.title || ""),
      k.kind ? h("span", { class: "muted" }, ` (${k.kind.replace(/_/g, " ")})`) : null)))
      : h("p", { class: "muted" }, "No knowledge links.")));
  right.appendChild(h("div", { class: "card" }, h("h2", {}, "Comments"),
    (o.comments || []).length ? h("ul", { class: "history", id: "comments" }, o.comments.map((c) => h("li", {},
      h("div", { class: "when" }, `${fmtTime(c.at)} · ${c.author} (${c.role.replace(/_/g, " ")})`), c.text)))
      : h("p", { class: "muted" }, "No comments yet.")));
  right.appendChild(h("div", { class: "card" }, h("h2", {}, "History"),
    h("ul", { class: "history", id: "history" }, (o.history || []).slice().reverse().map((e) => h("li", {},
      h("div", { class: "when" }, `${fmtTime(e.at)} · ${e.actor || "system"}${e.role ? ` (${e.role})` : ""}`),
      e.summary)))));
  state.tick = setInterval(() => {
    for (const cell of document.querySelectorAll("[data-due]")) cell.textContent = countdown(cell.dataset.due);
  }, 1000);
}

function renderActions(o) {
  const can = new Set(state.me.actions);
  const card = h("div", { class: "card", id: "actions" }, h("h2", {}, "Actions"));
  const act = async (label, fn) => {
    try { await fn(); toast(label); await renderOrder(o.order_id); } catch (err) { toast(err.message, true); }
  };
  if (can.has("transition") && (o.allowed_transitions || []).length) {
    card.appendChild(h("div", { class: "actions" }, o.allowed_transitions.map((to) =>
      h("button", { type: "button", class: "secondary", "data-transition": to,
        onclick: () => act(`Moved to ${to}`, () => api(`/api/v1/work-orders/${encodeURIComponent(o.order_id)}/transitions`,
          { method: "POST", json: { to, expected_version: o.version } })) }, `→ ${to.replace(/_/g, " ")}`))));
  }
  if (can.has("assign") && ["new", "assigned", "on_hold"].includes(o.status)) {
    const input = h("input", { name: "assignee", placeholder: "engineer name", value: o.assignee || "", size: 14, id: "assignee" });
    card.appendChild(h("form", { class: "actions", id: "assign-form", onsubmit: (e) => { e.preventDefault();
      act(`Assigned to ${input.value}`, () => api(`/api/v1/work-orders/${encodeURIComponent(o.order_id)}/assignment`,
        { method: "PUT", json: { assignee: input.value, expected_version: o.version } })); } },
      input, h("button", { type: "submit" }, "Assign")));
  }
  if (can.has("complete") && o.can_complete) {
    const verdict = h("select", { name: "verdict" }, ["confirmed_fault", "false_alarm", "other_cause"].map((v) => h("option", { value: v }, v.replace(/_/g, " "))));
    const rating = h("select", { name: "rating" }, [5, 4, 3, 2, 1].map((v) => h("option", { value: v }, `${v}★`)));
    const note = h("input", { name: "notes", placeholder: "what was found and done", size: 18, required: true });
    card.appendChild(h("form", { class: "actions", id: "complete-form", onsubmit: (e) => { e.preventDefault();
      act("Completed", () => api(`/api/v1/work-orders/${encodeURIComponent(o.order_id)}/completion`,
        { method: "POST", json: { verdict: verdict.value, rating: Number(rating.value), notes: note.value,
          checklist: [...document.querySelectorAll("#sop input[type=checkbox]")].map((b) => b.checked),
          expected_version: o.version } })); } },
      verdict, rating, note, h("button", { type: "submit" }, "Complete")));
  }
  if (can.has("comment")) {
    const text = h("input", { name: "text", placeholder: "add a comment", size: 24, required: true });
    card.appendChild(h("form", { class: "actions", id: "comment-form", onsubmit: (e) => { e.preventDefault();
      act("Comment added", () => api(`/api/v1/work-orders/${encodeURIComponent(o.order_id)}/comments`,
        { method: "POST", json: { text: text.value } })); } }, text, h("button", { type: "submit", class: "secondary" }, "Comment")));
  }
  if (card.children.length === 1) card.appendChild(h("p", { class: "muted" }, "Your role has no actions on this order."));
  return card;
}

/* ---------- fleet ---------- */

async function renderFleet() {
  const view = $("#view");
  let page;
  try {
    page = await api("/api/v1/fleet/devices");
  } catch (err) {
    view.appendChild(h("div", { class: "card" }, h("h1", {}, "Fleet"), h("p", { class: "muted" }, err.message)));
    return;
  }
  const counts = {};
  for (const d of page.items) counts[d.health] = (counts[d.health] || 0) + 1;
  view.appendChild(h("div", { class: "card" }, h("h1", {}, "Fleet health"),
    h("p", {}, Object.entries(counts).map(([k, v]) => h("span", { class: `pill health-${k}` }, `${v} ${k}`)), ` of ${page.total} devices`)));
  view.appendChild(h("div", { class: "devices", id: "devices" }, page.items.map((d) => h("div", { class: `card device health-${d.health}` },
    h("div", { class: "name" }, d.device), h("div", { class: "muted" }, `${d.asset_type} · ${d.site}`),
    h("div", { class: `health-${d.health}` }, d.health),
    h("div", { class: "muted" }, `last seen ${d.last_seen_at ? countdown(d.last_seen_at).replace(" late", " ago") : "never"}`),
    d.open_flags.length ? h("ul", {}, d.open_flags.map((f) => h("li", {}, `${f.failure_mode} (${f.severity})`))) : null))));
}

/* ---------- KPIs ---------- */

async function renderKpis() {
  const view = $("#view");
  const days = h("select", { name: "days" }, [1, 7, 30, 90].map((d) => h("option", { value: d }, `last ${d} day${d > 1 ? "s" : ""}`)));
  days.value = state.filters.kpiDays || "30";
  const group = h("select", { name: "group_by" }, ["category", "site", "customer", "tier", "asset_type", "catalog_entry_id", "priority"].map((g) => h("option", { value: g }, g)));
  group.value = state.filters.kpiGroup || "category";
  const body = h("div", { id: "kpi-body" });
  const load = async () => {
    state.filters.kpiDays = days.value; state.filters.kpiGroup = group.value;
    const end = new Date(); const start = new Date(end.getTime() - Number(days.value) * 86400e3);
    const params = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), group_by: group.value });
    body.innerHTML = "";
    try {
      renderKpiBody(body, await api(`/api/v1/kpis?${params}`));
    } catch (err) {
      body.appendChild(h("p", { class: "error" }, err.message));
    }
  };
  days.addEventListener("change", load); group.addEventListener("change", load);
  view.appendChild(h("div", { class: "card" }, h("h1", {}, "KPIs"),
    h("div", { class: "filters" }, h("label", {}, "Period", days), h("label", {}, "Group by", group)), body));
  await load();
}

const KPI_LABELS = {
  orders: "orders", open: "open", resolved: "resolved", cancelled: "cancelled",
  sla_compliance: "SLA compliance", mttr_s: "mean time to repair", mean_first_response_s: "mean first response",
  resolution_rate: "resolution rate", mean_satisfaction: "customer satisfaction", false_alarm_rate: "false-alarm rate",
  mean_lead_time_s: "mean warning lead time", resolved_before_failure_rate: "fixed before predicted failure",
};
const KPI_CHARTS = ["orders", "sla_compliance", "mttr_s", "mean_first_response_s", "false_alarm_rate", "mean_satisfaction"];

function kpiFmt(name, v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (name.endsWith("_s")) {
    const a = Math.abs(v);
    return a >= 86400 ? `${(v / 86400).toFixed(1)} d` : a >= 3600 ? `${(v / 3600).toFixed(1)} h` : a >= 60 ? `${(v / 60).toFixed(0)} min` : `${v.toFixed(0)} s`;
  }
  if (name.endsWith("_rate") || name === "sla_compliance") return `${(v * 100).toFixed(0)} %`;
  if (name === "mean_satisfaction") return `${v.toFixed(2)} / 5`;
  return String(Math.round(v));
}

function renderKpiBody(body, k) {
  const tiles = h("div", { class: "kpi-tiles" });
  for (const [name, label] of Object.entries(KPI_LABELS)) {
    if (!(name in (k.totals || {}))) continue;
    tiles.appendChild(h("div", { class: "card tile", "data-kpi": name },
      h("div", { class: "value" }, kpiFmt(name, k.totals[name])), h("div", { class: "label" }, label)));
  }
  body.appendChild(tiles);
  const groups = k.groups || [];
  if (!groups.length) { body.appendChild(h("p", { class: "muted" }, "No orders were created in this period.")); return; }
  const charts = h("div", { class: "kpi-charts" });
  for (const m of KPI_CHARTS) {
    if (!groups.some((g) => typeof g.values[m] === "number")) continue;
    const chart = h("div", {});
    charts.appendChild(h("div", { class: "card" }, h("h2", {}, `${KPI_LABELS[m]} by ${k.group_by.replace(/_/g, " ")}`), chart));
    PrognosChart.bars(chart, groups.map((g) => ({ label: g.key || "–", value: g.values[m] })),
      { title: m, format: (v) => kpiFmt(m, v) });
  }
  body.appendChild(charts);
}

/* ---------- start ---------- */

$("#signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#signin-error").textContent = "";
  try {
    await signIn($("#api-key").value.trim());
    $("#api-key").value = "";
    if (!location.hash) location.hash = "#/queue"; else route();
  } catch (err) {
    $("#signin-error").textContent = err.status === 401 ? "That key matches no user." : err.message;
  }
});
$("#sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);

(async () => {
  if (state.key) {
    try { await signIn(state.key); route(); return; } catch (err) { /* fall through to the form */ }
  }
  signOut();
})();
