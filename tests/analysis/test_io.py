"""analysis.io: every supported format reads to the same normalised grey; bad input is refused."""

from __future__ import annotations

import io
import json
import tracemalloc

import numpy as np
import pytest
import tifffile
from _calib_helpers import CALIBRATION_DIR, png_header_only, tiff_header_only
from PIL import Image

from analysis.io import (
    CorruptImageError,
    ImageReadError,
    ImageTooLargeError,
    UnsupportedImageError,
    image_from_array,
    read_image,
    read_image_bytes,
)

RAMP8 = np.arange(0, 256, dtype=np.uint8).reshape(16, 16)


def _png_bytes(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    (Image.fromarray(arr, mode) if mode else Image.fromarray(arr)).save(buf, format="PNG")
    return buf.getvalue()


def test_8bit_grey_png_is_scaled_by_255(tmp_path):
    path = tmp_path / "ramp.png"
    path.write_bytes(_png_bytes(RAMP8))
    img = read_image(path)
    assert img.format == "PNG" and img.bit_depth == 8 and (img.width, img.height) == (16, 16)
    assert img.grey.dtype == np.float32
    np.testing.assert_allclose(img.grey, RAMP8 / 255.0, atol=1e-7)
    assert img.path == str(path)


def test_rgb_png_becomes_rec601_luminance():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    img = read_image_bytes(_png_bytes(rgb), "red.png")
    assert img.raw.shape == (4, 4, 3)
    np.testing.assert_allclose(img.grey, 0.299, atol=1e-6)


def test_16bit_png_keeps_16_bits():
    arr = np.array([[0, 32768, 65535]], dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    img = read_image_bytes(buf.getvalue(), "deep.png")
    assert img.bit_depth == 16 and img.raw.dtype == np.uint16
    np.testing.assert_allclose(img.grey, [[0.0, 32768 / 65535, 1.0]], atol=1e-6)


def test_16bit_tiff_is_scaled_by_dtype_range(tmp_path):
    arr = np.array([[0, 1000, 65535]], dtype=np.uint16)
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, arr)
    img = read_image(path)
    assert img.format == "TIFF" and img.bit_depth == 16
    np.testing.assert_allclose(img.grey, arr / 65535.0, atol=1e-7)


def test_float_tiff_uses_robust_range(tmp_path):
    arr = np.linspace(-5.0, 5.0, 10_000, dtype=np.float32).reshape(100, 100)
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, arr)
    img = read_image(path)
    assert img.bit_depth == 32 and img.raw.dtype == np.float32
    assert img.grey.min() == 0.0 and img.grey.max() == 1.0
    assert img.grey[50, 50] == pytest.approx(0.5, abs=0.01)


def test_lzw_multipage_tiff_reads_first_page(tmp_path):
    pages = np.stack([np.full((8, 8), v, np.uint8) for v in (10, 20, 30)])
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, pages, compression="lzw", photometric="minisblack")
    img = read_image(path)
    assert img.pages == 3 and img.raw.shape == (8, 8)
    assert np.all(img.raw == 10)


def test_rgb_tiff_separate_planes(tmp_path):
    rgb = np.zeros((3, 5, 6), np.uint8)
    rgb[1] = 255  # green plane
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, rgb, photometric="rgb", planarconfig="separate")
    img = read_image(path)
    assert img.raw.shape == (5, 6, 3)
    np.testing.assert_allclose(img.grey, 0.587, atol=1e-6)


def test_jpeg_and_bmp_are_read():
    for fmt in ("JPEG", "BMP"):
        buf = io.BytesIO()
        Image.fromarray(np.full((10, 12), 128, np.uint8)).save(buf, format=fmt)
        img = read_image_bytes(buf.getvalue(), f"x.{fmt.lower()}")
        assert img.format == fmt and (img.width, img.height) == (12, 10)
        assert img.grey.mean() == pytest.approx(128 / 255, abs=0.01)


def test_format_comes_from_content_not_extension(tmp_path):
    path = tmp_path / "really_a_png.tif"
    path.write_bytes(_png_bytes(RAMP8))
    assert read_image(path).format == "PNG"


@pytest.mark.parametrize(
    "data", [b"", b"hello, world", b"%PDF-1.7\n" + b"0" * 100, b"GIF89a" + b"0" * 50]
)
def test_non_images_are_unsupported(data):
    with pytest.raises(UnsupportedImageError):
        read_image_bytes(data, "upload.tif")


def test_errors_share_one_base_class_and_name_the_file():
    with pytest.raises(ImageReadError, match="upload.bin"):
        read_image_bytes(b"not an image", "upload.bin")
    assert issubclass(ImageReadError, ValueError)


def test_truncated_tiff_is_corrupt(tmp_path):
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, np.full((64, 64), 7, np.uint8))
    data = path.read_bytes()
    with pytest.raises(CorruptImageError, match="truncated"):
        read_image_bytes(data[: len(data) // 2], "t.tif")


def test_truncated_png_is_corrupt():
    data = _png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    with pytest.raises(CorruptImageError):
        read_image_bytes(data[: len(data) // 2], "t.png")


@pytest.mark.parametrize("crafted", [png_header_only, tiff_header_only])
def test_decompression_bomb_refused_before_decoding(crafted):
    data = crafted(50_000, 50_000)
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError, match="50000 x 50000"):
            read_image_bytes(data, "bomb")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # 2.5 GB would have been needed to decode it


def test_pixel_limit_is_configurable():
    data = _png_bytes(RAMP8)
    with pytest.raises(ImageTooLargeError):
        read_image_bytes(data, "small.png", max_pixels=255)
    assert read_image_bytes(data, "small.png", max_pixels=256).width == 16


def test_image_from_array_keeps_float_values():
    arr = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    img = image_from_array(arr)
    np.testing.assert_array_equal(img.grey, arr)
    assert img.metadata == {"tags": {}, "vendor": {}, "text": {}}


def test_real_microscope_files_have_json_metadata():
    files = sorted(CALIBRATION_DIR.glob("*.tif")) if CALIBRATION_DIR.is_dir() else []
    if not files:
        pytest.skip("../shared/data/calibration not present")
    for path in files:
        img = read_image(path)
        json.dumps(img.metadata)
        assert img.grey.shape == (img.height, img.width)
    zeiss = read_image(CALIBRATION_DIR / "test_tiff_Zeiss_SEM_1k.tif")  # 8-bit palette TIFF
    assert zeiss.raw.dtype == np.uint8 and zeiss.raw.ndim == 2
    jeol = read_image(CALIBRATION_DIR / "JEOL_JSM-IT800_A2h_01.tif")
    assert "$CM_PIXEL_SIZE=1.00nm/pixel" in jeol.metadata["text"]["MakerNote"]
