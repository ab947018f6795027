"""Manual outline edits on exact synthetic label maps (analysis.edit)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from analysis.edit import (
    MAX_VERTICES,
    MIN_AREA_PX,
    GeometryError,
    Mask,
    add_polygon,
    apply_masks,
    clean_polygon,
    magic_wand,
    measure_labels,
    merge,
    particle_mask,
    polygon_mask,
    reshape,
    split_by_line,
    split_by_seeds,
    subtract,
)
from analysis.measure import measure_particles
from analysis.morphology import classify
from analysis.result import Region

REGION = Region(0, 0, 200, 120)


def _blank() -> np.ndarray:
    return np.zeros((120, 200), dtype=np.uint16)


def _square(x0: int, y0: int, x1: int, y1: int) -> list[list[float]]:
    """Outline through the centres of the boundary pixels of columns x0..x1, rows y0..y1."""
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


# --- polygon validation -----------------------------------------------------------------------


def test_rasterised_square_covers_exactly_its_pixels():
    poly = clean_polygon(_square(10, 20, 29, 39), region=REGION)
    mask = polygon_mask(poly, REGION)
    expected = np.zeros((120, 200), bool)
    expected[20:40, 10:30] = True
    assert np.array_equal(mask, expected)


def test_closed_and_duplicate_points_are_repaired():
    ring = [[10, 10], [10, 10], [30, 10], [30, 30], [20, 30.0001], [10, 30], [10, 10]]
    poly = clean_polygon(ring, region=REGION)
    assert len(poly) == 4  # duplicate, collinear and closing points gone


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([[10, 10], [30, 10]], "at least 3"),
        ([[10, 10], [30, 10], [float("nan"), 20]], "not finite"),
        ([[10, 10], [30, 10], [float("inf"), 20]], "not finite"),
        ([[10, 10], [30, 10], [30, 200]], "outside the analysed region"),
        ([[-5, 10], [30, 10], [30, 30]], "outside the analysed region"),
        ([[10, 10], [20, 10], [30, 10]], "no area"),
        ([[10, 10], [40, 40], [40, 10], [10, 40]], "crosses itself"),  # bow tie
        ("nonsense", "list of"),
        ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], "pairs"),
        ([["a", 1], [2, 3], [4, 5]], "pairs"),
    ],
)
def test_bad_polygons_are_refused_with_a_reason(points, message):
    with pytest.raises(GeometryError, match=message):
        clean_polygon(points, region=REGION)


def test_too_many_vertices_refused_before_any_work():
    ring = [[50 + 30 * np.cos(t), 60 + 30 * np.sin(t)] for t in np.linspace(0, 6.28, 100_000)]
    started = time.perf_counter()
    with pytest.raises(GeometryError, match=str(MAX_VERTICES)):
        clean_polygon(ring, region=REGION)
    assert time.perf_counter() - started < 5  # refused on the count, not after processing


def test_small_overshoot_loop_is_repaired():
    # A freehand square whose end overshoots the start, crossing the first edge.
    stroke = [[20, 20], [60, 20], [60, 60], [20, 60], [20, 18], [24, 16], [24, 22]]
    poly = clean_polygon(stroke, region=REGION)
    area = polygon_mask(poly, REGION).sum()
    assert 41 * 41 - 10 <= area <= 41 * 41 + 20


def test_outline_with_many_vertices_under_the_limit_is_accepted():
    t = np.linspace(0, 2 * np.pi, 19_999, endpoint=False)
    ring = np.stack([100 + 40 * np.cos(t), 60 + 40 * np.sin(t)], axis=1).tolist()
    poly = clean_polygon(ring, region=REGION)
    assert 3 <= len(poly) < 19_999


# --- add, reshape, trim -----------------------------------------------------------------------


def test_add_takes_only_background_pixels():
    labels = _blank()
    labels[20:40, 20:40] = 1
    change = add_polygon(labels, _square(30, 20, 59, 39), region=REGION, label=2)
    mask = change[2]
    apply_masks(labels, {}, change)
    assert mask.area_px == 20 * 20  # columns 40..59 only; particle 1 keeps its pixels
    assert (labels[20:40, 20:40] == 1).all()
    assert (labels[20:40, 40:60] == 2).all()


def test_add_refuses_a_tiny_outline_and_one_over_particles():
    labels = _blank()
    labels[20:40, 20:40] = 1
    with pytest.raises(GeometryError, match=f"at least {MIN_AREA_PX} px"):
        add_polygon(labels, _square(100, 100, 101, 101), region=REGION, label=2)
    with pytest.raises(GeometryError, match="existing particles only"):
        add_polygon(labels, _square(22, 22, 30, 30), region=REGION, label=2)


def test_reshape_and_undo_restore_the_exact_pixels():
    labels = _blank()
    labels[20:40, 20:40] = 1
    labels[20:40, 40:50] = 2
    before = labels.copy()
    old = {1: particle_mask(labels, 1, (20, 20, 40, 40))}
    change = reshape(labels, _square(10, 10, 59, 49), region=REGION, label=1)
    apply_masks(labels, old, change)
    assert (labels[20:40, 40:50] == 2).all()  # the neighbour is untouched
    assert (labels == 1).sum() == 50 * 40 - 20 * 10
    apply_masks(labels, change, old)  # undo
    assert np.array_equal(labels, before)


def test_trim_keeps_the_largest_piece():
    labels = _blank()
    labels[20:40, 20:80] = 1
    change = subtract(labels, _square(40, 0, 44, 119), region=REGION, label=1)
    mask = change[1]
    assert mask.area_px == 20 * 35  # columns 45..79 are the larger side
    assert mask.bbox == (45, 20, 80, 40)
    with pytest.raises(GeometryError, match="delete it instead"):
        subtract(labels, _square(10, 10, 90, 50), region=REGION, label=1)
    with pytest.raises(GeometryError, match="does not overlap"):
        subtract(labels, _square(150, 90, 160, 100), region=REGION, label=1)


# --- split and merge --------------------------------------------------------------------------


def _two_touching_discs() -> np.ndarray:
    labels = _blank()
    yy, xx = np.mgrid[:120, :200]
    labels[((yy - 60) ** 2 + (xx - 70) ** 2 <= 400) | ((yy - 60) ** 2 + (xx - 106) ** 2 <= 400)] = 7
    return labels


def test_split_by_line_gives_two_discs():
    labels = _two_touching_discs()
    total = int((labels == 7).sum())
    change = split_by_line(labels, [[88, 50], [88, 70]], label=7, new_labels=[8])
    assert set(change) == {7, 8}
    assert change[7].area_px + change[8].area_px == total  # cut pixels go to a piece
    apply_masks(labels, {7: particle_mask(labels, 7)}, change)
    parts = measure_labels(labels, [7, 8], grey=None, pixel_size_nm=2.0, region=REGION)
    centres = sorted(round(p.measurements["centroid_x_px"]) for p in parts)
    assert centres[0] == pytest.approx(70, abs=1.5) and centres[1] == pytest.approx(106, abs=1.5)
    assert all(p.shape_class == "sphere" for p in parts)


def test_split_line_that_misses_is_refused():
    labels = _two_touching_discs()
    with pytest.raises(GeometryError, match="does not cut"):
        split_by_line(labels, [[10, 10], [20, 10]], label=7, new_labels=[8])


def test_split_by_seeds_is_a_marker_watershed():
    labels = _two_touching_discs()
    change = split_by_seeds(labels, [[70, 60], [106, 60]], label=7, new_labels=[8])
    left, right = sorted(change.values(), key=lambda m: m.x0)
    assert left.bbox[2] <= 90 and right.x0 >= 86  # the cut is at the neck (x ≈ 88)
    assert abs(left.area_px - right.area_px) <= 30
    with pytest.raises(GeometryError, match="not inside"):
        split_by_seeds(labels, [[70, 60], [150, 10]], label=7, new_labels=[8])


def test_seeds_off_the_core_still_give_one_piece_each():
    labels = _blank()
    yy, xx = np.mgrid[:120, :200]
    labels[(yy - 62.4) ** 2 + (xx - 74.2) ** 2 <= 61] = 3  # r ≈ 7.8, centre between pixels
    change = split_by_seeds(labels, [[70.3, 62.4], [78.1, 62.4]], label=3, new_labels=[4])
    sizes = sorted(m.area_px for m in change.values())
    assert sizes[0] >= 80 and sum(sizes) == int((labels == 3).sum())


def test_too_many_seeds_or_pieces_are_refused():
    labels = _two_touching_discs()
    seeds = [[70 + (k % 8), 55 + k // 8] for k in range(65)]
    with pytest.raises(GeometryError, match="at most 64 seeds"):
        split_by_seeds(labels, seeds, label=7, new_labels=list(range(8, 72)))
    zigzag = [[60 + 6 * k, 35 if k % 2 else 85] for k in range(10)]
    with pytest.raises(GeometryError, match="pieces"):
        split_by_line(labels, zigzag, label=7, new_labels=[8])


def test_merge_then_split_round_trip_and_refuse_far_apart():
    labels = _blank()
    labels[20:40, 20:40] = 1
    labels[20:40, 41:60] = 2  # one background column between them: bridged
    labels[80:100, 150:170] = 3
    change = merge(labels, [2, 1])
    assert set(change) == {1, 2} and change[2] is None
    merged = change[1]
    assert 20 * 40 - 2 <= merged.area_px <= 20 * 40  # the gap column, maybe not its corners
    window = Region(*merged.bbox)
    for label in (1, 2):
        own = labels[window.y0 : window.y1, window.x0 : window.x1] == label
        assert (merged.bits | ~own).all()
    with pytest.raises(GeometryError, match="do not touch"):
        merge(labels, [1, 3])
    with pytest.raises(GeometryError, match="at least two"):
        merge(labels, [1])


def test_mask_json_round_trip():
    bits = np.zeros((7, 13), bool)
    bits[1:5, 2:11] = True
    bits[3, 0] = True
    mask = Mask(40, 50, bits)
    back = Mask.from_json(mask.to_json())
    assert back.bbox == mask.tight().bbox and np.array_equal(back.bits, mask.tight().bits)


# --- measuring --------------------------------------------------------------------------------


def test_window_measurements_equal_whole_map_measurements():
    labels = _blank()
    labels[20:40, 20:40] = 1
    yy, xx = np.mgrid[:120, :200]
    labels[(yy - 70) ** 2 + (xx - 120) ** 2 <= 225] = 2
    labels[0:10, 180:200] = 3  # touches the border
    grey = np.random.default_rng(1).random((120, 200))
    whole = measure_particles(labels, grey, 2.0, region=REGION)
    classes = classify(whole.columns)
    parts = measure_labels(labels, [2, 3], grey=grey, pixel_size_nm=2.0, region=REGION)
    for p in parts:
        k = int(np.flatnonzero(whole.labels == p.label)[0])
        row = whole.row(k)
        for key, value in p.measurements.items():
            assert value == pytest.approx(row[key], rel=1e-9, abs=1e-9), key
        assert p.polygon_px == whole.polygons[k]
        assert p.bbox_px == whole.bboxes[k]
        assert p.touches_border == bool(whole.touches_border[k])
        assert p.shape_class == classes[k]


# --- magic wand -------------------------------------------------------------------------------


def _bright_disc_image(shape=(3072, 4096), centre=(1500, 2000), radius=30) -> np.ndarray:
    rng = np.random.default_rng(0)
    grey = 0.2 + 0.02 * rng.standard_normal(shape).astype(np.float32)
    cy, cx = centre
    y0, x0 = cy - radius - 2, cx - radius - 2
    yy, xx = np.mgrid[y0 : cy + radius + 3, x0 : cx + radius + 3]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    grey[y0 : cy + radius + 3, x0 : cx + radius + 3][inside] += 0.6
    return grey


def test_wand_outlines_a_disc_on_a_large_image_quickly():
    grey = _bright_disc_image()
    region = Region(0, 0, 4096, 3072)
    started = time.perf_counter()
    poly = magic_wand(grey, 2005, 1497, 0.3, region=region)
    elapsed = time.perf_counter() - started
    window = Region(1900, 1400, 2100, 1600)
    mask = polygon_mask(poly, window)
    area = int(mask.sum())
    assert area == pytest.approx(np.pi * 30**2, rel=0.05)
    rows, cols = np.nonzero(mask)
    assert cols.mean() + window.x0 == pytest.approx(2000, abs=1)
    assert rows.mean() + window.y0 == pytest.approx(1500, abs=1)
    assert elapsed < 1.0  # generous: ~10 ms measured; the window never grows here


def test_wand_stops_at_other_particles_and_refuses_leaks():
    grey = np.full((120, 200), 0.5, np.float32)
    grey[30:60, 30:90] = 0.9
    labels = _blank()
    labels[30:60, 60:90] = 4  # the right half is already a particle
    poly = magic_wand(grey, 40, 45, 0.2, region=REGION, labels=labels)
    mask = polygon_mask(poly, REGION)
    # Smoothing softens the edge by about a pixel; the neighbour is a hard wall.
    assert mask[31:59, 31:59].all() and not mask[:, 60:].any() and not mask[:29].any()
    with pytest.raises(GeometryError, match="tolerance must"):
        magic_wand(grey, 40, 45, 0.0, region=REGION)
    with pytest.raises(GeometryError, match="outside"):
        magic_wand(grey, 400, 45, 0.2, region=REGION)
