"""Olympus SIS (iTEM, analySIS, Soft Imaging System TEM cameras): tag 33560 ``OlympusSIS``.

tifffile parses the binary block (``SIS0`` magic, then a small tag table whose "general
data" entry holds a length exponent and x/y calibrations) into ``pixelsizex``/``pixelsizey``
in metres; :mod:`analysis.io` stores that dict as the ``OlympusSIS`` vendor block. The INI
variant (tag 33471 ``OlympusINI``) carries no pixel size tifffile exposes.
"""

from __future__ import annotations

from analysis.io import LoadedImage

from .base import MetadataReading, positive, relative_difference, vendor_block

VENDOR = "olympus_sis"
_NM_PER_M = 1e9
# An SIS block whose calibration is not a micrograph's (0, or the 1 m "no calibration").
_MAX_PIXEL_NM = 1e6


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    block = vendor_block(image, "OlympusSIS", "OlympusINI")
    if block is None:
        return None
    fields = {
        k: block[k]
        for k in ("pixelsizex", "pixelsizey", "magnification", "cameraname", "picturetype")
        if k in block
    }
    x_m, y_m = positive(block.get("pixelsizex")), positive(block.get("pixelsizey"))
    if x_m is None or x_m * _NM_PER_M > _MAX_PIXEL_NM:
        return MetadataReading(
            VENDOR, None, 0.0, "Olympus SIS metadata without a pixel size", fields
        )
    x_nm = x_m * _NM_PER_M
    y_nm = y_m * _NM_PER_M if y_m else None
    warnings = ()
    if y_nm is not None and relative_difference(x_nm, y_nm) > 0.01:
        warnings = (f"Olympus SIS pixels are not square ({x_nm:.4g} x {y_nm:.4g} nm)",)
    return MetadataReading(
        VENDOR,
        x_nm,
        0.97,
        "Olympus SIS pixelsizex (tag 33560)",
        fields,
        pixel_height_nm=y_nm,
        warnings=warnings,
    )
