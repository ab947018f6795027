"""Evaluation: exact per-image figures and the side-by-side runner with a stand-in model."""

from __future__ import annotations

import numpy as np

from analysis.evaluate import Sample, image_metrics, mean_best_iou, run_methods


def _two_squares() -> np.ndarray:
    t = np.zeros((40, 40), np.int64)
    t[2:12, 2:12] = 1
    t[20:30, 20:30] = 2
    return t


def test_image_metrics_exact() -> None:
    truth = _two_squares()
    pred = np.zeros_like(truth)
    pred[2:12, 2:12] = 5  # exact match
    pred[20:30, 20:25] = 7  # IoU 0.5 exactly: matches at >= 0.5
    pred[35:38, 35:38] = 9  # false positive
    m = image_metrics(truth, pred)
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 0)
    assert m["f1"] == 0.8
    assert m["count_error"] == 0.5
    assert m["mean_best_iou"] == 0.75


def test_mean_best_iou_without_predictions_is_zero() -> None:
    assert mean_best_iou(_two_squares(), np.zeros((40, 40), np.int64)) == 0.0


class _Oracle:
    """Stands in for the model: returns the truth it was given."""

    def __init__(self, truth: np.ndarray) -> None:
        self.truth = truth

    def segment(self, grey, region=None):  # noqa: ANN001, ANN201
        return self.truth.astype(np.uint32), np.array([0.9, 0.8], np.float32)


def test_run_methods_side_by_side() -> None:
    truth = _two_squares()
    grey = np.where(truth > 0, 0.8, 0.2).astype(np.float32)
    reports = run_methods(
        [Sample("sq", grey, truth)], ["classical", "model", "model+post"], model=_Oracle(truth)
    )
    assert reports["model"].overall["f1"] == 1.0
    assert reports["model"].overall["ap50"] == 1.0
    assert reports["model+post"].overall["pq"] == 1.0
    assert reports["classical"].per_image[0]["n_true"] == 2
