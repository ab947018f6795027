"""Lengths with units, as microscopes and figure captions write them, converted to nanometres.

Handles the spellings met in metadata and OCR output: ``200 nm``, ``200nm``, ``1 µm`` (micro
sign U+00B5), ``1 μm`` (Greek mu U+03BC, what OCR models emit), ``1 um``, ``0,5 µm``,
``2 mm``, ``500 pm``, ``micron``, ``nanometre``, ImageJ's escaped ``\\u00B5m``.
Reciprocal units (``1/nm``, ``nm^-1``) are recognised so callers can refuse them.
"""

from __future__ import annotations

import re

#: nanometres per unit, by canonical unit name
NM_PER_UNIT: dict[str, float] = {
    "pm": 1e-3,
    "Å": 0.1,
    "nm": 1.0,
    "µm": 1e3,
    "mm": 1e6,
    "cm": 1e7,
    "m": 1e9,
    "in": 2.54e7,
}

_ALIASES: dict[str, str] = {
    "pm": "pm",
    "picometer": "pm",
    "picometre": "pm",
    "å": "Å",
    "angstrom": "Å",
    "nm": "nm",
    "nanometer": "nm",
    "nanometre": "nm",
    "nanometers": "nm",
    "nanometres": "nm",
    "µm": "µm",
    "um": "µm",
    "micron": "µm",
    "microns": "µm",
    "micrometer": "µm",
    "micrometre": "µm",
    "micrometers": "µm",
    "micrometres": "µm",
    "mm": "mm",
    "millimeter": "mm",
    "millimetre": "mm",
    "cm": "cm",
    "centimeter": "cm",
    "centimetre": "cm",
    "m": "m",
    "meter": "m",
    "metre": "m",
    "meters": "m",
    "in": "in",
    "inch": "in",
    "inches": "in",
}

_MICRO_RE = re.compile(r"\u03bc|\u00b5|\\u00b5|\\u03bc|&micro;|&#181;|&#956;", re.IGNORECASE)

_LENGTH_RE = re.compile(
    r"(?P<value>\d+(?:[.,]\d+)?|[.,]\d+)(?:\s*[eE](?P<exp>[-+]?\d+))?\s*(?P<unit>[A-Za-zµÅå]+)"
)

# A scale-bar label: a number and a word, e.g. "200 nm", "1.00um", "500 m" (micro sign lost).
_BARE_LENGTH_RE = re.compile(r"\d+(?:[.,]\d+)?\s*[A-Za-zµÅ]+")

_RECIPROCAL_RE = re.compile(r"(^\s*1\s*/)|(\^\s*-\s*1)|(-1$)|(⁻¹)|(^\s*/)")


# OCR of small text loses the micro sign's tail: "5.0ym", "2.935sm" (no unit is spelt so).
_MU_MISREAD_RE = re.compile(r"(?<=[\d\s])[yYs](?=m\b)")


def restore_micro(text: str) -> str:
    """``"2.935sm"`` -> ``"2.935µm"``: a "y" or "s" between a number and "m" was a "µ"."""
    return _MU_MISREAD_RE.sub("\u00b5", text)


def normalise_micro(text: str) -> str:
    """Replace every spelling of the micro prefix with the micro sign U+00B5."""
    return _MICRO_RE.sub("\u00b5", text)


def canonical_unit(unit: str | None) -> str | None:
    """``"um"``, ``"μm"``, ``"micron"`` ... -> ``"µm"``; ``None`` when not a length unit."""
    if unit is None:
        return None
    u = normalise_micro(unit.strip()).replace(" ", "")
    if u in ("Å", "Å"):
        return "Å"
    key = u.lower()
    if key in _ALIASES:
        return _ALIASES[key]
    if key.startswith("µ") and key[1:] in ("m", "meter", "metre", "meters", "metres"):
        return "µm"
    return None


def is_reciprocal_unit(unit: str | None) -> bool:
    """True for reciprocal-space units (``1/nm``, ``nm^-1``, ``1/µm``)."""
    return bool(unit) and bool(_RECIPROCAL_RE.search(unit.strip()))


def to_nm(value: float, unit: str) -> float:
    """Convert ``value`` in ``unit`` (any alias) to nanometres; ``ValueError`` if unknown."""
    canon = canonical_unit(unit)
    if canon is None:
        raise ValueError(f"not a length unit: {unit!r}")
    return float(value) * NM_PER_UNIT[canon]


def parse_length(text: str | None) -> tuple[float, str] | None:
    """Find the first ``<number> <length unit>`` in ``text``; return (value, canonical unit).

    >>> parse_length("Scale: 0,5 μm")
    (0.5, 'µm')
    """
    if not text:
        return None
    t = normalise_micro(text)
    for m in _LENGTH_RE.finditer(t):
        unit = canonical_unit(m.group("unit"))
        if unit is None:
            continue
        value = float(m.group("value").replace(",", "."))
        if m.group("exp"):
            value *= 10.0 ** int(m.group("exp"))
        return value, unit
    return None


def parse_length_nm(text: str | None) -> float | None:
    """``"200 nm"`` -> 200.0, ``"1 µm"`` -> 1000.0; ``None`` when no length is found."""
    parsed = parse_length(text)
    if parsed is None:
        return None
    return to_nm(*parsed)


#: nm per pixel a SEM/TEM image can have (used to undo OCR unit confusions too)
PLAUSIBLE_PIXEL_NM = (0.001, 20_000.0)
#: field of view (pixel size x image width) a microscope can image: 10 nm .. 50 mm
PLAUSIBLE_FIELD_NM = (10.0, 5e7)


def plausible_pixel_size(pixel_nm: float, width_px: int | None = None) -> bool:
    """Whether ``pixel_nm`` can be a micrograph's pixel (and, given the width, its field)."""
    if not (PLAUSIBLE_PIXEL_NM[0] <= pixel_nm <= PLAUSIBLE_PIXEL_NM[1]):
        return False
    return width_px is None or PLAUSIBLE_FIELD_NM[0] <= pixel_nm * width_px <= PLAUSIBLE_FIELD_NM[1]


def is_bare_length(text: str) -> bool:
    """The text is one length and (almost) nothing else: at most 2 stray characters.

    ``"200 nm"`` and ``"1.00um."`` are; ``"WD 3.1mm"`` (a data-band field) is not.
    """
    m = _BARE_LENGTH_RE.search(normalise_micro(text))
    if m is None:
        return False
    rest = text[: m.start()] + text[m.end() :]
    return (
        sum(ch.isalnum() for ch in rest) <= 2 and sum(ch.isalnum() for ch in text[: m.start()]) <= 1
    )
