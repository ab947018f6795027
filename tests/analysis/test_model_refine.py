"""Model post-processing steps and the auto decision, on hand-made label maps."""

from __future__ import annotations

import numpy as np

from analysis.result import Region
from analysis.segment.auto import choose_segmentation, foreground_iou
from analysis.segment.refine import RefineOptions, drop_marks, refine, snap_edges


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A grey 200×200 field with one bright disk (r 20 at 100, 100) and a white scale bar."""
    rng = np.random.default_rng(0)
    grey = 0.3 + rng.normal(0, 0.02, (200, 200))
    yy, xx = np.mgrid[:200, :200]
    disk = (yy - 100) ** 2 + (xx - 100) ** 2 <= 20**2
    grey[disk] = 0.7 + rng.normal(0, 0.02, int(disk.sum()))
    grey[185:190, 140:190] = 1.0  # burned-in scale bar
    return np.clip(grey, 0, 1).astype(np.float32), disk


def test_drop_marks_removes_saturated_bar_near_edge_only() -> None:
    grey, disk = _scene()
    labels = np.zeros((200, 200), np.uint32)
    labels[disk] = 1
    labels[185:190, 140:190] = 2
    out = drop_marks(labels, grey)
    assert set(np.unique(out)) == {0, 1}


def test_drop_marks_clears_data_bar() -> None:
    grey, disk = _scene()
    labels = np.zeros((200, 200), np.uint32)
    labels[disk] = 1
    labels[175:200, 0:30] = 2
    out = drop_marks(labels, grey, data_bar=Region(0, 180, 200, 200))
    assert set(np.unique(out)) == {0, 1}


def test_snap_edges_moves_a_shrunken_mask_to_the_particle_edge() -> None:
    grey, disk = _scene()
    yy, xx = np.mgrid[:200, :200]
    shrunk = (yy - 100) ** 2 + (xx - 100) ** 2 <= 18**2
    labels = shrunk.astype(np.uint32)
    out = snap_edges(labels, grey)
    before = (shrunk & disk).sum() / (shrunk | disk).sum()
    after = ((out == 1) & disk).sum() / ((out == 1) | disk).sum()
    assert before < 0.82 and after > 0.97


def test_refine_keeps_scores_aligned() -> None:
    grey, disk = _scene()
    labels = np.zeros((200, 200), np.uint32)
    labels[185:190, 140:190] = 1
    labels[disk] = 2
    out, scores = refine(labels, np.array([0.4, 0.9], np.float32), grey)
    assert out.max() == 1 and scores.tolist() == [np.float32(0.9)]
    none, s2 = refine(labels, np.array([0.4, 0.9], np.float32), grey, options=RefineOptions.none())
    assert none.max() == 2 and s2.tolist() == [np.float32(0.4), np.float32(0.9)]


def test_auto_prefers_confident_agreeing_model_and_falls_back_otherwise() -> None:
    a = np.zeros((50, 50), np.uint32)
    a[10:20, 10:20] = 1
    b = a.copy()
    assert foreground_iou(a, b) == 1.0
    labels, path, _ = choose_segmentation(a, np.array([0.8]), b)
    assert path == "model" and labels is a
    _, path, reason = choose_segmentation(a, np.array([0.1]), b)
    assert path == "classical" and "unsure" in reason
    _, path, _ = choose_segmentation(np.zeros_like(a), np.zeros(0), b)
    assert path == "classical"
    empty = np.zeros_like(a)
    _, path, _ = choose_segmentation(empty, np.zeros(0), empty)
    assert path == "model"
