"""Real figure crops with burned-in scale bars, labelled by eye (tests/analysis/data/README.md).

Measured on the 67 labelled bars: 63 within 2 % (94 %), 0 wrong, 4 left uncalibrated.
Before: 62, 0, 5 before session 23's glyphs on a thin line; 61, 0, 6 before session 22's
outlined labels; 59, 1, 7 before session 21's dotted zeros, tick and noisy-bar ends; 53, 2,
11 of 66 before dense FEI bands, edge-row runs, one-glyph crops, odd lengths, rulers of
ticks and detected text lines (the 67th bar was a "negative" whose ruler nobody had seen);
48, 2, 16 of 66 before the issue-11 fixes of bars on particles, labels as ink and split
bars. The target is 95 % within 2 %, not met yet (see issue 11's note). The floors below
keep what was reached; the negatives must stay at zero invented calibrations.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.calibration import calibrate
from analysis.calibration.scalebar import _other_glyph_count, _other_round_number
from analysis.calibration.units import to_nm
from analysis.io import image_from_array, read_image
from benchmarks.engine.calibration import run_checked_reads, run_real_labels_rescaled

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
    assert within >= 63  # measured 63 of 67
    # measured 0 since a faint 1-px bar on texture (802e607c7c, 88 px for 91) keeps the
    # noise above its level in the coverage of its ends
    assert wrong == 0


@pytest.mark.slow
def test_real_bars_on_resized_copies(shared_data):
    """The labelled bars on copies resized 0.5x to 2x. Session 21 started at 38 within 2 %
    and 13 wrong (0.5x), 49 and 6 (0.75x), 54 and 3 (1.5x), 52 and 5 (2x): a segmented
    bar's cells, part of a tick ruler, a light strip between glyph feet and a glyph's foot
    measured as bars. Session 22 started at 45 and 5, 55 and 1, 58 and 0, 57 and 1; measured
    now: 46 and 4 at 0.5x, the others unchanged. The wrong ones left are 2.5-5.5 % off on
    bars of 32-65 px (a pixel or two at the ends); the 0.5x "100 nm" of 6-px glyphs read
    "10 nm" twice once thresholded (e853d120fa, 10x off) is left unread, its grey reading
    "100m2" doubting it."""
    report = run_real_labels_rescaled(images=shared_data / "emps-train" / "images")
    assert report is not None
    floors = {"x0.5": (45, 4), "x0.75": (54, 1), "x1.5": (57, 0), "x2": (56, 1)}
    for name, (within, wrong) in floors.items():
        assert report[name]["within_2pct"] >= within and report[name]["wrong"] <= wrong, name


@pytest.mark.parametrize("factor", [0.5, 0.75, 1.5, 2.0])
def test_a_segmented_bar_at_any_size(shared_data, factor):
    """bfb2a25730: a white bar in a black frame with two black cells, "100 nm", 206.5 px.
    On resized copies one cell was taken for a label inside the bar and the cells beside it
    for the bar (39 % short at 0.75x and 1.5x); the frame's edge along the cells is the bar."""
    grey = read_image(shared_data / "emps-train" / "images" / "bfb2a25730.png").grey
    interp = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    copy = np.clip(cv2.resize(grey, None, fx=factor, fy=factor, interpolation=interp), 0, 1)
    cal = calibrate(image_from_array(copy.astype(np.float32)))
    assert cal.pixel_size_nm == pytest.approx(100 / (206.5 * factor), rel=0.02)


