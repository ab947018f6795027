"""Builders for upload tests: real image bytes in every accepted format, hostile files crafted
byte by byte (never allocated), a raw multipart encoder (the test client would clean the names
we want to send), and a per-test media folder."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

XHR = {"x-requested-with": "XMLHttpRequest", "accept": "application/json"}


@pytest.fixture(name="media")
def media_fixture(settings, tmp_path) -> Path:
    """A private MEDIA_ROOT per test, so files written (or not) can be counted exactly."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def gradient(width: int = 64, height: int = 48, *, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """A deterministic grey image; `seed` changes the bytes (different content hash)."""
    rng = np.random.default_rng(seed)
    top = 255 if dtype == np.uint8 else 4095
    arr = rng.integers(0, top, size=(height, width))
    return arr.astype(dtype)


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gradient(width, height, seed=seed), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def pil_bytes(fmt: str, width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(gradient(width, height, seed=seed), mode="L")
    if fmt == "JPEG":
        img.save(buf, format="JPEG", quality=90)
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


def tiff_bytes(
    width: int = 64, height: int = 48, *, dtype=np.uint8, pages: int = 1, seed: int = 0
) -> bytes:
    buf = io.BytesIO()
    if pages == 1:
        tifffile.imwrite(buf, gradient(width, height, dtype=dtype, seed=seed))
    else:
        with tifffile.TiffWriter(buf) as tw:
            tw.write(gradient(width, height, dtype=dtype, seed=seed))
            for i in range(1, pages):
                tw.write(gradient(width // 2, height // 2, dtype=dtype, seed=seed + i))
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid-looking PNG header declaring `width` x `height` with a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def tiff_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A little-endian TIFF whose one deflate strip claims `width` x `height` pixels."""
    data = zlib.compress(b"\x00" * 4096)
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample, SHORT
        (259, 3, 1, 8),  # Compression = deflate
        (262, 3, 1, 1),  # Photometric = MinIsBlack
        (273, 4, 1, 0),  # StripOffsets (patched below)
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, len(data)),  # StripByteCounts
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_offset
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", 0) + data
    return bytes(out)


def truncated_tiff() -> bytes:
    whole = tiff_bytes(256, 256, dtype=np.uint16, seed=3)
    return whole[: len(whole) // 2]


def files(*pairs: tuple[str, bytes]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, data) for name, data in pairs]


def multipart(pairs: list[tuple[str, bytes]], *, csrf: str | None = None) -> tuple[bytes, str]:
    """Encode files under field `files` with their names exactly as given (bytes allowed)."""
    boundary = "----semwebtestboundary7MA4YWxk"
    out = bytearray()
    for name, data in pairs:
        raw_name = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
        out += f"--{boundary}\r\n".encode()
        out += b'Content-Disposition: form-data; name="files"; filename="' + raw_name + b'"\r\n'
        out += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    if csrf is not None:
        out += f"--{boundary}\r\n".encode()
        out += b'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        out += csrf.encode() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def upload_url(sample) -> str:
    return f"/samples/{sample.pk}/upload/"


def results_by_name(response) -> dict[str, dict]:
    return {r["name"]: r for r in response.json()["results"]}
