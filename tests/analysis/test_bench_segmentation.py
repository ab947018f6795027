"""The issue-9 bench's pieces: the ImageJ-style baseline and the met/not-met table."""

from __future__ import annotations

import cv2
import numpy as np

from analysis.result import Region
from benchmarks.engine import segmentation as bench


def test_baseline_crops_the_band_splits_touching_discs_and_drops_edge_particles():
    grey = np.full((120, 200), 0.2, np.float32)
    for x, y in [(50, 50), (78, 50), (150, 40), (195, 60)]:
        cv2.circle(grey, (x, y), 15, 0.8, -1)
    grey[100:] = 1.0  # a white data band that Otsu would otherwise take for particles
    labels = bench.baseline_labels(grey, Region(0, 100, 200, 120))
    assert labels.max() == 3  # two touching discs split, the edge disc dropped
    assert not labels[100:].any()


def test_baseline_picks_the_phase_as_imagej_does_dark_particles_on_bright_support():
    grey = np.full((120, 200), 0.8, np.float32)  # the histogram mode: the bright support
    for x, y in [(50, 50), (120, 50)]:
        cv2.circle(grey, (x, y), 15, 0.2, -1)
    assert bench.baseline_labels(grey, None).max() == 2


def test_summary_table_says_met_only_when_auto_beats_both():
    def rep(pq, n_true=10, n_pred=10):
        return {"overall": {"pq": pq, "n_true": n_true, "n_pred": n_pred, "paths": ["model"]}}

    report = {
        "a": {"baseline": rep(0.5), "classical": rep(0.6), "model": rep(0.7), "auto": rep(0.65)},
        "b": {"baseline": rep(0.7), "classical": rep(0.6), "model": rep(0.7), "auto": rep(0.65)},
        "empty": {m: rep(1.0, 0, 0) for m in bench.METHODS},
    }
    table = bench.summary_table(report, bench.METHODS).splitlines()
    assert "| met |" in table[2] and "NOT met" in table[3] and "| met |" in table[4]
