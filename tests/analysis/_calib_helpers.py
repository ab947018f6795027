"""Helpers for the io/calibration tests: the shared data folder, crafted file headers and the
bench's rendered band layouts."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from analysis.calibration import calibrate
from analysis.calibration.render_bands import RenderedBand, degrade, render_band_image
from analysis.io import image_from_array
from analysis.result import Calibration

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
CALIBRATION_DIR = DATA / "calibration"
SCALEBAR_DIR = DATA / "scalebar"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` 8-bit grey and holds one tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiff_header_only(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD declares ``width`` x ``height`` 8-bit grey pixels."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # MinIsBlack
        (273, 4, 1, 8),  # StripOffsets (garbage: never read)
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, width * height),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        packed = struct.pack("<I", value) if typ == 4 else struct.pack("<HH", value, 0)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def calibrate_rendered(layout: str, seed: int, half: bool) -> tuple[Calibration, RenderedBand]:
    """A bench render (and, with ``half``, its half-size JPEG copy, as the bench makes) and
    what the engine reads from it."""
    r = render_band_image(layout, seed)
    if half:
        r = degrade(r, factor=0.5, jpeg_quality=80)
    return calibrate(image_from_array(r.image)), r
