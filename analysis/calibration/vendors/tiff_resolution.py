"""Generic TIFF XResolution/ResolutionUnit: trusted only when it can be a micrograph's scale.

Most software writes a *print* resolution (72, 96, 300 dpi) that says nothing about the
specimen; such a value gives pixels of tens of micrometres. So the tag is used only with a
real length unit (inch or centimetre) and when it implies a pixel of at most 10 µm, and
always with low confidence.
"""

from __future__ import annotations

from analysis.io import LoadedImage

from .base import MetadataReading
from .imagej import rational

VENDOR = "tiff"
_MAX_PIXEL_NM = 10_000.0
_NM_PER_UNIT = {"INCH": 2.54e7, "2": 2.54e7, "CENTIMETER": 1e7, "3": 1e7}


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    if image.format != "TIFF":
        return None
    tags = image.metadata.get("tags", {})
    unit = str(tags.get("ResolutionUnit", ""))
    px_per_unit = rational(tags.get("XResolution"))
    if unit not in _NM_PER_UNIT or px_per_unit is None:
        return None
    pixel_nm = _NM_PER_UNIT[unit] / px_per_unit
    if pixel_nm > _MAX_PIXEL_NM:
        return None  # a print resolution, not a calibration
    return MetadataReading(
        VENDOR,
        pixel_nm,
        0.5,
        "generic TIFF XResolution with a length unit",
        {"XResolution": tags.get("XResolution"), "ResolutionUnit": unit},
    )
