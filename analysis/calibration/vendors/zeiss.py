"""Zeiss SmartSEM: TIFF tag 34118 ``CZ_SEM``.

Which field to trust: ``CZ_SEM[""][3]`` is the pixel size in metres, precise but (as
RosettaSciIO found) referring to a 1024-px-wide reference frame on some instruments;
``ap_image_pixel_size`` is rounded to 4 digits; ``ap_width`` is the field width. The reference
field is therefore checked against field width / stored width: whichever interpretation
(as-is or x 1024 / width) agrees with it wins.
"""

from __future__ import annotations

import re
from typing import Any

from analysis.io import LoadedImage

from ..units import canonical_unit, to_nm
from .base import MetadataReading, positive, relative_difference, text_blocks, vendor_block

VENDOR = "zeiss"
_REFERENCE_WIDTH_PX = 1024


def _quantity_nm(entry: Any) -> float | None:
    """``("Width", 2.677, "mm")`` -> nanometres."""
    if not isinstance(entry, list | tuple) or len(entry) < 3:
        return None
    value, unit = positive(entry[1]), canonical_unit(str(entry[2]))
    return to_nm(value, unit) if value and unit else None


def _from_text(text: str, label: str) -> float | None:
    m = re.search(rf"^{re.escape(label)}\s*=\s*([-+0-9.eE]+)\s*(\S+)", text, re.MULTILINE)
    if not m:
        return None
    value, unit = positive(m.group(1)), canonical_unit(m.group(2))
    return to_nm(value, unit) if value and unit else None


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    block = vendor_block(image, "CZ_SEM")
    raw_text = image.metadata.get("text", {}).get("CZ_SEM")
    if block is None and raw_text is None:
        for t in text_blocks(image, sidecar_text):
            if "Image Pixel Size =" in t and "AP_" in t:
                raw_text = t
                break
    if block is None and raw_text is None:
        return None
    block = block or {}
    fields: dict[str, Any] = {}
    width = image.width

    ref = block.get("")
    ref_nm = None
    if isinstance(ref, list | tuple) and len(ref) > 3 and positive(ref[3]):
        ref_nm = float(ref[3]) * 1e9
        fields['CZ_SEM[""][3] (m)'] = ref[3]
    field_width_nm = _quantity_nm(block.get("ap_width"))
    if field_width_nm is None and raw_text:
        field_width_nm = _from_text(raw_text, "Width")
    if field_width_nm:
        fields["ap_width (nm)"] = field_width_nm
    rounded_nm = _quantity_nm(block.get("ap_image_pixel_size"))
    if rounded_nm is None and raw_text:
        rounded_nm = _from_text(raw_text, "Image Pixel Size")
    if rounded_nm:
        fields["ap_image_pixel_size (nm)"] = rounded_nm

    check_nm = field_width_nm / width if field_width_nm else rounded_nm
    warnings: list[str] = []
    pixel_nm: float | None = None
    if ref_nm:
        candidates = [("reference x 1024 / width", ref_nm * _REFERENCE_WIDTH_PX / width)]
        candidates.append(("reference as stored", ref_nm))
        if check_nm:
            how, pixel_nm = min(candidates, key=lambda c: relative_difference(c[1], check_nm))
            if relative_difference(pixel_nm, check_nm) > 0.02:
                warnings.append(
                    f"Zeiss pixel size fields disagree ({pixel_nm:.4g} nm vs field width / "
                    f"image width {check_nm:.4g} nm); field width used"
                )
                how, pixel_nm = "ap_width / image width", check_nm
        else:
            how, pixel_nm = candidates[0]
        fields["interpretation"] = how
    elif field_width_nm:
        pixel_nm = field_width_nm / width
        fields["interpretation"] = "ap_width / image width"
    elif rounded_nm:
        pixel_nm = rounded_nm
        fields["interpretation"] = "ap_image_pixel_size"
    if pixel_nm is None:
        return MetadataReading(
            VENDOR, None, 0.0, "Zeiss CZ_SEM metadata without a pixel size", fields
        )
    return MetadataReading(
        VENDOR,
        pixel_nm,
        0.97 if not warnings else 0.8,
        "Zeiss CZ_SEM pixel size, cross-checked with field width / image width",
        fields,
        warnings=tuple(warnings),
    )
