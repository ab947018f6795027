"""JEOL: ``$KEY value`` records in a ``.txt`` sidecar or in the TIFF's EXIF MakerNote.

``$CM_PIXEL_SIZE`` (e.g. ``1.00nm/pixel``) refers to the scanned frame ``$CM_IMAGE_SIZE`` /
``$CM_FULL_SIZE``; the stored TIFF adds the data bar (``$SM_PNU_HEIGHT`` rows) below it.
Fallbacks: field of view / frame width, then micron marker / micron bar length.
"""

from __future__ import annotations

import re
from typing import Any

from analysis.io import LoadedImage

from ..units import canonical_unit, parse_length_nm, to_nm
from .base import MetadataReading, data_bar_rows, positive, relative_difference, text_blocks

VENDOR = "jeol"
_RECORD_RE = re.compile(r"\$+([A-Z][A-Z0-9_]*)[ =]([^\t\r\n$]*)")


def parse_records(text: str) -> dict[str, str]:
    """``"$CM_MAG=100000\\t$CM_PIXEL_SIZE=1.00nm/pixel"`` -> ``{"CM_MAG": "100000", ...}``."""
    return {m.group(1): m.group(2).strip() for m in _RECORD_RE.finditer(text)}


def _pair(value: str | None) -> tuple[float, float] | None:
    nums = re.findall(r"[-+]?\d+(?:\.\d+)?", value or "")
    return (float(nums[0]), float(nums[1])) if len(nums) >= 2 else None


def _field_width_nm(value: str | None) -> float | None:
    """``"1280 960nm"`` -> 1280.0 (width first, unit at the end)."""
    if not value:
        return None
    m = re.match(r"\s*([0-9.]+)\s+[0-9.]+\s*([^\s0-9.]+)", value)
    if not m:
        return None
    unit = canonical_unit(m.group(2))
    return to_nm(float(m.group(1)), unit) if unit and positive(m.group(1)) else None


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    records: dict[str, str] = {}
    for text in text_blocks(image, sidecar_text):
        if "$CM_" in text or "$SM_" in text:
            records = parse_records(text)
            break
    if not records:
        return None
    fields: dict[str, Any] = {}
    size = _pair(records.get("CM_IMAGE_SIZE")) or _pair(records.get("CM_FULL_SIZE"))
    frame_w = size[0] if size else float(image.width)
    if size:
        fields["CM_IMAGE_SIZE"] = records.get("CM_IMAGE_SIZE") or records.get("CM_FULL_SIZE")

    pixel_nm = parse_length_nm(records.get("CM_PIXEL_SIZE"))
    if pixel_nm:
        fields["CM_PIXEL_SIZE"] = records["CM_PIXEL_SIZE"]
    fov_nm = _field_width_nm(records.get("CM_FIELD_OF_VIEW"))
    if fov_nm:
        fields["CM_FIELD_OF_VIEW"] = records["CM_FIELD_OF_VIEW"]
    marker_nm = parse_length_nm(records.get("SM_MICRON_MARKER"))
    bar_px = positive(records.get("SM_MICRON_BAR"))
    warnings: list[str] = []
    how = "$CM_PIXEL_SIZE"
    if pixel_nm is None and fov_nm:
        pixel_nm, how = fov_nm / frame_w, "$CM_FIELD_OF_VIEW / $CM_IMAGE_SIZE"
    if pixel_nm is None and marker_nm and bar_px:
        fields.update(SM_MICRON_MARKER=records["SM_MICRON_MARKER"], SM_MICRON_BAR=bar_px)
        pixel_nm, how = marker_nm / bar_px, "$SM_MICRON_MARKER / $SM_MICRON_BAR"
    bar_rows = data_bar_rows(image.height, size[1]) if size else None
    if pixel_nm is None:
        return MetadataReading(
            VENDOR, None, 0.0, "JEOL metadata without a pixel size", fields, data_bar_rows=bar_rows
        )
    if fov_nm and how == "$CM_PIXEL_SIZE":
        diff = relative_difference(pixel_nm, fov_nm / frame_w)
        if diff > 0.02:
            warnings.append(f"JEOL $CM_PIXEL_SIZE and field of view disagree by {diff:.1%}")
    if size and int(frame_w) != image.width:
        pixel_nm *= frame_w / image.width
        warnings.append(
            f"stored width {image.width} px differs from the scanned {int(frame_w)} px; "
            "pixel size rescaled"
        )
    return MetadataReading(
        VENDOR,
        pixel_nm,
        0.98 if not warnings else 0.85,
        f"JEOL {how}",
        fields,
        data_bar_rows=bar_rows,
        warnings=tuple(warnings),
    )
