// Outline editor of the review page: draw, magic wand, split, merge, erase/delete, undo/redo.
//
// An SVG layer over the Plotly overlay catches the pointer while a tool is on (so Plotly does
// not pan) and draws the stroke, cut line, seeds or wand preview; nothing per particle is ever
// added to the DOM. Every edit is one call to the REST API (the endpoints scripts use), whose
// answer carries the changed particles and the recomputed statistics: the page patches its
// arrays and redraws without a reload. No inline scripts or handlers (CSP): wired here.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const MIN_DRAG_PX = 12; // shorter pointer travel is a click, not a stroke
  const CLOSE_PX = 8; // a click this close to the first corner closes the polygon

  function start(R) {
    const cfg = R.cfg, urls = cfg.edit;
    if (!urls) return;
    const layer = document.getElementById("edit-layer");
    const plot = R.overlayEl;
    const tol = document.getElementById("wand-tolerance");
    const tolOut = document.getElementById("wand-tolerance-value");
    const state = { tool: null, stroke: null, clicks: [], seeds: [], wand: null, busy: false };

    // --- coordinates ---------------------------------------------------------------------
    // Screen (layer) pixels <-> data coordinates of the plot; the server wants pixel-centre
    // coordinates of the stored image (pixel c spans data c..c+1, its centre is c).
    function toData(ev) {
      const fl = plot._fullLayout, r = layer.getBoundingClientRect();
      return [fl.xaxis.p2l(ev.clientX - r.left - fl.xaxis._offset),
        fl.yaxis.p2l(ev.clientY - r.top - fl.yaxis._offset)];
    }
    function toScreen([x, y]) {
      const fl = plot._fullLayout;
      return [fl.xaxis._offset + fl.xaxis.l2p(x), fl.yaxis._offset + fl.yaxis.l2p(y)];
    }
    const toImage = (pts) => pts.map(([x, y]) => [+(x - 0.5).toFixed(2), +(y - 0.5).toFixed(2)]);
    const fromImage = (pts) => pts.map(([x, y]) => [x + 0.5, y + 0.5]);
    const screenDist = (a, b) => { const p = toScreen(a), q = toScreen(b); return Math.hypot(p[0] - q[0], p[1] - q[1]); };

    // --- particles under a point ---------------------------------------------------------
    function inside(x, y, flat) {
      let hit = false;
      for (let i = 0, j = flat.length - 2; i < flat.length; j = i, i += 2) {
        const xi = flat[i], yi = flat[i + 1], xj = flat[j], yj = flat[j + 1];
        if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
      }
      return hit;
    }
    function particleAt([x, y]) { // image coordinates
      const P = R.particles();
      for (let i = 0; i < P.index.length; i++) if (inside(x, y, P.poly[i])) return P.index[i];
      return null;
    }
    function polygonContains(pts, x, y) { return inside(x, y, pts.flat()); }

    // --- drawing the layer ---------------------------------------------------------------
    function el(name, attrs) {
      const e = document.createElementNS(SVG, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      return e;
    }
    const pathOf = (pts, close) => pts.map((p, i) => `${i ? "L" : "M"}${toScreen(p).join(",")}`).join("") + (close ? "Z" : "");
    function render() {
      layer.replaceChildren();
      const cls = state.tool === "erase" ? "erase" : state.tool === "split" ? "cut" : "stroke";
      if (state.stroke && state.stroke.length > 1) layer.append(el("path", { d: pathOf(state.stroke, cls !== "cut"), class: cls }));
      if (state.clicks.length) {
        layer.append(el("path", { d: pathOf(state.clicks, false), class: cls }));
        for (const p of state.clicks) { const [sx, sy] = toScreen(p); layer.append(el("circle", { cx: sx, cy: sy, r: 3, class: "seed" })); }
      }
      for (const p of state.seeds) { const [sx, sy] = toScreen(p); layer.append(el("circle", { cx: sx, cy: sy, r: 5, class: "seed" })); }
      if (state.wand) layer.append(el("path", { d: pathOf(fromImage(state.wand.polygon), true), class: "wand", "data-testid": "wand-preview" }));
    }
    plot.on("plotly_relayout", render); // zoom/pan moves the previews with the image

    // --- talking to the server -------------------------------------------------------------
    function setCounts(stats) {
      document.getElementById("n-edits").textContent = stats.n_edits;
      document.getElementById("n-manual").textContent = stats.n_manual;
      document.getElementById("undo").disabled = !stats.can_undo;
      document.getElementById("redo").disabled = !stats.can_redo;
    }
    async function edit(label, url, body, method = "POST") {
      if (state.busy) return null;
      state.busy = true;
      R.setSaveState(`${label}…`);
      try {
        const data = await R.post(url, { ...body, revision: R.particles().revision }, method);
        R.particles().revision = data.revision;
        await R.replaceParticles(data.removed, data.geometry);
        R.applyStats(data.stats);
        setCounts(data.stats);
        R.setSaveState(`${label}: saved`);
        document.body.dataset.editRevision = String(data.revision);
        return data;
      } catch (e) {
        R.setSaveState(`${label}: not saved — ${e.message}`, true);
        document.body.dataset.editError = e.message;
        return null;
      } finally {
        state.busy = false;
        updateButtons();
      }
    }

    // --- tools -----------------------------------------------------------------------------
    function reset() { state.stroke = null; state.clicks = []; state.seeds = []; state.wand = null; render(); }
    function setTool(tool) {
      state.tool = state.tool === tool ? null : tool;
      reset();
      layer.classList.toggle("active", !!state.tool);
      document.querySelectorAll("[data-tool]").forEach((b) => b.classList.toggle("on", b.dataset.tool === state.tool));
      document.body.dataset.editTool = state.tool || "";
      R.setSaveState(state.tool ? HINTS[state.tool] : "");
    }
    const HINTS = {
      draw: "Draw: drag around the particle, or click its corners and press Enter.",
      wand: "Wand: click inside a particle; wheel or slider for tolerance; Enter or click the preview to keep.",
      split: "Split: drag a line across the particle, or Shift+click seeds and press Enter.",
      erase: "Erase: draw over the part to cut away (covering a whole particle deletes it).",
    };

    async function finishPolygon(points) { // data coordinates
      const tool = state.tool;
      reset();
      if (points.length < 3) return;
      const polygon = toImage(points);
      if (tool === "draw") return edit("draw", urls.particles, { polygon });
      if (tool === "erase") return erase(polygon);
    }

    async function erase(polygon) {
      // The particle the stroke covers most (area sampled on a grid): covered entirely →
      // delete it, else cut the covered part away.
      const P = R.particles();
      const xs = polygon.map((p) => p[0]), ys = polygon.map((p) => p[1]);
      const bx0 = Math.min(...xs), bx1 = Math.max(...xs), by0 = Math.min(...ys), by1 = Math.max(...ys);
      const near = [];
      for (let i = 0; i < P.index.length; i++) {
        const flat = P.poly[i];
        let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
        for (let k = 0; k < flat.length; k += 2) {
          x0 = Math.min(x0, flat[k]); x1 = Math.max(x1, flat[k]);
          y0 = Math.min(y0, flat[k + 1]); y1 = Math.max(y1, flat[k + 1]);
        }
        if (x1 >= bx0 && x0 <= bx1 && y1 >= by0 && y0 <= by1) near.push(i);
      }
      const covered = new Map();
      const n = 40, dx = (bx1 - bx0) / n || 1, dy = (by1 - by0) / n || 1;
      for (let gx = bx0 + dx / 2; gx < bx1; gx += dx) {
        for (let gy = by0 + dy / 2; gy < by1; gy += dy) {
          if (!polygonContains(polygon, gx, gy)) continue;
          for (const i of near) if (inside(gx, gy, P.poly[i])) { covered.set(i, (covered.get(i) || 0) + 1); break; }
        }
      }
      let best = null;
      for (const [i, c] of covered) if (best === null || c > covered.get(best)) best = i;
      if (best === null) { R.setSaveState("Erase: the stroke covers no particle", true); return; }
      const flat = P.poly[best];
      let all = true;
      for (let k = 0; k < flat.length && all; k += 2) all = polygonContains(polygon, flat[k], flat[k + 1]);
      const index = P.index[best];
      if (all) return edit("delete", urls.particle + index, {}, "DELETE");
      return edit("erase", urls.particle + index, { erase: polygon }, "PATCH");
    }

    async function splitByLine(a, b) {
      const line = toImage([a, b]);
      let target = null;
      for (let k = 1; k < 20 && target === null; k++) { // the particle under the line
        const t = k / 20;
        target = particleAt([line[0][0] + t * (line[1][0] - line[0][0]), line[0][1] + t * (line[1][1] - line[0][1])]);
      }
      if (target === null) { R.setSaveState("Split: the line crosses no particle", true); return; }
      return edit("split", urls.split, { index: target, line });
    }

    async function splitBySeeds() {
      const seeds = toImage(state.seeds);
      reset();
      const target = particleAt(seeds[0]);
      if (target === null) { R.setSaveState("Split: the first seed is not inside a particle", true); return; }
      return edit("split", urls.split, { index: target, seeds });
    }

    let wandTimer = null;
    async function wandPreview(at) { // data coordinates of the click
      const [x, y] = toImage([at])[0];
      const tolerance = Number(tol.value);
      try {
        const data = await R.post(urls.wand, { x, y, tolerance });
        state.wand = { polygon: data.polygon, at, target: particleAt([x, y]) };
        document.body.dataset.wandPreview = String(data.polygon.length);
        R.setSaveState(`Wand: ${data.polygon.length} corners at tolerance ${tolerance.toFixed(2)}; Enter or click it to keep`);
      } catch (e) {
        state.wand = null;
        R.setSaveState(`Wand: ${e.message}`, true);
      }
      render();
    }
    function setTolerance(value) {
      tol.value = Math.min(Number(tol.max), Math.max(Number(tol.min), value)).toFixed(2);
      tolOut.textContent = Number(tol.value).toFixed(2);
      if (state.wand) {
        clearTimeout(wandTimer);
        const at = state.wand.at;
        wandTimer = setTimeout(() => wandPreview(at), 150);
      }
    }
    async function wandAccept() {
      const w = state.wand;
      if (!w) return;
      state.wand = null;
      render();
      // Inside an existing particle the wand redraws it; elsewhere it adds one.
      if (w.target !== null) return edit("wand", urls.particle + w.target, { polygon: w.polygon }, "PATCH");
      return edit("wand", urls.particles, { polygon: w.polygon });
    }

    // --- pointer on the layer ------------------------------------------------------------
    let down = null;
    layer.addEventListener("pointerdown", (ev) => {
      if (!state.tool || ev.button !== 0) return;
      ev.preventDefault();
      layer.setPointerCapture(ev.pointerId);
      down = { at: toData(ev), x: ev.clientX, y: ev.clientY, travel: 0, shift: ev.shiftKey };
      if (state.tool === "draw" || state.tool === "erase" || state.tool === "split") state.stroke = [down.at];
    });
    layer.addEventListener("pointermove", (ev) => {
      if (!down || !state.stroke) return;
      down.travel = Math.max(down.travel, Math.hypot(ev.clientX - down.x, ev.clientY - down.y));
      const p = toData(ev), last = state.stroke[state.stroke.length - 1];
      if (screenDist(p, last) >= 2) {
        if (state.tool === "split") state.stroke = [state.stroke[0], p];
        else state.stroke.push(p);
        render();
      }
    });
    layer.addEventListener("pointerup", (ev) => {
      if (!down) return;
      const d = down;
      down = null;
      const p = toData(ev);
      const dragged = d.travel >= MIN_DRAG_PX;
      const stroke = state.stroke;
      state.stroke = null;
      if (state.tool === "wand") {
        if (state.wand && polygonContains(fromImage(state.wand.polygon), p[0], p[1])) return wandAccept();
        wandPreview(p);
        return;
      }
      if (state.tool === "split") {
        if (dragged) return splitByLine(stroke[0], p);
        if (d.shift) { state.seeds.push(p); render(); return; }
        R.setSaveState(HINTS.split);
        return;
      }
      // draw / erase
      if (dragged && stroke.length >= 3) return finishPolygon(stroke);
      if (state.clicks.length >= 3 && screenDist(p, state.clicks[0]) <= CLOSE_PX) return finishPolygon(state.clicks);
      state.clicks.push(p);
      render();
    });
    layer.addEventListener("dblclick", (ev) => {
      ev.preventDefault(); // a double click closes the click-by-click polygon
      const pts = state.clicks.filter((p, i) => i === 0 || screenDist(p, state.clicks[i - 1]) > CLOSE_PX);
      if (pts.length >= 3) finishPolygon(pts);
    });
    layer.addEventListener("wheel", (ev) => {
      if (state.tool !== "wand") return;
      ev.preventDefault();
      setTolerance(Number(tol.value) + (ev.deltaY < 0 ? 0.02 : -0.02));
    }, { passive: false });
    tol.addEventListener("input", () => setTolerance(Number(tol.value)));

    // --- buttons and keys --------------------------------------------------------------------
    function updateButtons() {
      const n = R.selectedIndices().length;
      document.getElementById("merge-selected").disabled = n < 2;
      document.getElementById("delete-selected").disabled = n < 1;
    }
    plot.on("plotly_selected", () => setTimeout(updateButtons, 0));
    plot.on("plotly_deselect", () => setTimeout(updateButtons, 0));
    document.getElementById("clear-selection").addEventListener("click", () => setTimeout(updateButtons, 0));

    async function mergeSelected() {
      const indices = R.selectedIndices();
      if (indices.length >= 2) return edit("merge", urls.merge, { indices });
    }
    async function deleteSelected() {
      for (const index of R.selectedIndices()) {
        if (!(await edit("delete", urls.particle + index, {}, "DELETE"))) break;
      }
    }
    const undo = () => edit("undo", urls.undo, {});
    const redo = () => edit("redo", urls.redo, {});

    document.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => setTool(b.dataset.tool)));
    document.querySelectorAll("[data-mode]").forEach((b) => b.addEventListener("click", () => { if (state.tool) setTool(state.tool); }));
    document.getElementById("merge-selected").addEventListener("click", mergeSelected);
    document.getElementById("delete-selected").addEventListener("click", deleteSelected);
    document.getElementById("undo").addEventListener("click", undo);
    document.getElementById("redo").addEventListener("click", redo);
    const help = document.getElementById("edit-help"), pop = document.getElementById("edit-help-popover");
    const toggleHelp = (show) => {
      pop.hidden = show === undefined ? !pop.hidden : !show;
      help.setAttribute("aria-expanded", String(!pop.hidden));
    };
    help.addEventListener("click", () => toggleHelp());

    document.addEventListener("keydown", (ev) => {
      const t = ev.target;
      if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "range") || t.tagName === "SELECT")) return;
      const key = ev.key, ctrl = ev.ctrlKey || ev.metaKey;
      if (ctrl && (key === "z" || key === "Z")) { ev.preventDefault(); (ev.shiftKey ? redo : undo)(); return; }
      if (ctrl && (key === "y" || key === "Y")) { ev.preventDefault(); redo(); return; }
      if (ctrl || ev.altKey) return;
      if (key === "Escape") { if (!pop.hidden) toggleHelp(false); else if (state.tool) setTool(state.tool); return; }
      if (key === "Enter") {
        if (state.tool === "wand" && state.wand) { ev.preventDefault(); wandAccept(); } else if (state.tool === "split" && state.seeds.length >= 2) { ev.preventDefault(); splitBySeeds(); } else if ((state.tool === "draw" || state.tool === "erase") && state.clicks.length >= 3) { ev.preventDefault(); finishPolygon(state.clicks); }
        return;
      }
      if (key === "Delete" || key === "Backspace") { if (R.selectedIndices().length) { ev.preventDefault(); deleteSelected(); } return; }
      const tool = { d: "draw", w: "wand", s: "split", e: "erase" }[key.toLowerCase()];
      if (tool) { ev.preventDefault(); setTool(tool); return; }
      if (key === "m" || key === "M") { ev.preventDefault(); mergeSelected(); return; }
      if (key === "?") { ev.preventDefault(); toggleHelp(); }
    });
    updateButtons();
    document.body.dataset.editReady = "1";
  }

  if (window.SEMwebReview && document.body.dataset.reviewReady === "1") start(window.SEMwebReview);
  else document.addEventListener("semweb:review-ready", () => start(window.SEMwebReview), { once: true });
})();
