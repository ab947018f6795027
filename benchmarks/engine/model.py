"""``python -m benchmarks.engine.model``: the particle model's figures against its targets.

Runs the committed model (or ``--weights``) on

1. the fixed EMPS validation split (never trained on): classical / model / model+post / auto,
   plus each refine step alone (ablation) from one cached inference per image;
2. synthetic micrographs from seeds never used in training (1024 × 768);
3. speed: one 1024 × 768 micrograph end to end (model + refine), torch and onnxruntime;
4. robustness: inverted contrast, a 4096-px-wide field, an empty field, a 16-bit TIFF.

Prints a table with the targets and writes JSON (``--out``, default
``var/bench/model.json``). Takes ~10 min on 2 CPU cores; ``--quick`` does a subset.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from analysis import evaluate
from analysis.io import read_image
from analysis.segment.model import ParticleModel, load_default_model
from analysis.segment.refine import RefineOptions, refine
from analysis.synth import generate
from analysis.train.split import split_ids

_REPO = Path(__file__).resolve().parents[2]
EMPS = _REPO.parent / "shared" / "data" / "emps-train"
TARGETS = {
    "emps_pq_ratio": 2.0,
    "emps_f1": 0.75,
    "synth_f1": 0.9,
    "synth_ecd_err": 0.03,
    "seconds_1024x768": 1.5,
}


def _ablation(samples: list[evaluate.Sample], model: Any) -> dict[str, dict[str, float]]:
    """Model output once per image, then every refine step alone and all together."""
    raw = []
    for s in samples:
        t = time.perf_counter()
        lab, sc = model.segment(s.grey, s.region)
        raw.append((s, lab, sc, time.perf_counter() - t))
    steps = [f.name for f in fields(RefineOptions) if f.type == "bool"]
    variants = {"none": RefineOptions.none(), "default": RefineOptions()}
    for step in steps:
        variants[f"only_{step}"] = RefineOptions(
            **{**{k: False for k in steps}, step: True}, min_area_px=0
        )
    out = {}
    for name, opts in variants.items():
        rows, preds = [], []
        for s, lab, sc, sec in raw:
            t = time.perf_counter()
            r_lab, r_sc = refine(
                lab, sc, s.grey, region=s.region, data_bar=s.data_bar, options=opts
            )
            p = evaluate.Prediction(r_lab, r_sc, sec + time.perf_counter() - t)
            rows.append(evaluate.image_metrics(s.truth, r_lab))
            preds.append(p)
        out[name] = evaluate.summarise(rows, [s.truth for s in samples], preds)
    return out


def _speed(model: Any, repeats: int = 5) -> dict[str, float]:
    m = generate(900_100, width=1024, height=768)
    grey = m.image.astype(np.float32) / 255.0
    model.segment(grey)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        lab, sc = model.segment(grey)
        refine(lab, sc, grey)
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times)}


def _robustness(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    empty = generate(900_200, width=1024, height=768, n_particles=0)
    lab, _ = model.segment(empty.image / 255.0)
    out["empty_field_particles"] = int(lab.max())
    m = generate(900_201, width=1024, height=768, style="sem", data_bar=False)
    inv = 1.0 - m.image.astype(np.float32) / 255.0
    lab, _ = model.segment(inv)
    out["inverted_f1"] = evaluate.image_metrics(m.labels.astype(np.int64), lab)["f1"]
    big = generate(900_202, width=4096, height=1536, data_bar=False)
    t = time.perf_counter()
    lab, _ = model.segment(big.image / 255.0)
    out["wide_4096_seconds"] = time.perf_counter() - t
    out["wide_4096_f1"] = evaluate.image_metrics(big.labels.astype(np.int64), lab)["f1"]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "sixteen.tif"
        tifffile.imwrite(path, (m.image.astype(np.uint16) * 257 + 30).astype(np.uint16))
        lab, _ = model.segment(read_image(path).grey.astype(np.float32))
    out["tiff16_f1"] = evaluate.image_metrics(m.labels.astype(np.int64), lab)["f1"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.engine.model")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--onnx", type=Path, default=None, help="also time this ONNX model")
    ap.add_argument("--quick", action="store_true", help="20 EMPS images, 5 synthetic")
    ap.add_argument("--out", type=Path, default=_REPO / "var" / "bench" / "model.json")
    a = ap.parse_args(argv)
    model = ParticleModel(a.weights) if a.weights else load_default_model()
    if model is None:
        print("no model weights: nothing to benchmark")
        return 1
    report: dict[str, Any] = {"model_version": model.version, "backend": model.backend}
    methods = ["classical", "model", "model+post", "auto"]
    if EMPS.is_dir():
        stems = sorted(p.stem for p in (EMPS / "images").glob("*.png"))
        _, val = split_ids(stems)
        val = val[:20] if a.quick else val
        samples = list(evaluate.load_samples(EMPS / "images", EMPS / "labels", set(val)))
        reps = evaluate.run_methods(samples, methods, model=model)
        report["emps_val"] = {m: r.overall for m, r in reps.items()}
        report["emps_val_auto_paths"] = [r["path"] for r in reps["auto"].per_image]
        report["emps_val_ablation"] = _ablation(samples, model)
    n_syn = 5 if a.quick else 20
    reps = evaluate.run_methods(
        evaluate.synthetic_samples(range(900_000, 900_000 + n_syn)), methods, model=model
    )
    report["synthetic"] = {m: r.overall for m, r in reps.items()}
    report["speed_1024x768"] = {model.backend: _speed(model)}
    if a.onnx and a.onnx.is_file():
        report["speed_1024x768"]["onnxruntime"] = _speed(ParticleModel(a.onnx))
    report["robustness"] = _robustness(model)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1, default=float))
    _print(report)
    return 0


def _print(r: dict[str, Any]) -> None:
    print(f"model {r['model_version']} ({r['backend']})")
    if "emps_val" in r:
        e = r["emps_val"]
        print("EMPS validation split:")
        print(evaluate.format_table({m: evaluate.MethodReport(m, overall=v) for m, v in e.items()}))
        ratio = e["model+post"]["pq"] / max(e["classical"]["pq"], 1e-9)
        print(
            f"  target PQ >= {TARGETS['emps_pq_ratio']}x classical: {ratio:.2f}x; "
            f"target F1 >= {TARGETS['emps_f1']}: {e['model+post']['f1']:.3f}"
        )
        print(
            "  refine ablation (F1 / PQ):",
            ", ".join(
                f"{k} {v['f1']:.3f}/{v['pq']:.3f}" for k, v in r["emps_val_ablation"].items()
            ),
        )
    s = r["synthetic"]
    print("Synthetic (unseen seeds, 1024x768):")
    print(evaluate.format_table({m: evaluate.MethodReport(m, overall=v) for m, v in s.items()}))
    print(
        f"  target F1 >= {TARGETS['synth_f1']}: {s['model+post']['f1']:.3f}; "
        f"median-ECD error <= {TARGETS['synth_ecd_err']}: "
        f"{s['model+post']['median_ecd_error']}"
    )
    for backend, t in r["speed_1024x768"].items():
        print(
            f"speed 1024x768 end to end ({backend}): median {t['median_s']:.2f} s "
            f"(target <= {TARGETS['seconds_1024x768']} s)"
        )
    print("robustness:", json.dumps(r["robustness"], default=float))


if __name__ == "__main__":
    raise SystemExit(main())
