"""Score segmentation methods against ground-truth instance maps, side by side.

Methods: ``classical`` (thresholding + watershed), ``model`` (raw network output, tiled),
``model+post`` (the model refined by :mod:`analysis.segment.refine`) and ``auto`` (per-image
choice, :func:`analysis.segment.auto.choose_segmentation`). The model runs once per image and
its output is reused by the derived methods, so a side-by-side run costs one inference.

Metrics per image and overall: COCO mask AP50 and AP50:95 (over the whole set, scores
ranked), F1 and panoptic quality at IoU 0.5 (pooled counts: every particle weighs alike),
mean best IoU per ground-truth particle, relative count error and relative median-ECD error.
All matching comes from :mod:`analysis.metrics`, shared with the classical benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image

from analysis import metrics
from analysis.io import read_image
from analysis.result import Region
from analysis.segment.auto import choose_segmentation
from analysis.segment.classical import segment_classical
from analysis.segment.refine import refine
from analysis.synth import generate

METHODS = ("classical", "model", "model+post", "auto")
AP_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


@dataclass
class Sample:
    """One scored image: grey (H, W) float [0, 1], truth labels, optional analysed region."""

    name: str
    grey: np.ndarray
    truth: np.ndarray
    region: Region | None = None
    data_bar: Region | None = None


@dataclass
class Prediction:
    labels: np.ndarray
    scores: np.ndarray  # (N,) aligned to labels 1..N
    seconds: float
    path: str = ""
    reason: str = ""


@dataclass
class MethodReport:
    method: str
    per_image: list[dict[str, Any]] = field(default_factory=list)
    overall: dict[str, float] = field(default_factory=dict)


def _median_ecd_px(labels: np.ndarray) -> float | None:
    areas = np.bincount(labels.ravel().astype(np.int64))[1:]
    areas = areas[areas > 0]
    return float(np.median(2 * np.sqrt(areas / np.pi))) if areas.size else None


def mean_best_iou(truth: np.ndarray, pred: np.ndarray) -> float | None:
    """Mean over ground-truth particles of their best IoU with any prediction."""
    iou, gt_ids, _ = metrics.iou_matrix(truth, pred)
    if gt_ids.size == 0:
        return None
    return float(iou.max(axis=1).mean()) if iou.shape[1] else 0.0


def image_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Per-image figures (counts kept so the overall figures can pool them)."""
    c = metrics.match_counts(truth, pred, 0.5)
    n_gt = int(np.unique(truth[truth > 0]).size)
    n_pred = int(np.unique(pred[pred > 0]).size)
    gt_ecd, pred_ecd = _median_ecd_px(truth), _median_ecd_px(pred)
    return {
        "tp": c.tp,
        "fp": c.fp,
        "fn": c.fn,
        "iou_sum": c.iou_sum,
        "f1": c.f1,
        "pq": c.pq,
        "n_true": n_gt,
        "n_pred": n_pred,
        "count_error": abs(n_pred - n_gt) / n_gt if n_gt else float(n_pred > 0),
        "median_ecd_error": (
            abs(pred_ecd - gt_ecd) / gt_ecd if gt_ecd and pred_ecd is not None else None
        ),
        "mean_best_iou": mean_best_iou(truth, pred),
    }


