"""Choose the model's score threshold on the validation split (recorded in the sidecar).

Inference runs once at a low threshold; higher thresholds are applied afterwards by dropping
instances, so a sweep costs one pass over the images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis import metrics
from analysis.evaluate import Sample
from analysis.segment.refine import refine


def drop_below(
    labels: np.ndarray, scores: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Remove instances scoring below ``threshold``; the rest renumbered 1..N in order."""
    keep = scores >= threshold
    lut = np.zeros(scores.size + 1, np.uint32)
    lut[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
    return lut[labels], scores[keep]


def sweep_conf(
    samples: Sequence[Sample],
    model: Any,
    thresholds: Sequence[float] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5),
) -> dict[float, dict[str, float]]:
    """Pooled F1 and PQ of model+post at each threshold."""
    low = min(thresholds)
    saved = model.options.conf
    model.options.conf = low
    raw = [(s, *model.segment(s.grey, s.region)) for s in samples]
    model.options.conf = saved
    out: dict[float, dict[str, float]] = {}
    for t in thresholds:
        total = metrics.MatchCounts()
        for s, lab, sc in raw:
            lab_t, sc_t = drop_below(lab, sc, t)
            lab_r, _ = refine(lab_t, sc_t, s.grey, region=s.region, data_bar=s.data_bar)
            total = total + metrics.match_counts(s.truth, lab_r, 0.5)
        out[float(t)] = {"f1": total.f1, "pq": total.pq}
    return out
