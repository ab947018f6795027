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
    monkeypatch.setattr(model_mod, "DEFAULT_OPENVINO", tmp_path / "missing_openvino_model")
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


def _small_scene() -> np.ndarray:
    m = generate(
        900_004,
        width=320,
        height=256,
        style="sem",
        n_particles=12,
        median_ecd_px=32,
        data_bar=False,
        figure_marks=False,
    )
    return m.image / 255.0


@pytest.mark.skipif(not model_mod.DEFAULT_WEIGHTS.is_file(), reason="no committed weights")
@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_exported_runtime_finds_what_torch_finds(runtime: str, tmp_path: Path) -> None:
    if runtime == "openvino":
        pytest.importorskip("openvino")
    w = tmp_path / "w.pt"
    w.write_bytes(model_mod.DEFAULT_WEIGHTS.read_bytes())
    w.with_suffix(".json").write_text(model_mod.DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    exported = model_mod.export(w, runtime, imgsz=320, out_dir=tmp_path / "out")
    opts = dict(imgsz=320, tile_px=320, keep_scale=True, conf=0.3)
    fast = model_mod.ParticleModel(exported, model_mod.InferenceOptions(**opts))
    ref = model_mod.ParticleModel(w, model_mod.InferenceOptions(**opts))
    assert fast.backend == {"onnx": "onnxruntime", "openvino": "openvino"}[runtime]
    assert fast.version == ref.version  # results name the weights, not the runtime
    grey = _small_scene()
    lab_fast, _ = fast.segment(grey)
    lab_ref, _ = ref.segment(grey)
    assert lab_ref.max() >= 5
    assert abs(int(lab_fast.max()) - int(lab_ref.max())) <= 1
    assert ((lab_fast > 0) == (lab_ref > 0)).mean() > 0.99


def test_stale_export_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    w = tmp_path / "w.pt"
    w.write_bytes(b"new weights")
    ov = tmp_path / "w_openvino_model"
    ov.mkdir()
    (ov / "semweb.json").write_text('{"source_version": "yolov8n-seg-semweb-20200101-deadbeef"}')
    monkeypatch.setattr(model_mod, "DEFAULT_WEIGHTS", w)
    monkeypatch.setattr(model_mod, "DEFAULT_OPENVINO", ov)
    monkeypatch.setattr(model_mod, "DEFAULT_ONNX", tmp_path / "missing.onnx")
    assert model_mod._runtime_candidates(w) == []
    (ov / "semweb.json").write_text(
        '{"source_version": "%s"}' % model_mod.weights_version(w)  # noqa: UP031
    )
    assert model_mod._runtime_candidates(w) == [ov]


@pytest.mark.skipif(not model_mod.DEFAULT_OPENVINO.exists(), reason="no committed export")
def test_committed_export_is_made_from_the_committed_weights() -> None:
    meta = model_mod.read_sidecar(model_mod.DEFAULT_OPENVINO)
    assert meta["source_version"] == model_mod.weights_version(model_mod.DEFAULT_WEIGHTS)
