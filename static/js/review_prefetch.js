// Start the particle and statistics downloads now, in parallel with plotly.min.js; review.js
// picks them up. The URLs come from this script tag's data attributes (no inline script: CSP).
(function () {
  const tag = document.currentScript;
  const get = (url) => fetch(url, { credentials: "same-origin" }).then((r) => r.json());
  window.__reviewPrefetch = { particles: get(tag.dataset.particles), stats: get(tag.dataset.stats) };
})();
