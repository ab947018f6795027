"""``python -m benchmarks.engine.ood``: out-of-domain validation, the model-selection criterion.

Sets (never trained on):

- ``emps_val``: the 66 EMPS validation ids (in-domain: figure panels like the training data);
- ``msa_held_out``: msa-tem frames ``image_10``–``image_19`` (noisy in-situ TEM, another lab);
- ``synth_unseen``: the synthetic generator at 1024 × 768 with random scale and data bars,
  seeds 900 000+ (training seeds are ≥ 1 000 000 and rendered at the target scale);
- ``jeol_spheres``: the JEOL JSM-IT800 frame of ``calibration/`` (1280 × 960 + data band,
  21 touching ~240-px spheres), hand-masked (:mod:`analysis.train.handmask`, annotation in
  ``benchmarks/engine/annotations/``): the one real full-frame SEM we have;
- ``synth_<regime>``: the named regimes of :mod:`analysis.synth.regimes` that training never
  used (``dense_tiny``, ``large_touching``, ``se_agglomerates``), seeds 910 000+.

Methods on every set: the ImageJ-style baseline (:mod:`analysis.segment.imagej`, the particle
phase chosen as a user would) and each
``--weights`` model + refine, run either at native resolution (``native``: how the first
model was trained and shipped) or resampled so the ground truth's median particle reaches
the network at ``TARGET_DIAMETER_PX`` (``oracle``: the model's quality with a perfect scale
estimate, which isolates it from the estimator of the inference engine), or resampled by the
engine's own estimate (``estimate``: :func:`analysis.segment.scale.estimate_particle_scale`).
The model runs once per image at a low score threshold; every threshold of the sweep is
applied afterwards, so the per-set threshold curve costs nothing extra. Writes JSON
(``--out``) and prints a table.

The out-of-domain mean is the mean PQ over every set except ``emps_val``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analysis import evaluate, metrics
from analysis.result import Region
from analysis.segment.bpartis import BPartIS
from analysis.segment.imagej import segment_imagej, user_polarity
from analysis.segment.model import ParticleModel
from analysis.segment.refine import refine
from analysis.segment.scale import TARGET_DIAMETER_PX, estimate_particle_scale
from analysis.synth.regimes import render
from analysis.train import handmask
from analysis.train.normalise import median_ecd_px
from analysis.train.split import emps_splits, msa_splits
from analysis.train.tune import drop_below

_REPO = Path(__file__).resolve().parents[2]
DATA = _REPO.parent / "shared" / "data"
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45, 0.55)
SYNTH_UNSEEN_SEEDS = range(900_000, 900_012)
REGIME_SETS = ("dense_tiny", "large_touching", "se_agglomerates")
REGIME_SEEDS = range(910_000, 910_004)
ANNOTATIONS = Path(__file__).resolve().parent / "annotations"
DEFAULT_SETS = ("emps_val", "msa_held_out", "jeol_spheres", "synth_unseen") + tuple(
    f"synth_{r}" for r in REGIME_SETS
)


def _ids(folder: Path) -> list[str]:
    return sorted(p.stem for p in (folder / "images").glob("*.png"))


def load_set(name: str, *, quick: bool = False) -> list[evaluate.Sample]:
    """The samples of one evaluation set (empty when its data folder is absent)."""
    if name in ("emps_val", "emps_tune"):
        folder = DATA / "emps-train"
        if not folder.is_dir():
            return []
        ids = emps_splits(_ids(folder))[name.removeprefix("emps_")]
        ids = ids[:12] if quick else ids
        return list(evaluate.load_samples(folder / "images", folder / "labels", set(ids)))
    if name == "msa_held_out":
        folder = DATA / "msa-tem-train"
        if not folder.is_dir():
            return []
        ids = msa_splits(_ids(folder))["held_out"]
        ids = ids[:4] if quick else ids
        return list(evaluate.load_samples(folder / "images", folder / "labels", set(ids)))
    if name == "jeol_spheres":
        ann = ANNOTATIONS / "JEOL_JSM-IT800_A2h_01.json"
        if not (DATA / "calibration").is_dir():
            return []
        m = handmask.load(ann, DATA)
        h, w = m.grey.shape
        bar = Region(0, m.region.y1, w, h) if m.region.y1 < h else None
        return [evaluate.Sample(m.name, m.grey, m.labels.astype(np.int64), m.region, bar)]
    if name == "synth_unseen":
        seeds = list(SYNTH_UNSEEN_SEEDS)[: 4 if quick else None]
        return list(evaluate.synthetic_samples(seeds))
    if name.removeprefix("synth_") in REGIME_SETS:
        seeds = list(REGIME_SEEDS)[: 2 if quick else None]
        return [_regime_sample(name.removeprefix("synth_"), seed) for seed in seeds]
    raise ValueError(f"unknown set {name!r}")


def _regime_sample(regime: str, seed: int) -> evaluate.Sample:
    m = render(regime, seed)
    h, w = m.image.shape
    region = Region(0, 0, w, m.data_bar.y0) if m.data_bar is not None else None
    grey = m.image.astype(np.float32) / 255.0
    return evaluate.Sample(f"{regime}_{seed}", grey, m.labels.astype(np.int64), region, m.data_bar)


def resample(grey: np.ndarray, factor: float) -> np.ndarray:
    """Grey image resampled by ``factor`` (area-averaged when shrinking)."""
    h, w = grey.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(grey.astype(np.float32), size, interpolation=interp)


def segment_at_scale(
    model: Any, grey: np.ndarray, region: Region | None, diameter_px: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Model labels at native resolution, the image resampled so ``diameter_px`` → target.

    ``diameter_px=None`` runs the model on the native image.
    """
    if diameter_px is None:
        return model.segment(grey, region)
    f = TARGET_DIAMETER_PX / diameter_px
    small = resample(grey, f)
    sh, sw = small.shape
    r = region or Region(0, 0, grey.shape[1], grey.shape[0])
    r_small = Region(
        int(np.floor(r.x0 * f)),
        int(np.floor(r.y0 * f)),
        min(sw, int(np.ceil(r.x1 * f))),
        min(sh, int(np.ceil(r.y1 * f))),
    )
    lab, sc = model.segment(small, r_small)
    back = cv2.resize(
        lab.astype(np.float32), grey.shape[::-1], interpolation=cv2.INTER_NEAREST
    ).astype(np.uint32)
    inside = np.zeros_like(back)
    inside[r.y0 : r.y1, r.x0 : r.x1] = back[r.y0 : r.y1, r.x0 : r.x1]
    return inside, sc


