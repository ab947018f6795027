"""Read micrographs (TIFF, PNG, JPEG, BMP) into one normalised grey image plus raw metadata.

The format is detected from the file's CONTENT (magic bytes), never from its extension, so a
renamed file is still read correctly and a non-image is refused with a clear message. The
declared image size is checked against ``max_pixels`` BEFORE any pixel is decoded, which is
what stops decompression bombs (a 50 000 x 50 000 PNG is a few kilobytes on disk).

Public API: :func:`read_image`, :func:`read_image_bytes`, :class:`LoadedImage` and the
:class:`ImageReadError` family.
"""

from __future__ import annotations

import enum
import io
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tifffile
from PIL import Image

DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP: larger than any SEM frame (16k x 6k) we know of

# Tags whose values are pixel-data bookkeeping, useless to a person and large.
_SKIPPED_TAGS = {273, 279, 288, 289, 320, 324, 325, 347, 50838}
_MAX_LIST_ITEMS = 64
_MAX_TEXT_CHARS = 200_000


class ImageReadError(ValueError):
    """The file could not be read as a micrograph; ``str(err)`` is meant for a lab user."""


class UnsupportedImageError(ImageReadError):
    """The content is not an image in a supported format (TIFF, PNG, JPEG, BMP)."""


class CorruptImageError(ImageReadError):
    """The file looks like a supported image but is truncated or damaged."""


class ImageTooLargeError(ImageReadError):
    """The declared image size exceeds the configured pixel limit."""


@dataclass
class LoadedImage:
    """One micrograph as the engine sees it.

    Attributes
    ----------
    grey : (H, W) float32 ndarray in [0, 1]
        Luminance for analysis. Integer data is scaled by its dtype range (so an 8-bit and a
        16-bit rendering of the same scene agree); float data by its robust range.
    raw : ndarray
        The first page as stored (H, W) or (H, W, C), original dtype.
    bit_depth : int
        Bits per sample of ``raw`` (8, 16 or 32).
    format : str
        ``"TIFF"``, ``"PNG"``, ``"JPEG"`` or ``"BMP"`` (``"ARRAY"`` from
        :func:`image_from_array`).
    metadata : dict
        JSON-able: ``tags`` (TIFF tags by name), ``vendor`` (parsed vendor blocks such as
        ``FEI_HELIOS`` or ``CZ_SEM``), ``text`` (raw text blocks: ImageDescription, JEOL
        MakerNote, PNG text chunks ...), ``imagej`` (ImageJ description fields).
    """

    grey: np.ndarray
    raw: np.ndarray
    bit_depth: int
    format: str
    width: int
    height: int
    pages: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str | None = None


# --------------------------------------------------------------------------------------------
# public entry points


def read_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file; see :class:`LoadedImage`.

    Raises
    ------
    UnsupportedImageError, CorruptImageError, ImageTooLargeError
        With a message a microscopist can act on.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise ImageReadError(f"{p.name}: file not found") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"{p.name}: is a folder, not an image file") from exc
    img = read_image_bytes(data, p.name, max_pixels=max_pixels)
    img.path = str(p)
    return img


