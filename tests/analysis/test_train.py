"""The training path end to end: a 1-epoch run on a handful of tiny synthetic images, then
inference with the weights it wrote (fully offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.result import Region
from analysis.segment.model import ParticleModel, train_yolo, weights_version
from analysis.synth import generate
from analysis.train.dataset import DatasetSpec, build_dataset


def test_one_epoch_training_writes_loadable_weights(tmp_path: Path) -> None:
    data_yaml = build_dataset(
        DatasetSpec(emps_dir=None, out_dir=tmp_path / "data", n_synthetic=4, synth_size_px=128)
    )
    run_dir = train_yolo(
        data_yaml=data_yaml, project=tmp_path, name="run", epochs=1, imgsz=128, batch=4, workers=0
    )
    last = run_dir / "weights" / "last.pt"
    assert last.is_file()
    model = ParticleModel(last)
    assert model.version.startswith("yolov8n-seg-semweb-")
    assert model.version == weights_version(last)
    m = generate(1, width=300, height=200)
    labels, scores = model.segment(m.image / 255.0, Region(0, 0, 300, 180))
    assert labels.shape == (200, 300) and labels.dtype == np.uint32
    assert not labels[180:].any()
    assert scores.shape == (int(labels.max()),)
