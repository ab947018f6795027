"""Browser-side helpers shared by the review-page e2e tests (tests/e2e is on sys.path)."""

from __future__ import annotations

# Screen coordinates of a particle's marker (its centre) on the Plotly overlay, by the
# particle's index: the last trace holds one marker per particle, customdata = index.
PARTICLE_XY = """(index) => {
  const el = document.getElementById('overlay');
  const fl = el._fullLayout, tr = el.data[el.data.length - 1];
  const i = tr.customdata.indexOf(index), r = el.getBoundingClientRect();
  return {x: r.left + fl.xaxis._offset + fl.xaxis.l2p(tr.x[i]),
          y: r.top + fl.yaxis._offset + fl.yaxis.l2p(tr.y[i])};
}"""

# POST a reject through the page's own session and CSRF token; resolves to the HTTP status.
POST_REJECT = """async (url) => (await fetch(url, {method: 'POST', headers: {
     'Content-Type': 'application/json',
     'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
     body: JSON.stringify({indices: [1], accepted: false})})).status"""


def logout(page) -> None:
    page.click("header form button[type=submit]")


def n_accepted(page) -> int:
    return int(page.locator("[data-testid=n-accepted]").inner_text())


# The index of the particle whose marker is farthest (on screen) from any other marker, so a
# click on its centre cannot land on a neighbour.
ISOLATED_PARTICLE = """() => {
  const el = document.getElementById('overlay');
  const fl = el._fullLayout, tr = el.data[el.data.length - 1];
  const xs = tr.x.map((v) => fl.xaxis.l2p(v)), ys = tr.y.map((v) => fl.yaxis.l2p(v));
  let best = -1, bestD = -1;
  for (let i = 0; i < xs.length; i++) {
    let d = Infinity;
    for (let j = 0; j < xs.length; j++) {
      if (j !== i) d = Math.min(d, Math.hypot(xs[i] - xs[j], ys[i] - ys[j]));
    }
    if (d > bestD) { bestD = d; best = i; }
  }
  return tr.customdata[best];
}"""
