"""Find a scale bar, measure its length to sub-pixel precision and read its label.

How (and why):

1. Search regions: the data bar when there is one, else the bottom and top bands of the
   image (bars are burned into a corner). Both polarities are tried: bright bars on dark
   ground and dark bars on light ground.
2. Candidates: threshold halfway between the region's median and its extreme, then a
   morphological opening with a horizontal line keeps only long horizontal runs, which
   removes text and the vertical end ticks. A candidate must be thin, filled, not a full-width
   frame line, and free above and below (a particle edge is not). Two collinear pieces with a
   gap are one bar whose label sits inside (the FEI style ``---- 500 um ----``). A row of
   evenly spaced ticks with no line (Hitachi's ruler) is a candidate too.
3. Length: the bar's rows are averaged into a profile; each pixel's coverage
   ``(value - background) / (bar - background)`` is summed from the bar's middle outwards.
   Summed coverage is exact for anti-aliased ends and preserved by blur, so the length is
   good to a fraction of a pixel even on JPEG-softened figures.
4. Label: connected components of the same polarity next to the bar (inside, above, below,
   right, left) are grouped into one text line, cropped WITHOUT the bar and read by OCR;
   then ink strokes of either polarity; last, the lines the OCR's text detector finds. A
   candidate only counts once its label parses as a round length (1, 2.5, 500 ...) read
   consistently: that is what rejects horizontal edges that merely look like bars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from analysis.result import Region, ScaleBar

from .databar import edge_spans_width
from .ocr import default_scale, find_text_lines, read_text
from .units import (
    is_bare_length,
    normalise_micro,
    parse_length,
    plausible_pixel_size,
    restore_micro,
    to_nm,
)

_LEADING_ONE_RE = re.compile(r"(?<![0-9A-Za-z])[\[\]lI|!](?=[0-9.,]*\s*[A-Za-zµ])")
_O_IN_NUMBER_RE = re.compile(r"(?<=\d)[oO]|[oO](?=[.,]?\d)")
_AT_IN_NUMBER_RE = re.compile(r"(?<=[\d.,])@|@(?=[.,]?\d)")  # a bold "0" read as "@"
# An outlined "µ" read as the descender letter it resembles: "10.0qm", "200.0gm" (no unit is
# spelt so; an "n" has no descender to be read as one).
_MU_AS_DESCENDER_RE = re.compile(r"(?<=[\d.,\s])[qg](?=m\b)")
_M_AS_NN_RE = re.compile(r"(?<=[\d\s])nn(?![A-Za-z])")  # "100 nn": the m's middle stroke lost
# "50rm": the right leg of a 5-px "n" lost under its outline (emps-train 6360a823da); no unit
# is spelt so, and a "µ" keeps its descender.
_N_AS_R_RE = re.compile(r"(?<=[\d\s])rm(?![A-Za-z])")
_DOT_BEFORE_UNIT_RE = re.compile(r"(?<=\d)\.(?=\s*[nµuμmpÅ][m]?\b)")  # "1.0.µm": a space
# A length cut after its unit; a stroke right after it ("200nml") is the bar's end tick or a
# box edge, any other letter makes a word ("5 nmol").
_LENGTH_PREFIX_RE = re.compile(r"\s*\d+(?:[.,]\d+)?\s*(?:nm|µm|um|mm|pm|Å)(?![a-hj-km-z])")
_UNIT_CONFUSIONS = {"mm": ("nm",), "pm": ("µm",)}
# A zero with a dot or slash in it (DejaVu Sans Mono, Phenom and Hitachi bands) is read as
# "8": "108 nm" for "100 nm". Only an 8 after a zero read as such, in a number that starts
# with another digit: "180" may be a "150" misread, "1.8" a "1.5", and stay as read.
_DOTTED_ZERO_RE = re.compile(r"(?<![\d.,])[1-9][.,]?0[08]*8[08]*(?![\d.,])(?=\s*[A-Za-zµμ])")

_MIN_CONTRAST = 0.2
_MAX_OCR_CALLS = 5
_MAX_CANDIDATES = 3
_THRESHOLD_LEVELS = (0.5, 0.3)
_SATURATED_LEVEL = 0.85  # of the way to the extreme: a black bar (1.0) over a 0.82 particle
_SHORT_BAR_FRACTION = 0.08  # of the image width: shorter candidates must be clearly drawn
_MIN_SHORT_BAR_SNR = 4.0  # their contrast over the ground's noise (see _drawn_not_grain)
_MIN_RULER_TICKS = 8  # evenly spaced ticks that make a ruler without a line (Hitachi: 11)
_RULER_TICKS = 11  # a ruler's label gives the length over all of them
_MAX_ROW_MARKS = 64  # more tick-like marks at one height are grain (ruler + its text: ~30)
_MIN_LABEL_ASPECT = 1.8  # crop width / height below which no length label fits
_SURE_SCORE = 0.9  # an OCR score at which one unconfirmed reading is still trusted
_GARBLED_NUMBER_RE = re.compile(r"^\s*([^\d\s.,]+)\s*(?:nm|[µu]m|mm)\W*$")
_BARE_UNIT_RE = re.compile(r"[µu]m|nm")  # a unit read alone: its number left outside the crop
# "1.0", or "500n" cut in its unit; "1ur" and "1.0yr" read the cut "m" of "1 µm" as an "r"
_BARE_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?\s*(?:[nµuμ]|[µuμy]r)?")
_NUMBER_BEFORE_M_RE = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*\S?m")  # "100m2", "2 µm"
_FAIR_SCORE = 0.7  # below this a reading cannot contradict a sure one
# Below this a scale-bar reading is reported with a warning asking for a check.
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class BarCandidate:
    """A bar in image coordinates: ends ``x0_px``..``x1_px`` (sub-pixel), rows ``y0``..``y1``."""

    x0_px: float
    x1_px: float
    y0: int
    y1: int
    bright: bool
    score: float
    gap: tuple[int, int] | None = None  # x range of a label drawn inside the bar
    bar_level: float = 1.0  # in the polarity view (bar bright), for the label threshold
    bg_level: float = 0.0

    @property
    def length_px(self) -> float:
        return self.x1_px - self.x0_px

    @property
    def bbox(self) -> Region:
        return Region(int(np.floor(self.x0_px)), self.y0, int(np.ceil(self.x1_px)), self.y1)


def search_regions(shape: tuple[int, int], data_bar: Region | None) -> list[Region]:
    """Where bars are drawn, most likely first."""
    h, w = shape
    regions = []
    if data_bar is not None:
        regions.append(data_bar)
        h = data_bar.y0
    if h >= 16:
        regions.append(Region(0, int(h * 0.7), w, h))
        regions.append(Region(0, 0, w, max(1, int(h * 0.25))))
    return regions


def find_scale_bar(
    grey: np.ndarray,
    data_bar: Region | None = None,
    *,
    read_label: bool = True,
    max_ocr_calls: int = _MAX_OCR_CALLS,
) -> ScaleBar | None:
    """The scale bar of ``grey`` ((H, W) float in [0, 1]) with its label, or ``None``.

    A bar whose label cannot be read is returned only if no bar has a readable label (then
    ``value``/``length_nm`` are ``None``): the caller can report it, but cannot calibrate.
    ``max_ocr_calls`` bounds the time spent (each call is 15-100 ms on these CPUs).
    """
    found = locate_scale_bar(grey, data_bar, read_label=read_label, max_ocr_calls=max_ocr_calls)
    return found[0] if found else None


def locate_scale_bar(
    grey: np.ndarray,
    data_bar: Region | None = None,
    *,
    read_label: bool = True,
    max_ocr_calls: int = _MAX_OCR_CALLS,
) -> tuple[ScaleBar, Region | None] | None:
    """Like :func:`find_scale_bar`, plus the label's box (so callers can mask the text too)."""
    unlabeled: tuple[ScaleBar, Region | None] | None = None
    near_miss: tuple[BarCandidate, Region, str, tuple[float, str]] | None = None
    ocr_calls = 0
    regions = search_regions(grey.shape[:2], data_bar)
    if data_bar is not None:
        # A detected "data bar" may be plain ground under a burned-in bar (the flat bottom
        # rows of a TEM export): the region above it then cuts the bar at its lower edge.
        # The frame's own bottom band comes last, for the candidates not tried yet.
        regions.append(search_regions(grey.shape[:2], None)[0])
    tried_bars: list[BarCandidate] = []
    for region in regions:
        candidates = find_bar_candidates(grey, region)
        for cand in candidates[:_MAX_CANDIDATES]:
            if any(_same_bar(cand, t) for t in tried_bars):
                continue
            tried_bars.append(cand)
            if not read_label:
                return _to_scale_bar(cand, None, None, 0.0), None
            tried: list[Region] = []
            retried_empty = False
            clip = region == data_bar and edge_spans_width(grey, region)
            for crop, detected in _all_label_crops(grey, region, cand, clip):
                if ocr_calls >= max_ocr_calls:
                    break
                seen = any(_same_crop(crop, t, similar_size=detected) for t in tried)
                if seen or not _line_shaped(crop):
                    continue
                tried.append(crop)
                pixels = grey[crop.y0 : crop.y1, crop.x0 : crop.x1]
                first = read_text(pixels)
                ocr_calls += 1
                if not first[0].strip() and not retried_empty:
                    # Nothing at all in the grey crop: a faint edge under small glyphs can hide
                    # them from the recogniser, which reads the thresholded crop ("1 µm").
                    # Once per bar, off the budget, so a label crop later in line keeps its
                    # turn; only a number with a unit is worth the votes' calls ("1" is not).
                    retried_empty = True
                    first = read_text(pixels, binarise=True)
                    if not _number_and_unit(first[0]):
                        continue
                if not _worth_retry(first[0]):
                    continue  # no digits: not a label (a date, a panel letter)
                wider = _with_room_for_rest(crop, first, region if clip else None, grey.shape)
                if wider is not None:
                    # A sure number and no unit, or a unit alone: the crop stopped at a
                    # wide space (serif "1.0  µm"); the votes read the whole line instead.
                    crop, first = wider, None
                    pixels = grey[crop.y0 : crop.y1, crop.x0 : crop.x1]
                vote = vote_label(pixels, cand.length_px, first, width_px=grey.shape[1])
                ocr_calls += vote.calls
                if vote.parsed is not None and _part_of_label(crop, cand):
                    break  # the "bar" is a stroke of the label: try the next candidate
                if vote.parsed is not None:
                    return _to_scale_bar(cand, vote.text, vote.parsed, vote.score), crop
                grey_read = grey_only_length(vote, cand.length_px, width_px=grey.shape[1])
                if near_miss is None and grey_read is not None and not _part_of_label(crop, cand):
                    near_miss = (cand, crop, vote.reads[0][0], grey_read)
            if unlabeled is None:
                unlabeled = _to_scale_bar(cand, None, None, 0.0), None
    # Last, the first label only the grey crop read: two more grey reads of it must agree.
    if near_miss is not None:
        cand, crop, text, parsed = near_miss
        pixels = grey[crop.y0 : crop.y1, crop.x0 : crop.x1]
        vote = grey_consensus(pixels, text, parsed, cand.length_px, width_px=grey.shape[1])
        if vote.parsed is not None:
            return _to_scale_bar(cand, vote.text, vote.parsed, vote.score), crop
    return unlabeled


