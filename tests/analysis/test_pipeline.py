"""End to end: array or file in, AnalysisResult out."""

import json

import cv2
import numpy as np
import pytest

from analysis import pipeline
from analysis.pipeline import (
    STAGES,
    AnalysisOptions,
    ModelUnavailableError,
    analysed_region,
    analyze,
    recompute_measurements,
)
from analysis.result import Region

RADII = (12, 16, 20, 24)


def scene() -> np.ndarray:
    """uint8 micrograph: 4 bright discs of known radius, one disc cut by the border."""
    m = np.zeros((240, 320), np.uint8)
    for k, r in enumerate(RADII):
        cv2.circle(m, (50 + 70 * k, 80), r, 1, -1)
    cv2.circle(m, (160, 170), 18, 1, -1)
    cv2.circle(m, (316, 200), 15, 1, -1)  # cut by the right border
    rng = np.random.default_rng(7)
    grey = np.where(m > 0, 190, 60) + rng.normal(0, 8, m.shape)
    return np.clip(grey, 0, 255).astype(np.uint8)


@pytest.fixture
def classical():
    return AnalysisOptions(method="classical", pixel_size_nm=2.0, use_scale_bar=False)


def test_end_to_end_measures_known_discs(classical):
    stages = []
    result = analyze(scene(), classical, progress=lambda s, f: stages.append(s))
    assert stages == [*STAGES, "done"]
    assert set(result.timings_ms) == {*STAGES, "total"}
    assert result.method == "classical" and result.model_version is None
    assert result.calibration.source == "manual" and result.calibration.pixel_size_nm == 2.0
    assert result.labels.shape == (240, 320) and result.labels.dtype == np.uint16
    assert len(result.particles) == 5  # the border disc is excluded
    ecds = sorted(p.measurements["ecd_px"] for p in result.particles)
    expected = sorted([*(2 * r for r in RADII), 36])
    assert ecds == pytest.approx(expected, abs=1.5)
    assert all(p.shape_class == "sphere" for p in result.particles)
    assert all(not p.touches_border for p in result.particles)
    s = result.summary
    assert s["count"] == 5 and s["unit"] == "nm"
    assert s["mean"] == pytest.approx(2.0 * np.mean(expected), abs=3.0)
    assert s["class_counts"] == {"sphere": 5}
    json.dumps(result.as_json_dict())  # JSON-ready as is


def test_reproducible(classical):
    a = analyze(scene(), classical)
    b = analyze(scene(), classical)
    assert np.array_equal(a.labels, b.labels)
    ja, jb = a.as_json_dict(), b.as_json_dict()
    ja.pop("timings_ms"), jb.pop("timings_ms")
    assert ja == jb


def test_keep_edge_and_min_size(classical):
    from dataclasses import replace

    keep = analyze(scene(), replace(classical, exclude_edge=False))
    assert len(keep.particles) == 6
    assert sum(p.touches_border for p in keep.particles) == 1
    # ECD 2*12 px * 2 nm = 48 nm is the smallest disc: a 50 nm floor removes it.
    small = analyze(scene(), replace(classical, min_size_nm=50.0))
    assert len(small.particles) == 4


def test_uncalibrated_has_no_nm():
    result = analyze(scene(), AnalysisOptions(method="classical", use_scale_bar=False))
    assert result.calibration.pixel_size_nm is None
    assert all(p.measurements["ecd_nm"] is None for p in result.particles)
    assert result.summary["unit"] == "px"


def test_auto_falls_back_to_classical_with_reason(monkeypatch):
    monkeypatch.setattr(pipeline, "_load_model", lambda: (None, "no model weights are installed"))
    result = analyze(scene(), AnalysisOptions(use_scale_bar=False))
    assert result.method == "classical"
    assert result.warnings == ["classical segmentation used: no model weights are installed"]
    with pytest.raises(ModelUnavailableError, match="no model weights"):
        analyze(scene(), AnalysisOptions(method="model", use_scale_bar=False))


class FakeModel:
    """Stands in for analysis.segment.model: one square particle, label 2, score 0.9."""

    version = "fake-1"

    def segment(self, grey, region):
        labels = np.zeros(grey.shape, np.uint32)
        labels[50:80, 150:180] = 2
        return labels, np.array([0.1, 0.9], np.float32)  # scores[k] belongs to label k + 1


def test_model_path_uses_scores(monkeypatch):
    monkeypatch.setattr(pipeline, "_load_model", lambda: (FakeModel(), ""))
    monkeypatch.setattr(pipeline, "_model_labels", lambda m, g, r, d: m.segment(g, r))
    result = analyze(scene(), AnalysisOptions(method="model", use_scale_bar=False))
    assert (result.method, result.model_version) == ("model", "fake-1")
    assert [(p.label, p.score) for p in result.particles] == [(1, pytest.approx(0.9))]
    assert result.particles[0].bbox_px == (150, 50, 180, 80)


def test_auto_keeps_classical_when_the_model_disagrees(monkeypatch):
    monkeypatch.setattr(pipeline, "_load_model", lambda: (FakeModel(), ""))
    monkeypatch.setattr(pipeline, "_model_labels", lambda m, g, r, d: m.segment(g, r))
    result = analyze(scene(), AnalysisOptions(method="auto", use_scale_bar=False))
    assert result.method == "classical" and result.model_version == "fake-1"
    assert result.options["segmentation"]["auto_choice"] == "classical"
    assert len(result.particles) == 5


def test_recompute_measurements_rescales(classical):
    result = analyze(scene(), classical)
    particles, summary = recompute_measurements(result.labels, None, 4.0)
    assert summary["mean"] == pytest.approx(2 * result.summary["mean"])
    assert [p.shape_class for p in particles] == [p.shape_class for p in result.particles]


def test_analysed_region_cuts_the_data_bar():
    assert analysed_region(100, 80, None) == Region(0, 0, 100, 80)
    assert analysed_region(100, 80, Region(0, 70, 100, 80)) == Region(0, 0, 100, 70)
    assert analysed_region(100, 80, Region(0, 0, 100, 10)) == Region(0, 10, 100, 80)
    assert analysed_region(100, 80, Region(90, 0, 100, 80)) == Region(0, 0, 90, 80)


def test_bad_options_rejected():
    with pytest.raises(ValueError):
        AnalysisOptions(method="magic")
    with pytest.raises(ValueError):
        AnalysisOptions(pixel_size_nm=-1.0)
