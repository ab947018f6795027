"""Scale-normalised inference, adaptive floors, touching-particle boundaries, and auto's
quality signals (issue 9), each on hand-made arrays with exact answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

from analysis.result import Region
from analysis.segment import auto, postprocess, tiling
from analysis.segment.refine import reshape_touching


class ThresholdModel:
    """A stand-in network: every connected bright blob of a tile is one instance (score 0.9).

    It records the tile shapes it was given, so the zoom can be checked.
    """

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []
        self.calls = 0

    def predict_tiles(self, tiles, imgsz):
        self.calls += 1
        out = []
        for t in tiles:
            self.shapes.append(t.shape[:2])
            lab, n = ndi.label(t[:, :, 0] > 127)
            masks = (
                np.stack([lab == k for k in range(1, n + 1)])
                if n
                else np.zeros((0, *t.shape[:2]), bool)
            )
            out.append((masks, np.full(n, 0.9, np.float32)))
        return out


def _discs(shape, centres, radius):
    img = np.zeros(shape, np.float32)
    for x, y in centres:
        cv2.circle(img, (x, y), radius, 1.0, -1)
    return img


def test_plan_passes_zooms_each_population_to_the_target():
    (one,) = tiling.plan_passes((8.0,), 32.0)
    assert one.zoom == 4.0
    small, large = tiling.plan_passes((200.0, 8.0), 32.0, bimodal=True)
    assert (small.zoom, large.zoom) == (4.0, 0.16)
    assert small.max_diameter_px == large.min_diameter_px == pytest.approx(40.0)
    assert tiling.plan_passes((1000.0,), 32.0)[0].zoom == 1 / 16  # clipped


def test_tiny_particles_are_upsampled_and_mapped_back_exactly():
    centres = [(x, y) for x in range(10, 200, 20) for y in range(10, 140, 20)]
    grey = _discs((150, 200), centres, 3)  # 7-px discs
    model = ThresholdModel()
    passes = tiling.plan_passes((7.0,), 32.0)
    labels, scores, info = tiling.segment_normalised(model, grey, None, passes, imgsz=128)
    assert labels.max() == len(centres) == scores.size
    truth, _ = ndi.label(grey > 0.5)
    iou = [
        ((labels == labels[y, x]) & (truth == truth[y, x])).sum()
        / ((labels == labels[y, x]) | (truth == truth[y, x])).sum()
        for x, y in centres
    ]
    assert min(iou) > 0.7
    assert max(max(s) for s in model.shapes) <= 128  # tiles reach the network at imgsz
    assert info["zooms"] == [4.0]  # 32 / 7 capped at 4


def test_large_particles_are_downsampled_into_one_pass_and_never_cut():
    grey = _discs((700, 900), [(250, 300), (640, 380)], 150)  # 300-px discs
    model = ThresholdModel()
    labels, _, info = tiling.segment_normalised(
        model, grey, Region(0, 0, 900, 700), tiling.plan_passes((300.0,), 32.0), imgsz=128
    )
    assert labels.max() == 2 and info["tiles"] == 1
    for x, y in [(250, 300), (640, 380)]:
        got = labels == labels[y, x]
        want = _discs((700, 900), [(x, y)], 150) > 0.5
        assert (got & want).sum() / (got | want).sum() > 0.95


def test_seams_do_not_cut_particles():
    # 40-px discs, zoom 1 (target 40): tiles of 96 px with a 3-diameter overlap capped at half.
    centres = [(x, y) for x in range(30, 400, 60) for y in range(30, 300, 60)]
    grey = _discs((320, 420), centres, 20)
    labels, _, _ = tiling.segment_normalised(
        ThresholdModel(), grey, None, tiling.plan_passes((40.0,), 40.0), imgsz=96, target_px=40.0
    )
    assert labels.max() == len(centres)


@pytest.mark.parametrize(
    ("diameter", "expected"), [(5.0, 4.0), (32.0, 72.38), (None, 50.0), (250.0, 4417.86)]
)
def test_area_floor_follows_the_scale(diameter, expected):
    assert postprocess.adaptive_min_area_px(diameter) == pytest.approx(expected, abs=0.01)


def test_unsure_scale_never_raises_the_floor_above_the_fixed_one():
    assert postprocess.adaptive_min_area_px(250.0, confidence=0.2) == 50.0


def test_split_follows_the_scale():
    assert postprocess.split_params(6.0)["h_px"] == 0.5
    assert postprocess.split_params(48.0)["h_px"] == 2.0
    assert postprocess.split_params(None) == {"h_px": 2.0, "min_peak_px": 2.0, "peak_window_px": 5}


def test_touching_boundary_moves_to_the_image_edge_not_a_straight_cut():
    # Two touching discs; the image shows a dark gap line at x = 60 between them, but the
    # instances were split at x = 50 (a straight cut through the left disc).
    grey = np.full((80, 120), 0.2, np.float32)
    cv2.circle(grey, (35, 40), 26, 0.8, -1)
    cv2.circle(grey, (86, 40), 26, 0.8, -1)
    grey[:, 60] = 0.2
    fg = grey > 0.5
    fg[:, 60] = fg[:, 59] | fg[:, 61]
    labels = np.zeros(grey.shape, np.int64)
    labels[fg & (np.arange(120)[None, :] < 50)] = 1
    labels[fg & (np.arange(120)[None, :] >= 50)] = 2
    out = reshape_touching(labels, grey)
    assert set(np.unique(out)) == {0, 1, 2}
    cols_2 = np.flatnonzero((out == 2).any(axis=0))
    assert 58 <= cols_2.min() <= 62  # the boundary now follows the gap


def _blobs(shape, centres, radius):
    lab = np.zeros(shape, np.int32)
    for k, (x, y) in enumerate(centres, start=1):
        cv2.circle(lab, (x, y), radius, k, -1)
    return lab.astype(np.int64)


def test_noise_blobs_at_the_floor_are_recognised():
    tiny = _blobs((200, 200), [(x, y) for x in range(5, 200, 12) for y in range(5, 200, 12)], 1)
    s = auto.signals(tiny, floor_px=5.0, diameter_px=30.0, confidence=0.9)
    assert s.noise_like and not s.scale_consistent


def test_auto_keeps_the_image_empty_when_nothing_stands_above_the_noise():
    noise = _blobs((100, 100), [(20, 20), (70, 70)], 6)
    d = auto.decide(
        np.zeros((100, 100), np.uint32),
        np.zeros(0, np.float32),
        noise,
        floor_px=50.0,
        diameter_px=None,
        confidence=0.0,
        scale_found=False,
    )
    assert d.path == "empty" and d.labels.max() == 0


@pytest.mark.parametrize(("n_blobs", "path"), [(12, "classical"), (2, "empty")])
def test_auto_takes_classical_when_the_model_finds_nothing_only_for_a_population(n_blobs, path):
    centres = [(15 + 25 * (k % 4), 15 + 25 * (k // 4)) for k in range(n_blobs)]
    classical = _blobs((100, 100), centres, 8)
    d = auto.decide(
        np.zeros((100, 100), np.uint32),
        np.zeros(0, np.float32),
        classical,
        floor_px=10.0,
        diameter_px=16.0,
        confidence=0.9,
    )
    assert d.path == path
    assert d.labels.max() == (n_blobs if path == "classical" else 0)


def test_merge_takes_classical_outlines_where_they_agree_and_adds_missed_particles():
    model = _blobs((120, 120), [(30, 30), (80, 30), (30, 80)], 10)
    model[model == 1] = 0
    model[_blobs((120, 120), [(30, 30)], 11) > 0] = 1  # a slightly fat outline (IoU 0.83)
    classical = _blobs((120, 120), [(30, 30), (80, 30), (30, 80), (85, 85)], 10)
    labels, scores, counts = auto.merge_outlines(
        model.astype(np.uint32), np.array([0.9, 0.8, 0.7], np.float32), classical, add_missed=True
    )
    assert counts == {"outlines_from_classical": 3, "added_from_classical": 1}
    assert labels.max() == 4 and scores.size == 4
    assert ((labels > 0) == (classical > 0)).all()


def test_the_outline_with_the_higher_rim_contrast_wins_per_particle():
    grey = np.full((100, 160), 0.2, np.float32)
    cv2.circle(grey, (40, 50), 20, 0.8, -1)
    cv2.circle(grey, (115, 50), 20, 0.8, -1)
    true_left, true_right = _blobs((100, 160), [(40, 50)], 20), _blobs((100, 160), [(115, 50)], 20)
    # The model is 3 px too fat on the left particle, exact on the right one; thresholding
    # is exact on the left and 3 px too fat on the right.
    model = np.where(_blobs((100, 160), [(40, 50)], 23) > 0, 1, 0)
    model[true_right > 0] = 2
    classical = np.where(true_left > 0, 1, 0)
    classical[_blobs((100, 160), [(115, 50)], 23) > 0] = 2
    labels, _, counts = auto.merge_outlines(
        model.astype(np.uint32),
        np.array([0.9, 0.9], np.float32),
        classical,
        add_missed=False,
        grey=grey,
    )
    assert counts["outlines_from_classical"] == 1
    assert ((labels > 0) == ((true_left > 0) | (true_right > 0))).all()


def test_rim_contrast_peaks_on_the_true_outline_of_a_blurred_particle():
    grey = np.full((120, 120), 0.2, np.float32)
    cv2.circle(grey, (60, 60), 25, 0.8, -1)
    grey = cv2.GaussianBlur(grey, (0, 0), 2.0)
    c = [float(auto.rim_contrast(_blobs((120, 120), [(60, 60)], r), grey)[1]) for r in (22, 25, 28)]
    assert c[1] > c[0] and c[1] > c[2]


def test_auto_adds_the_particles_the_model_missed_when_thresholding_confirms_all_it_found():
    """msa-tem's case: the model finds 3 of 8 particles; thresholding finds all 8 and agrees
    with each of the model's 3 — the other 5 are kept (agreement 3/8 alone would drop them)."""
    centres = [(20 + 40 * (k % 4), 25 + 50 * (k // 4)) for k in range(8)]
    grey = np.full((100, 170), 0.2, np.float32)
    for x, y in centres:
        cv2.circle(grey, (x, y), 12, 0.8, -1)
    classical = _blobs((100, 170), centres, 12)
    model = _blobs((100, 170), centres[:3], 13)
    d = auto.decide(
        model,
        np.full(3, 0.9, np.float32),
        classical,
        floor_px=20.0,
        diameter_px=24.0,
        confidence=0.9,
        grey=grey,
    )
    assert d.path == "merged" and d.details["added_from_classical"] == 5
    assert d.labels.max() == 8 and d.details["confirmed"] == 1.0


def test_below_8_px_thresholding_leads_with_the_models_outline_where_truer():
    grey = np.full((40, 60), 0.2, np.float32)
    centres = [(10, 10), (30, 10), (50, 10), (10, 30), (30, 30), (50, 30)]
    for x, y in centres:
        cv2.circle(grey, (x, y), 3, 0.8, -1)
    exact = _blobs((40, 60), centres, 3)
    classical = exact.copy()
    classical[_blobs((40, 60), [(10, 10)], 4) > 0] = 1  # thresholding 1 px too fat on one
    model = _blobs((40, 60), centres[:4], 3)  # the model sees four, exactly
    d = auto.decide(
        model,
        np.full(4, 0.9, np.float32),
        classical,
        floor_px=4.0,
        diameter_px=6.0,
        confidence=0.9,
        grey=grey,
    )
    assert d.path == "classical" and d.scores is None
    assert d.labels.max() == 6  # every thresholded particle, one outline from the model
    assert ((d.labels > 0) == (exact > 0)).all()


def test_an_outline_bleeding_onto_the_frame_edge_yields_to_one_that_stays_inside():
    """large_touching's case: the model's mask of a complete sphere runs a few px on to the
    frame edge (and has the better rim contrast); keeping it would drop the particle as cut
    by the frame, so the matched threshold outline, which stays inside, is taken."""
    grey = np.full((100, 100), 0.2, np.float32)
    cv2.circle(grey, (50, 65), 25, 0.8, -1)  # bottom at y = 90: complete, 9 px off the edge
    model = _blobs((100, 100), [(50, 65)], 25)
    model[88:, 49:52] = 1  # a 3-px strand bleeding to the edge
    classical = _blobs((100, 100), [(50, 65)], 23)  # 2 px tight: lower rim contrast
    assert auto.rim_contrast(model, grey)[1] > auto.rim_contrast(classical, grey)[1]
    labels, _, counts = auto.merge_outlines(
        model, np.array([0.9], np.float32), classical, add_missed=False, grey=grey
    )
    assert counts["outlines_from_classical"] == 1
    assert ((labels > 0) == (classical > 0)).all()
    kept = postprocess.remove_border_touching(labels, Region(0, 0, 100, 100))
    assert kept.max() == 1
