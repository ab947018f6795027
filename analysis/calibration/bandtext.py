"""Read the text of an instrument data band into fields, and the pixel size they imply.

A data band prints the field width (Zeiss ``Width = 7.520 µm``, FEI ``HFW 10.2 µm``, TESCAN
``View field: 20.8 µm``, Phenom ``FOV: 26.9 µm``) or the pixel size itself (``Pixel Size =
2.3 nm``) with three or four significant digits: a better source than the burned-in bar,
whose label is rounded and whose length is whole pixels (a 43-px Zeiss bar is only good to
2.3 %). Field width / stored width is the pixel size whatever the export's resampling, since
the width always spans the whole frame.

How: the band is binarised against its own background, table rules and long bars are
removed (a long horizontal or vertical run is no glyph), the remaining marks are grouped into
text chunks (glyphs closer than 1.6 capital heights), and each chunk is read by the
recognition-only OCR (:mod:`.ocr`). A key printed alone (FEI's cell header ``HFW``) takes
the value printed under it. Magnification and store resolution are parsed and reported;
they are not turned into a pixel size, because the display width a magnification refers to
differs between instruments and software versions.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from analysis.result import Region

from .ocr import read_text
from .scalebar import ocr_variants
from .units import (
    NM_PER_UNIT,
    canonical_unit,
    is_bare_length,
    normalise_micro,
    plausible_pixel_size,
    restore_micro,
)

_MAX_CHUNKS = 24
_MIN_CONTRAST = 0.2
# Words of one field (monospace "EHT = 10.00 kV" included) are closer than 1.6 capital
# heights; columns of fields are further apart (Zeiss, TESCAN, JEOL: >= 3 heights).
_GLYPH_GAP = 1.6

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_UNIT = r"(nm|[µu]m|mm|Å|pm|m)"
_FIELD_WIDTH_RE = re.compile(
    rf"\b([WM]idth|HFW|View\s*f[a-z1]{{0,3}}d|FOV|Field\s*of\s*view|FW)\b"
    rf"\s*[=:]?\s*{_NUMBER}\s*{_UNIT}",
    re.IGNORECASE,
)
# JEOL prints the whole field: "FOV:1280x960nm" (width first).
_FOV_PAIR_RE = re.compile(
    rf"\b(FOV|View\s*f[a-z1]{{0,3}}d)\s*[=:]?\s*{_NUMBER}\s*[x×*]\s*\d+(?:[.,]\d+)?\s*{_UNIT}", re.I
)
_PIXEL_RE = re.compile(rf"\bPixel\s*Size\s*[=:]?\s*{_NUMBER}\s*{_UNIT}", re.IGNORECASE)
_MAG_RE = re.compile(r"\bMAG\b\s*[=:]?\s*(\d[\d,. ]*\d|\d)\s*(k)?\s*x", re.IGNORECASE)
# The kilo is case-blind: Hitachi prints "x62.5k", and its small k is often read as "K".
_X_MAG_RE = re.compile(r"(?<![A-Za-z0-9])[xX]\s?(\d[\d,.]*)\s*([kK])?\b")  # JEOL, Hitachi
_TRAILING_X_MAG_RE = re.compile(r"(?<![\w.])(\d[\d,.]*\d)\s*([kK])?\s*[x×](?!\w)")  # "P:50,000x"
_STORE_RE = re.compile(r"Store\s*resolution\s*[=:]?\s*(\d{3,5})\s*[*xX×]\s*(\d{3,5})", re.I)
_KEY_ONLY_RE = re.compile(r"^\s*(Width|HFW|View\s*field|FOV|Pixel\s*Size|mag)\s*[=:]?\s*$", re.I)


@dataclass(frozen=True)
class BandReading:
    """What the band's text says: fields as read, and the pixel size they give (or why not)."""

    texts: tuple[str, ...]
    fields: dict[str, str] = field(default_factory=dict)
    pixel_size_nm: float | None = None
    how: str = ""
    ocr_ms: float = 0.0
    chunks: int = 0
    # Chunks that are a bare length (``2 µm``) and no field's value: the scale bar's label.
    bar_labels: tuple[tuple[Region, str, float], ...] = ()  # with the OCR score
    text_boxes: tuple[Region, ...] = ()  # chunks read as 2+ letters or digits

    def as_dict(self) -> dict[str, Any]:
        return {
            "fields": dict(self.fields),
            "pixel_size_nm": self.pixel_size_nm,
            "how": self.how,
            "texts": list(self.texts),
            "ocr_ms": round(self.ocr_ms, 1),
        }


