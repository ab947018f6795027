"""Measurements of shapes whose true size is known, to within 1 px."""

import math

import numpy as np
import pytest

from analysis.measure import MEASUREMENT_COLUMNS, caliper_widths, measure_particles
from analysis.result import Region


def _disc(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


@pytest.fixture
def shapes():
    lab = np.zeros((200, 300), np.int32)
    lab[_disc(lab.shape, 60, 60, 20)] = 1  # disc, diameter ~40-41 px
    lab[20:30, 120:220] = 2  # rod 100 x 10
    lab[120:160, 20:60] = 3  # square 40 x 40
    return lab


def test_disc_measured_within_one_pixel(shapes):
    m = measure_particles(shapes, None, None)
    row = m.row(0)
    assert row["ecd_px"] == pytest.approx(40.0, abs=1.0)
    assert row["feret_max_px"] == pytest.approx(41.0, abs=1.0)
    assert row["feret_min_px"] == pytest.approx(41.0, abs=1.0)
    assert row["major_axis_px"] == pytest.approx(40.0, abs=1.0)
    assert row["minor_axis_px"] == pytest.approx(40.0, abs=1.0)
    assert row["perimeter_px"] == pytest.approx(2 * math.pi * 20, rel=0.015)
    assert row["circularity"] > 0.95
    assert row["aspect_ratio"] == pytest.approx(1.0, abs=0.01)
    assert row["solidity"] > 0.95
    assert (row["centroid_x_px"], row["centroid_y_px"]) == (60.0, 60.0)


def test_rod_and_square_exact(shapes):
    m = measure_particles(shapes, None, None)
    rod, square = m.row(1), m.row(2)
    assert rod["area_px"] == 1000
    assert rod["feret_min_px"] == pytest.approx(10.0)
    assert rod["feret_max_px"] == pytest.approx(math.hypot(100, 10))
    assert rod["perimeter_px"] == pytest.approx(220.0, abs=1.0)
    assert rod["orientation_deg"] == 0.0
    assert rod["aspect_ratio"] == pytest.approx(10.0, rel=0.01)
    assert square["feret_min_px"] == pytest.approx(40.0)
    assert square["feret_max_px"] == pytest.approx(40 * math.sqrt(2))
    assert square["rectangularity"] == pytest.approx(1.0)
    assert square["solidity"] == pytest.approx(1.0)
    assert square["aspect_ratio"] == pytest.approx(1.0)
    assert m.bboxes[2] == (20, 120, 60, 160)


def test_orientation_is_counter_clockwise_on_screen():
    lab = np.zeros((100, 100), np.int32)
    for i in range(60):  # a thin line going up-right on screen (y decreases as x grows)
        lab[80 - i, 20 + i] = 1
        lab[80 - i, 21 + i] = 1
    row = measure_particles(lab).row(0)
    assert row["orientation_deg"] == pytest.approx(45.0, abs=1.0)
    assert row["feret_max_angle_deg"] == pytest.approx(45.0, abs=1.5)


def test_nm_columns_scale_and_are_none_when_uncalibrated(shapes):
    px = measure_particles(shapes, None, None)
    nm = measure_particles(shapes, None, 2.5)
    assert px.row(1)["ecd_nm"] is None and px.row(1)["area_nm2"] is None
    assert nm.row(1)["ecd_nm"] == pytest.approx(2.5 * nm.row(1)["ecd_px"])
    assert nm.row(1)["area_nm2"] == pytest.approx(6.25 * 1000)
    assert set(nm.row(0)) == set(MEASUREMENT_COLUMNS)


def test_mean_intensity_and_touches_border(shapes):
    grey = np.zeros(shapes.shape, np.float32)
    grey[shapes == 3] = 0.75
    lab = shapes.copy()
    lab[190:200, 280:300] = 4  # touches the bottom-right image corner
    m = measure_particles(lab, grey, None)
    assert m.row(2)["mean_intensity"] == pytest.approx(0.75)
    assert m.touches_border.tolist() == [False, False, False, True]
    inner = measure_particles(lab, grey, None, region=Region(0, 0, 300, 150))
    assert inner.touches_border.tolist() == [False, False, True, True]


def test_polygons_are_light_and_in_image_coordinates(shapes):
    m = measure_particles(shapes)
    assert m.polygons[2] == [[20.0, 120.0], [20.0, 159.0], [59.0, 159.0], [59.0, 120.0]]
    assert len(m.polygons[0]) < 30


def test_empty_label_map():
    m = measure_particles(np.zeros((10, 10), np.uint16), None, 1.0)
    assert len(m) == 0 and m.polygons == []
    assert m.columns["ecd_nm"].size == 0


def test_feret_of_known_polygons():
    assert caliper_widths(np.array([[0, 0], [4, 0], [4, 3], [0, 3]])) == pytest.approx(
        (5.0, 3.0, -36.8698976, 12.0)
    )
    tri = np.array([[0, 0], [2, 0], [1, math.sqrt(3)]])
    fmax, fmin, _, rect = caliper_widths(tri)
    assert (fmax, fmin, rect) == pytest.approx((2.0, math.sqrt(3), 2 * math.sqrt(3)))
    # Regular hexagon of side 1: Feret max 2 (vertex to vertex), min sqrt(3) (flat to flat).
    hexagon = np.array([[math.cos(a), math.sin(a)] for a in np.arange(6) * math.pi / 3])
    fmax, fmin, _, _ = caliper_widths(hexagon)
    assert (fmax, fmin) == pytest.approx((2.0, math.sqrt(3)))
    # A square rotated by 30 degrees: min width 1, max sqrt(2).
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]]) @ np.array([[c, s], [-s, c]])
    fmax, fmin, _, rect = caliper_widths(square)
    assert (fmax, fmin, rect) == pytest.approx((math.sqrt(2), 1.0, 1.0))