def _part_of_label(label: Region, cand: BarCandidate) -> bool:
    """The "bar" is a stroke of the label it was read with.

    Either it lies inside the label's box, half or more of it under the glyphs: the flat
    foot of a serif "2" (emps-train 032bd4a6b1 at 0.6x, "200 nm" read over 13 px of it, 6x
    off); a label's crop never holds its bar. Or it is one row along the label's own edge,
    no longer than the label: the dark outline of white glyphs merged into a line under
    them (rendered TEM 6309 at half size: "20.0µm" read over its own 72.7-px outline,
    beside the 62.5-px bar). A bar keeps a gap from its label; one drawn right under it is
    thicker than one row."""
    inside_rows = label.y0 <= cand.y0 and cand.y1 <= label.y1
    overlap = min(cand.x1_px, label.x1) - max(cand.x0_px, label.x0)
    if inside_rows and overlap >= 0.5 * cand.length_px:
        return True
    touching = cand.y0 - label.y1 in (0, 1) or label.y0 - cand.y1 in (0, 1)
    within = label.x0 - 3 <= cand.x0_px and cand.x1_px <= label.x1 + 3
    return cand.y1 - cand.y0 <= 1 and touching and within


def _same_bar(a: BarCandidate, b: BarCandidate) -> bool:
    """The same bar found again (in an overlapping search region): ends and top within 3 px."""
    return abs(a.x0_px - b.x0_px) < 3 and abs(a.x1_px - b.x1_px) < 3 and abs(a.y0 - b.y0) < 3


def _all_label_crops(grey: np.ndarray, region: Region, cand: BarCandidate, clip: bool):
    """``(crop, detected)``: crops from the bar's own colour first, then from ink strokes (see
    :func:`label_crops`), then from the text detector (:func:`detected_label_crops`), each
    only if still needed."""
    for crop in label_crops(grey, region, cand, clip_to_region=clip):
        yield crop, False
    for crop in label_crops(grey, region, cand, clip_to_region=clip, ink=True):
        yield crop, False
    for crop in detected_label_crops(grey, region if clip else None, cand):
        yield crop, True


def detected_label_crops(grey: np.ndarray, lim: Region | None, cand: BarCandidate) -> list[Region]:
    """Text lines the OCR's detector finds around the bar, nearest first, cut off the bar.

    The last resort: white "100 nm" half over a white particle has no threshold that keeps
    its glyphs and drops the particle (emps-train 6d0f510327), but a text detector sees the
    line. Runs only for a candidate whose other crops were read in vain (5-60 ms here).
    """
    h_img, w_img = grey.shape
    length = cand.length_px
    reach = int(max(40, 0.6 * length, 0.12 * min(h_img, w_img)))
    lim = lim or Region(0, 0, w_img, h_img)
    win = Region(
        max(lim.x0, int(cand.x0_px - length)),
        max(lim.y0, cand.y0 - reach),
        min(lim.x1, int(cand.x1_px + length) + 1),
        min(lim.y1, cand.y1 + reach),
    )
    crops = []
    for x0, y0, x1, y1 in find_text_lines(grey[win.y0 : win.y1, win.x0 : win.x1]):
        box = Region(win.x0 + x0, win.y0 + y0, win.x0 + x1, win.y0 + y1)
        over_bar = box.x0 < cand.x1_px and box.x1 > cand.x0_px
        if over_bar and box.y0 < cand.y1 and box.y1 > cand.y0:  # keep the side with the text
            above, below = cand.y0 - box.y0, box.y1 - cand.y1
            box = (
                Region(box.x0, box.y0, box.x1, cand.y0)
                if above >= below
                else Region(box.x0, cand.y1, box.x1, box.y1)
            )
        if box.height >= 6 and box.width >= 8:
            crops.append(box)
    return sorted(crops, key=lambda b: _box_gap(b, cand))


def _box_gap(box: Region, cand: BarCandidate) -> float:
    dx = max(0.0, cand.x0_px - box.x1, box.x0 - cand.x1_px)
    dy = max(0, cand.y0 - box.y1, box.y0 - cand.y1)
    return float(np.hypot(dx, dy))


def _line_shaped(crop: Region) -> bool:
    """Wide enough for a length label. The shortest ("1µm", "5 nm") is over twice as wide as
    its glyphs are tall, and the crop adds half a glyph height at each end; a square crop
    holds one glyph or a speck, whose read ("國", "0") only spends the OCR budget."""
    return crop.width >= _MIN_LABEL_ASPECT * crop.height


def _same_crop(a: Region, b: Region, *, similar_size: bool = False) -> bool:
    """Two crops of the same text: they overlap by 80 % of the smaller one. With
    ``similar_size``, also the larger is at most twice the smaller: a detected tight line
    inside a loose crop full of particle edges reads differently (emps-train 6d0f510327)."""
    ix = min(a.x1, b.x1) - max(a.x0, b.x0)
    iy = min(a.y1, b.y1) - max(a.y0, b.y0)
    if ix <= 0 or iy <= 0:
        return False
    small, large = sorted((a.width * a.height, b.width * b.height))
    if ix * iy < 0.8 * small or (similar_size and large > 2 * small):
        return False
    # A crop of the same line reaching a glyph further along it holds text the other lost:
    # an outlined "nm" merged with a dark particle drops out of the colour crop, the ink
    # crop keeps it (rendered TEM 6111 at 640 px read "200.0" and never "200.0nm").
    low, high = sorted((a.height, b.height))
    glyph = 0.8 * low
    same_line = high <= 1.5 * low
    return not same_line or (abs(a.x0 - b.x0) <= glyph and abs(a.x1 - b.x1) <= glyph)


def _with_room_for_rest(
    crop: Region, read: tuple[str, float], lim: Region | None, shape: tuple[int, int]
) -> Region | None:
    """``crop`` widened by 2.5 heights when it was read with certainty as half a label: to
    the right for a bare number ("1.0" at 0.999, "500n"), room for the unit a wide space
    left outside it; to the left for a bare unit ("µm" at 0.98 beside a serif "3  µm",
    emps-train 1b935635dd), room for its number."""
    text, score = read
    if score < _SURE_SCORE:
        return None
    room = int(2.5 * crop.height)
    if _BARE_NUMBER_RE.fullmatch(text.strip()):
        x1 = min(lim.x1 if lim is not None else shape[1], crop.x1 + room)
        return Region(crop.x0, crop.y0, x1, crop.y1) if x1 > crop.x1 else None
    if _BARE_UNIT_RE.fullmatch(normalise_micro(text.strip())):
        x0 = max(lim.x0 if lim is not None else 0, crop.x0 - room)
        return Region(x0, crop.y0, crop.x1, crop.y1) if x0 < crop.x0 else None
    return None


def _number_and_unit(text: str) -> bool:
    """A digit and an "m" (of nm, µm, um, mm): a length label, however misread."""
    return any(ch.isdigit() for ch in text) and "m" in text.lower()


def _other_glyph_count(garbled: str, label: str) -> bool:
    """``garbled`` ("V nm") has letters before its unit, as many as ``label`` ("10 nm") has
    digits, or not. Letters ending in a round "o" where the label's number ends in 0 ("o nm",
    "Eo nm" beside "100 nm") are that number with its first glyphs lost or misread, as white
    glyphs over a white particle are once thresholded (emps-train 6d0f510327): they agree
    with its end and do not count against it."""
    m = _GARBLED_NUMBER_RE.match(normalise_micro(garbled))
    number = re.match(r"\s*([\d.,]+)", label)
    if m is None or number is None:
        return False
    if m.group(1)[-1] in "oO" and number.group(1).endswith("0"):
        return False
    return len(m.group(1)) != len(number.group(1))