def text_chunks(
    grey: np.ndarray, band: Region, exclude: list[Region] | None = None
) -> list[Region]:
    """Boxes (image coordinates) of the text chunks in ``band``, top-to-bottom, left-to-right."""
    sub = grey[band.y0 : band.y1, band.x0 : band.x1]
    if sub.size == 0 or min(sub.shape) < 8:
        return []
    bg = float(np.median(sub))
    dev = np.abs(sub - bg)
    contrast = float(np.percentile(dev, 99.5))
    if contrast < _MIN_CONTRAST:
        return []
    mask = (dev >= 0.45 * contrast).astype(np.uint8)
    for r in exclude or ():
        x0, x1 = max(0, r.x0 - band.x0 - 2), max(0, r.x1 - band.x0 + 2)
        y0, y1 = max(0, r.y0 - band.y0 - 2), max(0, r.y1 - band.y0 + 2)
        mask[y0:y1, x0:x1] = 0
    bh, bw = sub.shape
    glyph_h = _glyph_height(mask, bh)
    if glyph_h is None:
        return []
    # No glyph has a straight run much longer than itself: such runs are table rules, bars
    # and box outlines, which would glue fields together or be read as "1" and "I".
    rules = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, int(2 * glyph_h) + 2), np.uint8))
    walls = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((int(1.8 * glyph_h) + 2, 1), np.uint8))
    mask &= 1 - (rules | walls)
    k = max(3, int(_GLYPH_GAP * glyph_h))
    joined = cv2.dilate(mask, np.ones((1, k), np.uint8))
    joined &= 1 - walls  # a table's cell border separates two fields, however close
    n, lab, stats, _c = cv2.connectedComponentsWithStats(joined, connectivity=8)
    boxes = []
    for i in range(1, n):
        x, y, w, h, _area = (int(s) for s in stats[i])
        if h < 0.5 * glyph_h or h > 2.5 * glyph_h or w < 0.8 * glyph_h:
            continue  # specks, dotted rulers, logos
        inner = mask[y : y + h, x : x + w]
        cols = np.flatnonzero(inner.any(axis=0))
        if cols.size == 0:
            continue
        x0, x1 = x + int(cols[0]), x + int(cols[-1]) + 1
        if x1 - x0 < 0.8 * glyph_h:
            continue  # one narrow mark: a ruler's tick (read "1" nine times on a Hitachi TEM band)
        pad = max(2, int(0.25 * glyph_h))
        boxes.append(
            Region(
                band.x0 + max(0, x0 - pad),
                band.y0 + max(0, y - pad),
                band.x0 + min(bw, x1 + pad),
                band.y0 + min(bh, y + h + pad),
            )
        )
    boxes.sort(key=lambda b: (round((b.y0 + b.y1) / (2 * glyph_h)), b.x0))
    return boxes[:_MAX_CHUNKS]


def _glyph_height(mask: np.ndarray, band_h: int) -> float | None:
    """Height of capitals and digits: the 75th percentile of glyph-sized components."""
    _n, _lab, stats, _c = cv2.connectedComponentsWithStats(mask, connectivity=8)
    heights = [int(s[3]) for s in stats[1:] if s[4] >= 4 and 0.12 * band_h <= s[3] <= 0.7 * band_h]
    return float(np.percentile(heights, 75)) if heights else None


def read_band(
    grey: np.ndarray, band: Region, *, exclude: list[Region] | None = None
) -> BandReading:
    """OCR the band's text chunks and parse them (see the module docstring)."""
    t0 = time.perf_counter()
    boxes = text_chunks(grey, band, exclude)
    read: list[tuple[Region, str]] = []
    scores: list[float] = []
    for b in boxes:
        text, score = read_text(grey[b.y0 : b.y1, b.x0 : b.x1])
        if text:
            read.append((b, text))
            scores.append(score)
    texts, values = _pair_keys_with_values(read)
    ms = (time.perf_counter() - t0) * 1000.0
    fields = parse_band_fields(texts)
    pixel_nm, how = band_pixel_size_nm(fields, grey.shape[1])
    labels = tuple(
        (b, t, scores[i])
        for i, (b, t) in enumerate(read)
        if i not in values and any(is_bare_length(v) for v in ocr_variants(t))
    )
    words = tuple(b for b, t in read if sum(ch.isalnum() for ch in t) >= 2)
    return BandReading(tuple(texts), fields, pixel_nm, how, ms, len(boxes), labels, words)


