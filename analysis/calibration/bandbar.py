"""The scale bar inside a data band, found from its label (label first, then the bar).

In a data band the label is easy and the bar is not: the OCR of the band's text already
found every chunk that is a bare length (``200 nm``, ``1.00um``) and no field's value, while
the bars take every shape — Zeiss' small ticked "H" with the label centred above, FEI's
segmented bar in an outline, JEOL's ticked bar right of its label, Hitachi's dotted ruler
whose label is its whole length. So the search runs from each label to the nearest bar-like
structure beside it (above, below, left or right), with the other text masked out.

Lengths follow each style's convention: between the ticks' centres for ticked bars (what
matches the metadata on real Zeiss and FEI files, see :mod:`.scalebar`), between the outer
dots' centres for dotted rulers, and the outer length for solid and outlined bars, measured
at half maximum on the column profile so blur and JPEG do not move the ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analysis.result import Region, ScaleBar

from .bandtext import MAG_TOLERANCE_FACTOR
from .scalebar import half_max_ends, is_round_length, ocr_variants, vote_label
from .units import parse_length, to_nm

_MIN_DOTS = 5


@dataclass(frozen=True)
class _Structure:
    """A bar-like structure in band coordinates: its box and how it was built."""

    x0: int
    x1: int  # exclusive
    y0: int
    y1: int
    kind: str  # "solid" (incl. ticked and outlined) or "dots"
    parts: tuple[tuple[int, int, int, int], ...]  # component boxes (x, y, w, h)


def find_band_bar(
    grey: np.ndarray,
    band: Region,
    labels: tuple[tuple[Region, str, float], ...],
    text: list[Region],
    mag_pixel_nm: float | None = None,
) -> tuple[ScaleBar, Region] | None:
    """The bar next to one of ``labels`` (band chunks that read as a length), or ``None``.

    ``text`` are all the band's text chunks: they are masked so a line of text is never
    mistaken for a dotted ruler. ``mag_pixel_nm`` (what the band's magnification implies)
    settles a unit whose prefix the OCR lost.
    """
    sub = grey[band.y0 : band.y1, band.x0 : band.x1]
    if sub.size == 0 or not labels:
        return None
    bg = float(np.median(sub))
    v = np.abs(sub - bg)  # the bar is "bright" in this view whatever the band's polarity
    contrast = float(np.percentile(v, 99.5))
    if contrast < 0.2:
        return None
    # Low threshold: a 1-px outline halved by downscaling must keep a segmented bar whole.
    mask = (v >= 0.3 * contrast).astype(np.uint8)
    n, _lab, stats, _c = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = [
        (r.x0 - band.x0 - 1, r.y0 - band.y0 - 1, r.x1 - band.x0 + 1, r.y1 - band.y0 + 1)
        for r in text
    ]
    # Glyphs lie inside a text chunk; a bar whose end tick was grouped with its label does not.
    # Two pixels make a component: a ruler's tick thinned to one column by resampling counts
    # (lone specks join nothing, a ruler needs five marks at a steady pitch).
    comps = [
        tuple(int(x) for x in stats[i][:4])
        for i in range(1, n)
        if stats[i][4] >= 2 and not any(_inside(stats[i][:4], b) for b in boxes)
    ]
    for label_box, label_text, score in labels:
        lb = Region(
            label_box.x0 - band.x0, label_box.y0 - band.y0,
            label_box.x1 - band.x0, label_box.y1 - band.y0,
        )  # fmt: skip
        structure = _nearest_structure(comps, lb, sub.shape[1])
        if structure is None:
            continue
        length_px, ticked = _measure(v / contrast, structure)
        # A label's crop never holds its bar: the tops of a ruler's ticks in the chunk's
        # padding read as dots around the label (".50um." -> 0.5 µm, rendered Hitachi 3304).
        # Only a structure under the label: a JEOL bar beside its label shares its rows.
        y1 = label_box.y1
        if (label_box.y0 + y1) / 2 < band.y0 + structure.y0 < y1:
            y1 = band.y0 + structure.y0
        pixels = grey[label_box.y0 : y1, label_box.x0 : label_box.x1]
        vote = vote_label(pixels, length_px, (label_text, score), width_px=grey.shape[1])
        parsed, label_text = vote.parsed, vote.text
        if parsed is None and mag_pixel_nm is not None:
            parsed = _unit_from_magnification(label_text, length_px, mag_pixel_nm)
        if parsed is None:
            continue
        value, unit = parsed
        bbox = Region(
            band.x0 + structure.x0, band.y0 + structure.y0,
            band.x0 + structure.x1, band.y0 + structure.y1,
        )  # fmt: skip
        bar = ScaleBar(
            length_px=round(float(length_px), 2),
            bbox=bbox,
            label=label_text if parse_length(label_text) == parsed else f"{value:g} {unit}",
            value=value,
            unit=unit,
            length_nm=to_nm(value, unit),
            confidence=0.9 if structure.kind == "solid" or ticked else 0.85,
        )
        return bar, label_box
    return None


def _inside(c: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    x, y, w, h = (int(t) for t in c)
    return x >= box[0] and y >= box[1] and x + w <= box[2] and y + h <= box[3]


def _unit_from_magnification(
    text: str, length_px: float, mag_pixel_nm: float
) -> tuple[float, str] | None:
    """``"500 m"`` (prefix lost): the band's magnification says whether it was µm or nm."""
    read = next((r for r in map(parse_length, ocr_variants(text)) if r is not None), None)
    if read is None or read[1] != "m" or not is_round_length(read[0]):
        return None  # an odd length ("105 m") is a misread whatever its unit
    fits = [
        u
        for u in ("µm", "nm")
        if 1 / MAG_TOLERANCE_FACTOR
        <= to_nm(read[0], u) / length_px / mag_pixel_nm
        <= MAG_TOLERANCE_FACTOR
    ]
    return (read[0], fits[0]) if len(fits) == 1 else None


def _nearest_structure(
    comps: list[tuple[int, ...]], label: Region, band_w: int
) -> _Structure | None:
    """The bar-like structure closest to the label, on any of its four sides."""
    glyph_h = max(4, label.height)
    dotted = _dotted(comps, glyph_h)
    # Downscaling merges a ruler's dots a pixel apart into solid pieces: a piece inside a
    # ruler is part of it, never a bar of its own (it would measure a fraction of the ruler).
    solid = [s for s in _solid(comps, glyph_h, band_w) if not any(_within(s, d) for d in dotted)]
    structures = solid + dotted
    best = None
    for s in structures:
        h_overlap = min(s.x1, label.x1) - max(s.x0, label.x0)
        v_centre = (s.y0 + s.y1) / 2
        if h_overlap > 0.5 * min(s.x1 - s.x0, label.width):
            # above or below: centred-ish on the label, vertically close
            dist = max(s.y0 - label.y1, label.y0 - s.y1, 0)
            if dist > 2.5 * glyph_h:
                continue
        elif label.y0 - 0.5 * glyph_h <= v_centre <= label.y1 + 0.5 * glyph_h:
            # left or right, at the label's height
            dist = max(s.x0 - label.x1, label.x0 - s.x1, 0)
            if dist > 4 * glyph_h:
                continue
        else:
            continue
        if best is None or dist < best[0]:
            best = (dist, s)
    if best is None:
        return None
    return _join_split_bar(best[1], structures, label) or best[1]


def _within(s: _Structure, ruler: _Structure) -> bool:
    """``s`` lies on ``ruler``'s rows and inside its extent."""
    rows = min(s.y1, ruler.y1) - max(s.y0, ruler.y0)
    return rows > 0 and s.x0 >= ruler.x0 - 2 and s.x1 <= ruler.x1 + 2


def _join_split_bar(
    s: _Structure, structures: list[_Structure], label: Region
) -> _Structure | None:
    """FEI draws ``├── 500 µm ──┤``: two halves on the same rows, the label between them."""
    if s.kind != "solid":
        return None
    for o in structures:
        if o is s or o.kind != "solid" or abs((o.y0 + o.y1) - (s.y0 + s.y1)) > 2:
            continue
        left, right = (s, o) if s.x1 <= o.x0 else (o, s)
        if not (left.x0 < label.x0 and right.x1 > label.x1 and left.x1 <= right.x0):
            continue
        lengths = (left.x1 - left.x0, right.x1 - right.x0)
        if min(lengths) < 0.5 * max(lengths):
            continue
        return _Structure(
            left.x0, right.x1, min(left.y0, right.y0), max(left.y1, right.y1), "solid",
            left.parts + right.parts,
        )  # fmt: skip
    return None


def _solid(comps: list[tuple[int, ...]], glyph_h: int, band_w: int) -> list[_Structure]:
    """Long thin components: solid, ticked ("H") and outlined/segmented bars.

    Pieces on the same rows a pixel or two apart are joined first: a segmented bar whose
    hollow cells faded in a downscaled JPEG falls apart into its filled segments.
    """
    pieces = sorted(
        (c for c in comps if c[3] <= 1.6 * glyph_h and c[2] >= 1.5 * c[3]), key=lambda c: c[0]
    )
    merged: list[list[int]] = []
    for x, y, w, h in pieces:
        if merged:
            mx, my, mw, mh = merged[-1]
            overlap = min(my + mh, y + h) - max(my, y)
            if x - (mx + mw) <= 3 and overlap >= 0.5 * min(mh, h):
                x1 = max(mx + mw, x + w)
                y0, y1 = min(my, y), max(my + mh, y + h)
                merged[-1] = [mx, y0, x1 - mx, y1 - y0]
                continue
        merged.append([x, y, w, h])
    return [
        _Structure(x, x + w, y, y + h, "solid", ((x, y, w, h),))
        for x, y, w, h in merged
        # "H" bars are as tall as text; table outlines are taller, glyphs are not this wide
        if w >= max(12, 1.5 * glyph_h)
        and w >= 1.5 * h
        and h <= 1.6 * glyph_h
        and w <= 0.8 * band_w  # a rule across the band is its border, not a bar
    ]


def _dotted(comps: list[tuple[int, ...]], glyph_h: int) -> list[_Structure]:
    """Rows of >= 5 equal small marks at a steady pitch: a Hitachi-style dotted ruler."""
    small = sorted(
        (c for c in comps if c[3] <= 0.6 * glyph_h and c[2] <= 0.6 * glyph_h), key=lambda c: c[0]
    )
    out = []
    used: set[int] = set()
    for i, first in enumerate(small):
        if i in used:
            continue
        chain = [first]
        for j in range(i + 1, len(small)):
            c, last = small[j], chain[-1]
            yc, ylast = c[1] + c[3] / 2, last[1] + last[3] / 2
            if abs(yc - ylast) > max(1.5, 0.5 * last[3]) or abs(c[3] - last[3]) > 2:
                continue
            gap = c[0] - last[0]
            if gap <= 0:
                continue
            if len(chain) >= 2:
                pitch = chain[-1][0] - chain[-2][0]
                if abs(gap - pitch) > max(2, 0.25 * pitch):
                    if gap > pitch:
                        break
                    continue
            elif gap > 6 * glyph_h:
                break
            chain.append(c)
            used.add(j)
        if len(chain) >= _MIN_DOTS:
            x0, x1 = chain[0][0], chain[-1][0] + chain[-1][2]
            y0 = min(c[1] for c in chain)
            y1 = max(c[1] + c[3] for c in chain)
            out.append(_Structure(x0, x1, y0, y1, "dots", tuple(chain)))
    return out


def _measure(v: np.ndarray, s: _Structure) -> tuple[float, bool]:
    """Length in px by the style's convention; also whether end ticks were found."""
    if s.kind == "dots":
        centres = [_centroid_x(v, c) for c in s.parts]
        return centres[-1] - centres[0], False
    rows = v[s.y0 : s.y1]
    # Relative to the bar's own level: a 1-px bar halved by downscaling sits at half the
    # text's contrast, and only on its own scale do its rows count as covered and its end
    # ticks (a JEOL bar on a 320-px export) stand out from it.
    level = float(np.median(rows[:, s.x0 : s.x1], axis=1).max())
    if 0.1 < level < 0.8:
        rows = np.clip(rows / level, 0.0, 1.0)
    cols = slice(max(0, s.x0 - 3), min(v.shape[1], s.x1 + 3))
    # The bar's core rows: the rows covered along most of its length.
    cover = (rows[:, s.x0 : s.x1] >= 0.5).mean(axis=1)
    core = rows[cover >= 0.8 * cover.max()]
    profile = core.max(axis=0)[cols]
    x0, x1 = half_max_ends(profile)
    offset = cols.start
    left, right = offset + x0, offset + x1
    ticks = _tick_centres(rows, s, cover)
    if ticks is not None:
        return ticks[1] - ticks[0], True
    return right - left, False


def _tick_centres(rows: np.ndarray, s: _Structure, cover: np.ndarray) -> tuple[float, float] | None:
    """Centres of end ticks (narrow strokes reaching above or below the bar), at both ends."""
    core = np.flatnonzero(cover >= 0.8 * cover.max())
    # A row next to the core that is faintly covered all along is the bar's own edge, half
    # covered after resampling, not ticks: it is skipped. (FEI's 1-px end nubs are kept.)
    faint = (rows[:, s.x0 : s.x1] >= 0.25).mean(axis=1) >= 0.5
    top = core[0] - 1 if core[0] >= 1 and faint[core[0] - 1] else core[0]
    bottom = core[-1] + 2 if core[-1] + 1 < len(rows) and faint[core[-1] + 1] else core[-1] + 1
    outside = np.concatenate([rows[:top], rows[bottom:]])
    if outside.size == 0:
        return None
    ink = outside[:, s.x0 : s.x1].max(axis=0)  # ink sticking out above/below, per column
    length = s.x1 - s.x0
    reach = max(3, int(0.1 * length))
    out = []
    for lo, hi in ((0, reach), (length - reach, length)):
        w = np.clip(ink[lo:hi] - 0.3, 0, None)
        on = np.flatnonzero(ink[lo:hi] >= 0.5)
        if w.sum() <= 0.5 or on.size == 0 or on[-1] - on[0] + 1 > max(4, 0.06 * length):
            return None  # no tick, or something wider than a tick
        out.append(s.x0 + lo + float((w * (np.arange(hi - lo) + 0.5)).sum() / w.sum()))
    if out[1] - out[0] < 0.8 * length:
        return None
    return out[0], out[1]


def _centroid_x(v: np.ndarray, c: tuple[int, ...]) -> float:
    x, y, w, h = c
    patch = v[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1]
    weights = patch.sum(axis=0)
    xs = np.arange(max(0, x - 1), max(0, x - 1) + patch.shape[1]) + 0.5
    return float((weights * xs).sum() / weights.sum())