def _mean(values: Iterable[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def summarise(
    rows: Sequence[dict[str, Any]], truths: Sequence[np.ndarray], preds: Sequence[Prediction]
) -> dict[str, float]:
    """Pooled F1 / PQ, COCO mask AP, mean per-image errors, speed."""
    total = metrics.MatchCounts()
    for r in rows:
        total = total + metrics.MatchCounts(
            tp=r["tp"], fp=r["fp"], fn=r["fn"], iou_sum=r["iou_sum"]
        )
    labels = [p.labels for p in preds]
    scores = [np.concatenate([[0.0], p.scores]) for p in preds]
    if any(int(lab.max(initial=0)) > 0 for lab in labels):
        aps = [metrics.mask_ap(truths, labels, scores, float(t)) for t in AP_THRESHOLDS]
    else:  # no prediction at all (metrics.mask_ap needs at least one)
        aps = [0.0 if any(int(t.max(initial=0)) > 0 for t in truths) else 1.0]
    # Mean best IoU over all ground-truth particles: weight each image by its particle count.
    w = [(r["mean_best_iou"], r["n_true"]) for r in rows if r["mean_best_iou"] is not None]
    return {
        "images": len(rows),
        "f1": total.f1,
        "pq": total.pq,
        "sq": total.sq,
        "ap50": aps[0],
        "ap50_95": float(np.mean(aps)),
        "mean_best_iou": (sum(v * n for v, n in w) / max(sum(n for _, n in w), 1)) if w else None,
        "count_error": _mean(r["count_error"] for r in rows),
        "median_ecd_error": _mean(r["median_ecd_error"] for r in rows),
        "seconds_per_image": _mean(p.seconds for p in preds),
    }


def run_methods(
    samples: Iterable[Sample],
    methods: Sequence[str],
    *,
    model: Any = None,
    refine_options: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, MethodReport]:
    """Segment every sample with every method and score it."""

    needs_model = any(m != "classical" for m in methods)
    if needs_model and model is None:
        raise ValueError("a model is needed for methods " + ", ".join(methods))
    reports = {m: MethodReport(m) for m in methods}
    preds: dict[str, list[Prediction]] = {m: [] for m in methods}
    truths: list[np.ndarray] = []
    for s in samples:
        got: dict[str, Prediction] = {}
        if "classical" in methods or "auto" in methods:
            t = time.perf_counter()
            lab = segment_classical(s.grey, s.region).labels
            got["classical"] = Prediction(
                lab, np.ones(int(lab.max()), np.float32), time.perf_counter() - t, "classical"
            )
        if needs_model:
            t = time.perf_counter()
            lab, sc = model.segment(s.grey, s.region)
            got["model"] = Prediction(lab, sc, time.perf_counter() - t, "model")
        if "model+post" in methods or "auto" in methods:
            t = time.perf_counter()
            m = got["model"]
            lab, sc = refine(
                m.labels,
                m.scores,
                s.grey,
                region=s.region,
                data_bar=s.data_bar,
                options=refine_options,
            )
            got["model+post"] = Prediction(
                lab, sc, m.seconds + time.perf_counter() - t, "model+post"
            )
        if "auto" in methods:
            t = time.perf_counter()
            mp, cl = got["model+post"], got["classical"]
            lab, path, reason = choose_segmentation(mp.labels, mp.scores, cl.labels)
            sc = mp.scores if path == "model" else cl.scores
            got["auto"] = Prediction(
                lab, sc, mp.seconds + cl.seconds + time.perf_counter() - t, path, reason
            )
        truths.append(s.truth)
        for m in methods:
            p = got[m]
            row = {
                "image": s.name,
                **image_metrics(s.truth, p.labels),
                "seconds": p.seconds,
                "path": p.path,
                "reason": p.reason,
            }
            reports[m].per_image.append(row)
            preds[m].append(p)
        if progress:
            progress(
                s.name
                + "  "
                + "  ".join(f"{m}: F1 {reports[m].per_image[-1]['f1']:.2f}" for m in methods)
            )
    for m in methods:
        reports[m].overall = summarise(reports[m].per_image, truths, preds[m])
    return reports


def load_samples(
    images_dir: Path, labels_dir: Path, ids: Sequence[str] | None = None
) -> Iterable[Sample]:
    """Image/label pairs matched by file stem (labels: 16-bit PNG or TIFF instance maps)."""

    label_files = {p.stem: p for p in sorted(Path(labels_dir).iterdir()) if p.is_file()}
    for img_path in sorted(Path(images_dir).iterdir()):
        if img_path.stem not in label_files or (ids is not None and img_path.stem not in ids):
            continue
        lab_path = label_files[img_path.stem]
        if lab_path.suffix.lower() in (".tif", ".tiff"):
            truth = tifffile.imread(lab_path)
        else:
            truth = np.asarray(Image.open(lab_path))
        yield Sample(
            img_path.stem, read_image(img_path).grey.astype(np.float32), truth.astype(np.int64)
        )


def synthetic_samples(
    seeds: Iterable[int], width: int = 1024, height: int = 768, **kwargs: Any
) -> Iterable[Sample]:
    """Synthetic micrographs from ``seeds`` (never the training seeds ≥ 1 000 000)."""

    for seed in seeds:
        m = generate(seed, width=width, height=height, **kwargs)
        region = None
        if m.data_bar is not None:
            region = Region(0, 0, width, m.data_bar.y0)
        yield Sample(
            f"synth_{seed}",
            m.image.astype(np.float32) / 255.0,
            m.labels.astype(np.int64),
            region,
            m.data_bar,
        )


def format_table(reports: dict[str, MethodReport]) -> str:
    """The overall figures, one row per method."""
    cols = (
        "f1",
        "pq",
        "ap50",
        "ap50_95",
        "mean_best_iou",
        "count_error",
        "median_ecd_error",
        "seconds_per_image",
    )
    head = f"{'method':<12}" + "".join(f"{c:>18}" for c in cols)
    lines = [head]
    for m, r in reports.items():
        vals = [r.overall.get(c) for c in cols]
        lines.append(
            f"{m:<12}"
            + "".join(f"{v:>18.3f}" if isinstance(v, float) else f"{'-':>18}" for v in vals)
        )
    return "\n".join(lines)
