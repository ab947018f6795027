"""Classical segmentation and the shared post-processing steps."""

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

from analysis.result import Region
from analysis.segment import postprocess as pp
from analysis.segment.classical import (
    choose_threshold,
    component_features,
    reject_non_particles,
    segment_classical,
)


def _scene(bright: bool, noise: float = 0.03, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey image with 2 touching discs, 2 free discs and 1 disc cut by the border."""
    m = np.zeros((200, 300), np.uint8)
    cv2.circle(m, (60, 60), 25, 1, -1)
    cv2.circle(m, (100, 60), 20, 1, -1)  # touches the first (neck)
    cv2.circle(m, (200, 60), 18, 1, -1)
    cv2.circle(m, (150, 140), 22, 1, -1)
    cv2.circle(m, (295, 150), 15, 1, -1)  # cut by the right border
    rng = np.random.default_rng(seed)
    fg, bg = (0.8, 0.2) if bright else (0.2, 0.8)
    grey = np.where(m > 0, fg, bg) + rng.normal(0, noise, m.shape)
    return np.clip(grey, 0, 1).astype(np.float32), m


@pytest.mark.parametrize("bright", [True, False])
def test_polarity_detected_and_touching_discs_split(bright):
    grey, _ = _scene(bright)
    seg = segment_classical(grey)
    assert seg.polarity == ("bright" if bright else "dark")
    assert seg.labels.dtype == np.uint16 and seg.labels.shape == grey.shape
    assert seg.labels.max() == 5
    # The two touching discs end up as two particles of about their own areas.
    left, right = seg.labels[60, 60], seg.labels[60, 104]
    assert left != right and left > 0 and right > 0
    assert (seg.labels == left).sum() == pytest.approx(np.pi * 25**2, rel=0.1)
    assert (seg.labels == right).sum() == pytest.approx(np.pi * 20**2, rel=0.15)


def test_no_split_keeps_touching_discs_together():
    grey, _ = _scene(True)
    seg = segment_classical(grey, split_touching=False)
    assert seg.labels.max() == 4
    assert seg.labels[60, 60] == seg.labels[60, 104]


def test_forced_polarity_inverts():
    grey, m = _scene(True)
    seg = segment_classical(grey, polarity="dark")
    assert seg.polarity == "dark"
    assert seg.labels[m == 0].astype(bool).mean() > 0.5  # the substrate became "particles"


def test_border_particles_removed_and_region_respected():
    grey, _ = _scene(True)
    seg = segment_classical(grey)
    kept = pp.remove_border_touching(seg.labels, None)
    assert np.unique(kept[kept > 0]).size == 4
    assert kept[150, 292] == 0
    # A region ending at row 100 cuts the disc centred at (150, 140).
    region = Region(0, 0, 300, 120)
    seg = segment_classical(grey, region)
    assert seg.labels[120:].max() == 0
    kept = pp.remove_border_touching(seg.labels, region)
    assert np.unique(kept[kept > 0]).size == 3


def test_threshold_choice_explained():
    rng = np.random.default_rng(1)
    balanced = np.where(rng.random((100, 100)) < 0.4, 200, 50).astype(np.uint8)
    assert choose_threshold(balanced).method == "otsu"
    sparse = np.where(rng.random((100, 100)) < 0.05, 200, 50).astype(np.uint8)
    assert choose_threshold(sparse).method == "li"
    # A substrate with heavy-tailed noise and no second phase: no global valley.
    flat = (128 + 8 * rng.standard_t(2, (100, 100))).clip(0, 255).astype(np.uint8)
    choice = choose_threshold(flat)
    assert choice.method == "adaptive" and "not bimodal" in choice.reason


def test_deterministic():
    grey, _ = _scene(False, seed=3)
    a, b = segment_classical(grey), segment_classical(grey)
    assert np.array_equal(a.labels, b.labels)


def test_fill_holes_only_single_owner():
    lab = np.zeros((20, 30), np.int32)
    lab[2:10, 2:10] = 1
    lab[5:7, 5:7] = 0  # hole inside particle 1
    lab[2:10, 12:16] = 2
    lab[2:10, 17:21] = 3
    lab[2, 16] = lab[9, 16] = 2  # a gap enclosed by 2 and 3 together
    out = pp.fill_holes(lab)
    assert (out[5:7, 5:7] == 1).all()
    assert (out[3:9, 16] == 0).all()


def test_remove_small_and_relabel():
    lab = np.zeros((10, 10), np.int32)
    lab[0:3, 0:3] = 7
    lab[5, 5] = 3
    lab[8:10, 8:10] = 9
    out = pp.relabel_sequential(pp.remove_small(lab, 4))
    assert out.dtype == np.uint16
    assert out[0, 0] == 1 and out[9, 9] == 2 and out[5, 5] == 0


def test_relabel_sequential_switches_to_uint32():
    lab = np.arange(70000, dtype=np.int64).reshape(350, 200)
    assert pp.relabel_sequential(lab).dtype == np.uint32


def test_split_respects_existing_labels():
    lab = np.zeros((40, 80), np.int32)
    lab[10:30, 10:40] = 1
    lab[10:30, 40:70] = 2  # touching but already separate: never merged
    out = pp.split_touching(lab)
    assert np.unique(out[out > 0]).size == 2
    assert out[20, 39] != out[20, 40]


def test_large_touching_discs_split_on_the_coarse_grid():
    # Each disc ~15 000 px, so the blob is flooded at half resolution.
    m = np.zeros((300, 500), np.uint8)
    cv2.circle(m, (150, 150), 70, 1, -1)
    cv2.circle(m, (330, 150), 60, 1, -1)
    cv2.rectangle(m, (215, 140), (275, 160), 1, -1)  # a 21 px neck between them
    lab, _ = ndi.label(m)
    out = pp.split_touching(lab)
    left, right = out[150, 150], out[150, 330]
    assert np.unique(out[out > 0]).size == 2 and left != right
    # The neck holds a third, shallow distance peak: it must join one side, not bridge both.
    row = out[150]
    cut = int(np.flatnonzero(row == right)[0])
    assert 215 <= cut <= 276
    assert (out == left).sum() == pytest.approx(np.pi * 70**2 + 30 * 21, rel=0.05)


def test_remove_overlapping_drops_only_mostly_covered_particles():
    labels = np.zeros((20, 20), np.uint16)
    labels[0:4, 0:10] = 1  # 40 px, 10 inside the box below (25 %)
    labels[10:20, 0:10] = 2  # 100 px, 10 inside (10 %)
    labels[10:20, 12:20] = 3  # untouched
    box = Region(0, 3, 20, 11)
    out, n = pp.remove_overlapping(labels, [box], 0.2)
    assert n == 1
    assert sorted(np.unique(out).tolist()) == [0, 2, 3]
    assert pp.remove_overlapping(labels, [], 0.2)[1] == 0


def test_text_component_rejected_before_split():
    grey, _ = _scene(True)
    # A pure-white "o" (3 px stroke, counter filled by hole filling): ink, not a particle.
    ring = np.zeros(grey.shape, np.uint8)
    cv2.circle(ring, (40, 160), 14, 1, 3)
    grey[ring > 0] = 1.0
    seg = segment_classical(grey)
    assert seg.rejected == {"low_contrast": 0, "text_like": 1, "ragged": 0}
    assert seg.labels[160, 40 - 14] == 0 and seg.labels[160, 40] == 0
    assert seg.labels.max() == 5  # the five discs of the scene, nothing else
    assert seg.describe()["rejected_components"] == seg.rejected


def test_component_contrast_against_its_ring():
    u8 = np.full((40, 60), 90, np.uint8)
    labels = np.zeros(u8.shape, np.int32)
    labels[10:20, 10:20], u8[10:20, 10:20] = 1, 100  # 10 levels above its surroundings
    labels[10:20, 35:45], u8[10:20, 35:45] = 2, 200
    grey = u8 / 255.0
    f = component_features(labels, u8, grey)
    assert f["contrast"][1:].tolist() == pytest.approx([10.0, 110.0])
    kept, counts = reject_non_particles(labels, u8, grey)
    assert counts == {"low_contrast": 1, "text_like": 0, "ragged": 0}
    assert np.unique(kept).tolist() == [0, 2]
