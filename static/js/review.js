// The review page: the micrograph with every particle outlined (WebGL), statistics beside it.
//
// Fluid with thousands of particles because the DOM never holds one node per particle: outlines
// are concatenated, None-separated polygons in one scattergl trace per colour group (≤ 8
// traces), and one scattergl marker trace of centres carries hover, click and box/lasso
// selection. Every change is POSTed at once; the answer carries the recomputed statistics.
(function () {
  "use strict";
  const t0 = performance.now();
  const cfg = JSON.parse(document.getElementById("review-config").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const CLASS_COLOURS = {
    sphere: "#22d3ee", cube: "#f59e0b", rod: "#a3e635", plate: "#e879f9",
    irregular: "#fb7185", agglomerate: "#f97316", unclassified: "#94a3b8",
  };
  const ACCEPTED = "#22c55e", REJECTED = "#ef4444", SELECTED = "#facc15";
  const LABELS = {
    ecd_nm: ["ECD", "nm"], area_nm2: ["Area", "nm²"], feret_max_nm: ["Feret max", "nm"],
    feret_min_nm: ["Feret min", "nm"], aspect_ratio: ["Aspect ratio", ""],
    circularity: ["Circularity", ""], solidity: ["Solidity", ""], perimeter_nm: ["Perimeter", "nm"],
  };
  const overlayEl = document.getElementById("overlay");
  let P = null; // columnar particles
  let byIndex = new Map(); // label index -> position
  let selected = new Set(); // positions
  let colourBy = "class";
  let hoverText = [];
  let fixedShapes = [];
  let mode = "pan";

  const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? "—" : Number(v).toFixed(d));

  async function post(url, body, method = "POST") {
    const r = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const d = data.detail;
      const message = data.error || (Array.isArray(d) ? d.join(" ") : d) || firstError(data) || r.statusText;
      const err = new Error(message);
      err.status = r.status;
      throw err;
    }
    return data;
  }

  function firstError(data) {
    for (const [k, v] of Object.entries(data || {})) return `${k}: ${Array.isArray(v) ? v.join(" ") : v}`;
    return "";
  }

  function setSaveState(text, bad) {
    const el = document.getElementById("save-state");
    el.textContent = text;
    el.classList.toggle("bad", !!bad);
  }

  // --- overlay ---------------------------------------------------------------------------
  function groupKey(i) {
    if (colourBy === "accepted") return P.accepted[i] ? "accepted" : "rejected";
    return P.accepted[i] ? P.cls[i] : "rejected";
  }

  function colourOf(key) {
    if (key === "accepted") return ACCEPTED;
    if (key === "rejected") return REJECTED;
    return CLASS_COLOURS[key] || CLASS_COLOURS.unclassified;
  }

  function outlineTraces() {
    const groups = new Map();
    for (let i = 0; i < P.index.length; i++) {
      const k = groupKey(i);
      if (!groups.has(k)) groups.set(k, { x: [], y: [] });
      const g = groups.get(k), poly = P.poly[i];
      for (let j = 0; j < poly.length; j += 2) { g.x.push(poly[j]); g.y.push(poly[j + 1]); }
      if (poly.length) { g.x.push(poly[0], null); g.y.push(poly[1], null); }
    }
    const traces = [];
    for (const [k, g] of groups) {
      traces.push({
        type: "scattergl", mode: "lines", x: g.x, y: g.y, name: k + (k === "rejected" ? "" : ""),
        line: { color: colourOf(k), width: 1.2 }, hoverinfo: "skip", connectgaps: false,
      });
    }
    if (selected.size) {
      const x = [], y = [];
      for (const i of selected) {
        const poly = P.poly[i];
        for (let j = 0; j < poly.length; j += 2) { x.push(poly[j]); y.push(poly[j + 1]); }
        if (poly.length) { x.push(poly[0], null); y.push(poly[1], null); }
      }
      traces.push({ type: "scattergl", mode: "lines", x, y, name: "selected",
        line: { color: SELECTED, width: 2.5 }, hoverinfo: "skip" });
    }
    return traces;
  }

  function markerTrace() {
    const colours = new Array(P.index.length);
    for (let i = 0; i < P.index.length; i++) {
      colours[i] = selected.has(i) ? SELECTED : (P.accepted[i] ? colourOf(groupKey(i)) : REJECTED);
    }
    return {
      type: "scattergl", mode: "markers", x: P.cx, y: P.cy, name: "particles",
      customdata: P.index, text: hoverText, hovertemplate: "%{text}<extra></extra>",
      marker: { size: 7, color: colours, opacity: 0.75, line: { width: 0 } },
      selectedpoints: null, showlegend: false,
    };
  }

  function buildHoverText() {
    hoverText = new Array(P.index.length);
    for (let i = 0; i < P.index.length; i++) {
      const manual = P.manual && P.manual[i] ? " · manual" : "";
      const lines = [`<b>#${P.index[i]}</b> ${P.cls[i]}${P.accepted[i] ? "" : " (rejected)"}${manual}`];
      P.fields.forEach((f, j) => {
        const v = P.m[i][j];
        if (v === null) return;
        const [label, unit] = LABELS[f] || [f, ""];
        lines.push(`${label}: ${fmt(v, unit ? 1 : 3)} ${unit}`);
      });
      lines.push(`score ${fmt(P.score[i], 2)}${P.border[i] ? " · touches border" : ""}`);
      hoverText[i] = lines.join("<br>");
    }
  }

  function regionShapes() {
    const shapes = [], annotations = [];
    const r = cfg.analysed_region;
    if (r && r.x1 !== undefined) {
      shapes.push({ type: "rect", xref: "x", yref: "y", x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y1,
        line: { color: "#38bdf8", width: 1.5, dash: "dash" }, name: "analysed region" });
    }
    const db = cfg.data_bar;
    if (db && db.x1 !== undefined) {
      shapes.push({ type: "rect", xref: "x", yref: "y", x0: db.x0, y0: db.y0, x1: db.x1, y1: db.y1,
        line: { color: "#94a3b8", width: 1.5 }, fillcolor: "rgba(100,116,139,0.45)", name: "data bar" });
      annotations.push({ x: (db.x0 + db.x1) / 2, y: db.y0, yanchor: "bottom", text: "data bar (not analysed)",
        showarrow: false, font: { color: "#e2e8f0", size: 11 }, bgcolor: "rgba(15,23,42,0.6)" });
    }
    const sb = cfg.scale_bar;
    if (sb && sb.bbox) {
      const b = sb.bbox;
      shapes.push({ type: "rect", xref: "x", yref: "y", x0: b.x0 - 2, y0: b.y0 - 2, x1: b.x1 + 2, y1: b.y1 + 2,
        line: { color: "#f97316", width: 2.5 }, name: "scale bar" });
      const label = `scale bar “${sb.label || "?"}” = ${fmt(sb.length_px, 1)} px` +
        (cfg.pixel_size_nm ? ` → ${fmt(cfg.pixel_size_nm, 4)} nm/px` : "");
      annotations.push({ x: b.x0, y: b.y0, xanchor: "left", yanchor: "bottom", text: label,
        showarrow: false, font: { color: "#fff", size: 12 }, bgcolor: "rgba(249,115,22,0.85)" });
    }
    fixedShapes = shapes;
    return { shapes, annotations };
  }

  function layout() {
    const { shapes, annotations } = regionShapes();
    return {
      margin: { l: 40, r: 10, t: 10, b: 30 },
      xaxis: { range: [0, cfg.width], showgrid: false, zeroline: false, constrain: "domain" },
      yaxis: { range: [cfg.height, 0], showgrid: false, zeroline: false, scaleanchor: "x", constrain: "domain" },
      images: [{ source: cfg.image, xref: "x", yref: "y", x: 0, y: 0, sizex: cfg.width, sizey: cfg.height,
        sizing: "stretch", layer: "below" }],
      shapes, annotations, dragmode: mode === "select" ? "select" : mode === "lasso" ? "lasso" : mode === "line" ? "drawline" : "pan",
      newshape: { line: { color: "#facc15", width: 3 } },
      showlegend: true, legend: { orientation: "h", y: -0.06 }, uirevision: "keep",
      plot_bgcolor: "#111827", hovermode: "closest",
    };
  }

  function drawOverlay() {
    const traces = outlineTraces();
    traces.push(markerTrace());
    return Plotly.react(overlayEl, traces, layout(), {
      scrollZoom: true, displaylogo: false, responsive: true,
      modeBarButtonsToRemove: ["autoScale2d", "toImage"],
    });
  }

  function markerCurve() { return overlayEl.data.length - 1; }

  function setSelection(positions) {
    selected = new Set(positions);
    document.getElementById("selection-count").textContent = `${selected.size} selected`;
    for (const id of ["reject-selected", "restore-selected"]) {
      const b = document.getElementById(id);
      if (b) b.disabled = selected.size === 0;
    }
    return drawOverlay();
  }

  // --- statistics --------------------------------------------------------------------------
  function renderSummary(stats) {
    const s = stats.summary;
    if (P && stats.revision !== undefined) P.revision = stats.revision; // edits send it back
    document.querySelector('[data-testid="n-accepted"]').textContent = stats.n_accepted;
    // Built as DOM nodes with textContent (CSP, and no HTML from data): each value is text or
    // [text, class, testid, text after] for a styled span.
    const rows = [["n (accepted)", [String(s.count), "", "summary-n"]]];
    if (s.count) {
      rows.push(["Mean ± sd", `${fmt(s.mean)} ± ${fmt(s.sd)} nm`]);
      rows.push(["D10 / D50 / D90", `${fmt(s.d10)} / ${fmt(s.d50)} / ${fmt(s.d90)} nm`]);
      rows.push(["95 % CI of mean", s.ci95_mean ? `${fmt(s.ci95_mean[0])} – ${fmt(s.ci95_mean[1])} nm` : "—"]);
      rows.push(["Log-normal fit", s.lognormal ? `median ${fmt(s.lognormal.median)} nm, GSD ${fmt(s.geometric_sd, 3)}` : "—"]);
    }
    const min = s.representative_min_count;
    const rep = s.representative ? [`≥ ${min} particles`, "ok"] : [`${s.count} < ${min} particles`, "bad"];
    rows.push(["Representativeness", [rep[0], rep[1], "", s.ci95_rel ? ` · CI ±${Math.round(s.ci95_rel * 100)} %` : ""]]);
    const cell = (tag, value) => {
      const el = document.createElement(tag);
      if (!Array.isArray(value)) { el.textContent = value; return el; }
      const [text, cls, testid, after] = value;
      const span = document.createElement("span");
      span.textContent = text;
      if (cls) span.className = cls;
      if (testid) span.dataset.testid = testid;
      el.append(span, after || "");
      return el;
    };
    const tableRows = (pairs) => pairs.map(([k, v]) => {
      const tr = document.createElement("tr");
      tr.append(cell("th", k), cell("td", v));
      return tr;
    });
    const table = document.createElement("table");
    table.className = "facts-table summary-table";
    table.dataset.testid = "summary";
    table.append(...tableRows(rows));
    document.getElementById("summary").replaceChildren(table);
    document.getElementById("classes").replaceChildren(
      ...tableRows(Object.entries(stats.classes).map(([k, v]) => [k, String(v)])));
  }

  function renderHistogram(stats) {
    const h = stats.histogram;
    const centres = [], widths = [];
    for (let i = 0; i < h.counts.length; i++) {
      centres.push((h.edges[i] + h.edges[i + 1]) / 2);
      widths.push(h.edges[i + 1] - h.edges[i]);
    }
    const traces = [{ type: "bar", x: centres, y: h.counts, width: widths, name: "particles",
      marker: { color: "#60a5fa" }, hovertemplate: "%{x:.1f} nm: %{y}<extra></extra>" }];
    if (h.fit_x.length) traces.push({ type: "scatter", mode: "lines", x: h.fit_x, y: h.fit_y,
      name: "log-normal fit", line: { color: "#dc2626", width: 2 } });
    return Plotly.react("histogram", traces, {
      margin: { l: 40, r: 10, t: 10, b: 40 }, height: 240, bargap: 0.02,
      xaxis: { title: { text: "ECD (nm)" } }, yaxis: { title: { text: "count" } },
      showlegend: true, legend: { x: 1, xanchor: "right", y: 1 },
    }, { displaylogo: false, responsive: true });
  }

  function renderScatter() {
    const fi = P.fields.indexOf("feret_max_nm"), ai = P.fields.indexOf("aspect_ratio");
    const x = [], y = [], c = [];
    for (let i = 0; i < P.index.length; i++) {
      if (!P.accepted[i] || fi < 0 || ai < 0) continue;
      x.push(P.m[i][fi]); y.push(P.m[i][ai]); c.push(colourOf(P.cls[i]));
    }
    return Plotly.react("scatter", [{ type: "scattergl", mode: "markers", x, y,
      marker: { size: 4, color: c, opacity: 0.7 }, hovertemplate: "Feret %{x:.1f} nm, AR %{y:.2f}<extra></extra>" }], {
      margin: { l: 40, r: 10, t: 10, b: 40 }, height: 220,
      xaxis: { title: { text: "Feret max (nm)" } }, yaxis: { title: { text: "aspect ratio" } },
    }, { displaylogo: false, responsive: true });
  }

  function applyStats(stats) {
    renderSummary(stats);
    renderHistogram(stats);
    renderScatter();
  }

  // --- edits -------------------------------------------------------------------------------
  async function setAccepted(positions, accepted) {
    if (!cfg.editable || !positions.length) return;
    const indices = positions.map((i) => P.index[i]);
    setSaveState("saving…");
    try {
      const t = { start: performance.now() };
      const data = await post(cfg.accept, { indices, accepted });
      t.saved = performance.now();
      for (const i of positions) P.accepted[i] = accepted;
      renderSummary(data.stats); // the numbers first (cheap), then the drawings
      await renderHistogram(data.stats);
      await renderScatter();
      t.charts = performance.now();
      buildHoverText();
      selected.clear();
      await setSelection([]);
      t.overlay = performance.now();
      window.__reviewLastEdit = { post_ms: t.saved - t.start, charts_ms: t.charts - t.saved,
        overlay_ms: t.overlay - t.charts };
      setSaveState(`saved (${data.changed} changed)`);
    } catch (e) {
      setSaveState("not saved: " + e.message, true);
    }
  }

  function wireOverlayEvents() {
    overlayEl.on("plotly_click", (ev) => {
      const pt = ev.points.find((p) => p.curveNumber === markerCurve());
      if (!pt || mode !== "pan") return;
      const i = pt.pointIndex;
      setAccepted([i], !P.accepted[i]);
    });
    overlayEl.on("plotly_selected", (ev) => {
      if (!ev) return;
      const pts = ev.points.filter((p) => p.curveNumber === markerCurve()).map((p) => p.pointIndex);
      setSelection(pts);
    });
    overlayEl.on("plotly_relayout", (ev) => {
      // A line drawn in "drawline" mode over the scale bar: its length in pixels.
      const shapes = (overlayEl.layout.shapes || []).slice(fixedShapes.length);
      if (!shapes.length || !ev || !Object.keys(ev).some((k) => k.startsWith("shapes"))) return;
      const s = shapes[shapes.length - 1];
      const len = Math.hypot(s.x1 - s.x0, s.y1 - s.y0);
      const input = document.querySelector('#line-form [name="line_px"]');
      if (input) input.value = len.toFixed(1);
    });
  }

  function wireControls() {
    document.getElementById("colour-by").addEventListener("change", (e) => { colourBy = e.target.value; drawOverlay(); });
    document.querySelectorAll("[data-mode]").forEach((b) => b.addEventListener("click", () => {
      mode = b.dataset.mode; drawOverlay();
    }));
    const rej = document.getElementById("reject-selected");
    if (rej) rej.addEventListener("click", () => setAccepted([...selected], false));
    const res = document.getElementById("restore-selected");
    if (res) res.addEventListener("click", () => setAccepted([...selected], true));
    document.getElementById("clear-selection").addEventListener("click", () => setSelection([]));
    document.getElementById("filter-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const num = (k) => (f.get(k) === "" || f.get(k) === null ? null : Number(f.get(k)));
      const lo = num("ecd_min"), hi = num("ecd_max"), smax = num("score_max");
      const cls = f.get("cls"), border = f.get("border"), state = f.get("state");
      const ei = P.fields.indexOf("ecd_nm");
      const out = [];
      for (let i = 0; i < P.index.length; i++) {
        const ecd = ei >= 0 ? P.m[i][ei] : null;
        if (lo !== null && !(ecd !== null && ecd >= lo)) continue;
        if (hi !== null && !(ecd !== null && ecd <= hi)) continue;
        if (cls && P.cls[i] !== cls) continue;
        if (smax !== null && !(P.score[i] < smax)) continue;
        if (border === "yes" && !P.border[i]) continue;
        if (border === "no" && P.border[i]) continue;
        if (state === "accepted" && !P.accepted[i]) continue;
        if (state === "rejected" && P.accepted[i]) continue;
        out.push(i);
      }
      setSelection(out);
    });
    const calForm = document.getElementById("calibration-form");
    if (calForm) calForm.addEventListener("submit", (e) => {
      e.preventDefault();
      calibrate({ pixel_size_nm: Number(new FormData(calForm).get("pixel_size_nm")) });
    });
    const lineForm = document.getElementById("line-form");
    if (lineForm) {
      document.getElementById("draw-line").addEventListener("click", () => { mode = "line"; drawOverlay(); });
      lineForm.addEventListener("submit", (e) => {
        e.preventDefault();
        const f = new FormData(lineForm);
        calibrate({ line_px: Number(f.get("line_px")), length_nm: Number(f.get("length_nm")) });
      });
    }
  }

  async function calibrate(body) {
    setSaveState("recomputing…");
    try {
      const data = await post(cfg.calibration, body);
      cfg.pixel_size_nm = data.pixel_size_nm;
      await loadParticles();
      document.getElementById("pixel-size").textContent = fmt(data.pixel_size_nm, 4);
      document.getElementById("calibration-source").textContent = "manual";
      mode = "pan";
      await drawOverlay();
      applyStats(data.stats);
      setSaveState("calibration saved; measurements recomputed");
    } catch (e) {
      setSaveState("not saved: " + e.message, true);
    }
  }

  function index() {
    byIndex = new Map();
    P.index.forEach((v, i) => byIndex.set(v, i));
  }

  // Swap particles after an outline edit: drop `removed` indices and those in `geometry`
  // (the edit's answer, same columns as particles.json plus `accepted`), insert the new rows,
  // keep label order. Positions change, so the selection is cleared.
  const COLUMNS = ["index", "poly", "cx", "cy", "cls", "score", "border", "manual", "m", "accepted"];
  function replaceParticles(removed, geometry) {
    const drop = new Set([...removed, ...geometry.index]);
    const rows = [];
    for (let i = 0; i < P.index.length; i++) {
      if (!drop.has(P.index[i])) rows.push(COLUMNS.map((c) => (P[c] ? P[c][i] : null)));
    }
    for (let i = 0; i < geometry.index.length; i++) rows.push(COLUMNS.map((c) => geometry[c][i]));
    rows.sort((a, b) => a[0] - b[0]);
    COLUMNS.forEach((c, k) => { P[c] = rows.map((r) => r[k]); });
    index();
    buildHoverText();
    selected.clear();
    return setSelection([]);
  }

  // What the outline editor (review_edit.js) needs from this page, and nothing more.
  window.SEMwebReview = {
    cfg, overlayEl, post, setSaveState, applyStats, replaceParticles,
    particles: () => P,
    positionOf: (idx) => byIndex.get(idx),
    selectedIndices: () => [...selected].map((i) => P.index[i]),
    redraw: () => drawOverlay(),
  };

  // The page starts both downloads in <head> (window.__reviewPrefetch) while plotly.min.js is
  // still being parsed; later loads (after a calibration change) fetch again.
  const prefetched = window.__reviewPrefetch || {};
  const getJSON = (url) => fetch(url, { credentials: "same-origin" }).then((r) => r.json());

  async function loadParticles() {
    const data = await (prefetched.particles || getJSON(cfg.particles));
    prefetched.particles = null;
    P = Object.assign(data.geometry, { accepted: data.accepted, revision: data.revision });
    index();
    buildHoverText();
  }

  async function main() {
    const timings = (window.__reviewTimings = { script_ms: t0 });
    const [, stats] = await Promise.all([
      loadParticles(),
      prefetched.stats || getJSON(cfg.stats),
    ]);
    timings.data_ms = performance.now();
    await drawOverlay();
    timings.overlay_ms = performance.now();
    wireOverlayEvents();
    wireControls();
    await renderHistogram(stats);
    await renderScatter();
    renderSummary(stats);
    timings.charts_ms = performance.now();
    // Time to interactive, read by the benchmark and the browser tests.
    window.__reviewReadyMs = performance.now(); // since navigation start
    window.__reviewScriptMs = performance.now() - t0;
    window.__reviewReady = true;
    document.body.dataset.reviewReady = "1";
    document.dispatchEvent(new CustomEvent("semweb:review-ready"));
  }

  main().catch((e) => setSaveState("could not load particles: " + e.message, true));
})();
