"""Frames without a scale bar must not pay for OCR of grain (the no-bar speed regression).

A textured TEM frame of particles (msa-tem ``image_12``) took 5 OCR reads (~0.35 s) of label
crops next to a 15-px run of bright grain; every analysis paid it. The real recogniser runs
here; only a counter is wrapped around it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import analysis.calibration.scalebar as scalebar
from analysis.calibration import calibrate, find_data_bar
from analysis.calibration.render import render_scale_bar_image
from analysis.io import image_from_array, read_image


@pytest.fixture
def ocr_calls(monkeypatch) -> list[int]:
    """Counts the real OCR calls made through the scale-bar reader."""
    calls = [0]
    real = scalebar.read_text

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(scalebar, "read_text", counted)
    return calls


@pytest.mark.parametrize("index", [12, 17])
def test_tem_particles_without_a_bar_spend_no_ocr(shared_data, ocr_calls, index):
    image = read_image(shared_data / "msa-tem-train" / "images" / f"image_{index}.png")
    cal = calibrate(image)
    assert cal.pixel_size_nm is None
    assert ocr_calls[0] <= 1  # was 5 on both


def test_grain_texture_without_a_bar_spends_little_ocr(ocr_calls):
    """Smoothed noise: runs of grain pass the line opening, but are neither long nor clear."""
    rng = np.random.default_rng(3)
    grain = cv2.GaussianBlur(rng.normal(0.5, 0.12, (512, 512)), (0, 0), 1.2)
    cal = calibrate(image_from_array(np.clip(grain, 0, 1)))
    assert cal.pixel_size_nm is None
    assert ocr_calls[0] <= 1


def test_short_clean_bar_is_still_read(ocr_calls):
    """The grain gate keeps short bars that are drawn to be seen (rendered, 50-80 px)."""
    for seed in range(40):
        r = render_scale_bar_image(seed)
        if r.length_px <= 80:
            break
    else:
        pytest.skip("no short rendered bar in the first 40 seeds")
    bar = scalebar.find_scale_bar(r.image, find_data_bar(r.image))
    assert bar is not None and bar.length_nm is not None
    assert abs(bar.length_nm / bar.length_px - r.pixel_size_nm) <= 0.02 * r.pixel_size_nm