def _pair_keys_with_values(read: list[tuple[Region, str]]) -> tuple[list[str], set[int]]:
    """Join a bare key (``HFW``) with the value printed right of it or under it (``10.2 µm``).

    Returns the joined texts and the indices of the chunks used as values.
    """
    used: set[int] = set()
    values: set[int] = set()
    out = []
    for i, (b, text) in enumerate(read):
        if i in used:
            continue
        if _KEY_ONLY_RE.match(text):
            below = [
                (j, c, t)
                for j, (c, t) in enumerate(read)
                if j not in used
                and j != i
                and c.y0 >= (b.y0 + b.y1) / 2
                and c.y0 - b.y1 <= 2 * b.height
                and min(b.x1, c.x1) - max(b.x0, c.x0) > 0
                and t.strip()[:1].isdigit()
            ]
            right = [
                (j, c, t)
                for j, (c, t) in enumerate(read)
                if j not in used
                and j != i
                and c.x0 >= b.x1
                and c.x0 - b.x1 <= 4 * b.height
                and min(b.y1, c.y1) - max(b.y0, c.y0) > 0.5 * b.height
                and t.strip()[:1].isdigit()
            ]
            if right:  # Zeiss: "Mag =" and "105 X" printed a tab apart
                j, _c, t = min(right, key=lambda e: e[1].x0)
                used.add(j)
                values.add(j)
                text = f"{text.strip()} {t}"
            elif below:
                j, _c, t = min(below, key=lambda e: e[1].y0)
                used.add(j)
                values.add(j)
                text = f"{text.strip()} {t}"
        used.add(i)
        out.append(text)
    return out, values


def _length_nm(value: str, unit: str) -> float | None:
    canon = canonical_unit(unit if unit.lower() != "um" else "µm")
    if canon is None:
        return None
    return float(value.replace(",", ".")) * NM_PER_UNIT[canon]


def parse_band_fields(texts: list[str]) -> dict[str, str]:
    """Fields found in the band's text: ``field_width``, ``pixel_size``, ``mag``, ``store``.

    Values are kept as printed (``"7.520 µm"``), keys normalised; the first match wins.
    """
    fields: dict[str, str] = {}
    for raw in texts:
        t = restore_micro(normalise_micro(raw))
        m = _FIELD_WIDTH_RE.search(t) or _FOV_PAIR_RE.search(t)
        if m and "field_width" not in fields:
            fields["field_width"] = f"{m.group(2)} {m.group(3)}"
            fields["field_width_key"] = re.sub(r"\s+", " ", m.group(1))
        m = _PIXEL_RE.search(t)
        if m and "pixel_size" not in fields:
            fields["pixel_size"] = f"{m.group(1)} {m.group(2)}"
        m = _STORE_RE.search(t)
        if m and "store_resolution" not in fields:
            fields["store_resolution"] = f"{m.group(1)} x {m.group(2)}"
        m = _MAG_RE.search(t) or _X_MAG_RE.search(t) or _TRAILING_X_MAG_RE.search(t)
        if m and "mag" not in fields:
            fields["mag"] = f"{m.group(1).strip()}{(' ' + m.group(2)) if m.group(2) else ''} x"
    return fields


def band_pixel_size_nm(fields: dict[str, str], image_width_px: int) -> tuple[float | None, str]:
    """Pixel size of the stored image from parsed band fields, and how it was derived.

    A unit read as a bare ``m`` lost its ``µ`` or its ``n`` to the OCR: the magnification
    decides which, and without one the field is not used.
    """
    store_w = None
    if "store_resolution" in fields:
        store_w = int(fields["store_resolution"].split(" x ")[0])
    mag_nm = mag_pixel_size_nm(fields, image_width_px)
    groups: list[list[tuple[float, str]]] = []
    if "pixel_size" in fields:
        group = []
        for nm in _lengths_nm(fields["pixel_size"]):
            how = f"Pixel Size {fields['pixel_size']}"
            if store_w and store_w != image_width_px:
                nm *= store_w / image_width_px
                how += " x store/stored width"
            group.append((nm, how))
        groups.append(group)
    if "field_width" in fields:
        key = fields.get("field_width_key", "field width")
        how = f"{key} {fields['field_width']} / {image_width_px} px"
        groups.append([(nm / image_width_px, how) for nm in _lengths_nm(fields["field_width"])])
    disputed: tuple[float, str] | None = None
    for group in groups:  # the printed pixel size first, then the field width
        possible = [(nm, how) for nm, how in group if plausible_pixel_size(nm, image_width_px)]
        usable = possible
        if mag_nm is not None:
            usable = [
                (nm, how)
                for nm, how in possible
                if 1 / MAG_TOLERANCE_FACTOR <= nm / mag_nm <= MAG_TOLERANCE_FACTOR
            ]
        if len(usable) == 1:
            nm, how = usable[0]
            if len(possible) > 1:  # the prefix was lost and the magnification chose it
                how += f" ({GUESSED_UNIT})"
            elif len(group) > 1:  # lost, but only one reading is a field a microscope images
                how += f" ({SETTLED_UNIT})"
            return nm, how
        if len(usable) > 1:
            return None, f"band text unit is ambiguous ({usable[0][1]}: µm or nm?)"
        if len(group) == 1 and len(possible) == 1 and disputed is None:
            disputed = possible[0]
    if disputed is not None:
        # A value read with its unit that only the magnification speaks against: either may
        # be the misread. It is returned, and the caller's cross-check states the dispute
        # (a scale bar that agrees with it outvotes the magnification).
        return disputed[0], f"{disputed[1]} ({MAG_DISPUTED})"
    if groups and any(groups):
        first = next(g for g in groups if g)
        return None, f"band text gives an implausible pixel size ({first[0][1]})"
    return None, "no field width or pixel size in the band's text"


