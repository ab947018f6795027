"""``--method auto``: per image, keep the model's result only when it is trustworthy.

The model wins where it is confident and broadly agrees with thresholding about where the
particles are (it then separates touching particles and ignores marks better); when it is
unsure, finds nothing that thresholding clearly sees, or disagrees strongly without high
confidence, the classical result is kept. The reason is recorded with the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AutoThresholds:
    """Decision thresholds (chosen on the EMPS validation split; see MODEL_CARD.md)."""

    min_mean_score: float = 0.35
    min_foreground_iou: float = 0.2
    confident_score: float = 0.5
    empty_coverage: float = 0.005  # classical foreground fraction still called "nothing"


def foreground_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the particle/background masks of two label maps (1.0 when both are empty)."""
    fa, fb = a > 0, b > 0
    union = int((fa | fb).sum())
    return float((fa & fb).sum()) / union if union else 1.0


def choose_segmentation(
    model_labels: np.ndarray,
    model_scores: np.ndarray,
    classical_labels: np.ndarray,
    thresholds: AutoThresholds | None = None,
) -> tuple[np.ndarray, str, str]:
    """Pick the model's or the classical labels for one image.

    Returns ``(labels, path_name, reason)`` where ``path_name`` is ``"model"`` or
    ``"classical"``.
    """
    t = thresholds or AutoThresholds()
    n_model = int(np.asarray(model_scores).size)
    classical_cover = float((classical_labels > 0).mean()) if classical_labels.size else 0.0
    if n_model == 0:
        if classical_cover <= t.empty_coverage:
            return model_labels, "model", "both find (almost) nothing"
        return classical_labels, "classical", "model found no particles"
    mean_score = float(np.mean(model_scores))
    if mean_score < t.min_mean_score:
        return classical_labels, "classical", f"model unsure (mean score {mean_score:.2f})"
    agree = foreground_iou(model_labels, classical_labels)
    if agree >= t.min_foreground_iou:
        return model_labels, "model", f"model agrees with thresholding (fg IoU {agree:.2f})"
    if mean_score >= t.confident_score:
        return (
            model_labels,
            "model",
            (f"model confident (mean score {mean_score:.2f}) despite low fg IoU {agree:.2f}"),
        )
    return (
        classical_labels,
        "classical",
        (f"model and thresholding disagree (fg IoU {agree:.2f}, mean score {mean_score:.2f})"),
    )
