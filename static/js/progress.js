// Live progress bars: every element .run-progress[data-progress-url] polls its small JSON
// endpoint until the run finishes (queued/running → succeeded/failed/cancelled).
(function () {
  "use strict";
  if (window.semwebWatchProgress) return; // included once per bar; one poller per page
  const POLL_MS = 1000;
  const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

  async function poll(el) {
    try {
      const r = await fetch(el.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) return true;
      const d = await r.json();
      const bar = el.querySelector("progress");
      const label = el.querySelector(".run-progress-label");
      const link = el.querySelector(".run-progress-link");
      bar.value = d.status === "succeeded" ? 1 : d.progress;
      let text = d.status_label + (d.stage && !d.finished ? " · " + d.stage : "");
      if (d.status === "succeeded") text += " · " + d.particle_count + " particles";
      if (d.error) text += " · " + d.error;
      label.textContent = text;
      const was = el.dataset.status;
      el.dataset.status = d.status;
      if (link) link.hidden = d.status !== "succeeded";
      if (FINISHED.has(d.status)) {
        if (!FINISHED.has(was) && el.dataset.reloadOnFinish) window.location.reload();
        return false;
      }
      return true;
    } catch (e) {
      return true; // network blip: keep polling
    }
  }

  function start() {
    // Rows replaced after an upload bring new bars: watch each element once.
    const bars = Array.from(document.querySelectorAll(".run-progress[data-progress-url]"))
      .filter((el) => !FINISHED.has(el.dataset.status) && !el.dataset.watched);
    bars.forEach((el) => { el.dataset.watched = "1"; });
    if (!bars.length) return;
    let active = bars;
    const tick = async () => {
      const keep = await Promise.all(active.map(poll));
      active = active.filter((_, i) => keep[i]);
      if (active.length) setTimeout(tick, POLL_MS);
    };
    setTimeout(tick, 300);
  }
  window.semwebWatchProgress = start;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