def printed_precision(band: BandReading) -> float | None:
    """Relative half step of the last printed digit of the value the pixel size came from.

    Instruments print 3-4 significant digits (``2.935 µm``: 0.02 %); a value read with two
    (``1.6 µm``, a TESCAN ``1.66 µm`` whose last digit the OCR dropped) is good only to 3 %,
    less than a long scale bar, whose length is good to a pixel.
    """
    if band.pixel_size_nm is None:
        return None
    key = "pixel_size" if band.how.startswith("Pixel Size") else "field_width"
    number = band.fields.get(key, "").split(" ")[0].replace(",", ".")
    try:
        value = float(number)
    except ValueError:
        return None
    decimals = len(number.split(".")[1]) if "." in number else 0
    return 0.5 * 10.0**-decimals / value if value > 0 else None


def _lengths_nm(printed: str) -> list[float]:
    """``"7.520 µm"`` -> [7520.0]; ``"53.31 m"`` (micro sign lost) -> [53310.0, 53.31]."""
    value, unit = printed.split(" ", 1)
    if unit == "m":
        return [float(value.replace(",", ".")) * 1e3, float(value.replace(",", "."))]
    nm = _length_nm(value, unit)
    return [nm] if nm else []


# Magnification refers to a display width that differs between instruments (a 127 mm
# Polaroid print for many, other widths for others), so it only bounds the pixel size
# loosely: enough to catch a label read as "µm" instead of "nm" (x1000) or a lost digit.
_MAG_REFERENCE_NM = 127e6
GUESSED_UNIT = "unit prefix lost, chosen by the magnification"
MAG_DISPUTED = "the magnification disagrees"
SETTLED_UNIT = "unit prefix lost; the other reading is no possible field of view"
_MIN_MAGNIFICATION = 5.0
MAG_TOLERANCE_FACTOR = 4.0


def magnification(fields: dict[str, str]) -> float | None:
    """``"20.28 K x"`` -> 20280.0, ``"5,388 x"`` -> 5388.0; ``None`` when absent or unreadable."""
    raw = fields.get("mag")
    if not raw:
        return None
    kilo = " k" in raw.lower()
    number = raw.lower().replace(" k", "").replace("x", "").strip()
    if not kilo and "." in number:
        # Plain magnifications print no decimals (JEOL "X10,000", FEI "12 464 x", Phenom
        # "10000x", Zeiss "105 X"): a point in one is a misread thousands separator ("X11,213"
        # read "X11.213", "409,.987") or a kilo that was lost (Hitachi TEM "x30.0k" read
        # "x30.0" vetoed a right 200 nm bar by 5000x). 1000x hangs on it: unknown.
        return None
    number = number.replace(",", ".") if kilo else number.replace(",", "")
    try:
        value = float(number.replace(" ", ""))
    except ValueError:
        return None
    value *= 1000.0 if kilo else 1.0
    # No SEM or TEM images below 5x; "x1.3" is an "x1.3k" that lost its "k" (a half-size
    # Hitachi band), and would veto a correct bar by a factor of 1000.
    return value if value >= _MIN_MAGNIFICATION else None


def mag_pixel_size_nm(fields: dict[str, str], image_width_px: int) -> float | None:
    """The pixel size the magnification implies, good only to a factor of ~3 (see above)."""
    mag = magnification(fields)
    return _MAG_REFERENCE_NM / mag / image_width_px if mag else None