def read_image_bytes(
    data: bytes, name: str = "image", *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Read an image held in memory (an upload); ``name`` only appears in error messages."""
    fmt = detect_format(data)
    if fmt is None:
        raise UnsupportedImageError(
            f"{name}: not a supported image (expected TIFF, PNG, JPEG or BMP content; "
            f"the file starts with {data[:8]!r})"
            if data
            else f"{name}: the file is empty"
        )
    if fmt == "TIFF":
        return _read_tiff(data, name, max_pixels)
    return _read_pillow(data, name, fmt, max_pixels)


# Bytes per pixel of a decoded Pillow image, by mode (what `Image.load` allocates).
_PILLOW_MODE_BYTES = {"1": 1, "L": 1, "P": 4, "LA": 2, "PA": 4, "RGB": 3, "RGBA": 4, "CMYK": 4,
                      "YCbCr": 3, "LAB": 3, "HSV": 3, "I": 4, "F": 4, "I;16": 2, "I;16B": 2,
                      "I;16L": 2, "I;16N": 2}  # fmt: skip


@dataclass(frozen=True)
class DeclaredGeometry:
    """What a file's header says it decodes to, read without decoding a pixel."""

    width: int
    height: int
    bytes_per_pixel: int  # of the decoded raw array (all samples of one pixel)
    pages: int = 1

    @property
    def raw_bytes(self) -> int:
        return self.width * self.height * self.bytes_per_pixel


def declared_geometry(data: bytes) -> DeclaredGeometry | None:
    """Width, height and decoded bytes per pixel from the header only (``None`` when the
    header cannot be read; `read_image_bytes` then reports why). Callers use it to refuse an
    image whose decode would exceed a memory budget *before* decoding it."""
    fmt = detect_format(data)
    try:
        if fmt == "TIFF":
            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages.first
                bits = max(8, int(page.bitspersample))
                samples = int(page.samplesperpixel)
                return DeclaredGeometry(
                    int(page.imagewidth),
                    int(page.imagelength),
                    samples * bits // 8,
                    len(tif.pages),
                )
        if fmt is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im = Image.open(io.BytesIO(data), formats=[fmt])  # lazy: header only
                bpp = _PILLOW_MODE_BYTES.get(im.mode, 4)
                if fmt == "PNG" and len(data) > 25 and data[24] == 16:
                    bpp = max(bpp, 2 * {0: 1, 2: 3, 4: 2, 6: 4}.get(data[25], 1))
                return DeclaredGeometry(int(im.width), int(im.height), bpp)
    except Exception:  # a damaged header: the real reader gives the user the reason
        return None
    return None


def image_from_array(
    array: np.ndarray, *, metadata: dict[str, Any] | None = None, name: str | None = None
) -> LoadedImage:
    """Wrap an in-memory array (grey or RGB) as a :class:`LoadedImage` (tests, pipelines).

    Integer arrays are normalised by their dtype range, float arrays are taken as already in
    [0, 1] (clipped) so a synthetic image keeps its exact values.
    """
    raw = np.asarray(array)
    if raw.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) array, got shape {raw.shape}")
    if np.issubdtype(raw.dtype, np.floating):
        grey = raw if raw.ndim == 2 else _to_grey((np.clip(raw, 0, 1) * 65535).astype(np.uint16))
        grey = np.clip(grey, 0.0, 1.0).astype(np.float32)
    else:
        grey = _to_grey(raw)
    meta = {"tags": {}, "vendor": {}, "text": {}}
    meta.update(metadata or {})
    return LoadedImage(
        grey=grey,
        raw=raw,
        bit_depth=_bit_depth(raw),
        format="ARRAY",
        width=int(raw.shape[1]),
        height=int(raw.shape[0]),
        metadata=meta,
        path=name,
    )


def detect_format(data: bytes) -> str | None:
    """Return the format from magic bytes, or ``None`` when it is not one we read."""
    head = data[:16]
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:2] == b"BM" and len(data) >= 26:
        return "BMP"
    return None


# --------------------------------------------------------------------------------------------
# size guards (header only, no decoding)


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"{name}: the header declares an empty image ({width} x {height})")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {width} x {height} pixels ({width * height / 1e6:.0f} MP) exceeds the "
            f"limit of {max_pixels / 1e6:.0f} MP; crop or bin the image before uploading"
        )


