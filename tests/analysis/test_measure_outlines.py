"""Outlines made outside the engine (imports, hand edits) are measured by the engine's own code:
exact answers on pixel-aligned squares, overlap and degenerate cases, and the nm rescale."""

import math

import numpy as np
import pytest

from analysis.measure import polygon_area_px, rasterize_polygons, rescale_to_nm
from analysis.pipeline import measure_outlines

# Vertices on pixel centres 10..29: a 20 x 20 px square of pixels.
SQUARE = [[10, 10], [29, 10], [29, 29], [10, 29]]


def test_shoelace_area_of_a_polygon():
    assert polygon_area_px([[0, 0], [4, 0], [4, 3], [0, 3]]) == 12.0
    assert polygon_area_px([[0, 0], [4, 0]]) == 0.0


def test_a_square_outline_fills_its_pixels():
    labels = rasterize_polygons([SQUARE], 40, 50)
    assert labels.dtype == np.int32 and labels.shape == (40, 50)
    assert (labels == 1).sum() == 400
    assert labels[10:30, 10:30].min() == 1


def test_a_smaller_outline_over_a_larger_one_keeps_its_pixels():
    inner = [[14, 14], [17, 14], [17, 17], [14, 17]]
    labels = rasterize_polygons([inner, SQUARE], 40, 50)
    assert (labels == 1).sum() == 16
    assert (labels == 2).sum() == 400 - 16


def test_measure_outlines_gives_exact_square_measurements():
    (p,) = measure_outlines([SQUARE], 50, 40, 2.0)
    m = p.measurements
    assert (p.label, p.bbox_px) == (1, (10, 10, 30, 30))
    assert m["area_px"] == 400
    assert m["ecd_px"] == pytest.approx(2 * math.sqrt(400 / math.pi))
    assert m["feret_min_px"] == pytest.approx(20)
    assert m["ecd_nm"] == pytest.approx(2 * m["ecd_px"])
    assert m["area_nm2"] == pytest.approx(1600)
    assert p.shape_class == "cube"
    assert not p.touches_border


def test_uncalibrated_outlines_have_no_nm_and_degenerate_ones_are_none():
    line = [[3, 3], [8, 3], [13, 3]]
    square, degenerate = measure_outlines([SQUARE, line[:2]], 50, 40, None)
    assert square is not None and square.measurements["ecd_nm"] is None
    assert degenerate is None


def test_rescale_to_nm_uses_the_pixel_twins():
    m = {"ecd_px": 10.0, "ecd_nm": 20.0, "area_px": 100.0, "circularity": 0.9}
    out = rescale_to_nm(m, 3.0)
    assert out == {
        "ecd_px": 10.0,
        "ecd_nm": 30.0,
        "area_px": 100.0,
        "area_nm2": 900.0,
        "circularity": 0.9,
    }
