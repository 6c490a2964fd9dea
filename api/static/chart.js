/* Small SVG charts for the planner's desk: time series with marked windows, and bars.
 * Written for this page so it runs with no network and no third-party script. */
"use strict";

const PrognosChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceTime(ms, spanMs) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return spanMs > 36 * 3600e3 ? `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${hm}` : hm;
  }

  /* series: {name: [[ts_ms, value], ...]}; marks: {window: [startMs, endMs], lines: [{at, label, color}]}.
   * Each series is scaled to its own range (normalised) so metrics in different units share one
   * chart; the tooltip-free legend shows each one's min..max. */
  function timeSeries(container, series, marks, opts) {
    const o = Object.assign({ width: 760, height: 280, pad: 36 }, opts || {});
    container.innerHTML = "";
    container.classList.add("chart");
    const all = Object.keys(series).filter((n) => series[n].length > 0);
    /* Only the metrics in `visible` are drawn (all when not given); the legend toggles the rest. */
    const visible = new Set(o.visible && o.visible.some((n) => all.includes(n)) ? o.visible : all);
    const names = all.filter((n) => visible.has(n));
    /* Colours are fixed on first draw, the shown metrics first, so toggling never repaints. */
    if (!o.colors) {
      o.colors = {};
      [...names, ...all.filter((n) => !visible.has(n))].forEach((n, i) => { o.colors[n] = COLORS[i % COLORS.length]; });
    }
    let t0 = Infinity, t1 = -Infinity;
    for (const n of all) for (const [t] of series[n]) { t0 = Math.min(t0, t); t1 = Math.max(t1, t); }
    /* A mark outside the data (a failure predicted days ahead) is pinned to the edge, not allowed
     * to squash the series into a sliver. */
    if (!isFinite(t0)) for (const line of (marks && marks.lines) || []) { t0 = Math.min(t0, line.at); t1 = Math.max(t1, line.at); }
    if (marks && marks.window) { t0 = Math.min(t0, marks.window[0]); t1 = Math.max(t1, marks.window[1]); }
    const svg = el("svg", { viewBox: `0 0 ${o.width} ${o.height}`, role: "img",
      "aria-label": "Telemetry around the flag", "data-testid": "telemetry-chart" });
    if (!isFinite(t0) || t1 <= t0) {
      svg.appendChild(el("text", { x: o.width / 2, y: o.height / 2, "text-anchor": "middle",
        fill: "#5b6577" }, "No telemetry in this window"));
      container.appendChild(svg);
      return svg;
    }
    const x = (t) => o.pad + ((t - t0) / (t1 - t0)) * (o.width - 2 * o.pad);
    const top = 10, bottom = o.height - 28;
    svg.appendChild(el("rect", { x: o.pad, y: top, width: o.width - 2 * o.pad, height: bottom - top,
      fill: "#fff", stroke: "#d9dee7" }));
    if (marks && marks.window) {
      const [a, b] = marks.window;
      svg.appendChild(el("rect", { x: x(a), y: top, width: Math.max(2, x(b) - x(a)), height: bottom - top,
        fill: "#ffb300", "fill-opacity": 0.18, "data-testid": "flag-window" }));
      svg.appendChild(el("text", { x: x(a) + 4, y: top + 14, fill: "#8a5a00", "font-size": 11 }, "flag window"));
    }
    for (let i = 0; i <= 4; i++) {
      const t = t0 + ((t1 - t0) * i) / 4;
      svg.appendChild(el("line", { x1: x(t), x2: x(t), y1: bottom, y2: bottom + 4, stroke: "#5b6577" }));
      svg.appendChild(el("text", { x: x(t), y: bottom + 16, "text-anchor": "middle", "font-size": 11,
        fill: "#5b6577" }, niceTime(t, t1 - t0)));
    }
    const legend = document.createElement("div");
    legend.className = "legend";
    all.forEach((name) => {
      const color = o.colors[name];
      const item = document.createElement("button");
      item.type = "button";
      item.className = "legend-item" + (visible.has(name) ? "" : " off");
      item.dataset.metric = name;
      item.title = visible.has(name) ? "Hide this metric" : "Show this metric";
      item.innerHTML = `<span class="swatch" style="background:${color}"></span>`;
      item.appendChild(document.createTextNode(name));
      item.addEventListener("click", () => {
        const next = new Set(visible);
        if (next.has(name)) next.delete(name); else next.add(name);
        timeSeries(container, series, marks, Object.assign({}, o, { visible: [...next] }));
      });
      legend.appendChild(item);
    });
    names.forEach((name) => {
      const pts = series[name];
      let lo = Infinity, hi = -Infinity;
      for (const [, v] of pts) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      const span = hi - lo || 1;
      const y = (v) => bottom - 6 - ((v - lo) / span) * (bottom - top - 12);
      const color = o.colors[name];
      const d = pts.map(([t, v], j) => `${j ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("");
      svg.appendChild(el("path", { d, fill: "none", stroke: color, "stroke-width": 1.6,
        "data-metric": name }));
      const item = legend.querySelector(`[data-metric="${name}"]`);
      if (item) item.lastChild.textContent = `${name} (${fmt(lo)} – ${fmt(hi)})`;
    });
    for (const line of (marks && marks.lines) || []) {
      const color = line.color || "#c62828";
      const beyond = line.at > t1, before = line.at < t0;
      const at = Math.min(Math.max(line.at, t0), t1);
      let label = line.label;
      if (beyond) label = `${line.label} → in ${span(line.at - t1)}`;
      if (before) label = `← ${line.label}`;
      svg.appendChild(el("line", { x1: x(at), x2: x(at), y1: top, y2: bottom, stroke: color,
        "stroke-width": 2, "stroke-dasharray": "5 4", "data-testid": line.testid || "mark" }));
      svg.appendChild(el("text", { x: beyond ? x(at) - 6 : x(at) + 6, y: top + 28, fill: color,
        "font-size": 11, "text-anchor": beyond ? "end" : "start" }, label));
    }
    container.appendChild(svg);
    container.appendChild(legend);
    return svg;
  }

  /* rows: [{label, value}] drawn as horizontal bars. */
  function bars(container, rows, opts) {
    const o = Object.assign({ width: 560, barH: 20, labelW: 190, unit: "" }, opts || {});
    container.innerHTML = "";
    container.classList.add("chart");
    const h = Math.max(1, rows.length) * (o.barH + 6) + 6;
    const svg = el("svg", { viewBox: `0 0 ${o.width} ${h}`, width: o.width, height: h, role: "img",
      "aria-label": o.title || "bars", class: "bars" });
    const max = Math.max(1e-9, ...rows.map((r) => Math.abs(Number(r.value) || 0)));
    rows.forEach((r, i) => {
      const y = 6 + i * (o.barH + 6);
      const w = ((Math.abs(Number(r.value) || 0)) / max) * (o.width - o.labelW - 70);
      const label = r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label;
      svg.appendChild(el("text", { x: o.labelW - 6, y: y + o.barH * 0.7, "text-anchor": "end",
        "font-size": 12, fill: "#1d2433" }, label));
      svg.appendChild(el("rect", { x: o.labelW, y, width: Math.max(1, w), height: o.barH, rx: 3,
        fill: COLORS[i % COLORS.length] }));
      svg.appendChild(el("text", { x: o.labelW + w + 6, y: y + o.barH * 0.7, "font-size": 12,
        fill: "#1d2433" }, o.format ? o.format(r.value) : `${fmt(Number(r.value))}${o.unit}`));
    });
    if (!rows.length) svg.appendChild(el("text", { x: 8, y: 20, fill: "#5b6577" }, "No data"));
    container.appendChild(svg);
    return svg;
  }

  function span(ms) {
    const hours = ms / 3600e3;
    return hours >= 48 ? `${(hours / 24).toFixed(1)} d` : hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(ms / 60e3)} min`;
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    const a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
  }

  return { timeSeries, bars, fmt };
})();
