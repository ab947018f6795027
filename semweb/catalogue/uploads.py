"""Helpers for turning untrusted upload bytes and names into safe stored values.

Kept apart from `services.py` because none of this touches the database: name cleaning,
sidecar decoding, preview rendering and JSON sanitising for PostgreSQL.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

MAX_NAME_CHARS = 200  # leaves room under the 255-char columns for storage prefixes
PREVIEW_MAX_WIDTH_PX = 1024
SIDECAR_SUFFIXES = (".txt", ".hdr")
MAX_SIDECAR_BYTES = 1_000_000  # vendor sidecars are a few kB; anything larger is not one

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_filename(name: str) -> str:
    """A display name safe to store and to send back in Content-Disposition.

    Path parts (``../../etc/passwd.png``, ``C:\\x\\y.tif``), NUL and control characters are
    dropped; very long names are shortened keeping their extension. Never empty.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = _CONTROL.sub("", name)
    name = name.replace("\\", "/").split("/")[-1].strip().strip(".").strip()
    if not name:
        return "upload"
    if len(name) > MAX_NAME_CHARS:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_NAME_CHARS - len(suffix)] + suffix
    return name


def stem_of(name: str) -> str:
    """The pairing key of an image and its sidecar: ``S-4800_012.tif`` ↔ ``S-4800_012.txt``."""
    return PurePosixPath(clean_filename(name)).stem.lower()


def is_sidecar_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in SIDECAR_SUFFIXES


def decode_sidecar(data: bytes) -> str:
    """Vendor sidecars are ASCII/UTF-8 (JEOL, TESCAN), sometimes UTF-16 or Latin-1 (Hitachi)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def is_valid_sidecar(data: bytes) -> bool:
    """Text (no NUL outside UTF-16) and small: vendor sidecars are a few kilobytes."""
    if not data or len(data) > MAX_SIDECAR_BYTES:
        return False
    sample = data[:4096]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return b"\x00" not in sample


def render_preview_png(grey: np.ndarray, bit_depth: int) -> bytes:
    """An 8-bit PNG at most ``PREVIEW_MAX_WIDTH_PX`` wide from the engine's grey image.

    ``grey`` is (H, W) float in [0, 1]. Deeper images rarely use their full range (a 16-bit
    detector filling 12 bits looks black), so they are stretched to the 0.1–99.9 percentiles;
    8-bit images are shown as stored.
    """

    g = np.asarray(grey, dtype=np.float32)
    if bit_depth > 8:
        step_y, step_x = max(1, g.shape[0] // 512), max(1, g.shape[1] // 512)
        lo, hi = np.percentile(g[::step_y, ::step_x], [0.1, 99.9])
        g = (g - lo) / (hi - lo) if hi > lo else np.zeros_like(g)
    img = Image.fromarray((np.clip(g, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), mode="L")
    if img.width > PREVIEW_MAX_WIDTH_PX:
        height = max(1, round(img.height * PREVIEW_MAX_WIDTH_PX / img.width))
        img = img.resize((PREVIEW_MAX_WIDTH_PX, height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