def test_the_foot_of_a_serif_two_is_not_the_bar(shared_data):
    """A 0.6x copy of 032bd4a6b1: the flat foot of the serif "2" in "200 nm", 13 px, was
    measured as the bar and read with the label around it (6x off). A stroke inside the
    label's own box is part of the label; the bar under it comes next (82.9 px; measured
    77, its left end lost under the glyph's foot, see the note on issue 11)."""
    grey = read_image(shared_data / "emps-train" / "images" / "032bd4a6b1.png").grey
    copy = cv2.resize(grey, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    bar = calibrate(image_from_array(np.clip(copy, 0, 1).astype(np.float32))).scale_bar
    assert bar is not None and bar.length_px > 70


@pytest.mark.parametrize(
    ("name", "pixel_nm", "why"),
    [
        # An FEI xT band cut by the figure's crop, its table set dense in a large font: the
        # band was missed, and "HFW 592 nm" read as the label of the cut cell rule on the
        # last row (3.0 nm per pixel for 0.81).
        ("31f17306c8.png", 200 / 246.3, "dense FEI band"),
        # "1.0 µm" read at 0.86 and twice as "1.0.µm": a stray dot for the space.
        ("7988097925.png", 1000 / 177.4, "dot before the unit"),
        # "200 nm" over a grey, textured ground: the budget went to one-glyph crops (11 x 7
        # and 31 x 32 px, read "里" and "口") before the crop that reads "200 mm" -> nm.
        ("434e287439.png", 200 / 143.2, "one-glyph crops skipped"),
        # Hitachi rulers of 11 ticks with no line between them, over the micrograph.
        ("7b76562318.png", 500 / 313.5, "ruler of ticks"),
        ("4ec7671d11.png", 1000 / 200.0, "ruler of ticks"),
        # White "100 nm" half over a white particle: no threshold separates the glyphs from
        # the particle; the OCR's text detector finds the line.
        ("6d0f510327.png", 100 / 129.0, "detected text line"),
        # Two of the unlabelled emps-train figures, checked by eye; their ends measured at
        # half depth on the bar's rows. A "1 µm" whose grey crop reads as nothing at all (the
        # bar's faint top edge under 13-px glyphs); the thresholded crop reads it.
        ("8e68b05e0e.png", 1000 / 59.5, "empty grey read"),
        # A light strip under the particle taken for a data band cut the label above the
        # bar in half ("Zuu nm"); the strip has the figure's own grey beside the particle.
        ("e4268d7502.png", 200 / 102.2, "no banner edge"),
        # Serif "1.0  µm" in white over particles: the crop stops at the wide space and reads
        # "1.0" at 0.999; the line is read again to its end.
        ("f6e0ae6378.png", 1000 / 175.3, "number read alone"),
        # "500nm" over particles read "500n" three times: the crop cut the unit.
        ("ca780314cd.png", 500 / 146.6, "unit cut by the crop"),
        # "200nm" read "200nml": the bar's end under the label taken as a last letter.
        ("5c418c2eb0.png", 200 / 84.4, "stroke after the unit"),
        # Blurred bars whose edge rows above and below had been taken for end ticks: the
        # bar was measured between those "ticks", 1.5-3.7 px inside each end. "100 nn" is
        # an "nm" whose middle stroke was lost.
        ("027f25010a.png", 100 / 45.3, "edge rows are not ticks"),
        ("78bda6c73b.png", 50 / 70.0, "edge rows are not ticks"),
        # A faint 1-px bar on texture: coverage clipped at the bar's median level lost the
        # noise above it, 1.5 px at each end (88.0 px for 91).
        ("802e607c7c.png", 50 / 91.0, "noisy faint bar"),
        # Serif "3  µm": the crop stopped at the wide space and read "µm" alone at 0.98;
        # the line is read again with room for its number.
        ("1b935635dd.png", 3000 / 246.9, "unit read alone"),
        # A Hitachi TEM band's "x30.0k" read "x30.0" (its k lost) vetoed the figure's
        # "200 nm" bar by 5000x; the band's ruler (11 ticks over 138 px) confirms the bar.
        ("a492171fa8.png", 200 / 139.0, "plain magnification with a point"),
        # White 7-px "50 nm" ringed in black: Otsu keeps the ring, so both thresholded reads
        # read nothing; the grey crop reads "50rm" at three scales (an "n" whose right leg
        # is lost under the ring).
        ("6360a823da.png", 50 / 156.0, "outlined glyphs, grey reads agree"),
        # "50 nm" on the 1-px outline of a white bar: its "5" and "0" touched the line a
        # few pixels in from its end and were dropped as end ticks, leaving "nm" alone.
        ("3a8af6d3f4.png", 50 / 89.7, "glyphs on a thin line are not its ticks"),
    ],
)
def test_real_bars_read_since_the_hard_case_fixes(shared_data, name, pixel_nm, why):
    cal = calibrate(read_image(shared_data / "emps-train" / "images" / name))
    assert cal.pixel_size_nm == pytest.approx(pixel_nm, rel=0.02), why


def test_a_dotted_zero_read_as_eight_is_a_zero(shared_data):
    """The band's font draws zero with a dot: every reading of "100 nm" says "108 nm" (and the
    magnification "50,000" says "50,080"). No bar is drawn at 108 nm, and an 8 after a zero
    read as such is that zero: 100 nm over the 29.4-px bar (8 % off if taken as read)."""
    cal = calibrate(read_image(shared_data / "emps-train" / "images" / "427ebc9e15.png"))
    assert cal.pixel_size_nm == pytest.approx(100 / 29.4, rel=0.02)
    assert cal.scale_bar is not None and cal.scale_bar.value == 100


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


@pytest.mark.parametrize(
    ("name", "wrong_nm"),
    [
        # A 290-px bar that runs on into a dark gap at the frame's edge was measured to the
        # window around a particle beside it: 248 px (its "1um" now read whole, 17 % off).
        ("a68915823c.png", 1000 / 247.8),
        # A bar cut by the figure's right edge: 110.7 px to that window, 139 px visible.
        ("70f9f13af4.png", 20 / 110.66),
    ],
)
def test_a_bar_is_not_measured_to_the_edge_of_a_search_window(shared_data, name, wrong_nm):
    cal = calibrate(read_image(shared_data / "emps-train" / "images" / name))
    assert cal.pixel_size_nm is None or cal.pixel_size_nm != pytest.approx(wrong_nm, rel=0.02)


def test_a_sure_reading_whose_digits_another_reading_doubts_is_not_believed(shared_data):
    """White "500 nm" over a half-dark ground: one crop reads "10 nm" at 0.96, its two
    thresholded readings "V nm". A reading that puts another count of glyphs where the
    number stands leaves the label unread: 50x off would be worse than none."""
    cal = calibrate(read_image(shared_data / "emps-train" / "images" / "dc20484021.png"))
    assert cal.pixel_size_nm is None or cal.pixel_size_nm == pytest.approx(500 / 156.3, rel=0.02)
    assert _other_glyph_count("V nm", "10 nm")
    assert not _other_glyph_count("LQo nm", "100 nm")  # three glyphs, as "100"
    assert not _other_glyph_count("nm", "10 nm")  # the number lost, not misread
    # The number's last glyph read as a round "o" where it ends in 0: its front lost (white
    # glyphs over a white particle, thresholded), agreeing with the end of "100 nm".
    assert not _other_glyph_count("o nm", "100 nm")
    assert not _other_glyph_count("Eo nm", "100 nm")
    assert _other_glyph_count("o nm", "25 nm")


def test_two_thresholded_reads_the_grey_reading_doubts_are_not_believed(shared_data):
    """A half-size copy of a "100 nm" figure: thresholded twice (3x, 2x) its 6-px "00" merges
    and reads "10mm" (-> 10 nm) at 0.93; the grey crop reads "100m2" at 0.87. The two
    thresholded reads share one binarisation, and the grey one has another round number:
    unread, not 10x off."""
    grey = read_image(shared_data / "emps-train" / "images" / "e853d120fa.png").grey
    half = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cal = calibrate(image_from_array(np.clip(half, 0, 1).astype(np.float32)))
    assert cal.pixel_size_nm is None or cal.pixel_size_nm == pytest.approx(100 / 58.1, rel=0.02)
    assert _other_round_number("100m2", 10.0)
    assert not _other_round_number("100m2", 100.0)
    assert not _other_round_number("1.0 µm", 1.0)
    assert not _other_round_number("l00 nm", 100.0)  # a leading "l" is a 1
    assert not _other_round_number("23m", 20.0)  # not a round number: no reading of one


@pytest.mark.slow
def test_reads_checked_by_eye_on_unlabelled_figures_do_not_move(shared_data):
    """177 reads of unlabelled emps-train figures that a person checked: none may change by
    more than 2 % (a changed read of a checked label is a wrong one); a few may be lost when
    a rule turns doubtful (measured: 1, dc20484021, see the glyph-count test)."""
    counts = run_checked_reads(shared_data / "emps-train" / "images")
    assert counts is not None and counts["checked"] >= 160
    assert counts["changed"] == 0
    assert counts["lost"] <= 2
