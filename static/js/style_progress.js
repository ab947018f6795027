// Style page: live training progress. Reads the initial state from #style-progress-data,
// polls its progress URL while the style is queued or learning, updates the label and the
// latest sample sheet (textContent and src only), and reloads the page once the training
// ends or while a generation runs (so the Generate form and the sample link appear).
(function () {
  "use strict";
  const POLL_MS = 1500;
  const tag = document.getElementById("style-progress-data");
  if (!tag) return;
  const state = JSON.parse(tag.textContent);
  const running = document.querySelector("[data-testid=generation-status]");
  const generating = running && /Queued|Running/.test(running.textContent);
  if (!state.training && !generating) return;

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
  window.setTimeout(tick, POLL_MS);
})();
