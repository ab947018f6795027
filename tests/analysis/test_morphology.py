"""The shape-class rule on synthetic shapes drawn on the pixel grid."""

import cv2
import numpy as np
import pytest

from analysis.measure import measure_particles
from analysis.morphology import SHAPE_CLASSES, classify, classify_one


def _classes_of(*draws):
    lab = np.zeros((400, 400), np.int32)
    for k, draw in enumerate(draws, start=1):
        m = np.zeros(lab.shape, np.uint8)
        draw(m)
        lab[m > 0] = k
    return classify(measure_particles(lab).columns)


def test_ideal_shapes_get_their_class():
    got = _classes_of(
        lambda m: cv2.circle(m, (60, 60), 30, 1, -1),  # sphere
        lambda m: cv2.rectangle(m, (150, 30), (209, 89), 1, -1),  # cube (60 x 60)
        lambda m: cv2.rectangle(m, (250, 40), (379, 59), 1, -1),  # rod (130 x 20)
        # triangle platelet
        lambda m: cv2.fillPoly(m, [np.array([[30, 250], [130, 250], [80, 163]])], 1),
        # agglomerate: three fused discs in an L
        lambda m: [cv2.circle(m, c, 22, 1, -1) for c in ((200, 200), (240, 200), (200, 240))],
        # irregular: a notched blob, solidity between 0.85 and 0.9
        lambda m: cv2.fillPoly(
            m, [np.array([[260, 260], [380, 260], [380, 380], [320, 350], [260, 380]])], 1
        ),
    )
    assert got == ["sphere", "cube", "rod", "plate", "agglomerate", "irregular"]


def test_rotated_square_is_still_a_cube():
    box = cv2.boxPoints(((100, 100), (50, 50), 30)).astype(np.int32)
    assert _classes_of(lambda m: cv2.fillPoly(m, [box], 1)) == ["cube"]


@pytest.mark.parametrize(
    ("descriptors", "expected"),
    [
        ({"aspect_ratio": 2.5, "solidity": 0.7, "rectangularity": 0.5, "circularity": 0.2}, "rod"),
        (
            {"aspect_ratio": 2.49, "solidity": 0.84, "rectangularity": 0.9, "circularity": 0.9},
            "agglomerate",
        ),
        (
            {"aspect_ratio": 1.59, "solidity": 0.9, "rectangularity": 0.87, "circularity": 0.7},
            "cube",
        ),
        (
            {"aspect_ratio": 1.1, "solidity": 0.89, "rectangularity": 0.9, "circularity": 0.7},
            "irregular",
        ),
        (
            {"aspect_ratio": 1.39, "solidity": 0.95, "rectangularity": 0.8, "circularity": 0.8},
            "sphere",
        ),
        (
            {"aspect_ratio": 1.8, "solidity": 0.9, "rectangularity": 0.8, "circularity": 0.8},
            "plate",
        ),
        (
            {"aspect_ratio": 1.8, "solidity": 0.89, "rectangularity": 0.8, "circularity": 0.8},
            "irregular",
        ),
    ],
)
def test_rule_boundaries(descriptors, expected):
    assert classify_one(**descriptors) == expected
    assert expected in SHAPE_CLASSES