def _declared_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) from the PNG/BMP/JPEG header, without decoding pixels."""
    if fmt == "PNG":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if fmt == "BMP":
        hdr_size = struct.unpack("<I", data[14:18])[0]
        if hdr_size == 12:
            w, h = struct.unpack("<HH", data[18:22])
        else:
            w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if fmt == "JPEG":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + seg_len
    return None


# --------------------------------------------------------------------------------------------
# TIFF


def _read_tiff(data: bytes, name: str, max_pixels: int) -> LoadedImage:
    try:
        tif = tifffile.TiffFile(io.BytesIO(data))
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct.error ...
        raise CorruptImageError(f"{name}: damaged TIFF header ({exc})") from exc
    with tif:
        try:
            n_pages = len(tif.pages)
            page = tif.pages.first
        except Exception as exc:
            raise CorruptImageError(f"{name}: damaged TIFF directory ({exc})") from exc
        if n_pages == 0:
            raise CorruptImageError(f"{name}: the TIFF contains no image")
        width, height = int(page.imagewidth), int(page.imagelength)
        _check_size(width, height, name, max_pixels)
        _check_tiff_extent(page, len(data), name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = page.asarray()
        except Exception as exc:
            raise CorruptImageError(f"{name}: could not decode the TIFF pixels ({exc})") from exc
        raw = _tiff_to_hw(raw, page)
        metadata = _tiff_metadata(tif, page)
    photometric = int(page.photometric)
    if photometric == 3 and raw.ndim == 2 and page.colormap is not None:  # PALETTE
        raw = _apply_colormap(raw, page.colormap)
    grey = _to_grey(raw)
    if photometric == 0:  # MINISWHITE: 0 is white, so flip to the usual convention
        grey = 1.0 - grey
    return LoadedImage(
        grey=grey,
        raw=raw,
        bit_depth=_bit_depth(raw),
        format="TIFF",
        width=width,
        height=height,
        pages=n_pages,
        metadata=metadata,
    )


def _check_tiff_extent(page: Any, file_size: int, name: str) -> None:
    """Refuse a TIFF whose strips/tiles point past the end of the file (a truncated copy)."""
    offsets = getattr(page, "dataoffsets", ()) or ()
    counts = getattr(page, "databytecounts", ()) or ()
    if not offsets:
        raise CorruptImageError(f"{name}: the TIFF has no pixel data")
    end = max(int(o) + int(c) for o, c in zip(offsets, counts, strict=False))
    if end > file_size:
        raise CorruptImageError(
            f"{name}: the file is truncated ({file_size} bytes, the image needs {end}); "
            "copy it again from the microscope PC"
        )


def _tiff_to_hw(raw: np.ndarray, page: Any) -> np.ndarray:
    """Bring a page to (H, W) or (H, W, C)."""
    axes = str(getattr(page, "axes", ""))
    raw = np.asarray(raw)
    if axes.startswith("S") and raw.ndim == 3:  # planar configuration SEPARATE
        raw = np.moveaxis(raw, 0, -1)
    while raw.ndim > 3 or (raw.ndim == 3 and raw.shape[-1] > 4):
        raw = raw[0]  # depth/volume pages: keep the first plane
    return raw


def _apply_colormap(raw: np.ndarray, colormap: np.ndarray) -> np.ndarray:
    cmap = np.asarray(colormap)  # (3, 2**bits) uint16
    rgb = cmap[:, raw].transpose(1, 2, 0)
    if np.array_equal(cmap[0], cmap[1]) and np.array_equal(cmap[1], cmap[2]):
        # A grey palette (Zeiss stores images this way): keep one channel, 8-bit values.
        out = rgb[..., 0]
        return (out >> 8).astype(np.uint8) if raw.dtype == np.uint8 else out
    return rgb


def _tiff_metadata(tif: Any, page: Any) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    vendor: dict[str, Any] = {}
    text: dict[str, str] = {}
    for tag in page.tags.values():
        code, tname = int(tag.code), str(tag.name)
        if code in _SKIPPED_TAGS:
            continue
        try:
            value = tag.value
        except Exception:  # a damaged tag should not make the image unreadable
            continue
        if code in (34682, 34118, 50431, 34680, 34681, 50839) or isinstance(value, dict):
            vendor[tname] = _jsonable(value)
            if code == 34665 and isinstance(value, dict):  # EXIF: MakerNote may hold text
                note = value.get("MakerNote")
                if isinstance(note, bytes | bytearray):
                    decoded = _decode_maker_note(bytes(note))
                    if decoded:
                        text["MakerNote"] = decoded
            raw_text = _raw_tag_text(tif, tag)
            if raw_text:
                text[tname] = raw_text
            continue
        if isinstance(value, str):
            text_key = tname if code in (270, 305, 315, 271, 272) else None
            if text_key:
                text[text_key] = value[:_MAX_TEXT_CHARS]
        tags[tname] = _jsonable(value)
    if "ImageDescription" in tags:
        tags["ImageDescription"] = str(tags["ImageDescription"])[:_MAX_TEXT_CHARS]
    meta: dict[str, Any] = {"tags": tags, "vendor": vendor, "text": text}
    ij = getattr(tif, "imagej_metadata", None) if getattr(tif, "is_imagej", False) else None
    if ij:
        meta["imagej"] = {k: _jsonable(v) for k, v in ij.items() if k != "Info"}
    return meta


def _raw_tag_text(tif: Any, tag: Any) -> str | None:
    """The undecoded text of an ASCII vendor tag (FEI's INI text, Zeiss' CZ_SEM lines)."""
    if int(tag.dtype) != 2 or tag.count > 4_000_000:
        return None
    try:
        fh = tif.filehandle
        fh.seek(tag.valueoffset)
        raw = fh.read(tag.count)
    except Exception:
        return None
    return raw.split(b"\x00", 1)[0].decode("latin-1")[:_MAX_TEXT_CHARS]


def _decode_maker_note(note: bytes) -> str | None:
    """EXIF MakerNote as text when it is text (JEOL writes ``UNICODE\\0`` + UTF-16LE)."""
    if note.startswith(b"UNICODE\x00"):
        body = note[8:]
        return body.decode("utf-16-le", "replace").rstrip("\x00")[:_MAX_TEXT_CHARS]
    if note.startswith(b"ASCII\x00\x00\x00"):
        note = note[8:]
    try:
        s = note.decode("utf-8")
    except UnicodeDecodeError:
        s = note.decode("latin-1")
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in s)
    return s[:_MAX_TEXT_CHARS] if s and printable / len(s) > 0.9 else None


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Convert tifffile values (enums, rationals, arrays, bytes) to JSON-able values."""

    if depth > 6:
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, np.generic):
        return _jsonable(value.item(), depth + 1)
    if isinstance(value, bytes | bytearray):
        try:
            s = bytes(value).rstrip(b"\x00").decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
        return (
            s[:_MAX_TEXT_CHARS]
            if all(c.isprintable() or c in "\t\r\n" for c in s)
            else (f"<{len(value)} bytes>")
        )
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        if value.size > _MAX_LIST_ITEMS:
            return f"<array {value.shape} {value.dtype}>"
        return _jsonable(value.tolist(), depth + 1)
    if isinstance(value, list | tuple):
        if len(value) > _MAX_LIST_ITEMS:
            return f"<{len(value)} values>"
        return [_jsonable(v, depth + 1) for v in value]
    return str(value)


