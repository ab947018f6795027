"""Pixel size of the stored image, in nanometres, and where it came from.

Sources, strongest first: a value the caller gives (``manual``, always wins), the
instrument's own metadata (``metadata:<vendor>``), a scale bar read from the image
(``scale_bar``). When none applies the result is ``uncalibrated`` with ``pixel_size_nm=None``
and a reason; a value is never invented. When metadata and a scale bar both exist they are
cross-checked and a disagreement over 5 % is reported in ``warnings``.

Public API: :func:`calibrate`, :func:`find_data_bar`, :func:`find_scale_bar`.
"""

from __future__ import annotations

import math
from typing import Any

from analysis.io import LoadedImage
from analysis.result import Calibration, Region, ScaleBar

from .databar import find_data_bar
from .metadata import find_sidecar_text, read_metadata
from .scalebar import LOW_CONFIDENCE, find_scale_bar, locate_scale_bar
from .vendors.base import MetadataReading

__all__ = ["calibrate", "find_data_bar", "find_scale_bar", "locate_scale_bar"]

DISAGREEMENT_WARN = 0.05  # metadata vs scale bar: labels are rounded, bars drawn to +-1 px
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
    if use_scale_bar:
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
    warnings = list(reading.warnings) if reading is not None else []
    diff: float | None = None
    if meta_nm is not None and bar_nm is not None:
        diff = abs(meta_nm - bar_nm) / meta_nm
        details["metadata_vs_scale_bar"] = round(diff, 4)
        if diff > DISAGREEMENT_WARN:
            warnings.append(
                f"metadata ({meta_nm:.4g} nm/px) and scale bar '{bar.label}' "
                f"({bar_nm:.4g} nm/px) disagree by {diff:.0%}"
            )
    common = {
        "metadata_pixel_size_nm": meta_nm,
        "scale_bar": bar,
        "data_bar": data_bar,
        "details": details,
    }
    if manual_pixel_size_nm is not None:
        for name, other in (("metadata", meta_nm), ("scale bar", bar_nm)):
            if other is not None and abs(other - manual_pixel_size_nm) / other > DISAGREEMENT_WARN:
                warnings.append(
                    f"manual pixel size {manual_pixel_size_nm:.4g} nm differs from the "
                    f"{name} ({other:.4g} nm) by more than {DISAGREEMENT_WARN:.0%}"
                )
        return Calibration(
            float(manual_pixel_size_nm), "manual", 1.0, "given by the user",
            warnings=tuple(warnings), **common,
        )  # fmt: skip
    if meta_nm is not None and reading is not None:
        confidence = reading.confidence
        if diff is not None:
            confidence = min(1.0, confidence + 0.01) if diff <= DISAGREEMENT_WARN else 0.7
        return Calibration(
            meta_nm, f"metadata:{reading.vendor}", round(confidence, 3), reading.reason,
            warnings=tuple(warnings), **common,
        )  # fmt: skip
    if bar_nm is not None and bar is not None:
        reason = f"scale bar '{bar.label}' over {bar.length_px:.1f} px"
        if reading is not None:
            reason += f" ({reading.reason})"
        if bar.confidence < LOW_CONFIDENCE:
            warnings.append(
                f"scale-bar label read as '{bar.label}' with low confidence "
                f"({bar.confidence:.2f}): check the pixel size"
            )
        return Calibration(
            bar_nm, "scale_bar", bar.confidence, reason, warnings=tuple(warnings), **common
        )
    return Calibration(
        None, "uncalibrated", 0.0, _uncalibrated_reason(reading, bar, use_scale_bar),
        warnings=tuple(warnings), **common,
    )  # fmt: skip


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
    reading: MetadataReading | None, bar: ScaleBar | None, use_scale_bar: bool
) -> str:
    parts = [reading.reason if reading is not None else "no calibration in the file's metadata"]
    if not use_scale_bar:
        parts.append("scale-bar search disabled")
    elif bar is None:
        parts.append("no scale bar found")
    else:
        parts.append("a scale bar was found but its label could not be read")
    return "; ".join(parts)
