"""Pixel size of the stored image, in nanometres, and where it came from.

Sources, strongest first: a value the caller gives (``manual``, always wins), the
instrument's own metadata (``metadata:<vendor>``), the data band's printed field width or
pixel size read by OCR (``band_text``, 3-4 significant digits), and the burned-in scale bar
(``scale_bar``, a rounded label over a whole number of pixels). When none applies the result
is ``uncalibrated`` with ``pixel_size_nm=None`` and a reason; a value is never invented.

Every source found is listed in ``details["sources"]`` and every pair is cross-checked within
the looser one's tolerance (2 % between metadata and band text, 5 % or 1.5 px against a bar);
each disagreement is stated in words in ``details["disagreements"]`` and ``warnings``.
Metadata, when present, wins a disagreement. Without metadata, band text and bar that
disagree leave the image ``uncalibrated``: two readings of the same image contradict each
other and nothing says which one is right. ``details["chosen"]`` names the winner.

Public API: :func:`calibrate`, :func:`find_data_bar`, :func:`find_scale_bar`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from analysis.io import LoadedImage
from analysis.result import Calibration, Region, ScaleBar

from .bandbar import find_band_bar
from .bandtext import (
    GUESSED_UNIT,
    MAG_TOLERANCE_FACTOR,
    BandReading,
    mag_pixel_size_nm,
    printed_precision,
    read_band,
)
from .databar import find_data_bar
from .metadata import find_sidecar_text, read_metadata
from .scalebar import LOW_CONFIDENCE, find_scale_bar, locate_scale_bar
from .units import plausible_pixel_size
from .vendors.base import MetadataReading

__all__ = ["calibrate", "find_data_bar", "find_scale_bar", "locate_scale_bar"]

DISAGREEMENT_WARN = 0.05  # any source vs a scale bar: labels are rounded, bars drawn to +-1 px
_PRECISE_TOLERANCE = 0.02  # metadata vs band text: both print 3-4 significant digits
_SHORT_BAR_PX = 75  # below this +-1.5 px of bar length exceeds 2 % of the pixel size
_SCALE_BAR_OCR_CALLS = 5
_CROSS_CHECK_OCR_CALLS = 1  # FEI, Zeiss and JEOL bars are read at the first try


def calibrate(
    image: LoadedImage,
    *,
    manual_pixel_size_nm: float | None = None,
    sidecar_text: str | None = None,
    use_scale_bar: bool = True,
) -> Calibration:
    """Decide the pixel size of ``image`` (see the module docstring for the rules).

    Parameters
    ----------
    image : LoadedImage
        From :func:`analysis.io.read_image`; its ``path`` is used to find a ``.txt``/``.hdr``
        sidecar (JEOL, Hitachi, TESCAN) when ``sidecar_text`` is not given.
    manual_pixel_size_nm : float, optional
        A value the user typed; wins over everything, other sources are still reported.
    sidecar_text : str, optional
        Contents of the instrument's sidecar file, for uploads where it is not on disk.
    use_scale_bar : bool
        Look for a burned-in scale bar (costs OCR time) to calibrate or cross-check.

    Raises
    ------
    ValueError
        If ``manual_pixel_size_nm`` is not a finite positive number.
    """
    if manual_pixel_size_nm is not None and not (
        math.isfinite(manual_pixel_size_nm) and manual_pixel_size_nm > 0
    ):
        raise ValueError(
            f"manual pixel size must be a positive number of nm, got {manual_pixel_size_nm!r}"
        )
    details: dict[str, Any] = {}
    if sidecar_text is None and image.path:
        sidecar_text = find_sidecar_text(image.path)
        if sidecar_text:
            details["sidecar"] = "found next to the image"
    reading = read_metadata(image, sidecar_text)
    if reading is not None:
        details["metadata"] = {
            "vendor": reading.vendor,
            "pixel_size_nm": reading.pixel_size_nm,
            "reason": reading.reason,
            "fields": reading.fields,
        }
    data_bar = _data_bar(image, reading)
    if data_bar is not None:
        details["data_bar_source"] = (
            "metadata" if reading is not None and reading.data_bar_rows else "detected"
        )
    meta_nm = reading.pixel_size_nm if reading is not None else None
    bar = None
    band = None
    if use_scale_bar and data_bar is not None:
        band = read_band(image.grey, data_bar)
        details["band_text"] = band.as_dict()
        found = find_band_bar(
            image.grey,
            data_bar,
            band.bar_labels,
            list(band.text_boxes),
            mag_pixel_size_nm(band.fields, image.width),
        )
        if found is not None:
            bar, label_box = found
            details["scale_bar_label_bbox"] = label_box.as_dict()
    if use_scale_bar and bar is None:
        # With a metadata value the bar is only a cross-check: spend less OCR time on it.
        budget = _CROSS_CHECK_OCR_CALLS if meta_nm is not None else _SCALE_BAR_OCR_CALLS
        located = locate_scale_bar(image.grey, data_bar, max_ocr_calls=budget)
        if located is not None:
            bar, label_box = located
            if label_box is not None:
                details["scale_bar_label_bbox"] = label_box.as_dict()
    bar_nm = _bar_pixel_nm(bar)
    if bar is not None:
        details["scale_bar_pixel_size_nm"] = bar_nm
    band_nm = band.pixel_size_nm if band is not None else None
    warnings = list(reading.warnings) if reading is not None else []
    sources = _sources(reading, band, bar, image.width)
    details["sources"] = [s.as_dict() for s in sources]
    against_mag: list[str] = []
    if band is not None:
        sources, against_mag, settled = _vote_with_magnification(band, sources, image.width)
        if settled:
            details["magnification_vote"] = settled
            warnings.append(settled)
            names = {s.name for s in sources}
            band_nm = band_nm if "band text" in names else None
            bar_nm = bar_nm if "scale bar" in names else None
    disagreements = _disagreements(sources) + against_mag
    details["disagreements"] = disagreements
    warnings.extend(disagreements)
    if meta_nm is not None and bar_nm is not None:
        details["metadata_vs_scale_bar"] = round(abs(meta_nm - bar_nm) / meta_nm, 4)
    common = {
        "metadata_pixel_size_nm": meta_nm,
        "scale_bar": bar,
        "data_bar": data_bar,
        "details": details,
    }
    if manual_pixel_size_nm is not None:
        for src in sources:
            if abs(src.pixel_size_nm - manual_pixel_size_nm) / src.pixel_size_nm > src.tolerance:
                warnings.append(
                    f"manual pixel size {manual_pixel_size_nm:.4g} nm differs from the "
                    f"{src.name} ({src.pixel_size_nm:.4g} nm) by more than {src.tolerance:.0%}"
                )
        _choose(details, "manual")
        return Calibration(
            float(manual_pixel_size_nm), "manual", 1.0, "given by the user",
            warnings=tuple(warnings), **common,
        )  # fmt: skip
    if meta_nm is not None and reading is not None:
        confidence = reading.confidence
        if len(sources) > 1:
            confidence = min(1.0, confidence + 0.01) if not disagreements else 0.7
        _choose(details, "metadata")
        return Calibration(
            meta_nm, f"metadata:{reading.vendor}", round(confidence, 3), reading.reason,
            warnings=tuple(warnings), **common,
        )  # fmt: skip
    if disagreements:
        # Readings of the image itself contradict each other and nothing says which one is
        # right: a person must decide (an invented value would be worse than none).
        _choose(details, None)
        return Calibration(
            None, "uncalibrated", 0.0,
            "the image's own calibration marks disagree: " + disagreements[0],
            warnings=tuple(warnings), **common,
        )  # fmt: skip
    if band is not None and band_nm is not None and GUESSED_UNIT in band.how and bar_nm is None:
        # A unit guessed from a loosely known magnification is no calibration on its own.
        _choose(details, None)
        return Calibration(
            None, "uncalibrated", 0.0,
            f"the data band's field width lost its unit prefix and no scale bar confirms it "
            f"({band.how})",
            warnings=tuple(warnings), **common,
        )  # fmt: skip
    if band_nm is not None and bar_nm is not None and _bar_more_precise(band, bar):
        assert bar is not None
        _choose(details, "scale_bar")
        return Calibration(
            bar_nm, "scale_bar", 0.95,
            f"scale bar '{bar.label}' over {bar.length_px:.1f} px, confirmed by the data band "
            f"text and more precise than it ({band.how}, printed to fewer digits)",
            warnings=tuple(warnings), **common,
        )  # fmt: skip
    if band is not None and band_nm is not None:
        reason = f"data band text: {band.how}"
        confidence = 0.9 if bar_nm is None else 0.97  # confirmed by the bar
        _choose(details, "band_text")
        return Calibration(
            band_nm, "band_text", confidence, reason, warnings=tuple(warnings), **common
        )
    if bar_nm is not None and bar is not None:
        reason = f"scale bar '{bar.label}' over {bar.length_px:.1f} px"
        if reading is not None:
            reason += f" ({reading.reason})"
        if bar.length_px < _SHORT_BAR_PX:
            warnings.append(
                f"the scale bar is only {bar.length_px:.0f} px long: its length alone is "
                f"uncertain by about {1.5 / bar.length_px:.0%}"
            )
        if bar.confidence < LOW_CONFIDENCE:
            warnings.append(
                f"scale-bar label read as '{bar.label}' with low confidence "
                f"({bar.confidence:.2f}): check the pixel size"
            )
        _choose(details, "scale_bar")
        return Calibration(
            bar_nm, "scale_bar", bar.confidence, reason, warnings=tuple(warnings), **common
        )
    _choose(details, None)
    return Calibration(
        None, "uncalibrated", 0.0, _uncalibrated_reason(reading, bar, band, use_scale_bar),
        warnings=tuple(warnings), **common,
    )  # fmt: skip


def _bar_more_precise(band: BandReading | None, bar: ScaleBar | None) -> bool:
    """Whether a bar that agrees with the band text is the more precise of the two: a bar
    drawn to whole pixels is good to about 1/length, the printed value to half its last
    digit (usually 0.1 %, but 3 % for a field width read with two digits)."""
    precision = printed_precision(band) if band is not None else None
    if bar is None or precision is None:
        return False
    return 1.0 / max(bar.length_px, 1.0) < precision


def _choose(details: dict[str, Any], chosen: str | None) -> None:
    """Record the winner (``"metadata"``, ``"band_text"``, ``"scale_bar"``, ``"manual"``)
    and mark it among the sources, so a page can list the others beside it."""
    details["chosen"] = chosen
    for src in details.get("sources", []):
        src["chosen"] = chosen is not None and src["source"] == chosen.replace("_", " ")


@dataclass(frozen=True)
class _Source:
    """One independent pixel size, with the tolerance its own rounding allows."""

    name: str  # "metadata", "band text", "scale bar"
    pixel_size_nm: float
    tolerance: float
    evidence: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.name,
            "pixel_size_nm": float(self.pixel_size_nm),
            "tolerance": round(self.tolerance, 4),
            "evidence": self.evidence,
        }


def _sources(
    reading: MetadataReading | None, band: BandReading | None, bar: ScaleBar | None, width: int
) -> list[_Source]:
    out = []
    if reading is not None and reading.pixel_size_nm is not None:
        out.append(_Source("metadata", reading.pixel_size_nm, _PRECISE_TOLERANCE, reading.reason))
    if band is not None and band.pixel_size_nm is not None:
        tolerance = max(_PRECISE_TOLERANCE, printed_precision(band) or 0.0)
        out.append(_Source("band text", band.pixel_size_nm, tolerance, band.how))
    bar_nm = _bar_pixel_nm(bar)
    if bar is not None and bar_nm is not None and plausible_pixel_size(bar_nm, width):
        # A bar drawn to whole pixels is good to about 1 px in its length.
        tolerance = max(DISAGREEMENT_WARN, 1.5 / max(bar.length_px, 1.0))
        evidence = f"'{bar.label}' over {bar.length_px:.1f} px"
        out.append(_Source("scale bar", bar_nm, tolerance, evidence))
    return out


def _vote_with_magnification(
    band: BandReading, sources: list[_Source], width: int
) -> tuple[list[_Source], list[str], str | None]:
    """Band text and bar checked against the band's magnification, the odd one out dropped.

    The magnification is good only to a factor of ~3, but a reading off from it by more
    than :data:`MAG_TOLERANCE_FACTOR` has lost a digit. With band text and a bar, three
    readings of the image vote: when the two agree and the magnification does not, it is
    the misread ("Mag = 4.27 K X" for 43.27 K at half size); when they disagree and the
    magnification sides with one, the other is ("View field: 3.9 µm" for 33.9 µm).

    Returns the sources kept, the magnification disagreements that stand, and the vote's
    outcome in words (``None`` when there was nothing to settle).
    """
    disputed = _magnification_check(band, sources, width)
    against_mag = [message for _src, message in disputed]
    if not disputed or sorted(s.name for s in sources) != ["band text", "scale bar"]:
        return sources, against_mag, None
    mag = band.fields.get("mag")
    if not _disagreements(sources):
        if len(disputed) < 2:
            return sources, against_mag, None
        said = (
            f"the band's magnification ({mag}) disagrees with the band text and the scale bar, "
            "which agree with each other: taken as misread"
        )
        return sources, [], said
    if len(disputed) != 1:
        return sources, against_mag, None
    odd = disputed[0][0]
    kept = [s for s in sources if s is not odd]
    said = (
        f"the {odd.name} ({odd.pixel_size_nm:.4g} nm/px, {odd.evidence}) disagrees with the "
        f"{kept[0].name} and with the band's magnification ({mag}): taken as misread"
    )
    return kept, [], said


def _magnification_check(
    band: BandReading, sources: list[_Source], width: int
) -> list[tuple[_Source, str]]:
    """Sources off by more than a factor of 4 from what the band's magnification implies,
    each with the disagreement in words."""
    mag_nm = mag_pixel_size_nm(band.fields, width)
    if mag_nm is None:
        return []
    out = []
    for src in sources:
        ratio = src.pixel_size_nm / mag_nm
        if not (1 / MAG_TOLERANCE_FACTOR <= ratio <= MAG_TOLERANCE_FACTOR):
            message = (
                f"{src.name} ({src.pixel_size_nm:.4g} nm/px, {src.evidence}) is {ratio:.3g} "
                f"times what the band's magnification ({band.fields['mag']}) implies"
            )
            out.append((src, message))
    return out


def _disagreements(sources: list[_Source]) -> list[str]:
    """Every pair of sources further apart than the looser one's tolerance, in words."""
    out = []
    for i, a in enumerate(sources):
        for b in sources[i + 1 :]:
            diff = abs(a.pixel_size_nm - b.pixel_size_nm) / a.pixel_size_nm
            if diff > max(a.tolerance, b.tolerance):
                out.append(
                    f"{a.name} ({a.pixel_size_nm:.4g} nm/px, {a.evidence}) and {b.name} "
                    f"({b.pixel_size_nm:.4g} nm/px, {b.evidence}) disagree by {diff:.1%}"
                )
    return out


def _data_bar(image: LoadedImage, reading: MetadataReading | None) -> Region | None:
    """The metadata's data bar rows when it states them, else detection."""
    if reading is not None and reading.data_bar_rows:
        return Region(0, image.height - reading.data_bar_rows, image.width, image.height)
    return find_data_bar(image.grey)


def _bar_pixel_nm(bar: ScaleBar | None) -> float | None:
    if bar is None or bar.length_nm is None or bar.length_px <= 0:
        return None
    return bar.length_nm / bar.length_px


def _uncalibrated_reason(
    reading: MetadataReading | None,
    bar: ScaleBar | None,
    band: BandReading | None,
    use_scale_bar: bool,
) -> str:
    parts = [reading.reason if reading is not None else "no calibration in the file's metadata"]
    if band is not None:
        parts.append(band.how)
    if not use_scale_bar:
        parts.append("scale-bar search disabled")
    elif bar is None:
        parts.append("no scale bar found")
    else:
        parts.append("a scale bar was found but its label could not be read")
    return "; ".join(parts)
