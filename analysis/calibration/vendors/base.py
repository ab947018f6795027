"""What a vendor reader returns, plus the small lookups every reader needs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from analysis.io import LoadedImage


@dataclass(frozen=True)
class MetadataReading:
    """A pixel size found (or explicitly not found) in one vendor's metadata.

    ``pixel_size_nm`` is for the STORED image (resampling already accounted for); ``fields``
    lists the vendor fields used, verbatim, so a user can check them; ``data_bar_rows`` is the
    height of the data bar at the bottom when the metadata reveals it.
    """

    vendor: str
    pixel_size_nm: float | None
    confidence: float
    reason: str
    fields: dict[str, Any] = field(default_factory=dict)
    pixel_height_nm: float | None = None
    data_bar_rows: int | None = None
    warnings: tuple[str, ...] = ()


def positive(value: Any) -> float | None:
    """``value`` as a finite float > 0, else ``None`` (vendors write '' or 0 for "unknown")."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def vendor_block(image: LoadedImage, *names: str) -> dict[str, Any] | None:
    """The parsed vendor metadata block stored by :mod:`analysis.io` under one of ``names``."""
    vendor = image.metadata.get("vendor", {})
    for name in names:
        block = vendor.get(name)
        if isinstance(block, dict):
            return block
    return None


def text_blocks(image: LoadedImage, sidecar_text: str | None = None) -> list[str]:
    """All raw text blocks of the file, sidecar first."""
    blocks = [sidecar_text] if sidecar_text else []
    blocks.extend(t for t in image.metadata.get("text", {}).values() if isinstance(t, str))
    return blocks


def relative_difference(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


def data_bar_rows(image_height: int, scanned_height: Any) -> int | None:
    """Rows below the scanned area, when the stored image is taller than the scan (data bar)."""
    h = positive(scanned_height)
    if h is None:
        return None
    extra = image_height - int(h)
    return extra if 0 < extra <= 0.35 * image_height else None
