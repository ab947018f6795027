"""Size-distribution statistics of a set of particles (one image or a pooled sample).

:func:`summarize` takes plain numbers (equivalent circular diameters, normally in nm) and,
optionally, shape classes, so the web platform can call it on pooled database rows exactly as
the pipeline calls it on one image. Everything returned is JSON-ready (floats, ints, lists,
``None`` where a statistic is undefined, e.g. the SD of one particle).

Conventions: percentiles D10/D50/D90 are *number-weighted* (the fraction of particles, not of
volume as in laser diffraction), with linear interpolation; the SD is the sample SD
(n − 1); the 95 % CI of the mean uses Student's t with n − 1 degrees of freedom; the
log-normal fit is the maximum-likelihood fit with location 0 (``mu``, ``sigma`` of ln d);
histogram bins follow Freedman–Diaconis (width 2·IQR·n^(−1/3)). A sample of at least
:data:`REPRESENTATIVE_MIN_COUNT` particles is flagged representative (the usual lab rule;
ISO 13322-1 discusses the counts needed for a given precision).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy import stats as st

__all__ = [
    "REPRESENTATIVE_MIN_COUNT",
    "display_fields",
    "equal_width_histogram",
    "freedman_diaconis_edges",
    "summarize",
]

REPRESENTATIVE_MIN_COUNT = 250
MAX_HISTOGRAM_BINS = 100  # FD on a few outliers can ask for thousands of bins
LOGNORMAL_CURVE_POINTS = 200  # smooth at any plot width, small in JSON


def summarize(
    values: Iterable[Any],
    classes: Sequence[str] | None = None,
    *,
    unit: str | None = None,
) -> dict[str, Any]:
    """Statistics of a size distribution.

    Parameters
    ----------
    values : iterable of numbers, or of :class:`analysis.result.Particle`
        Sizes (ECD). ``None``, NaN, infinite and non-positive values are dropped and counted
        in ``n_dropped``. When particles are given, their ``ecd_nm`` is used if every particle
        has one, else ``ecd_px`` (and ``unit`` becomes ``"px"``); their classes are counted.
    classes : sequence of str, optional
        Shape class per value (same length as ``values``), for ``class_counts``.
    unit : str, optional
        Unit of the values, copied into the result (``"nm"`` when particles carry nm).

    Returns
    -------
    dict with ``count``, ``n_dropped``, ``unit``, ``mean``, ``sd``, ``median``, ``min``,
    ``max``, ``d10``, ``d50``, ``d90``, ``ci95_mean`` ([low, high]), ``geometric_mean``,
    ``geometric_sd``, ``lognormal`` ({``mu``, ``sigma``, ``median``, ``ks_statistic``,
    ``ks_pvalue``}), ``histogram`` ({``edges``, ``counts``, ``rule``}), ``class_counts``,
    ``representative`` and ``representative_min_count``.
    """
    items = list(values)
    if items and hasattr(items[0], "measurements"):
        items, classes, unit = _from_particles(items)
    if classes is not None and len(classes) != len(items):
        raise ValueError(f"{len(classes)} classes for {len(items)} values")
    raw = np.array([_as_float(v) for v in items], dtype=np.float64)
    ok = np.isfinite(raw) & (raw > 0)
    x = np.sort(raw[ok])
    n = int(x.size)
    class_counts: dict[str, int] = {}
    if classes is not None:
        kept = (c for c, k in zip(classes, ok.tolist(), strict=True) if k)
        class_counts = dict(sorted(Counter(kept).items()))
    out: dict[str, Any] = {
        "count": n,
        "n_dropped": int((~ok).sum()),
        "unit": unit,
        "size_measure": "ecd",
        "mean": None,
        "sd": None,
        "median": None,
        "min": None,
        "max": None,
        "d10": None,
        "d50": None,
        "d90": None,
        "ci95_mean": None,
        "geometric_mean": None,
        "geometric_sd": None,
        "lognormal": None,
        "histogram": {"edges": [], "counts": [], "rule": "freedman-diaconis"},
        "class_counts": class_counts,
        "representative": n >= REPRESENTATIVE_MIN_COUNT,
        "representative_min_count": REPRESENTATIVE_MIN_COUNT,
    }
    if n == 0:
        return out
    mean = float(x.mean())
    d10, d50, d90 = (float(v) for v in np.percentile(x, [10, 50, 90]))
    logs = np.log(x)
    out.update(
        mean=mean,
        median=d50,
        min=float(x[0]),
        max=float(x[-1]),
        d10=d10,
        d50=d50,
        d90=d90,
        geometric_mean=float(math.exp(logs.mean())),
    )
    edges = freedman_diaconis_edges(x)
    counts, _ = np.histogram(x, bins=edges)
    out["histogram"] = {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "rule": "freedman-diaconis",
    }
    if n >= 2:
        sd = float(x.std(ddof=1))
        half = float(st.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        sigma = float(logs.std(ddof=0))  # MLE of the log-normal shape
        mu = float(logs.mean())
        out.update(
            sd=sd,
            ci95_mean=[mean - half, mean + half],
            geometric_sd=float(math.exp(logs.std(ddof=1))),
        )
        lognormal: dict[str, float | None] = {
            "mu": mu,
            "sigma": sigma,
            "median": float(math.exp(mu)),
            "ks_statistic": None,
            "ks_pvalue": None,
        }
        if sigma > 0:
            ks = st.kstest(x, "lognorm", args=(sigma, 0.0, math.exp(mu)))
            lognormal["ks_statistic"] = float(ks.statistic)
            lognormal["ks_pvalue"] = float(ks.pvalue)
        out["lognormal"] = lognormal
    return out


def freedman_diaconis_edges(x: np.ndarray, max_bins: int = MAX_HISTOGRAM_BINS) -> np.ndarray:
    """Histogram bin edges by the Freedman–Diaconis rule (width 2·IQR / n^(1/3)).

    Falls back to one bin when all values are equal or the IQR is 0 with few values, and
    caps the number of bins at ``max_bins`` (widening the bins) so one far outlier does not
    produce thousands of empty bins.
    """
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return np.array([lo - 0.5, hi + 0.5]) if lo > 0.5 else np.array([lo, lo + 1.0])
    q75, q25 = np.percentile(x, [75, 25])
    width = 2.0 * float(q75 - q25) / x.size ** (1.0 / 3.0)
    n_bins = 1 if width <= 0 else math.ceil((hi - lo) / width)
    n_bins = max(1, min(n_bins, max_bins))
    return np.linspace(lo, hi, n_bins + 1)


def _as_float(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _from_particles(particles: list[Any]) -> tuple[list[Any], list[str], str]:
    nm = [p.measurements.get("ecd_nm") for p in particles]
    if all(v is not None for v in nm):
        return nm, [p.shape_class for p in particles], "nm"
    px = [p.measurements.get("ecd_px") for p in particles]
    return px, [p.shape_class for p in particles], "px"


def display_fields(summary: dict[str, Any]) -> dict[str, Any]:
    """What size tables and plots show beside :func:`summarize`'s statistics.

    Returns ``span`` ((D90 − D10) / D50), ``ci95_rel`` (half-width of the 95 % CI of the mean
    relative to the mean) and ``histogram``: the summary's histogram plus the fitted log-normal
    density over its range, scaled to counts per bin (``fit_x``, ``fit_y``; empty when there
    is no fit), so a page can draw the curve over the bars without redoing the fit.
    """
    mean, d10, d50, d90 = (summary.get(k) for k in ("mean", "d10", "d50", "d90"))
    ci = summary.get("ci95_mean")
    hist = dict(summary.get("histogram") or {})
    hist.update(_lognormal_curve(hist, summary.get("lognormal"), summary.get("count") or 0))
    return {
        "span": (d90 - d10) / d50 if d50 and d10 is not None and d90 is not None else None,
        "ci95_rel": (ci[1] - ci[0]) / 2 / mean if ci and mean else None,
        "histogram": hist,
    }


def _lognormal_curve(
    hist: dict[str, Any], fit: dict[str, Any] | None, count: int
) -> dict[str, list[float]]:
    edges = hist.get("edges") or []
    if not fit or len(edges) < 2 or not fit.get("sigma"):
        return {"fit_x": [], "fit_y": []}
    mu, sigma = fit["mu"], fit["sigma"]
    x = np.linspace(max(edges[0], 1e-9), edges[-1], LOGNORMAL_CURVE_POINTS)
    pdf = np.exp(-((np.log(x) - mu) ** 2) / (2 * sigma**2)) / (x * sigma * math.sqrt(2 * math.pi))
    width = (edges[-1] - edges[0]) / (len(edges) - 1)
    return {"fit_x": x.tolist(), "fit_y": (pdf * count * width).tolist()}


def equal_width_histogram(
    values: Iterable[float], bins: int = 20
) -> list[tuple[float, float, int]]:
    """``bins`` equal-width bins over the range of ``values`` as (low, high, count) rows, for
    fixed-size printed charts (reports) where Freedman–Diaconis' variable bin count does not
    fit; a single value gives one bin of width 1 starting at it."""
    x = np.asarray([float(v) for v in values], dtype=float)
    if x.size == 0:
        return []
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        hi = lo + bins  # every value falls in the first bin, each bin 1 wide
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    return [(float(edges[i]), float(edges[i + 1]), int(c)) for i, c in enumerate(counts)]