def _other_round_number(garbled: str, value: float) -> bool:
    """``garbled`` starts with a round number other than ``value`` followed by some "m"
    ("100m2" beside 10): a reading of the label's number that disagrees, whatever became
    of its unit."""
    m = _NUMBER_BEFORE_M_RE.match(ocr_variants(garbled)[-1])
    if m is None:
        return False
    number = float(m.group(1).replace(",", "."))
    return is_round_length(number) and number != value


def _worth_retry(text: str) -> bool:
    """A near miss (short, digits or an "m", no date/time punctuation) deserves a 2nd read."""
    t = text.strip()
    return (
        0 < len(t) <= 9
        and not any(ch in t for ch in "/:")
        and (any(ch.isdigit() for ch in t) or "m" in t)
    )


def ocr_variants(text: str) -> list[str]:
    """The text as read, then with the usual OCR confusions in numbers and units undone,
    then cut after its first length (a bar's end tick read as a trailing letter). A dotted
    zero read as "8" is undone first: no bar is "108 nm" long."""
    text = _DOTTED_ZERO_RE.sub(lambda m: m.group(0).replace("8", "0"), text)
    fixed = _LEADING_ONE_RE.sub("1", text)
    fixed = _M_AS_NN_RE.sub("nm", _O_IN_NUMBER_RE.sub("0", fixed).replace("rn", "m"))
    fixed = _N_AS_R_RE.sub("nm", fixed)
    fixed = restore_micro(_AT_IN_NUMBER_RE.sub("0", fixed))
    fixed = _MU_AS_DESCENDER_RE.sub("\u00b5", fixed)
    fixed = _DOT_BEFORE_UNIT_RE.sub(" ", fixed)
    out = [text] if fixed == text else [text, fixed]
    m = _LENGTH_PREFIX_RE.match(normalise_micro(fixed))
    if m and m.group(0) != fixed:
        out.append(m.group(0))
    return out


def interpret_label(
    text: str, length_px: float, *, width_px: int | None = None
) -> tuple[float, str] | None:
    """(value, unit) of a label, given the bar it labels; ``None`` if not a usable length.

    OCR confuses "nm" with "mm" and "µm" with "pm" in some fonts; the bar length tells them
    apart, because only one reading gives a pixel size a microscope can produce. With the
    image's ``width_px`` the field of view must be one a microscope can image too.
    """
    for variant in ocr_variants(text):
        if not is_bare_length(variant):
            continue  # "WD 3.1mm" is a data-bar field, not a scale-bar label
        parsed = parse_length(variant)
        if parsed is None or parsed[0] <= 0 or length_px <= 0:
            continue
        value, unit = parsed
        if unit == "m":
            # "500 m" lost a "µ" or an "n": a factor of 1000 no bar length can settle when
            # both give a microscope's pixel, so the label counts as unread.
            units = [u for u in ("µm", "nm") if plausible_pixel_size(to_nm(value, u) / length_px)]
            if len(units) == 2 and width_px is not None and any(ch.isdigit() for ch in text):
                # A field under 10 nm is refused as a calibration anyway (see _sources in
                # calibrate): "0.5 m" over 127 px of a 664-px figure is 0.5 µm (emps-train
                # a3eb38c236; each of the four bare "m" read in emps-train lost a "µ"). Not
                # for a number that is itself a guess ("Im": an "I" taken for a 1).
                units = [
                    u for u in units if plausible_pixel_size(to_nm(value, u) / length_px, width_px)
                ]
            if len(units) == 1:
                return value, units[0]
            continue
        for u in (unit, *_UNIT_CONFUSIONS.get(unit, ())):
            pixel_nm = to_nm(value, u) / length_px
            if plausible_pixel_size(pixel_nm):
                return value, u
    return None


class LabelVote(NamedTuple):
    """The outcome of reading one label crop several ways."""

    parsed: tuple[float, str] | None  # (value, unit), or None when unread
    text: str  # the reading chosen, or the best-scored one when unread
    score: float
    calls: int  # OCR calls made (not counting a reading passed in)
    reads: list[tuple[str, float]]  # every reading: grey, then thresholded at 3x and 2x


def vote_label(
    pixels: np.ndarray,
    length_px: float,
    first: tuple[str, float] | None = None,
    *,
    width_px: int | None = None,
) -> LabelVote:
    """Read a label crop two or three ways and keep the length they agree on.

    Readings: the grey crop (or ``first``, a reading already made), the crop binarised at
    3x, then binarised at 2x if the two differ.
    A length wins with two votes; a reading whose number matches and whose unit lost its
    prefix (``2 m``) votes for it too. One sure reading (score >= 0.9) that nothing
    contradicts also stands. "nm" and "µm" differ by one glyph the recogniser sometimes
    swaps (4 of the 66 real labels in tests/analysis/data); readings that disagree leave
    the label unread rather than risk a factor of 1000. A length no bar is drawn at ("108
    nm", see :func:`is_round_length`) leaves it unread too, and does not speak against
    another reading either.
    """
    reads: list[tuple[str, float]] = []
    calls = 0
    for kwargs in ({}, {"scale": 3, "binarise": True}, {"binarise": True}):
        if not reads and first is not None:
            reads.append(first)
            continue
        if len(reads) == 2:
            p0, p1 = (interpret_label(t, length_px, width_px=width_px) for t, _ in reads)
            if p0 is not None and p0 == p1:
                break
        reads.append(read_text(pixels, **kwargs))
        calls += 1
    parsed = [interpret_label(t, length_px, width_px=width_px) for t, _ in reads]
    best: tuple[tuple[float, str], str, float] | None = None
    for cand, (text, score) in zip(parsed, reads, strict=True):
        if cand is None:
            continue
        votes = sum(
            p == cand or (p is None and _bare_m_of(t, cand))
            for p, (t, _) in zip(parsed, reads, strict=True)
        )
        # Only a fair reading (score >= 0.7) contradicts, and only with a length a bar could
        # be drawn at ("16 mm" or "600 m" read from a 5-px "500 nm" is that reading's own
        # misread), or with another count of glyphs, letters, where the number stands: "V
        # nm" doubts a "10 nm" read at 0.96 from a "500 nm" (emps-train dc20484021), while
        # "LQo nm" beside "100 nm" (6d0f510327) counts the same three glyphs.
        against = any(
            sc >= _FAIR_SCORE
            and (
                (p is not None and p != cand and is_round_length(p[0]))
                or (p is None and _other_glyph_count(t, text))
            )
            for p, (t, sc) in zip(parsed, reads, strict=True)
        )
        # The two thresholded readings share one binarisation, so their two votes are one
        # when the fair grey reading has another round number before a unit it lost:
        # "100m2" doubts "10mm" twice (emps-train e853d120fa at half size, its "00" merged
        # once thresholded; 10x off if believed).
        grey_text, grey_score = reads[0]
        grey_doubts = (
            parsed[0] is None
            and grey_score >= _FAIR_SCORE
            and _other_round_number(grey_text, cand[0])
        )
        sure = score >= _SURE_SCORE and not against and not grey_doubts
        trusted = ((votes >= 2 and not grey_doubts) or sure) and is_round_length(cand[0])
        if trusted and (best is None or score > best[2]):
            best = (cand, text, score)
    if best is None:
        text, score = max(reads, key=lambda r: r[1])
        return LabelVote(None, text, score, calls, reads)
    return LabelVote(best[0], best[1], best[2], calls, reads)


def grey_only_length(
    vote: LabelVote, length_px: float, *, width_px: int | None = None
) -> tuple[float, str] | None:
    """The length the grey crop alone read in a vote that failed, when both thresholded
    reads read none: glyphs drawn with an outline of the other colour (white "50 nm" ringed
    in black, emps-train 6360a823da) lose their strokes to Otsu, which keeps the outline,
    so the thresholded reads are no votes at all, for or against."""
    if vote.parsed is not None or len(vote.reads) != 3:
        return None
    grey, *thresholded = (interpret_label(t, length_px, width_px=width_px) for t, _ in vote.reads)
    if grey is None or thresholded != [None, None] or not is_round_length(grey[0]):
        return None
    return grey


def grey_consensus(
    pixels: np.ndarray,
    grey_text: str,
    parsed: tuple[float, str],
    length_px: float,
    *,
    width_px: int | None = None,
) -> LabelVote:
    """``parsed`` (see :func:`grey_only_length`) if the grey crop read at two more scales
    gives it too. Three grey reads must agree, not two: reads of one crop share its errors.
    A weaker proof than :func:`vote_label`'s, so it is asked for only once no bar has a
    label read the usual way (emps-train a492171fa8: a ruler's label would otherwise go to
    the wrong extent of its ticks)."""
    scale = default_scale(pixels.shape[0])
    reads = [read_text(pixels, scale=s) for s in (scale + 1, scale + 2)]
    agree = all(
        interpret_label(t, length_px, width_px=width_px) == parsed or _bare_m_of(t, parsed)
        for t, _ in reads
    )
    score = min(sc for _, sc in reads)
    return LabelVote(parsed if agree else None, grey_text, score, len(reads), reads)