@dataclass
class Raw:
    """One model pass over one sample at the lowest threshold of the sweep."""

    sample: evaluate.Sample
    labels: np.ndarray
    scores: np.ndarray
    seconds: float


def model_pass(
    model: Any, samples: Sequence[evaluate.Sample], scale: str, low_conf: float
) -> list[Raw]:
    """Run ``model`` once per sample (``scale`` = ``native`` or ``oracle``) at ``low_conf``."""
    saved = model.options.conf
    model.options.conf = low_conf
    out = []
    try:
        for s in samples:
            diam = None
            if scale == "oracle":
                diam = median_ecd_px(s.truth)
            elif scale == "estimate":
                diam = estimate_particle_scale(s.grey, s.region).diameter_px
            t = time.perf_counter()
            lab, sc = segment_at_scale(model, s.grey, s.region, diam)
            out.append(Raw(s, lab, sc, time.perf_counter() - t))
    finally:
        model.options.conf = saved
    return out


def score_at(raws: Sequence[Raw], threshold: float) -> dict[str, Any]:
    """Figures of model + refine over ``raws`` with instances below ``threshold`` dropped."""
    rows, preds = [], []
    for r in raws:
        lab, sc = drop_below(r.labels, r.scores, threshold)
        lab, sc = refine(lab, sc, r.sample.grey, region=r.sample.region, data_bar=r.sample.data_bar)
        rows.append(evaluate.image_metrics(r.sample.truth, lab))
        preds.append(evaluate.Prediction(lab, sc, r.seconds))
    return evaluate.summarise(rows, [r.sample.truth for r in raws], preds)