# --------------------------------------------------------------------------------------------
# PNG / JPEG / BMP


def _read_pillow(data: bytes, name: str, fmt: str, max_pixels: int) -> LoadedImage:
    size = _declared_size(data, fmt)
    if size is None:
        raise CorruptImageError(f"{name}: damaged {fmt} header")
    _check_size(size[0], size[1], name, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data), formats=[fmt])
            im.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: image too large to decode safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        msg = str(exc)
        if "truncated" in msg or isinstance(exc, EOFError):
            raise CorruptImageError(
                f"{name}: the {fmt} file is truncated; copy it again from the source"
            ) from exc
        raise CorruptImageError(f"{name}: damaged {fmt} file ({msg})") from exc
    metadata = _pillow_metadata(im)
    raw = _pillow_array(im, data, fmt)
    return LoadedImage(
        grey=_to_grey(raw),
        raw=raw,
        bit_depth=_bit_depth(raw),
        format=fmt,
        width=int(raw.shape[1]),
        height=int(raw.shape[0]),
        pages=int(getattr(im, "n_frames", 1)),
        metadata=metadata,
    )


def _pillow_array(im: Any, data: bytes, fmt: str) -> np.ndarray:
    if fmt == "PNG" and data[24] == 16 and data[25] in (2, 6):
        # Pillow drops 16-bit colour PNGs to 8 bits; OpenCV keeps them (as BGR).

        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is not None:
            return arr[..., [2, 1, 0]] if arr.shape[-1] == 3 else arr[..., [2, 1, 0, 3]]
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode == "1":
        im = im.convert("L")
    arr = np.asarray(im)
    if mode.startswith("I;16"):
        arr = arr.astype(np.uint16, copy=False)
    elif mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535:
        arr = arr.astype(np.uint16)  # 16-bit grey PNGs open as 32-bit "I"
    return arr


