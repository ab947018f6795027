"""The pipeline at the particles' own scale: tiny particles kept, empty fields empty, the
user's size honoured and recorded (issue 9). Classical path (no model) so these stay fast."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import pipeline
from analysis.pipeline import AnalysisOptions, analyze
from analysis.synth import regimes


@pytest.fixture
def no_model(monkeypatch):
    monkeypatch.setattr(
        pipeline, "_load_model", lambda *_: (None, "no model weights are installed")
    )


def test_dense_5_px_particles_are_kept(no_model):
    m = regimes.render("dense_tiny", 2)
    result = analyze(m.image, AnalysisOptions(use_scale_bar=False))
    seg = result.options["segmentation"]
    assert 4.0 <= seg["particle_scale"]["diameter_px"] <= 9.0
    assert seg["min_area_px"] <= 6.0
    # Hundreds found (the fixed 50-px floor kept none of them).
    assert len(result.particles) > 0.5 * m.n_particles


@pytest.mark.parametrize("regime", ["noise_only", "empty"])
def test_noise_and_empty_fields_give_no_particles(no_model, regime):
    m = regimes.render(regime, 4)
    result = analyze(m.image[:384, :512], AnalysisOptions(use_scale_bar=False))
    assert result.particles == []
    assert result.options["segmentation"].get("auto_choice", "empty") == "empty"


def test_the_users_size_replaces_the_estimate_and_sets_the_floor(no_model):
    m = regimes.scale_sweep(24.0, 1)
    result = analyze(m.image, AnalysisOptions(use_scale_bar=False, particle_size_px=24.0))
    scale = result.options["segmentation"]["particle_scale"]
    assert (scale["source"], scale["diameter_px"]) == ("user", 24.0)
    assert result.options["segmentation"]["min_area_px"] == pytest.approx(40.72, abs=0.01)


def test_a_size_in_nm_without_calibration_falls_back_to_the_estimate(no_model):
    m = regimes.scale_sweep(24.0, 1)
    result = analyze(m.image, AnalysisOptions(use_scale_bar=False, particle_size_nm=50.0))
    assert result.options["segmentation"]["particle_scale"]["source"] == "estimate"
    assert any("particle size given in nm" in w for w in result.warnings)


def test_a_size_in_nm_with_a_pixel_size_is_converted(no_model):
    m = regimes.scale_sweep(24.0, 1)
    opts = AnalysisOptions(use_scale_bar=False, particle_size_nm=48.0, pixel_size_nm=2.0)
    scale = analyze(m.image, opts).options["segmentation"]["particle_scale"]
    assert (scale["source"], scale["diameter_px"]) == ("user", 24.0)


def test_sweep_sizes_come_out_right_classically(no_model):
    m = regimes.scale_sweep(12.0, 1)
    result = analyze(m.image, AnalysisOptions(method="classical", use_scale_bar=False))
    ecd = np.median([p.measurements["ecd_px"] for p in result.particles])
    truth = np.bincount(m.labels.ravel())[1:]
    assert ecd == pytest.approx(np.median(2 * np.sqrt(truth / np.pi)), rel=0.08)
