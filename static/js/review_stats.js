// Sample histogram (pooled, with log-normal fit) and project comparison (overlaid densities).
(function () {
  "use strict";
  const cfgPlot = { displaylogo: false, responsive: true };
  const sample = document.getElementById("sample-chart");
  if (sample) {
    const h = JSON.parse(sample.textContent).histogram;
    const x = [], w = [];
    for (let i = 0; i < h.counts.length; i++) { x.push((h.edges[i] + h.edges[i + 1]) / 2); w.push(h.edges[i + 1] - h.edges[i]); }
    const traces = [{ type: "bar", x, y: h.counts, width: w, name: "pooled", marker: { color: "#60a5fa" } }];
    if (h.fit_x.length) traces.push({ type: "scatter", mode: "lines", x: h.fit_x, y: h.fit_y, name: "log-normal fit", line: { color: "#dc2626" } });
    Plotly.newPlot("sample-histogram", traces, { height: 320, margin: { l: 45, r: 10, t: 10, b: 45 },
      xaxis: { title: { text: "ECD (nm)" } }, yaxis: { title: { text: "count" } }, bargap: 0.02 }, cfgPlot);
  }
  const compare = document.getElementById("compare-data");
  if (compare) {
    const series = JSON.parse(compare.textContent);
    const traces = series.map((s) => ({ type: "histogram", x: s.values, name: `${s.name} (n=${s.values.length})`,
      histnorm: "probability density", opacity: 0.5, nbinsx: 40 }));
    Plotly.newPlot("compare-chart", traces, { barmode: "overlay", height: 400, margin: { l: 50, r: 10, t: 10, b: 45 },
      xaxis: { title: { text: "ECD (nm)" } }, yaxis: { title: { text: "density" } } }, cfgPlot);
  }
})();
