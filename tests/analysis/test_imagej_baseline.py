"""The ImageJ-style baseline: Otsu, fill holes, distance-transform watershed."""

from __future__ import annotations

import cv2
import numpy as np

from analysis.result import Region
from analysis.segment.imagej import imagej_polarity, segment_imagej, user_polarity


def test_touching_discs_are_split_and_holes_filled() -> None:
    img = np.full((120, 200), 0.2, np.float32)
    cv2.circle(img, (60, 60), 30, 0.8, -1)
    cv2.circle(img, (112, 60), 30, 0.8, -1)  # touches the first along a neck
    cv2.circle(img, (60, 60), 6, 0.2, -1)  # a hole: filled
    lab = segment_imagej(img)
    assert int(lab.max()) == 2
    assert lab[60, 60] > 0 and lab[60, 60] != lab[60, 112]


def test_dark_particles_on_bright_support_and_region_respected() -> None:
    img = np.full((100, 100), 0.85, np.float32)
    cv2.circle(img, (30, 30), 12, 0.2, -1)
    cv2.circle(img, (70, 30), 12, 0.2, -1)
    img[80:, :] = 0.0  # a data band the user crops away
    lab = segment_imagej(img, Region(0, 0, 100, 80))
    assert int(lab.max()) == 2
    assert not lab[80:].any()


def test_flat_image_gives_nothing() -> None:
    assert not segment_imagej(np.full((50, 50), 0.5, np.float32)).any()


def test_dense_bright_packing_needs_the_users_phase() -> None:
    img = np.full((100, 100), 0.2, np.float32)
    truth = np.zeros((100, 100), np.int32)
    for k, (x, y) in enumerate(((25, 25), (75, 25), (25, 75), (75, 75)), start=1):
        cv2.circle(img, (x, y), 24, 0.8, -1)
        cv2.circle(truth, (x, y), 24, k, -1)
    assert user_polarity(img, truth) == "bright"
    assert int(segment_imagej(img, polarity="bright").max()) == 4
    assert int(segment_imagej(img).max()) != 4  # the minority guess takes the gaps


def test_imagej_polarity_takes_the_histogram_mode_for_background() -> None:
    # Dense bright spheres covering most of the frame: the mode is the (bright) particles,
    # so ImageJ's default calls the dark gaps objects — the mistake a user then corrects.
    img = np.full((100, 100), 0.2, np.float32)
    for x, y in ((25, 25), (75, 25), (25, 75), (75, 75)):
        cv2.circle(img, (x, y), 24, 0.8, -1)
    assert imagej_polarity(img) == "dark"
    # Sparse dark particles on a bright support, and sparse bright ones on a dark support.
    sparse = np.full((100, 100), 0.7, np.float32)
    cv2.circle(sparse, (50, 50), 10, 0.1, -1)
    assert imagej_polarity(sparse) == "dark"
    assert imagej_polarity(1.0 - sparse) == "bright"
    assert int(segment_imagej(sparse, polarity="imagej").max()) == 1
