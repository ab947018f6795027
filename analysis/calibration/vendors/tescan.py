"""TESCAN: INI-style text in TIFF tag 50431 (or a ``.hdr`` sidecar) with ``PixelSizeX`` in m."""

from __future__ import annotations

import re
from typing import Any

from analysis.io import LoadedImage

from .base import MetadataReading, positive, text_blocks, vendor_block

VENDOR = "tescan"
_PIXEL_RE = re.compile(r"^\s*PixelSize([XY])\s*=\s*([-+0-9.eE]+)", re.MULTILINE)


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    texts = text_blocks(image, sidecar_text)
    block = vendor_block(image, "TESCAN", "50431")
    if block:
        texts.append("\n".join(f"{k}={v}" for k, v in _flatten(block)))
    for text in texts:
        found = dict((axis, value) for axis, value in _PIXEL_RE.findall(text))
        if "X" not in found:
            continue
        fields: dict[str, Any] = {f"PixelSize{a}": v for a, v in found.items()}
        x_m = positive(found["X"])
        if x_m is None:
            return MetadataReading(VENDOR, None, 0.0, "TESCAN PixelSizeX is zero", fields)
        y_m = positive(found.get("Y"))
        return MetadataReading(
            VENDOR,
            x_m * 1e9,
            0.97,
            "TESCAN PixelSizeX",
            fields,
            pixel_height_nm=y_m * 1e9 if y_m else None,
        )
    return None


def _flatten(block: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in block.items():
        out.extend(_flatten(v) if isinstance(v, dict) else [(k, v)])
    return out
