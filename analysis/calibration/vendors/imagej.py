"""ImageJ-saved TIFF: ``unit=`` in the ImageDescription, pixels per unit in XResolution."""

from __future__ import annotations

from analysis.io import LoadedImage

from ..units import canonical_unit, is_reciprocal_unit, to_nm
from .base import MetadataReading, positive

VENDOR = "imagej"
_UNCALIBRATED_UNITS = {"", "pixel", "pixels", "px"}


def rational(value: object) -> float | None:
    """TIFF RATIONAL ``[num, den]`` (or a plain number) as a float."""
    if isinstance(value, list | tuple) and len(value) == 2:
        num, den = positive(value[0]), positive(value[1])
        return num / den if num and den else None
    return positive(value)


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    ij = image.metadata.get("imagej")
    if not isinstance(ij, dict):
        return None
    unit = str(ij.get("unit", "")).strip()
    px_per_unit = rational(image.metadata.get("tags", {}).get("XResolution"))
    fields = {"unit": unit, "XResolution (px/unit)": px_per_unit}
    if is_reciprocal_unit(unit):
        return MetadataReading(
            VENDOR, None, 0.0, f"ImageJ calibration is in reciprocal space ({unit})", fields
        )
    canon = canonical_unit(unit)
    if unit.lower() in _UNCALIBRATED_UNITS or canon is None or canon == "in":
        return MetadataReading(
            VENDOR, None, 0.0, f"ImageJ file without a length calibration (unit {unit!r})", fields
        )
    if px_per_unit is None:
        return MetadataReading(VENDOR, None, 0.0, "ImageJ unit without XResolution", fields)
    return MetadataReading(
        VENDOR, to_nm(1.0 / px_per_unit, canon), 0.95, "ImageJ unit + XResolution", fields
    )
