"""``python -m benchmarks.engine.runtime``: torch, ONNX Runtime and OpenVINO for the particle
model.

Exports the weights (``--weights``, default the shipped ``.pt``) once per format into
``var/bench/runtime/`` and times the model's share of an analysis — ``ParticleModel.segment``
on a 1024 × 768 synthetic micrograph resampled so its particles reach the network at
``TARGET_DIAMETER_PX``, i.e. the tiles the scale-normalised engine feeds it — and the raw
network call on one batch of 512-px tiles. The backends are timed round-robin (one call each,
repeated), so the machine's load drifts alike for all: compare the ratios to torch, not the
seconds. Also checks that every backend finds the same particles (F1 of each against torch).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from analysis import evaluate
from analysis.segment.model import DEFAULT_WEIGHTS, InferenceOptions, ParticleModel, export
from analysis.segment.scale import TARGET_DIAMETER_PX
from analysis.synth import generate
from analysis.train.normalise import median_ecd_px
from benchmarks.engine.ood import resample

_REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("torch", "onnx", "openvino")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.engine.runtime")
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--imgsz", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--workdir", type=Path, default=_REPO / "var" / "bench" / "runtime")
    ap.add_argument("--out", type=Path, default=_REPO / "var" / "bench" / "runtime.json")
    a = ap.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    local = a.workdir / a.weights.name
    shutil.copy(a.weights, local)
    if a.weights.with_suffix(".json").exists():
        shutil.copy(a.weights.with_suffix(".json"), local.with_suffix(".json"))
    models: dict[str, ParticleModel] = {}
    export_s: dict[str, float] = {}
    for b in a.backends.split(","):
        opts = InferenceOptions(imgsz=a.imgsz, keep_scale=True)
        if b == "torch":
            models[b] = ParticleModel(local, opts)
            continue
        t = time.perf_counter()
        path = export(local, b, imgsz=a.imgsz)
        export_s[b] = time.perf_counter() - t
        models[b] = ParticleModel(path, opts)
    m = generate(900_100, width=1024, height=768, data_bar=False)
    grey = resample(
        m.image.astype(np.float32) / 255.0, TARGET_DIAMETER_PX / median_ecd_px(m.labels)
    )
    u8 = np.round(grey * 255).astype(np.uint8)
    tile = np.ascontiguousarray(np.repeat(u8[:512, :512, None], 3, axis=2))
    batch = [tile] * 4
    seg: dict[str, list[float]] = {b: [] for b in models}
    net: dict[str, list[float]] = {b: [] for b in models}
    labels: dict[str, np.ndarray] = {}
    for b, model in models.items():  # warm-up (first calls compile / allocate)
        labels[b], _ = model.segment(grey)
        model.predict_tiles(batch, a.imgsz)
    for _ in range(a.repeats):
        for b, model in models.items():
            t = time.perf_counter()
            model.segment(grey)
            seg[b].append(time.perf_counter() - t)
            t = time.perf_counter()
            model.predict_tiles(batch, a.imgsz)
            net[b].append(time.perf_counter() - t)
    ref = labels.get("torch", next(iter(labels.values()))).astype(np.int64)
    report: dict[str, Any] = {
        "weights": str(a.weights),
        "input_px": list(grey.shape),
        "imgsz": a.imgsz,
        "export_s": export_s,
        "backends": {},
    }
    t_seg = statistics.median(seg.get("torch", next(iter(seg.values()))))
    t_net = statistics.median(net.get("torch", next(iter(net.values()))))
    for b in models:
        report["backends"][b] = {
            "segment_median_s": statistics.median(seg[b]),
            "segment_ratio_to_torch": statistics.median(seg[b]) / t_seg,
            "batch4_median_s": statistics.median(net[b]),
            "batch4_ratio_to_torch": statistics.median(net[b]) / t_net,
            "f1_vs_torch": evaluate.image_metrics(ref, labels[b].astype(np.int64))["f1"],
        }
        r = report["backends"][b]
        print(
            f"{b:<9} segment {r['segment_median_s']:.3f} s"
            f" ({r['segment_ratio_to_torch']:.2f}× torch)"
            f"  4×512 tiles {r['batch4_median_s']:.3f} s ({r['batch4_ratio_to_torch']:.2f}×)"
            f"  F1 vs torch {r['f1_vs_torch']:.3f}",
            flush=True,
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
