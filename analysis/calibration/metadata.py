"""Registry of vendor readers and the rule that picks one reading per file.

Readers run in a fixed order (vendor-specific first, the generic TIFF resolution last). The
first reading with a pixel size wins; if none has one but a vendor reader recognised the file
and said "uncalibrated", that verdict stands and the generic fallback is not consulted (an FEI
navigation-camera image's 96 dpi is not a calibration).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analysis.io import LoadedImage

from .vendors import (
    fei,
    gatan,
    hitachi,
    imagej,
    jeol,
    jeol_sightx,
    olympus_sis,
    tescan,
    tiff_resolution,
    zeiss,
)
from .vendors.base import MetadataReading

Reader = Callable[[LoadedImage, str | None], MetadataReading | None]

READERS: tuple[tuple[str, Reader], ...] = (
    ("fei", fei.read),
    ("zeiss", zeiss.read),
    ("jeol", jeol.read),
    ("jeol_sightx", jeol_sightx.read),
    ("hitachi", hitachi.read),
    ("tescan", tescan.read),
    ("olympus_sis", olympus_sis.read),
    ("gatan", gatan.read),
    ("imagej", imagej.read),
    ("tiff", tiff_resolution.read),
)

_SIDECAR_SUFFIXES = (".txt", ".TXT", ".hdr", ".HDR")
_MAX_SIDECAR_BYTES = 1_000_000


def read_metadata(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    """The pixel size the file's own metadata gives, or why it gives none; ``None`` if silent."""
    verdict: MetadataReading | None = None
    for name, reader in READERS:
        if name == "tiff" and verdict is not None:
            break
        try:
            reading = reader(image, sidecar_text)
        except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError):
            continue  # a malformed vendor block must not make the file unreadable
        if reading is None:
            continue
        if reading.pixel_size_nm is not None:
            return reading
        verdict = verdict or reading
    return verdict


def find_sidecar_text(image_path: str | Path | None) -> str | None:
    """Text of the ``<stem>.txt``/``.hdr`` file next to an image (JEOL, Hitachi, TESCAN)."""
    if not image_path:
        return None
    p = Path(image_path)
    for suffix in _SIDECAR_SUFFIXES:
        side = p.with_suffix(suffix)
        if side.is_file() and side.stat().st_size <= _MAX_SIDECAR_BYTES:
            raw = side.read_bytes()
            for enc in ("utf-8", "utf-16", "latin-1"):
                try:
                    return raw.decode(enc)
                except UnicodeDecodeError:
                    continue
    return None
