"""The model adapter: found without configuration, absent weights mean no model (not an error)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from analysis.segment import model as model_mod
from analysis.synth import generate


def test_no_weights_means_no_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(model_mod, "DEFAULT_WEIGHTS", tmp_path / "missing.pt")
    monkeypatch.setattr(model_mod, "DEFAULT_ONNX", tmp_path / "missing.onnx")
    monkeypatch.delenv("SEMWEB_MODEL_WEIGHTS", raising=False)
    model_mod.load_default_model.cache_clear()
    try:
        assert model_mod.load_default_model() is None
    finally:
        model_mod.load_default_model.cache_clear()


def test_missing_file_is_refused_before_ultralytics_sees_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        model_mod.ParticleModel(tmp_path / "yolov8n-seg.pt")


def test_version_names_date_and_hash(tmp_path: Path) -> None:
    w = tmp_path / "w.pt"
    w.write_bytes(b"weights")
    w.with_suffix(".json").write_text('{"trained": "2026-11-28", "arch": "yolov8n-seg"}')
    sha8 = hashlib.sha256(b"weights").hexdigest()[:8]
    assert model_mod.weights_version(w) == f"yolov8n-seg-semweb-20261128-{sha8}"


@pytest.mark.skipif(not model_mod.DEFAULT_WEIGHTS.is_file(), reason="no committed weights")
def test_committed_model_loads_and_finds_particles() -> None:
    model_mod.load_default_model.cache_clear()
    model = model_mod.load_default_model()
    assert model is not None
    m = generate(
        900_003,
        width=640,
        height=512,
        style="sem",
        n_particles=30,
        median_ecd_px=40,
        data_bar=False,
        figure_marks=False,
    )
    labels, scores = model.segment(m.image / 255.0)
    assert labels.max() >= 10
    assert scores.shape == (int(labels.max()),) and np.all(scores > 0)
