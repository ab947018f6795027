"""The particle-size plausibility check on scales read from a burned-in bar (issue 11)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from analysis.calibration.plausibility import (
    FLAGGED_CONFIDENCE,
    check_scale_against_particles,
)
from analysis.calibration.render import _font, available_fonts
from analysis.calibration.scalebar import LOW_CONFIDENCE
from analysis.pipeline import AnalysisOptions, analyze
from analysis.result import Calibration, Region, ScaleBar


def _bar_cal(length_px: float, value: float = 100.0, unit: str = "nm") -> Calibration:
    nm = value * (1000.0 if unit == "µm" else 1.0)
    bar = ScaleBar(
        length_px=length_px, bbox=Region(10, 700, 10 + int(length_px), 706),
        label=f"{value:g} {unit}", value=value, unit=unit, length_nm=nm, confidence=0.95,
    )  # fmt: skip
    return Calibration(nm / length_px, "scale_bar", 0.95, "bar", scale_bar=bar)


def _areas(diameter_px: float, n: int = 20) -> list[float]:
    return [math.pi * (diameter_px / 2) ** 2] * n


def test_plausible_particles_keep_the_scale_and_record_the_check():
    cal = check_scale_against_particles(_bar_cal(100), _areas(40))
    assert cal.confidence == 0.95 and not cal.warnings
    check = cal.details["particle_check"]
    assert check["plausible"] and check["ratio_to_bar"] == pytest.approx(0.4)
    assert check["median_diameter_nm"] == pytest.approx(40.0)


def test_particles_many_bar_lengths_wide_flag_the_scale():
    """A 12-px "bar" under 300-px particles was not the scale bar (a fragment, a tick)."""
    cal = check_scale_against_particles(_bar_cal(12), _areas(300))
    assert cal.pixel_size_nm == pytest.approx(100 / 12)  # kept, but flagged
    assert cal.confidence == FLAGGED_CONFIDENCE < LOW_CONFIDENCE
    assert not cal.details["particle_check"]["plausible"]
    assert any("check the scale" in w and "bar" in w for w in cal.warnings)


def test_sub_atomic_particles_flag_the_scale():
    """'100 pm' read for '100 nm' over 300 px: 30-px particles would be 10 pm wide."""
    bar = _bar_cal(300, 0.1)  # 0.1 nm over 300 px
    cal = check_scale_against_particles(bar, _areas(30))
    assert cal.confidence < LOW_CONFIDENCE
    assert any("median particle would be" in w for w in cal.warnings)


def test_other_sources_and_few_particles_are_not_checked():
    meta = Calibration(1.0, "metadata:fei", 0.99, "tags")
    assert "particle_check" not in check_scale_against_particles(meta, _areas(5000)).details
    few = check_scale_against_particles(_bar_cal(12), _areas(300, n=3))
    assert "particle_check" not in few.details and few.confidence == 0.95


def test_analyze_flags_particles_far_smaller_than_the_bar():
    """End to end: a 600-px "1 µm" bar over 8-px dots (1/75 of a bar length): flagged."""
    rng = np.random.default_rng(0)
    pil = Image.new("L", (1000, 750), 200)
    d = ImageDraw.Draw(pil)
    for k in range(60):
        cx, cy = 40 + 60 * (k % 15), 60 + 90 * (k // 15)
        d.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=30)
    d.rectangle([100, 700, 699, 709], fill=0)
    f = _font([p for p in available_fonts() if "DejaVuSans-Bold.ttf" in p][0], 28)
    d.text((360, 655), "1 µm", fill=0, font=f)
    img = np.asarray(pil, dtype=np.float32) / 255.0
    img = np.clip(img + rng.normal(0, 0.01, img.shape).astype(np.float32), 0, 1)
    result = analyze(img, AnalysisOptions(method="classical"))
    assert result.calibration.source == "scale_bar", result.calibration.reason
    assert result.calibration.pixel_size_nm == pytest.approx(1000 / 600, rel=0.02)
    check = result.calibration.details["particle_check"]
    assert not check["plausible"] and check["ratio_to_bar"] < 1 / 60
    assert result.calibration.confidence < LOW_CONFIDENCE
    assert any("check the scale" in w for w in result.warnings)
