// Style page: live training progress. Reads the initial state from #style-progress-data,
// draws the discriminator / generator loss curves with Plotly (served by the app, as on the
// model card), polls the progress URL while the style is queued or learning, updates the
// label, the curves and the latest sample sheet (textContent and src only), and reloads the
// page once the training ends or while a generation runs (so the forms and links appear).
(function () {
  "use strict";
  const POLL_MS = 1500;
  const tag = document.getElementById("style-progress-data");
  if (!tag) return;
  const state = JSON.parse(tag.textContent);
  const running = document.querySelector("[data-testid=generation-status]");
  const generating = running && /Queued|Running/.test(running.textContent);
  // [key in a history row, legend, axis]: discriminator hinge terms and the generator's
  // adversarial term on the left; the generator's reconstruction-type terms on the right.
  const CURVES = [
    ["d_real", "D real (hinge)", "y"],
    ["d_fake", "D fake (hinge)", "y"],
    ["g_adv", "G adversarial", "y"],
    ["g_fm", "G feature matching", "y2"],
    ["g_lowpass", "G low-pass", "y2"],
    ["g_ms", "G mode seeking", "y2"],
  ];

  function draw(d) {
    const el = document.getElementById("style-curve");
    if (!el || !window.Plotly || !d.history.length) return;
    el.hidden = false;
    const traces = [];
    CURVES.forEach(([key, name, axis]) => {
      const x = [], y = [];
      d.history.forEach((h) => {
        if (typeof h[key] === "number") { x.push(h.step); y.push(h[key]); }
      });
      if (x.length) traces.push({ name, x, y, yaxis: axis, mode: x.length > 60 ? "lines" : "lines+markers" });
    });
    window.Plotly.react(el, traces, {
      height: 280, margin: { t: 10, r: 60, b: 40, l: 50 },
      xaxis: { title: { text: "step" } },
      yaxis: { title: { text: "adversarial" } },
      yaxis2: { title: { text: "reconstruction" }, overlaying: "y", side: "right" },
      legend: { orientation: "h" },
    }, { displayModeBar: false, responsive: true });
  }

  function show(d) {
    const label = document.querySelector("[data-testid=style-label]");
    if (label) {
      let text = d.status_label + (d.training && d.stage ? " · " + d.stage : "");
      text += " · step " + d.step + (d.max_steps ? " of " + d.max_steps : "");
      if (d.error) text += " · " + d.error;
      label.textContent = text;
    }
    const badge = document.querySelector("[data-testid=style-status]");
    if (badge) badge.textContent = d.status_label;
    const last = d.samples[d.samples.length - 1];
    const img = document.querySelector("[data-testid=style-sample]");
    if (img && last && img.getAttribute("src") !== last.url) {
      img.src = last.url;
      img.hidden = false;
      const cap = document.querySelector("[data-testid=style-sample-caption]");
      if (cap) cap.textContent = "Step " + last.step + ": real | mask | two paintings of the same mask";
    }
    draw(d);
  }

  async function tick() {
    try {
      const r = await fetch(state.progress_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.ok) {
        const d = await r.json();
        show(d);
        if ((state.training && !d.training) || generating) { window.location.reload(); return; }
      }
    } catch (e) { /* the next poll tries again */ }
    window.setTimeout(tick, POLL_MS);
  }

  function start() {
    draw(state);
    if (state.training || generating) window.setTimeout(tick, POLL_MS);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