def score_labels(
    samples: Sequence[evaluate.Sample], segment: Callable[[evaluate.Sample], np.ndarray]
) -> dict[str, Any]:
    """Figures of a score-less method (the baseline, BPartIS) over ``samples``."""
    rows, preds = [], []
    for s in samples:
        t = time.perf_counter()
        lab = segment(s)
        sec = time.perf_counter() - t
        rows.append(evaluate.image_metrics(s.truth, lab))
        preds.append(evaluate.Prediction(lab, np.ones(int(lab.max()), np.float32), sec))
    return evaluate.summarise(rows, [s.truth for s in samples], preds)


def sweep(raws: Sequence[Raw], thresholds: Sequence[float] = THRESHOLDS) -> dict[float, float]:
    """Pooled PQ at each score threshold (refined), for choosing the sidecar's ``conf``."""
    out = {}
    for t in thresholds:
        total = metrics.MatchCounts()
        for r in raws:
            lab, sc = drop_below(r.labels, r.scores, t)
            lab, _ = refine(lab, sc, r.sample.grey, region=r.sample.region)
            total = total + metrics.match_counts(r.sample.truth, lab, 0.5)
        out[float(t)] = total.pq
    return out


def ood_mean(per_set: dict[str, dict[str, Any]], method: str) -> float | None:
    """Mean PQ of ``method`` over every set except ``emps_val``."""
    v = [m[method]["pq"] for name, m in per_set.items() if name != "emps_val" and method in m]
    return float(np.mean(v)) if v else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.engine.ood")
    ap.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="LABEL=PATH:SCALE",
        help="model to score, e.g. shipped=analysis/models/particle-yolov8n-seg.pt:native",
    )
    ap.add_argument("--sets", default=",".join(DEFAULT_SETS))
    ap.add_argument("--bpartis", action="store_true", help="also run BPartIS tile-wise")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a few images per set")
    ap.add_argument("--out", type=Path, default=_REPO / "var" / "bench" / "ood.json")
    a = ap.parse_args(argv)
    sets = {n: load_set(n, quick=a.quick) for n in a.sets.split(",")}
    report: dict[str, Any] = {"target_diameter_px": TARGET_DIAMETER_PX, "sets": {}}
    per_set: dict[str, dict[str, Any]] = {n: {} for n in sets}
    models = []
    for spec in a.weights:
        label, rest = spec.split("=", 1)
        path, scale = rest.rsplit(":", 1)
        models.append((label, ParticleModel(Path(path)), scale))
    peer = BPartIS() if a.bpartis else None
    for name, samples in sets.items():
        if not samples:
            continue
        print(f"{name}: {len(samples)} images", flush=True)
        if not a.no_baseline:
            per_set[name]["imagej"] = score_labels(
                samples,
                lambda s: segment_imagej(s.grey, s.region, user_polarity(s.grey, s.truth)),
            )
        if peer is not None and name != "emps_val":  # BPartIS trained on all of EMPS
            per_set[name]["bpartis"] = score_labels(samples, peer.labels)
        for label, model, scale in models:
            raws = model_pass(model, samples, scale, min(THRESHOLDS))
            fig = score_at(raws, float(model.options.conf))
            fig["conf"] = float(model.options.conf)
            fig["sweep_pq"] = sweep(raws)
            per_set[name][label] = fig
        for method, fig in per_set[name].items():
            print(
                f"  {method:<16} PQ {fig['pq']:.3f}  F1 {fig['f1']:.3f}  "
                f"count err {fig['count_error'] or 0:.2f}  "
                f"ECD err {fig['median_ecd_error'] or 0:.2f}  "
                f"{fig['seconds_per_image']:.2f} s/img",
                flush=True,
            )
    report["sets"] = per_set
    methods = {m for figs in per_set.values() for m in figs}
    report["ood_mean_pq"] = {m: ood_mean(per_set, m) for m in sorted(methods)}
    print("out-of-domain mean PQ:", json.dumps(report["ood_mean_pq"]))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
