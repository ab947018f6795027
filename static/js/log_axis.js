// "log size axis" toggles: <input type="checkbox" data-log-axis="chart-id"> switches that Plotly
// chart's x axis between linear and log, and keeps the choice when the chart is redrawn (the
// review page redraws its histogram after every edit).
(function () {
  "use strict";
  const apply = (box) => {
    const chart = document.getElementById(box.dataset.logAxis);
    if (!chart || !chart.layout || !window.Plotly) return;
    const want = box.checked ? "log" : "linear";
    if ((chart.layout.xaxis || {}).type !== want) Plotly.relayout(chart, { "xaxis.type": want, "xaxis.autorange": true });
  };
  const wire = (box) => {
    const chart = document.getElementById(box.dataset.logAxis);
    box.addEventListener("change", () => apply(box));
    if (chart && chart.on) chart.on("plotly_afterplot", () => apply(box));
    else if (chart) setTimeout(() => wire(box), 300);  // the chart is not drawn yet
  };
  window.addEventListener("load", () => document.querySelectorAll("[data-log-axis]").forEach(wire));
})();