def is_round_length(value: float) -> bool:
    """Bars are drawn at round lengths: one significant digit (1, 2, 5, 30, 500 ...) or 1.5,
    2.5, 7.5 times a power of ten; so are all of the 66 real labels and the 5 figure bars in
    ../shared. "108 nm" is a "100 nm" whose dotted zero was read as 8, by every reading of
    the crop alike (emps-train 427ebc9e15): votes of one crop are not independent, so a
    length no bar is drawn at is not believed."""
    if not value > 0:
        return False
    digits = f"{value:.6e}".split("e")[0].rstrip("0").rstrip(".")
    return len(digits) == 1 or digits in ("1.5", "2.5", "7.5")


def _bare_m_of(text: str, parsed: tuple[float, str]) -> bool:
    """``"2 m"`` is the same label as 2 µm or 2 nm with the prefix lost."""
    read = parse_length(text)
    return read is not None and read[1] == "m" and read[0] == parsed[0]


def _to_scale_bar(
    cand: BarCandidate, text: str | None, parsed: tuple[float, str] | None, ocr_score: float
) -> ScaleBar:
    value, unit = parsed if parsed else (None, None)
    as_read = parse_length(text) if text is not None else None
    if text is not None and parsed is not None and as_read != parsed:
        # OCR needed correcting ("500 m", "[um"): report what the label says, trust it less.
        text = f"{value:g} {unit}"
        ocr_score *= 0.9
        if as_read is not None and as_read[1] == "m":
            # A bare "m" may have lost its "µ" or its "n": a factor of 1000 hangs on a guess,
            # so the result is flagged (LOW_CONFIDENCE) for a person to confirm.
            ocr_score *= 0.5
    return ScaleBar(
        length_px=round(float(cand.length_px), 2),
        bbox=cand.bbox,
        label=text,
        value=value,
        unit=unit,
        length_nm=to_nm(value, unit) if value is not None and unit else None,
        # OCR certainty dominates: a clean bar with a misread label is worthless.
        confidence=round(float(ocr_score * (0.7 + 0.3 * min(1.0, cand.score / 0.5))), 3),
    )


# --------------------------------------------------------------------------------------------
# candidates


