"""Hitachi: INI-style ``.txt`` sidecar (``[SemImageFile]``) with ``PixelSize`` in nanometres.

``DataSize=1280x960`` is the scanned frame; a stored image that is taller carries the data
bar below it, and one of another width was resampled.
"""

from __future__ import annotations

import re
from typing import Any

from analysis.io import LoadedImage

from .base import MetadataReading, data_bar_rows, positive, text_blocks

VENDOR = "hitachi"
_KV_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*=\s*(.*?)\s*$", re.MULTILINE)


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    for text in text_blocks(image, sidecar_text):
        if "[SemImageFile]" in text or ("PixelSize=" in text and "InstructName" in text):
            return _read_text(image, text)
    return None


def _read_text(image: LoadedImage, text: str) -> MetadataReading:
    kv = {m.group(1): m.group(2) for m in _KV_RE.finditer(text)}
    fields: dict[str, Any] = {
        k: kv[k] for k in ("InstructName", "PixelSize", "DataSize") if k in kv
    }
    pixel_nm = positive(kv.get("PixelSize"))
    size = re.findall(r"\d+", kv.get("DataSize", ""))
    frame_w = int(size[0]) if len(size) >= 2 else image.width
    bar_rows = data_bar_rows(image.height, size[1]) if len(size) >= 2 else None
    if pixel_nm is None:
        return MetadataReading(
            VENDOR, None, 0.0, "Hitachi sidecar without PixelSize", fields, data_bar_rows=bar_rows
        )
    warnings: tuple[str, ...] = ()
    if frame_w != image.width:
        pixel_nm *= frame_w / image.width
        warnings = (f"stored width {image.width} px differs from DataSize; pixel size rescaled",)
    return MetadataReading(
        VENDOR,
        pixel_nm,
        0.97,
        "Hitachi sidecar PixelSize",
        fields,
        data_bar_rows=bar_rows,
        warnings=warnings,
    )