def _pillow_metadata(im: Any) -> dict[str, Any]:
    info = {str(k): _jsonable(v) for k, v in im.info.items() if k not in ("icc_profile", "exif")}
    text = {k: v for k, v in info.items() if isinstance(v, str)}
    meta: dict[str, Any] = {"tags": info, "vendor": {}, "text": text}
    try:
        exif = im.getexif()
    except Exception:
        exif = None
    if exif:
        meta["exif"] = {str(k): _jsonable(v) for k, v in exif.items()}
        try:
            sub = exif.get_ifd(0x8769)
        except Exception:
            sub = {}
        note = sub.get(0x927C) if sub else None
        if isinstance(note, bytes):
            decoded = _decode_maker_note(note)
            if decoded:
                text["MakerNote"] = decoded
    if "dpi" in im.info:
        meta["dpi"] = _jsonable(im.info["dpi"])
    return meta


# --------------------------------------------------------------------------------------------
# normalisation


def _bit_depth(raw: np.ndarray) -> int:
    return int(min(32, max(8, raw.dtype.itemsize * 8)))


def _to_grey(raw: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]; colour to Rec. 601 luminance (what SEM software shows)."""
    arr = raw
    if arr.ndim == 3:
        channels = arr.shape[-1]
        if channels in (2, 4):  # drop alpha
            arr = arr[..., : channels - 1]
        if arr.shape[-1] >= 3:
            a = arr[..., :3].astype(np.float32)
            arr = a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
            scale = _int_range(raw.dtype)
            return np.clip(arr / scale if scale else _robust(arr), 0.0, 1.0).astype(np.float32)
        arr = arr[..., 0]
    scale = _int_range(arr.dtype)
    if scale:
        if arr.dtype == np.uint8:
            return (arr.astype(np.float32) * np.float32(1.0 / 255.0)).astype(np.float32)
        out = arr.astype(np.float32)
        if np.issubdtype(arr.dtype, np.signedinteger):
            out -= float(np.iinfo(arr.dtype).min)
        return np.clip(out / np.float32(scale), 0.0, 1.0)
    return _robust(arr.astype(np.float32))


def _int_range(dtype: np.dtype) -> float | None:
    if dtype == np.bool_:
        return 1.0
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.max) - float(info.min)
    return None


def _robust(arr: np.ndarray) -> np.ndarray:
    """Float data has no natural range: map its 0.1-99.9 percentiles to [0, 1]."""
    finite = np.isfinite(arr)
    if not finite.any():
        return np.zeros(arr.shape, np.float32)
    vals = arr[finite]
    lo, hi = np.percentile(vals, [0.1, 99.9])
    if hi <= lo:
        lo, hi = float(vals.min()), float(vals.max())
    if hi <= lo:
        return np.zeros(arr.shape, np.float32)
    out = (np.where(finite, arr, lo) - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