def _polarity_views(sub: np.ndarray, bright: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Orient so the bar is bright; return (values, mask) pairs at two threshold levels.

    Two levels because labels and bars are not always equally bright: a JPEG-softened bar
    can sit well below the label's white, and only the lower level keeps it in one piece.
    """
    v = sub if bright else 1.0 - sub
    med, hi = float(np.median(v)), float(v.max())
    if hi - med < _MIN_CONTRAST:
        return []
    return [(v, v >= med + frac * (hi - med)) for frac in _THRESHOLD_LEVELS]


def find_bar_candidates(grey: np.ndarray, region: Region) -> list[BarCandidate]:
    """Bar candidates inside ``region``, best first (image coordinates)."""

    sub = grey[region.y0 : region.y1, region.x0 : region.x1]
    if sub.size == 0 or min(sub.shape) < 3:
        return []
    img_h, img_w = grey.shape[:2]
    out: list[BarCandidate] = []
    for bright in (True, False):
        views = _polarity_views(sub, bright)
        if not views:
            continue
        v = views[0][0]
        v_median = float(np.median(v))  # once per polarity: the views share ``v``
        blobs: list[tuple[int, int, int, int]] = []
        for level, (_v, mask) in enumerate(views):
            found, missed = _view_candidates(
                v, mask, region, bright, img_h, img_w, v_median=v_median,
                rulers=level == len(views) - 1,  # the lowest level holds every tick
            )  # fmt: skip
            out.extend(found)
            blobs.extend(missed)
        if blobs:
            out.extend(_saturated_candidates(v, v_median, blobs, region, bright, img_h, img_w))
    out = [c for c in out if _drawn_not_grain(grey, c, img_w)]
    # Scale bars are drawn long (10-30 % of the width); short straight pieces (a glyph's
    # outline, a particle's facet) are tried after them, so they do not use up the OCR budget.
    # A run along the image's first or last row is a frame line or the cut edge of a table
    # (a figure cropped through an FEI band: its cell rule, next to "HFW 592 nm"); it is
    # tried only after every bar drawn inside the frame.
    out.sort(
        key=lambda c: (
            c.y0 == 0 or c.y1 >= img_h,
            -c.score * min(1.0, c.length_px / (0.1 * img_w)) ** 0.5,
        )
    )
    unique: list[BarCandidate] = []
    for c in out:  # the same bar found at both threshold levels: keep the better one
        if not any(_same_bar(c, u) for u in unique) and not any(
            _longer_copy(o, c) or _frame_of_segments(o, c) for o in out
        ):
            unique.append(c)
    return unique


def _view_candidates(
    v: np.ndarray,
    mask: np.ndarray,
    region: Region,
    bright: bool,
    img_h: int,
    img_w: int,
    *,
    v_median: float,
    rulers: bool,
    windows: list[tuple[slice, slice]] | None = None,
) -> tuple[list[BarCandidate], list[tuple[int, int, int, int]]]:
    """Candidates of one thresholded view (bar bright in ``v``, ``mask`` its pixels), and
    the boxes ``(x0, y0, x1, y1)`` of long components that were blobs with no bar's rows.

    ``v_median`` is ``np.median(v)`` (0.1 s per segment on textured frames if recomputed);
    ``windows`` (rows, columns) limit the search to parts of ``v``, all of it by default.
    """
    min_len = max(12, int(0.03 * img_w))
    segs = []
    border: set[tuple[int, int, int, int]] = set()
    missed = []
    for rows_w, cols_w in windows or [(slice(0, v.shape[0]), slice(0, v.shape[1]))]:
        ox, oy = cols_w.start, rows_w.start
        opened = cv2.morphologyEx(
            mask[rows_w, cols_w].astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, min_len), np.uint8)
        )
        n, labels, stats, _c = cv2.connectedComponentsWithStats(opened, connectivity=8)
        for i in range(1, n):
            x, y, w, h, area = (int(s) for s in stats[i])
            if w > 0.9 * v.shape[1] or w > 0.8 * img_w:
                continue
            if h > max(3, 0.35 * w) or h > 60 or area < 0.8 * w * h:
                # Tall or unfilled: a bar drawn across a particle of its own colour merges
                # with it (TEM bars over dark particles); its rows stick out on both sides.
                rows = _bar_rows_through_blob(labels[y : y + h, x : x + w] == i)
                if rows is None:
                    missed.append((ox + x, oy + y, ox + x + w, oy + y + h))
                    continue
                x, y, w, h = x + rows[0], y + rows[1], rows[2], rows[3]
            x, y = ox + x, oy + y
            at_border = x == 0 or x + w >= v.shape[1]  # a frame line, or a cropped bar
            if (y == 0 and region.y0 > 0) or (y + h >= v.shape[0] and region.y1 < img_h):
                continue  # cut by the search region's edge: part of something taller
            if (0 < ox == x) or (x + w == cols_w.stop < v.shape[1]):
                # Cut by a window's side: a bar running on past it would be measured to
                # the window (emps-train a68915823c: 248 px of a 290-px bar, the window
                # around a dark particle beside it reaching into the bar's rows).
                continue
            x, w = _trim_touching_ends(mask, x, y, w, h)
            if w < min_len or not _edged_above_below(v, x, y, w, h, v_median):
                continue
            segs.append((x, y, w, h))
            if at_border:
                border.add((x, y, w, h))
    out = _tick_rulers(v, mask, region, bright, img_w) if rulers else []
    for seg, gap in _merge_collinear(segs, mask):
        if gap is None and seg in border:
            continue  # running into the border alone: a frame line
        # (one half of a split bar may end at the border of a figure cropped tight)
        cand = _measure(v, mask, seg, gap, region, bright)
        if cand is not None and not _end_hidden(v, region, cand):
            out.append(cand)
    return out, missed


def _saturated_candidates(
    v: np.ndarray,
    v_median: float,
    blobs: list[tuple[int, int, int, int]],
    region: Region,
    bright: bool,
    img_h: int,
    img_w: int,
) -> list[BarCandidate]:
    """Candidates at the view's extreme level inside ``blobs`` (boxes in ``v``).

    A blob with no bar's rows in it may be a solid bar merged with a particle almost as dark
    (grey 0.18 under a black bar, rendered TEM 6108): the bar alone is at the extreme, so it
    is looked for again near that level, only around such blobs (a third threshold over
    the whole region cost 37 % more search time on the real figures).
    """
    level = v_median + _SATURATED_LEVEL * (float(v.max()) - v_median)
    mask = np.zeros(v.shape, bool)
    pad = 16  # room for the edges, ends and ticks the bar's tests look at
    windows = []
    for x0, y0, x1, y1 in blobs:
        rows = slice(max(0, y0 - pad), min(v.shape[0], y1 + pad))
        cols = slice(max(0, x0 - pad), min(v.shape[1], x1 + pad))
        mask[rows, cols] = v[rows, cols] >= level
        windows.append((rows, cols))
    return _view_candidates(
        v, mask, region, bright, img_h, img_w, v_median=v_median, rulers=False, windows=windows
    )[0]


def _end_hidden(v: np.ndarray, region: Region, cand: BarCandidate) -> bool:
    """An end of the bar lies inside a blob of the bar's own level (a TEM bar drawn into a
    particle as black as itself): its last pixels have that level above and below too, so
    where the bar stops cannot be seen, and any length measured there is a guess. Such a
    candidate is dropped; before the detector read its label it was left unread anyway."""
    y0, y1 = cand.y0 - region.y0, cand.y1 - region.y0
    thick = y1 - y0
    if y0 < thick + 2 or y1 + thick + 2 > v.shape[0]:
        return False
    # Within 15 % of the contrast of the bar's own level: a particle merely "almost as dark"
    # shows where the bar stops (see _ends_on_particles), one as dark does not.
    level = cand.bar_level - 0.15 * (cand.bar_level - cand.bg_level)
    for end, step in ((cand.x0_px, 1), (cand.x1_px, -1)):
        x = int(round(end - region.x0))
        cols = slice(min(x, x + 4 * step), max(x, x + 4 * step))
        above = v[y0 - thick - 2 : y0 - 1, cols]
        below = v[y1 + 1 : y1 + thick + 2, cols]
        # Most of it, not all: a label's glyphs may sit in the same blob next to the end.
        if above.size and below.size and min(np.median(above), np.median(below)) >= level:
            return True
    return False


def _tick_rulers(
    v: np.ndarray, mask: np.ndarray, region: Region, bright: bool, img_w: int
) -> list[BarCandidate]:
    """Rulers drawn as a row of evenly spaced ticks with no line between them (Hitachi S-
    and SU- series: 11 ticks, the label giving the whole length, first to last centre).

    Ticks: small upright marks at one height (tops within 2 px, heights within 1.6x), at
    least :data:`_MIN_RULER_TICKS` of them spaced evenly (each gap within 8 % of the median;
    real ones within 3 %). Glyphs of a text line are neither evenly spaced nor upright
    strokes of one width, and grain does not line up: 7 gaps in a row each within 8 % of
    their median happen by chance about once in 10^7 placements (6 within 12 % found a
    "ruler" in uniform noise).
    """
    n, _lab, stats, centres = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    w_all, h_all = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    keep = 1 + np.flatnonzero((h_all >= 3) & (h_all <= 24) & (w_all <= np.maximum(5, 0.6 * h_all)))
    # Marks sorted by top: a row of ticks is a slice of them.
    keep = keep[np.argsort(stats[keep, cv2.CC_STAT_TOP], kind="stable")]
    tops, heights = stats[keep, cv2.CC_STAT_TOP], stats[keep, cv2.CC_STAT_HEIGHT]
    out: list[BarCandidate] = []
    used = np.zeros(len(keep), bool)
    for top in np.unique(tops):
        lo_i, hi_i = np.searchsorted(tops, [top - 2, top + 3])
        idx = np.arange(lo_i, hi_i)[~used[lo_i:hi_i]]
        if not _MIN_RULER_TICKS <= idx.size <= _MAX_ROW_MARKS:
            continue  # too few for a ruler, or grain all along the row
        h = heights[idx].astype(float)
        h_med = float(np.median(h))
        idx = idx[np.maximum(h, h_med) <= 1.6 * np.minimum(h, h_med)]
        idx = idx[np.argsort(centres[keep[idx], 0])]
        xs = centres[keep[idx], 0]
        run = _even_run(xs)
        if run is None:
            continue
        ticks = _whole_ruler(xs, *run)
        if len(ticks) != _RULER_TICKS:
            continue  # part of a ruler (the rest cut off, or lost): its label is the whole
        used[idx[ticks]] = True
        members = keep[idx[ticks]]
        x0, x1 = float(xs[ticks[0]]), float(xs[ticks[-1]])
        if x1 - x0 < _SHORT_BAR_FRACTION * img_w:
            continue
        y0 = int(stats[members, cv2.CC_STAT_TOP].min())
        y1 = int((stats[members, cv2.CC_STAT_TOP] + stats[members, cv2.CC_STAT_HEIGHT]).max())
        inside = np.zeros(mask.shape, bool)
        for label in members:
            x, y, w, hh = (int(q) for q in stats[label][:4])
            inside[y : y + hh, x : x + w] = mask[y : y + hh, x : x + w] > 0
        strip = v[max(0, y0 - 3) : y1 + 3, int(x0) : int(np.ceil(x1)) + 1]
        ground = strip[~inside[max(0, y0 - 3) : y1 + 3, int(x0) : int(np.ceil(x1)) + 1]]
        bar_level = float(np.median(v[inside]))
        bg_level = float(np.median(ground)) if ground.size else float(np.median(v))
        if bar_level - bg_level < _MIN_CONTRAST:
            continue
        out.append(
            BarCandidate(
                x0_px=region.x0 + x0,
                x1_px=region.x0 + x1,
                y0=region.y0 + y0,
                y1=region.y0 + y1,
                bright=bright,
                score=0.8 * (bar_level - bg_level),
                bar_level=bar_level,
                bg_level=bg_level,
            )
        )
    return out


def _whole_ruler(xs: np.ndarray, lo: int, hi: int) -> list[int]:
    """Indices of the ruler's ticks: the even run ``xs[lo:hi]`` extended on both sides by
    marks at its own pitch.

    Resampling moves a thin tick's centre by up to a pixel: on a 0.75x copy of a real ruler
    (emps-train 4ec7671d11, pitch 14.9 px) one gap came out 16.0 px, outside the run's 8 %,
    and the ruler was read over 9 of its 11 ticks, 20 % short. Once a run has shown the
    pitch, a mark within 1.5 px (or 15 %) of the next expected place is the next tick.
    """
    ticks = list(range(lo, hi))
    step = float(xs[hi - 1] - xs[lo]) / (hi - 1 - lo)
    tol = max(1.5, 0.15 * step)
    for direction in (-1, 1):
        while True:
            end = ticks[0] if direction < 0 else ticks[-1]
            want = xs[end] + direction * step
            side = np.arange(0, end) if direction < 0 else np.arange(end + 1, len(xs))
            if side.size == 0:
                break
            j = int(side[np.argmin(np.abs(xs[side] - want))])
            if abs(xs[j] - want) > tol:
                break
            ticks = [j, *ticks] if direction < 0 else [*ticks, j]
    return ticks


def _even_run(xs: np.ndarray) -> tuple[int, int] | None:
    """The longest run of ``xs`` (sorted) whose gaps all lie within 8 % of their median, as
    ``(first, last + 1)``, if it holds :data:`_MIN_RULER_TICKS` marks."""
    if len(xs) < _MIN_RULER_TICKS:
        return None
    gaps = np.diff(xs)
    step = float(np.median(gaps))
    if step < 4:
        return None
    even = np.concatenate([[0], (np.abs(gaps - step) <= 0.08 * step).astype(np.int8), [0]])
    edges = np.diff(even)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size == 0:
        return None
    k = int(np.argmax(ends - starts))
    if ends[k] - starts[k] + 1 < _MIN_RULER_TICKS:  # n even gaps join n + 1 marks
        return None
    return int(starts[k]), int(ends[k]) + 1


def _drawn_not_grain(grey: np.ndarray, cand: BarCandidate, img_w: int) -> bool:
    """A short candidate must stand out of its ground by several times the ground's noise.

    On textured TEM/SEM ground the threshold-and-opening step finds chance runs of bright (or
    dark) grain a few pixels longer than the opening; each one costs up to five OCR reads of
    label crops that are only more grain (0.3 s per image). A chance run is short and barely
    above the texture (contrast mostly 1.8-3 times the std of the rows beside it on the real
    negatives and msa-tem frames); a burned-in bar is drawn to be seen (>= 10 times on the
    real bars under 8 % of the width, tests/analysis/data). Long runs are not chance: faint
    long bars (a 1-px line on texture, 2.1 times) are kept whatever their contrast.
    """
    if cand.length_px >= _SHORT_BAR_FRACTION * img_w:
        return True
    v = grey if cand.bright else 1.0 - grey
    x0, x1 = int(np.ceil(cand.x0_px)), int(cand.x1_px)
    ground = np.concatenate(
        [
            v[max(0, cand.y0 - 5) : max(0, cand.y0 - 1), x0:x1].ravel(),
            v[cand.y1 + 1 : cand.y1 + 5, x0:x1].ravel(),
        ]
    )
    if ground.size == 0:
        return True
    return cand.bar_level - cand.bg_level >= _MIN_SHORT_BAR_SNR * float(ground.std())


def _longer_copy(o: BarCandidate, c: BarCandidate) -> bool:
    """``o`` is ``c`` found whole: same rows, covering it, longer, about as clean.

    A thin faint bar on a textured ground breaks at the higher threshold where the texture
    dips; the lower threshold keeps it in one piece (a real 91-px bar was read as 76 px).
    """
    return (
        o is not c
        and abs(o.y0 - c.y0) <= 3
        and abs(o.y1 - c.y1) <= 3
        and o.bright == c.bright
        and o.x0_px <= c.x0_px + 2
        and o.x1_px >= c.x1_px - 2
        and o.length_px > c.length_px + 3
        and o.score >= 0.8 * c.score
    )


def _frame_of_segments(o: BarCandidate, c: BarCandidate) -> bool:
    """``o`` is the outline of a segmented bar of which ``c`` holds a few cells.

    A white bar in a black frame with black cells in it: one black cell looks like a label
    drawn inside the bar, and the white cells on either side of it come out as one "bar"
    with a gap, a part of the whole (emps-train bfb2a25730 at 1.5x: 190 px of 310). The
    frame's edge runs along the cells' top or bottom over the whole length.
    """
    return (
        c.gap is not None
        # the white between frame and cells grows with the copy's size (5 px at 2x)
        and min(abs(o.y1 - c.y0), abs(o.y0 - c.y1)) <= max(2, (c.y1 - c.y0) // 4)
        and min(o.x1_px, c.x1_px) - max(o.x0_px, c.x0_px) >= 0.9 * c.length_px
        and o.length_px > c.length_px + 3
        and o.score >= 0.5 * c.score  # a 1-2 px edge scores lower than the cells' blocks
    )


def _trim_touching_ends(mask: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[int, int]:
    """Cut off an object that touches a bar end (a particle under a burned-in bar).

    Columns whose rows just above AND below the bar are bar-coloured belong to something
    thicker than the bar; a run of them wider than an end tick is removed from that end.
    """
    rows = [r for r in (y - 2, y + h + 1) if 0 <= r < mask.shape[0]]
    if len(rows) < 2:
        return x, w
    blocked = mask[rows[0], x : x + w] & mask[rows[1], x : x + w]
    tick_max = max(4, int(0.06 * w))
    free = np.flatnonzero(~blocked)
    if free.size == 0:
        return x, w
    left, right = int(free[0]), int(w - 1 - free[-1])
    new_x0 = x + left if left > tick_max else x
    new_x1 = x + w - right if right > tick_max else x + w
    return new_x0, new_x1 - new_x0


def _bar_rows_through_blob(blob: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of a bar inside ``blob`` (a bar merged with a particle it touches).

    The bar is the block of consecutive rows that reach furthest: where it crosses or ends
    on a particle, the particle's rows are much narrower than the bar, so the bar's rows
    stand out as the widest. ``None`` when no thin block of wide, filled rows exists.
    """
    has = blob.any(axis=1)
    if not has.any():
        return None
    first = np.where(has, blob.argmax(axis=1), blob.shape[1])
    last = np.where(has, blob.shape[1] - 1 - blob[:, ::-1].argmax(axis=1), -1)
    width = np.where(has, last - first + 1, 0)
    wmax = int(width.max())
    top = int(width.argmax())
    wide = width >= 0.9 * wmax
    y0 = y1 = top
    while y0 > 0 and wide[y0 - 1]:
        y0 -= 1
    while y1 + 1 < blob.shape[0] and wide[y1 + 1]:
        y1 += 1
    h = y1 - y0 + 1
    if h > max(3, 0.35 * wmax) or h > 60 or h == blob.shape[0]:
        return None
    # The bar must stick out past the rows next to it, or this is just a wide blob.
    for r in (y0 - 1, y1 + 1):
        if 0 <= r < blob.shape[0] and width[r] > wmax - max(6, 2 * h):
            return None
    x0, x1 = int(first[y0 : y1 + 1].max()), int(last[y0 : y1 + 1].min())
    if x1 - x0 < 0.8 * wmax or blob[y0 : y1 + 1, x0 : x1 + 1].mean() < 0.9:
        return None
    x0, x1 = int(first[y0 : y1 + 1].min()), int(last[y0 : y1 + 1].max())
    return x0, y0, x1 - x0 + 1, h


