// Model card: live training progress. Reads the initial state from the JSON script tag
// #model-progress, polls its progress URL while the version is queued or training, updates
// the epoch bar and label (textContent only), draws the loss / validation curves with Plotly,
// and reloads the page once the training ends (so metrics and actions appear).
(function () {
  "use strict";
  const POLL_MS = 1000;
  const tag = document.getElementById("model-progress");
  if (!tag) return;
  let state = JSON.parse(tag.textContent);
  const progressUrl = state.progress_url;

  function series(history, pick) {
    const xs = [], ys = [];
    history.forEach((h) => {
      const v = pick(h);
      if (typeof v === "number") { xs.push(h.epoch); ys.push(v); }
    });
    return { x: xs, y: ys };
  }

  function draw(d) {
    const el = document.getElementById("model-curve");
    if (!el || !window.Plotly || !d.history.length) return;
    const h = d.history;
    const traces = [
      { name: "train seg loss", ...series(h, (e) => e.losses["train/seg_loss"]) },
      { name: "train box loss", ...series(h, (e) => e.losses["train/box_loss"]) },
      { name: "val seg loss", ...series(h, (e) => e.val["val/seg_loss"]) },
      { name: "val mask mAP50", yaxis: "y2", ...series(h, (e) => e.val["metrics/mAP50(M)"]) },
    ].map((t) => ({ mode: "lines+markers", ...t }));
    window.Plotly.react(el, traces, {
      height: 280, margin: { t: 10, r: 50, b: 40, l: 50 },
      xaxis: { title: { text: "epoch" }, dtick: 1 },
      yaxis: { title: { text: "loss" } },
      yaxis2: { title: { text: "mAP50" }, overlaying: "y", side: "right", range: [0, 1] },
      legend: { orientation: "h" },
    }, { displayModeBar: false, responsive: true });
  }

  function show(d) {
    const bar = document.querySelector("[data-testid=epoch-bar]");
    const label = document.querySelector("[data-testid=training-label]");
    if (bar) { bar.max = d.epochs || 1; bar.value = d.epoch; }
    if (label) {
      let text = d.status_label + (d.training && d.stage ? " · " + d.stage : "");
      text += " · epoch " + d.epoch + " of " + d.epochs;
      if (d.error) text += " · " + d.error;
      label.textContent = text;
    }
    const badge = document.querySelector("[data-testid=model-status]");
    if (badge) badge.textContent = d.status_label;
    draw(d);
  }

  async function tick() {
    try {
      const r = await fetch(progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.ok) {
        const d = await r.json();
        const was = state.training;
        state = d;
        show(d);
        if (was && !d.training) { window.location.reload(); return; }
      }
    } catch (e) { /* network blip: keep polling */ }
    if (state.training) setTimeout(tick, POLL_MS);
  }

  function start() {
    show(state);
    if (state.training) setTimeout(tick, 300);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
