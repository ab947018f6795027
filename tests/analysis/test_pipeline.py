"""End to end: array or file in, AnalysisResult out."""

import json
from dataclasses import replace

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
    measure_outlines,
)
from analysis.result import Region
from analysis.segment.auto import AutoThresholds

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
    monkeypatch.setattr(
        pipeline, "_load_model", lambda *_: (None, "no model weights are installed")
    )
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
    monkeypatch.setattr(pipeline, "_load_model", lambda *_: (FakeModel(), ""))
    monkeypatch.setattr(
        pipeline, "_model_labels", lambda m, g, r, d, s=None: (*m.segment(g, r), {})
    )
    result = analyze(scene(), AnalysisOptions(method="model", use_scale_bar=False))
    assert (result.method, result.model_version) == ("model", "fake-1")
    assert [(p.label, p.score) for p in result.particles] == [(1, pytest.approx(0.9))]
    assert result.particles[0].bbox_px == (150, 50, 180, 80)


class UnsureFakeModel(FakeModel):
    """Mean score 0.425: above `min_mean_score`, below `confident_score` (AutoThresholds)."""

    def segment(self, grey, region):
        labels, _ = super().segment(grey, region)
        return labels, np.array([0.1, 0.75], np.float32)


def test_auto_keeps_classical_when_the_model_disagrees(monkeypatch):
    t = AutoThresholds()
    assert t.min_mean_score < 0.425 < t.confident_score  # the case this test is about
    monkeypatch.setattr(pipeline, "_load_model", lambda *_: (UnsureFakeModel(), ""))
    monkeypatch.setattr(
        pipeline, "_model_labels", lambda m, g, r, d, s=None: (*m.segment(g, r), {})
    )
    result = analyze(scene(), AnalysisOptions(method="auto", use_scale_bar=False))
    assert result.method == "classical" and result.model_version == "fake-1"
    assert result.options["segmentation"]["auto_choice"] == "classical"
    assert len(result.particles) == 5


def test_outlines_measured_again_match_the_analysis(classical):
    """The engine's own outlines, re-measured as imported/edited ones are, give back the same
    particles: areas within 3 % and the same shape classes."""
    result = analyze(scene(), classical)
    again = measure_outlines([p.polygon_px for p in result.particles], 320, 240, 2.0)
    assert len(again) == len(result.particles)
    for before, after in zip(result.particles, again, strict=True):
        assert after is not None
        area = before.measurements["area_px"]
        assert after.measurements["area_px"] == pytest.approx(area, rel=0.03)
        assert after.measurements["ecd_nm"] == pytest.approx(2 * after.measurements["ecd_px"])
        assert after.shape_class == before.shape_class


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


FIGURE_DISCS = ((80, 90, 20), (200, 100, 16), (300, 160, 24), (150, 200, 18))  # x, y, radius


def figure() -> np.ndarray:
    """A journal-figure crop: 4 bright discs, panel letters "b)", a scale bar and its label.

    The ink is pure white (as burned in by figure software); the discs are not saturated.
    """
    rng = np.random.default_rng(3)
    grey = np.full((300, 400), 60.0)
    for x, y, r in FIGURE_DISCS:
        cv2.circle(grey, (x, y), r, 180, -1)
    grey += rng.normal(0, 6, grey.shape)
    ink = np.zeros(grey.shape, np.uint8)
    cv2.putText(ink, "b)", (8, 40), cv2.FONT_HERSHEY_DUPLEX, 1.3, 255, 3, cv2.LINE_AA)
    cv2.rectangle(ink, (290, 272), (380, 277), 255, -1)
    cv2.putText(ink, "200 nm", (292, 262), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2, cv2.LINE_AA)
    return np.clip(np.maximum(grey, ink), 0, 255).astype(np.uint8)


def _disc_boxes() -> list[tuple[int, int, int, int]]:
    return sorted((x - r, y - r, x + r + 1, y + r + 1) for x, y, r in FIGURE_DISCS)


@pytest.mark.parametrize("use_scale_bar", [True, False])
def test_figure_marks_are_not_particles(use_scale_bar):
    result = analyze(figure(), AnalysisOptions(method="classical", use_scale_bar=use_scale_bar))
    boxes = sorted(p.bbox_px for p in result.particles)
    assert len(boxes) == len(FIGURE_DISCS)
    for got, want in zip(boxes, _disc_boxes(), strict=True):
        assert got == pytest.approx(want, abs=2)
    rejected = result.options["segmentation"]["rejected_components"]
    assert rejected["text_like"] == 5  # "b", ")", the bar, "200", "nm"


def test_scale_bar_and_label_are_recorded_as_excluded():
    result = analyze(figure(), AnalysisOptions(method="classical"))
    assert result.calibration.scale_bar is not None  # read by OCR: "200 nm"
    excluded = result.options["excluded_regions"]
    assert [e["kind"] for e in excluded] == ["scale_bar", "scale_bar_label"]
    bar = result.calibration.scale_bar.bbox
    assert (excluded[0]["x0"], excluded[0]["y1"]) == (bar.x0 - 4, bar.y1 + 4)
    json.dumps(result.as_json_dict())


class InkModel:
    """A model that mistakes the scale bar for a particle (label 1) next to a real disc (2)."""

    version = "ink-1"

    def segment(self, grey, region):
        labels = np.zeros(grey.shape, np.uint32)
        labels[272:278, 290:381] = 1  # the burned-in bar
        cv2.circle(labels, (80, 90), 20, 2, -1)
        return labels, np.array([0.95, 0.8], np.float32)


def test_model_path_drops_particles_on_the_scale_bar(monkeypatch):
    monkeypatch.setattr(pipeline, "_load_model", lambda *_: (InkModel(), ""))
    monkeypatch.setattr(
        pipeline, "_model_labels", lambda m, g, r, d, s=None: (*m.segment(g, r), {})
    )
    result = analyze(figure(), AnalysisOptions(method="model"))
    assert [(p.label, p.score) for p in result.particles] == [(1, pytest.approx(0.8))]
    assert result.particles[0].bbox_px == (60, 70, 101, 111)
    removed = {e["kind"]: e["particles_removed"] for e in result.options["excluded_regions"]}
    assert removed == {"scale_bar": 1, "scale_bar_label": 0}
