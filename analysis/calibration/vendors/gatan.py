"""TIFF saved by Gatan DigitalMicrograph: private tags 65003 (x unit) and 65009 (x scale).

DigitalMicrograph writes its calibration into private tags next to the image (the same
layout RosettaSciIO reads and writes): 65003/65004 the x/y unit strings (``nm``, ``µm``,
``1/nm`` for diffraction), 65009/65010 the x/y scale per pixel as doubles, 65006/65007 the
origins. The scale is per *stored* pixel, so no resampling correction applies.
"""

from __future__ import annotations

from analysis.io import LoadedImage

from ..units import canonical_unit, is_reciprocal_unit, to_nm
from .base import MetadataReading, positive, relative_difference

VENDOR = "gatan"
_X_UNIT, _Y_UNIT, _X_SCALE, _Y_SCALE = "65003", "65004", "65009", "65010"


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).split(b"\x00", 1)[0].decode("latin-1").strip()
    return str(value).strip("\x00 ") if value is not None else ""


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    if image.format != "TIFF":
        return None
    tags = image.metadata.get("tags", {})
    if _X_UNIT not in tags and _X_SCALE not in tags:
        return None
    unit = _text(tags.get(_X_UNIT))
    scale = positive(tags.get(_X_SCALE))
    fields = {"65003 (x unit)": unit, "65009 (x scale)": tags.get(_X_SCALE)}
    if is_reciprocal_unit(unit):
        return MetadataReading(
            VENDOR, None, 0.0, f"DigitalMicrograph calibration is in reciprocal space ({unit})",
            fields,
        )  # fmt: skip
    canon = canonical_unit(unit)
    if canon is None or scale is None:
        return MetadataReading(
            VENDOR, None, 0.0,
            f"DigitalMicrograph TIFF without a length calibration (unit {unit!r})", fields,
        )  # fmt: skip
    x_nm = to_nm(scale, canon)
    y_scale = positive(tags.get(_Y_SCALE))
    y_canon = canonical_unit(_text(tags.get(_Y_UNIT))) or canon
    y_nm = to_nm(y_scale, y_canon) if y_scale else None
    warnings = ()
    if y_nm is not None and relative_difference(x_nm, y_nm) > 0.01:
        warnings = (f"DigitalMicrograph pixels are not square ({x_nm:.4g} x {y_nm:.4g} nm)",)
    return MetadataReading(
        VENDOR, x_nm, 0.97, "Gatan DigitalMicrograph tags 65003/65009", fields,
        pixel_height_nm=y_nm, warnings=warnings,
    )  # fmt: skip
