"""Hand masks from placed circles: overlaps part where the outlines meet; the JEOL annotation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis.result import Region
from analysis.train import handmask

ANNOTATION = Path(__file__).resolve().parents[2] / "benchmarks" / "engine" / "annotations"


def test_overlapping_circles_part_on_the_line_where_their_outlines_meet() -> None:
    lab = handmask.circles_to_labels((100, 200), np.array([[60, 50, 40], [130, 50, 40]]))
    assert int(lab.max()) == 2
    assert lab[50, 94] == 1 and lab[50, 96] == 2  # the chord at x = 95
    assert lab[50, 10] == 0 or lab[50, 20] == 1


def test_region_crops_and_vanished_circles_leave_no_gap() -> None:
    circles = np.array([[20, 20, 10], [20, 90, 8], [60, 20, 10]])
    lab = handmask.circles_to_labels((100, 100), circles, Region(0, 0, 100, 70))
    assert sorted(np.unique(lab).tolist()) == [0, 1, 2]
    assert not lab[70:].any()


def test_jeol_annotation_is_complete(shared_data: Path) -> None:
    ann = ANNOTATION / "JEOL_JSM-IT800_A2h_01.json"
    a = json.loads(ann.read_text())
    m = handmask.load(ann, shared_data)
    assert m.labels.shape == m.grey.shape == (1026, 1280)
    assert int(m.labels.max()) == len(a["circles"]) == 21
    assert not m.labels[960:].any()  # the data band holds no particle