def _edged_above_below(
    v: np.ndarray, x: int, y: int, w: int, h: int, v_median: float | None = None
) -> bool:
    """The bar has an edge above and below it: along most of its length, or at both ends.

    A bar is a thin stripe darker (or brighter) than what lies on both sides of it; a
    particle's straight edge has ground of the bar's colour on one side. A bar drawn across
    a particle of nearly its own colour loses its edges there but keeps them where it sticks
    out on both sides. End ticks are narrow and allowed. ``v_median`` is ``np.median(v)``,
    passed by callers that test many segments of one view (a median per segment of a
    textured frame cost 0.1 s).
    """
    rows = [r for r in (y - 2, y + h + 1) if 0 <= r < v.shape[0]]  # one at a region's edge
    core = v[y : y + h, x : x + w]
    if core.size == 0 or not rows:
        return False
    level = float(np.median(core))
    lo_all = float(np.median(v)) if v_median is None else v_median
    step = max(0.05, 0.2 * (level - lo_all))
    sides = [level - v[r, x : x + w] > step for r in rows]
    edged = np.logical_and.reduce(sides)
    end = max(3, w // 5)
    ends_ok = edged[:end].mean() >= 0.5 and edged[-end:].mean() >= 0.5
    if edged.mean() >= 0.6 or (ends_ok and edged.mean() >= 0.25):
        return True
    return len(sides) == 2 and _crosses_own_colour(sides[0], sides[1], h)


def _crosses_own_colour(above: np.ndarray, below: np.ndarray, h: int) -> bool:
    """A bar laid across particles of its own colour, seen from its edges (per column).

    Where the bar lies on ground it is edged on both sides, where it crosses the particle on
    neither; only the particle's rim, a few columns, is edged on one side. A particle's
    straight edge is the opposite: ground on one side along its whole length. So: both
    ends edged on both sides (the ends can be seen), a share of the length edged on both
    sides, and few one-sided columns (a TEM bar 80 % across a black disc, rendered 6004,
    kept both-sided edges on 20 % of its length and one-sided ones on 9 %).
    """
    both, one = above & below, above ^ below
    k = max(3, min(h // 4, both.size // 20))
    ends_seen = both[:k].mean() >= 0.8 and both[-k:].mean() >= 0.8
    return bool(ends_seen and both.mean() >= 0.15 and one.mean() <= 0.2)


def _merge_collinear(
    segs: list[tuple[int, int, int, int]], mask: np.ndarray
) -> list[tuple[tuple[int, int, int, int], tuple[int, int] | None]]:
    """Join two pieces on the same rows with a label in between; keep the rest as they are."""
    segs = sorted(segs)
    used: set[int] = set()
    out: list[tuple[tuple[int, int, int, int], tuple[int, int] | None]] = []
    for i, (xa, ya, wa, ha) in enumerate(segs):
        if i in used:
            continue
        merged = None
        for j in range(i + 1, len(segs)):
            xb, yb, wb, hb = segs[j]
            gap = xb - (xa + wa)
            if j in used or abs(ya - yb) > 1 or abs(ha - hb) > 1 or gap <= 2:
                continue
            if gap > 4 * (wa + wb) or abs(wa - wb) > 0.5 * max(wa, wb):
                continue
            rows = slice(max(0, ya - 2 * ha - 6), min(mask.shape[0], ya + 3 * ha + 6))
            if not mask[rows, xa + wa : xb].any():
                continue  # nothing drawn in the gap: two separate lines
            merged = ((xa, min(ya, yb), xb + wb - xa, max(ha, hb)), (xa + wa, xb))
            used.add(j)
            break
        out.append(merged if merged else ((xa, ya, wa, ha), None))
    return out


def _measure(
    v: np.ndarray,
    mask: np.ndarray,
    seg: tuple[int, int, int, int],
    gap: tuple[int, int] | None,
    region: Region,
    bright: bool,
) -> BarCandidate | None:
    x, y, w, h = seg
    rows = slice(y + 1, y + h - 1) if h >= 3 else slice(y, y + h)
    profile = v[rows].mean(axis=0)
    # The bar level is taken on the row-averaged profile, the same quantity the coverage
    # is computed from (bars striped by JPEG ringing would otherwise lose a few percent).
    inner_cols = slice(x + 1, x + w - 1) if gap is None else slice(x + 1, gap[0] - 1)
    inner = v[rows, inner_cols]
    if inner.size == 0:
        return None
    inner_prof = profile[inner_cols]
    bar_level = float(np.median(inner_prof))
    around = np.concatenate(
        [v[max(0, y - 4) : y - 1, x : x + w].ravel(), v[y + h + 1 : y + h + 4, x : x + w].ravel()]
    )
    around_m = np.concatenate(
        [
            mask[max(0, y - 4) : y - 1, x : x + w].ravel(),
            mask[y + h + 1 : y + h + 4, x : x + w].ravel(),
        ]
    )
    bg_vals = around[~around_m] if around.size else around
    bg_level = float(np.median(bg_vals)) if bg_vals.size else float(np.median(v))
    contrast = bar_level - bg_level
    if contrast < _MIN_CONTRAST:
        return None
    if gap is not None and _bridged(v[[y, y + h - 1], gap[0] : gap[1]], bg_level):
        return None  # the "gap" is a hollow segment of a segmented bar, not a label's room
    margin = 4
    lo, hi = max(0, x - margin), min(v.shape[1], x + w + margin)
    if gap is None and h >= 3 and _hollow_segments(v[y : y + h, x : x + w], bg_level):
        # A segmented bar (FEI xT: filled and outlined segments in turn) fills only its
        # outline end to end; its middle rows stop at the last filled segment (half-size
        # FEI renders: 50 px of a 65-px bar). Its ends are where the outline crosses half
        # its level.
        outline = np.clip(v[y : y + h, lo:hi].max(axis=0) - bg_level, 0.0, None)
        left, right = half_max_ends(outline)
        x0, x1 = lo + float(left), lo + float(right)
    else:
        # Coverage is clipped above the bar's noise, not at its median level: on a faint,
        # noisy bar the clip kept every dip below the median and none of the noise above
        # it, and the ends came out 1.5 px short each (emps-train 802e607c7c: 88 px for
        # 91). A clean bar (no noise) is clipped at its level as before; the clip still
        # stops a bright particle beside an end from counting as bar.
        noise = 1.4826 * float(np.median(np.abs(inner_prof - np.median(inner_prof))))
        # Bounded at 1.5: a "bar" of mixed pixels is all "noise", and each end's four
        # margin columns could otherwise add several pixels (the clip at 1.0 held them
        # to four).
        top = min(1.0 + 2.0 * noise / contrast, 1.5)
        left_end = x + w if gap is None else gap[0]
        right_start = x if gap is None else gap[1]
        mid_l = (x + left_end) // 2
        x0 = mid_l - float(_coverage(profile[lo:mid_l], bar_level, bg_level, top).sum())
        mid_r = (right_start + x + w) // 2
        x1 = mid_r + float(_coverage(profile[mid_r:hi], bar_level, bg_level, top).sum())
        if gap is None:
            x0, x1 = _ends_on_particles(profile, inner_prof, bar_level, bg_level, x0, x1)
        ticks = _tick_centres(v, y, h, x0, x1, bg_level, contrast)
        if ticks is not None:
            x0, x1 = ticks  # ticked bars are measured between the ticks' centres
    uniformity = 1.0 - min(1.0, float(inner.std()) / max(contrast, 1e-6))
    score = contrast * uniformity * (1.0 if h <= 0.25 * w else 0.7)
    return BarCandidate(
        x0_px=region.x0 + x0,
        x1_px=region.x0 + x1,
        y0=region.y0 + y,
        y1=region.y0 + y + h,
        bright=bright,
        score=score,
        gap=(region.x0 + gap[0], region.x0 + gap[1]) if gap else None,
        bar_level=bar_level,
        bg_level=bg_level,
    )


def _bridged(edge_rows: np.ndarray, bg: float) -> bool:
    """A gap between two pieces of a bar is closed along its top or bottom row (the two
    ``edge_rows`` over the gap's columns): the outline
    of a hollow segment, where a label set between the pieces leaves the rows open. Closed
    means over 0.4 above the ground in 90 % of its columns. A threshold at half the bar's
    contrast also dropped the gaps of ten more emps-train figures, not known to be outlines."""
    return edge_rows.size > 0 and bool(((edge_rows - bg > 0.4).mean(axis=1) >= 0.9).any())


def _hollow_segments(piece: np.ndarray, bg: float) -> bool:
    """``piece`` (the bar's rows, bar bright) is a segmented bar: an outlined segment inside
    it, 3+ columns whose middle rows are ground while its top and bottom rows are bar, with
    bar columns on both sides. A solid bar running into a bright area (emps-train
    85a5d4d8b9) or two bars split by a dark column (ae001af29f) have no such segment."""
    top, bottom = piece[0], piece[-1]
    level = bg + 0.5 * (float(np.median(np.concatenate([top, bottom]))) - bg)
    middle = piece[1:-1].mean(axis=0)
    hollow = middle < level
    runs = np.diff(np.concatenate([[0], hollow.astype(np.int8), [0]]))
    for start, end in zip(np.nonzero(runs == 1)[0], np.nonzero(runs == -1)[0], strict=True):
        inside = start > 0 and end < len(middle) and end - start >= 3
        if inside and min(top[start:end].min(), bottom[start:end].min()) >= level:
            return True
    return False


def half_max_ends(profile: np.ndarray) -> tuple[float, float]:
    """Sub-pixel positions where the profile crosses half its plateau, from both sides."""
    plateau = float(np.median(profile[profile >= 0.5 * profile.max()]))
    half = 0.5 * plateau
    above = np.flatnonzero(profile >= half)
    i, j = int(above[0]), int(above[-1])
    left = float(i)
    if i > 0:
        a, b = profile[i - 1], profile[i]
        left = i - 1 + (half - a) / (b - a) + 0.5 if b != a else float(i)
    right = float(j + 1)
    if j + 1 < len(profile):
        a, b = profile[j], profile[j + 1]
        right = j + (a - half) / (a - b) + 0.5 if a != b else float(j + 1)
    return left, right


def _coverage(half_profile: np.ndarray, bar: float, bg: float, top: float) -> np.ndarray:
    """How much of each column of one half of a bar (and the ground past its end) is bar.

    The ground is taken from the columns past the end when eight or more lie there (the
    bar's run went on beyond it): the level around the whole bar can differ from it (a bar
    in a darker stripe, its mask running on into the stripe: 11 px of stripe at 8 %
    coverage each made each end 1 px long). The 4 columns of margin alone are too few, and
    too noisy, to be a better level than the one around the bar."""
    off = half_profile[np.abs(half_profile - bg) < 0.5 * abs(bar - bg)]
    local = float(np.median(off)) if off.size >= 8 else bg
    return np.clip((half_profile - local) / (bar - local), 0.0, top)


def _ends_on_particles(
    profile: np.ndarray, inner: np.ndarray, bar: float, bg: float, x0: float, x1: float
) -> tuple[float, float]:
    """Ends of a bar that stops on a particle almost as dark (or bright) as the bar itself.

    Coverage against the image's background counts such a particle as part of the bar (a
    TEM bar ending on a dark particle came out 2 % long). A burned-in bar is flat, so the
    bar ends where the profile first leaves the bar's own level; when what follows is a
    plateau well above the background, the end pixel is shared between bar and particle and
    is split with the particle as the local background. Ends on plain ground keep ``x0, x1``.
    """
    contrast = bar - bg
    # Robust noise (MAD): the piece over the particle is an outlier, not noise.
    noise = 1.4826 * float(np.median(np.abs(inner - np.median(inner))))
    tau = max(4.0 * noise, 0.12 * contrast)
    mid = int((x0 + x1) / 2)
    n = 6
    out = [x0, x1]
    for side, step in ((0, -1), (1, 1)):
        j = mid
        while 0 <= j + step < len(profile) and not (
            profile[j + step] < bar - tau
            and (not 0 <= j + 2 * step < len(profile) or profile[j + 2 * step] < bar - tau)
        ):
            j += step
        edge = j + step  # first column off the bar's level
        beyond = profile[edge + 1 : edge + 1 + n] if step > 0 else profile[max(0, edge - n) : edge]
        if beyond.size < 3 or not 0 <= edge < len(profile):
            continue
        local = float(np.median(beyond))
        if local - bg < 0.3 * contrast or bar - local < 0.1 * contrast:
            continue  # plain ground (the coverage ends stand), or nothing to split
        share = float(np.clip((profile[edge] - local) / (bar - local), 0.0, 1.0))
        end = edge + share if step > 0 else edge + 1 - share
        inward = end - out[side] if side == 0 else out[side] - end
        if inward > 1.0:  # only ever shortens: a light area running on at the bar's level
            out[side] = end  # beside a "bar" is not more bar (a strip between glyph feet)
    return out[0], out[1]


def _tick_centres(
    v: np.ndarray, y: int, h: int, x0: float, x1: float, bg: float, contrast: float
) -> tuple[float, float] | None:
    """Sub-pixel centres of the end ticks, when both ends have one.

    Ticks are the short vertical strokes at a bar's ends (Zeiss, FEI, many figures); by
    convention the scale length runs between their centres, not their outer edges: on the
    real Zeiss and FEI files that is what matches the metadata (to 0.7 % and 0.2 %).
    """
    length = x1 - x0
    reach = max(3, int(0.08 * length))
    rows = [r for r in (y - 3, y - 2, y - 1, y + h, y + h + 1, y + h + 2) if 0 <= r < v.shape[0]]
    if len(rows) < 2:
        return None
    out = []
    for inward, (lo, hi) in (
        (1, (int(x0) - 1, int(x0) + reach)),
        (-1, (int(x1) - reach, int(x1) + 2)),
    ):
        lo, hi = max(0, lo), min(v.shape[1], hi)
        cov = np.clip((v[rows, lo:hi] - bg) / contrast, 0.0, 1.0).max(axis=0)
        on = np.flatnonzero(cov > 0.5)
        if (
            on.size == 0
            or on[-1] - on[0] + 1 > max(4, 0.06 * length)
            or on.size != (on[-1] - on[0] + 1)
        ):
            return None
        # A tick drops to ground on its inner side as well (ground as it is there: a figure's
        # background may shade from light to mid grey along the bar). The bar's own blurred
        # edge row runs on along the bar at about half coverage, and noise makes "ticks" of
        # it anywhere (emps-train 78bda6c73b and 027f25010a were measured 1.5-3.7 px inside
        # each end).
        edge = lo + (on[-1] if inward > 0 else on[0])
        beyond = [edge + k * inward for k in (1, 2) if 0 <= edge + k * inward < v.shape[1]]
        if beyond and not any(
            v[r, edge] - bg > 0.5 * contrast
            and v[r, edge] - min(v[r, c] for c in beyond) > 0.3 * contrast
            for r in rows
        ):
            return None
        cols = np.arange(on[0], on[-1] + 1)
        weights = cov[cols]
        out.append(lo + float((weights * (cols + 0.5)).sum() / weights.sum()))
    if out[1] - out[0] < 0.8 * length:
        return None
    return out[0], out[1]


# --------------------------------------------------------------------------------------------
# label


def label_crops(
    grey: np.ndarray,
    region: Region,
    cand: BarCandidate,
    *,
    clip_to_region: bool = False,
    ink: bool = False,
) -> list[Region]:
    """Text-line crops next to the bar, most likely first, each excluding the bar itself.

    ``clip_to_region`` keeps the search inside ``region`` (a data bar holds its own label).
    ``ink`` finds glyphs as thin strokes standing out of their local surroundings (either
    polarity) instead of pixels of the bar's colour: the way to a label drawn in the other
    polarity, or over ground that changes under it (half on a white particle, half on grey).
    """

    h_img, w_img = grey.shape
    length = cand.length_px
    thick = cand.y1 - cand.y0
    # Large serif labels over small bars reach far above them (a 30-px "30 nm" on a 40-px bar).
    reach = int(max(40, 0.6 * length, 4 * thick, 0.12 * min(h_img, w_img)))
    # The label may sit just outside the search region (a corner bar's label above it).
    lim = region if clip_to_region else Region(0, 0, w_img, h_img)
    side = max(1.6 * length, 2.5 * reach)
    win = Region(
        max(lim.x0, int(cand.x0_px - side) - 4),
        max(lim.y0, cand.y0 - reach),
        min(lim.x1, int(cand.x1_px + side) + 4),
        min(lim.y1, cand.y1 + reach),
    )
    sub = grey[win.y0 : win.y1, win.x0 : win.x1]
    v = sub if cand.bright else 1.0 - sub
    # Relative to the background next to the bar, and lower than the bar's own threshold:
    # thin anti-aliased glyphs never reach the bar's level.
    if ink:
        mask = _ink_mask(sub, grey.shape)
    else:
        level = cand.bg_level + 0.35 * (cand.bar_level - cand.bg_level)
        mask = (v >= level).astype(np.uint8)
    # Cut the bar out so glyphs that touch it (a descender, a label drawn tight) stay apart.
    cut_x0, cut_x1 = max(0, int(cand.x0_px) - win.x0 - 1), int(np.ceil(cand.x1_px)) - win.x0 + 1
    rows = slice(max(0, cand.y0 - win.y0), cand.y1 - win.y0)
    if cand.gap is None:
        mask[rows, cut_x0:cut_x1] = 0
    else:  # keep the label drawn inside the bar
        mask[rows, cut_x0 : cand.gap[0] - win.x0] = 0
        mask[rows, cand.gap[1] - win.x0 : cut_x1] = 0
    n, _lab, stats, _c = cv2.connectedComponentsWithStats(mask, connectivity=8)
    bx0, bx1 = cand.x0_px - win.x0, cand.x1_px - win.x0
    by0, by1 = cand.y0 - win.y0, cand.y1 - win.y0
    comps = []
    for i in range(1, n):
        x, y, w, h, area = (int(s) for s in stats[i])
        if area < 8 or h < 4 or h > 3 * reach or w > 1.5 * length + 20:
            continue  # noise speckles, or objects too big to be glyphs
        touches_bar = x <= bx1 and x + w >= bx0 and y <= by1 and y + h >= by0
        # The bar itself and its end ticks; a glyph whose descender reaches the bar (a "µ"
        # set tight above it) is kept, or the label would be read without its unit.
        at_end = min(abs(x - bx0), abs(x + w - bx1)) <= max(4, 0.1 * length)
        if thick <= 2:
            # A line's ticks cross its end column. Glyphs set on a thin line a few pixels in
            # from its end are not ticks: the "5" and "0" of "50 nm" standing on the 1-px
            # outline of a white bar (emps-train 3a8af6d3f4), which left the "nm" alone.
            at_end &= min(_xdist((x, y, x + w, y + h), (b, b)) for b in (bx0, bx1)) <= 2
        if touches_bar and not _inside_gap(cand, win, x, w) and (w > 0.5 * length or at_end):
            continue
        comps.append((x, y, x + w, y + h))
    crops: list[Region] = []
    if cand.gap is not None:
        gx0, gx1 = cand.gap[0] - win.x0, cand.gap[1] - win.x0
        inside = [c for c in comps if c[0] >= gx0 - 2 and c[2] <= gx1 + 2]
        # The label sits on the bar's line: glyphs within their own height of it, nearest
        # first (a speck higher up in the gap's column must not seed the line).
        inside = sorted(
            (c for c in inside if max(c[1] - by1, by0 - c[3], 0) <= c[3] - c[1]),
            key=lambda c: max(c[1] - by1, by0 - c[3], 0),
        )
        crop = _line_crop(inside, None, sub.shape, 0, sub.shape[0])
        if crop is not None:  # never let the padding reach into the bar's two halves
            crop = Region(max(crop.x0, gx0 + 1), crop.y0, min(crop.x1, gx1 - 1), crop.y1)
        crops.append(crop)
    above = [c for c in comps if c[3] <= by0 + 1 and c[3] >= by0 - reach]
    below = [c for c in comps if c[1] >= by1 - 1 and c[1] <= by1 + reach]
    side = [c for c in comps if c[1] < by1 + 2 * thick + 4 and c[3] > by0 - 2 * thick - 4]
    right = [c for c in side if c[0] >= bx1]
    left = [c for c in side if c[2] <= bx0]
    bar_y = (by0 - thick, by1 + thick)
    # Most common placements first: above (figures, Zeiss), right (JEOL), below, left.
    crops.append(_line_crop(above, "above", sub.shape, 0, by0, (bx0, bx1)))
    crops.append(_line_crop(right, "right", sub.shape, 0, sub.shape[0], (bx0, bx1), bar_y))
    crops.append(_line_crop(below, "below", sub.shape, by1, sub.shape[0], (bx0, bx1)))
    crops.append(_line_crop(left, "left", sub.shape, 0, sub.shape[0], (bx0, bx1), bar_y))
    return [
        Region(c.x0 + win.x0, c.y0 + win.y0, c.x1 + win.x0, c.y1 + win.y0)
        for c in crops
        if c is not None
    ]


def _ink_mask(sub: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Strokes thinner than half a median window, of either polarity, as a 0/1 mask.

    A median filter keeps steps (particle edges, a background that changes) and removes
    thin strokes, so the difference to it is the ink of glyphs, whatever lies under them.
    """
    k = int(np.clip(0.02 * max(shape), 7, 20)) * 2 + 1
    u8 = (np.clip(sub, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    diff = np.abs(u8.astype(np.float32) - cv2.medianBlur(u8, k).astype(np.float32)) / 255.0
    t = max(0.06, 0.35 * float(np.percentile(diff, 99.5)))
    return (diff >= t).astype(np.uint8)


def _inside_gap(cand: BarCandidate, win: Region, x: int, w: int) -> bool:
    if cand.gap is None:
        return False
    return x >= cand.gap[0] - win.x0 - 2 and x + w <= cand.gap[1] - win.x0 + 2


def _line_crop(
    comps: list[tuple[int, int, int, int]],
    side: str | None,
    shape: tuple[int, int],
    y_min: int,
    y_max: int,
    bar_x: tuple[float, float] | None = None,
    bar_y: tuple[float, float] | None = None,
) -> Region | None:
    """Group the components nearest the bar into one text line and crop around it."""
    if not comps:
        return None
    if side in ("above", "below"):
        slack = 0.25 * (bar_x[1] - bar_x[0]) if bar_x else 0.0
        over = [c for c in comps if _xdist(c, bar_x) <= slack]
        if not over:
            return None  # no text over/under the bar
        # Glyphs are the tallest small things near a bar; texture specks are shorter.
        tallest = max(c[3] - c[1] for c in over)
        # A label is near the bar; a large one ("30 nm" over a 40-px bar) overhangs it.
        comps = [c for c in comps if _xdist(c, bar_x) <= max(2 * slack, 3 * tallest)]
        over = [c for c in over if c[3] - c[1] >= 0.5 * tallest]
        if side == "above":
            seed = max(over, key=lambda c: (c[3], -_xdist(c, bar_x)))
        else:
            seed = min(over, key=lambda c: (c[1], _xdist(c, bar_x)))
    elif side in ("right", "left"):
        # Text centred on the bar first (JEOL: "==== 100nm"); other lines only if none is.
        centred = [c for c in comps if bar_y and bar_y[0] - 2 <= (c[1] + c[3]) / 2 <= bar_y[1] + 2]
        pool = centred or comps
        seed = min(pool, key=lambda c: c[0]) if side == "right" else max(pool, key=lambda c: c[2])
    else:
        seed = comps[0]
    x0, y0, x1, y1 = seed
    line_h = y1 - y0  # a glyph's height: the line may not grow taller than ~1.8 of it
    grown = True
    while grown:
        grown = False
        for c in comps:
            if x0 <= c[0] and c[2] <= x1 and y0 <= c[1] and c[3] <= y1:
                continue
            c_h = c[3] - c[1]
            overlap = min(y1, c[3]) - max(y0, c[1])
            gap = max(c[0] - x1, x0 - c[2], 0)
            same_line = overlap >= 0.4 * min(line_h, c_h)
            same_line &= max(y1, c[3]) - min(y0, c[1]) <= 1.8 * line_h
            # Small pieces (a decimal point) only right next to the text, not specks afar.
            glyph_like = c_h >= 0.3 * line_h or gap <= 0.3 * line_h
            if same_line and glyph_like and gap <= line_h + 2:  # a monospace space fits
                x0, y0, x1, y1 = min(x0, c[0]), min(y0, c[1]), max(x1, c[2]), max(y1, c[3])
                if c_h <= 1.5 * line_h:
                    line_h = max(line_h, c_h)
                grown = True
    if side in ("right", "left") and abs(x0 - (bar_x[1] if side == "right" else bar_x[0])) > 4 * (
        line_h + 4
    ):
        return None  # too far from the bar to be its label
    pad = max(2, line_h // 6)
    pad_x = max(pad, line_h // 2)  # glyph pieces below threshold at the line's ends
    return Region(
        max(0, x0 - pad_x),
        max(y_min, y0 - pad, 0),
        min(shape[1], x1 + pad_x),
        min(y_max, y1 + pad, shape[0]),
    )


def _xdist(c: tuple[int, int, int, int], bar_x: tuple[float, float] | None) -> float:
    """Horizontal distance between a component and the bar's extent (0 when overlapping)."""
    if bar_x is None:
        return 0.0
    return max(0.0, bar_x[0] - c[2], c[0] - bar_x[1])
