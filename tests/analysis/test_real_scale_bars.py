"""Real figure crops with burned-in scale bars, labelled by eye (tests/analysis/data/README.md).

Measured on the 66 labelled bars: 53 within 2 % (80 %), 2 wrong, 11 left uncalibrated
(was 48, 2, 16 before the issue-11 fixes of bars on particles, labels as ink, split bars);
the target is 95 % within 2 %, not met yet (see issue 11's note). The floors below keep what
was reached; the negatives must stay at zero invented calibrations.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from analysis.calibration import calibrate
from analysis.calibration.units import to_nm
from analysis.io import read_image

LABELS = Path(__file__).parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (LABELS / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_real_bars_within_2_percent(shared_data):
    images = shared_data / "emps-train" / "images"
    within = wrong = 0
    rows = _rows("real_scale_bars.csv")
    for row in rows:
        cal = calibrate(read_image(images / row["file"]))
        truth = to_nm(float(row["value"]), row["unit"]) / float(row["length_px"])
        if cal.pixel_size_nm is None:
            continue
        if abs(cal.pixel_size_nm - truth) <= 0.02 * truth:
            within += 1
        else:
            wrong += 1
    assert len(rows) >= 60
    assert within >= 52  # measured 53 of 66
    # measured 2: a "100 nm" read "108 nm", and a faint 1-px bar on texture (802e607c7c)
    # measured 88 px for 91 (its ends blur into the ground)
    assert wrong <= 2


@pytest.mark.slow
def test_real_figures_without_a_numbered_bar_stay_uncalibrated(shared_data):
    images = shared_data / "emps-train" / "images"
    for row in _rows("real_negatives.csv"):
        cal = calibrate(read_image(images / row["file"]))
        assert cal.pixel_size_nm is None, (row, cal.reason)


def test_label_files_are_well_formed():
    rows = _rows("real_scale_bars.csv")
    assert len({r["file"] for r in rows}) == len(rows) >= 60
    for r in rows:
        assert r["unit"] in ("nm", "µm")
        assert float(r["x1_px"]) - float(r["x0_px"]) == pytest.approx(
            float(r["length_px"]), abs=0.11
        )
    negatives = {r["file"] for r in _rows("real_negatives.csv")}
    assert not negatives & {r["file"] for r in rows}
