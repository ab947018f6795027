"""Fine-tune the particle model on a lab's own annotated micrographs, and score it.

The web platform hands in plain arrays (grey images and instance label maps rasterised from
approved outlines); this module writes them as a YOLO-seg dataset (the same polygon export and
native-resolution tiling as :mod:`analysis.train.dataset`), fine-tunes from the parent's weights
with per-epoch checkpoints (``last.pt``, resumable after the process dies), and evaluates the
new model against its parent and the classical path on the held-back images with
:mod:`analysis.evaluate` (pooled PQ and F1 at IoU 0.5, count and median-size errors).

Nothing here knows about Django: callbacks report epochs and ask whether to stop.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analysis import evaluate
from analysis.segment import model as yolo_model
from analysis.train.dataset import tiles
from analysis.train.polygons import labels_to_yolo_lines

# Methods scored for every candidate and parent: the raw model after its refinement steps
# (what a "model" run stores) and thresholding + watershed (what a lab gets without a model).
SCORED = ("classical", "model+post")
DONE_MARKER = "training-finished.json"


@dataclass
class AnnotatedImage:
    """One approved micrograph: ``grey`` (H, W) uint8 and ``labels`` (H, W) uint32, 0 = bg."""

    name: str
    grey: np.ndarray
    labels: np.ndarray

    @property
    def particles(self) -> int:
        return int(np.unique(self.labels[self.labels > 0]).size)


def labels_from_polygons(polygons: Sequence[Sequence[Sequence[float]]], shape) -> np.ndarray:
    """Instance map (H, W) uint32 from outlines in pixels (later polygons win overlaps)."""
    labels = np.zeros(shape, np.uint32)
    for k, poly in enumerate(polygons, start=1):
        pts = np.round(np.asarray(poly, np.float64)).astype(np.int32)
        if len(pts) >= 3:
            cv2.fillPoly(labels, [pts], int(k))
    return labels


def to_uint8(grey: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] (the engine's reader) or any integer image → uint8."""
    if grey.dtype == np.uint8:
        return grey
    g = np.asarray(grey, np.float32)
    if g.max(initial=0) > 1.0:
        lo, hi = float(g.min()), float(g.max())
        g = (g - lo) / (hi - lo or 1.0)
    return np.round(np.clip(g, 0, 1) * 255).astype(np.uint8)


def write_dataset(
    train: Sequence[AnnotatedImage], val: Sequence[AnnotatedImage], out_dir: Path, tile_px: int
) -> tuple[Path, dict[str, int]]:
    """Write ``images/{train,val}`` + ``labels/{train,val}`` + ``data.yaml`` under ``out_dir``.

    Training images are cut into tiles of at most ``tile_px`` at native resolution (inference
    tiles the same way); validation images are written whole. Returns the data.yaml path and
    counts (tiles, instances).
    """
    counts = {"train_tiles": 0, "train_instances": 0, "val_images": 0, "val_instances": 0}
    for split in ("train", "val"):
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)

    def put(split: str, name: str, grey: np.ndarray, labels: np.ndarray) -> int:
        cv2.imwrite(str(out_dir / "images" / split / f"{name}.png"), grey)
        lines = labels_to_yolo_lines(labels)
        (out_dir / "labels" / split / f"{name}.txt").write_text(
            "\n".join(lines) + ("\n" if lines else "")
        )
        return len(lines)

    for item in train:
        h, w = item.grey.shape
        for y in tiles(h, tile_px):
            for x in tiles(w, tile_px):
                sl = np.s_[y : y + tile_px, x : x + tile_px]
                counts["train_instances"] += put(
                    "train", f"{item.name}_{x}_{y}", item.grey[sl], item.labels[sl]
                )
                counts["train_tiles"] += 1
    for item in val:
        counts["val_instances"] += put("val", item.name, item.grey, item.labels)
        counts["val_images"] += 1
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(
        f"path: {out_dir.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: particle\n"
    )
    return data_yaml, counts


@dataclass
class EpochReport:
    """What one finished epoch reports (its checkpoint is already on disk)."""

    epoch: int  # 1-based
    epochs: int
    losses: dict[str, float]
    val: dict[str, float]
    seconds: float


class StopTraining(Exception):
    """Raised by a callback to end the training now (cancelled, or no longer ours)."""


@dataclass
class FinetuneSpec:
    data_yaml: Path
    parent_weights: Path
    out_dir: Path
    epochs: int
    imgsz: int = 512
    batch: int = 8
    device: str = "cpu"
    workers: int = 0
    seed: int = 0
    max_seconds: float | None = None  # wall-time budget: stop after the epoch that crosses it
    extra: dict[str, Any] = field(default_factory=dict)


def _floats(d: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        try:
            out[str(k)] = round(float(v), 5)
        except (TypeError, ValueError):
            continue
    return out


def finetune(
    spec: FinetuneSpec,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Fine-tune from ``spec.parent_weights`` (or resume ``out_dir/run/weights/last.pt``);
    returns the final ``last.pt``.

    ``on_epoch`` runs after each epoch's checkpoint is saved; ``should_stop`` is asked after
    every batch. Either may raise :class:`StopTraining`. A finished training leaves a marker,
    so calling again (a worker that died after training but before registering) returns the
    weights without training twice. The last epoch's weights are kept (not ultralytics'
    "best", which is chosen on the validation images and would leak them into the choice).
    """
    out_dir = Path(spec.out_dir)
    last = out_dir / "run" / "weights" / "last.pt"
    if (out_dir / DONE_MARKER).exists() and last.exists():
        return last
    started = time.monotonic()
    epoch_started = [time.monotonic()]

    def fit_epoch_end(trainer: Any) -> None:
        if int(trainer.epoch) + 1 > int(trainer.epochs):
            return  # ultralytics' final re-validation of best.pt, not an epoch
        losses = _floats(trainer.label_loss_items(trainer.tloss, prefix="train"))
        val = _floats(getattr(trainer, "metrics", None) or {})
        now = time.monotonic()
        report = EpochReport(
            epoch=int(trainer.epoch) + 1,
            epochs=int(trainer.epochs),
            losses=losses,
            val=val,
            seconds=round(now - epoch_started[0], 2),
        )
        epoch_started[0] = now
        if on_epoch:
            on_epoch(report)
        if spec.max_seconds is not None and now - started > spec.max_seconds:
            trainer.stop = True  # the checkpoint of this epoch is kept; ultralytics ends

    def batch_end(_trainer: Any) -> None:
        if should_stop and should_stop():
            raise StopTraining("stop requested")

    yolo_model.train_yolo(
        data_yaml=spec.data_yaml,
        project=out_dir,
        name="run",
        model_yaml=str(Path(spec.parent_weights).resolve()),
        epochs=spec.epochs,
        imgsz=spec.imgsz,
        batch=spec.batch,
        device=spec.device,
        workers=spec.workers,
        seed=spec.seed,
        val=True,
        # pretrained=True: ultralytics 8.4 drops the loaded weights when it is False (the
        # default of train_yolo, made for training from scratch) and trains from random init.
        # nbs=batch: ultralytics accumulates gradients up to a nominal batch of 64, so on a
        # lab's 15 images (2 batches) it stepped once every 4 epochs (seen in results.csv).
        # Fine-tuning, not training: a small fixed AdamW rate and the backbone (layers 0-9,
        # batch-norm included) frozen; with ultralytics' automatic rate (2e-3) and everything
        # trainable, held-back mask mAP50 fell from 0.62 to 0.04 after one epoch on msa-tem.
        extra={
            "pretrained": True,
            "nbs": spec.batch,
            "optimizer": "AdamW",
            "lr0": 2e-4,
            "lrf": 0.5,
            "freeze": 10,
            "close_mosaic": max(0, spec.epochs // 6),
            "warmup_epochs": 0,
            **spec.extra,
        },
        callbacks={"on_fit_epoch_end": fit_epoch_end, "on_train_batch_end": batch_end},
    )
    if not last.exists():
        raise RuntimeError(f"training wrote no checkpoint under {out_dir}")
    (out_dir / DONE_MARKER).write_text(json.dumps({"finished": datetime.now(UTC).isoformat()}))
    return last


def publish(
    last: Path, dst: Path, *, parent_weights: Path, imgsz: int, extra: dict[str, Any]
) -> Path:
    """Strip the optimizer from ``last`` into ``dst`` with its sidecar (trained date, arch,
    inference size, and the parent's tuned score threshold)."""
    parent_meta = yolo_model.read_sidecar(Path(parent_weights))
    meta = {
        "arch": parent_meta.get("arch", "yolov8n-seg"),
        "trained": datetime.now(UTC).strftime("%Y%m%d"),
        "imgsz": int(imgsz),
        "tile_px": int(parent_meta.get("tile_px", 512)),
        "conf": float(parent_meta.get("conf", 0.25)),
        **extra,
    }
    return yolo_model.publish_weights(last, dst, meta)


def describe_hardware(device: str) -> str:
    """What trained it, for the model card: CPU model and core count, or the CUDA device."""
    import torch  # noqa: PLC0415  (heavy; already loaded by the training that preceded)

    if device != "cpu" and torch.cuda.is_available():
        return f"CUDA {torch.cuda.get_device_name(int(device) if device.isdigit() else 0)}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {torch.get_num_threads()} threads"


def _overall(report: evaluate.MethodReport) -> dict[str, float | None]:
    keep = ("images", "f1", "pq", "count_error", "median_ecd_error", "ap50", "mean_best_iou")
    return {k: report.overall.get(k) for k in keep}


def score(
    samples: Sequence[AnnotatedImage], candidate: Path, parent: Path | None
) -> dict[str, dict[str, float | None]]:
    """Pooled figures of ``candidate`` (model after refinement), its ``parent`` and the
    classical path on the held-back ``samples``: ``{"candidate": …, "parent": …,
    "classical": …}``."""

    def as_samples() -> list[evaluate.Sample]:
        return [
            evaluate.Sample(s.name, s.grey.astype(np.float32) / 255.0, s.labels.astype(np.int64))
            for s in samples
        ]

    out: dict[str, dict[str, float | None]] = {}
    reports = evaluate.run_methods(
        as_samples(), SCORED, model=yolo_model.ParticleModel(Path(candidate))
    )
    out["candidate"] = _overall(reports["model+post"])
    out["classical"] = _overall(reports["classical"])
    if parent is not None:
        reports = evaluate.run_methods(
            as_samples(), ("model+post",), model=yolo_model.ParticleModel(Path(parent))
        )
        out["parent"] = _overall(reports["model+post"])
    return out


def beats(metrics: dict[str, dict[str, float | None]], *, than: str = "parent") -> bool:
    """Does the candidate beat ``than`` on the held-back split (higher pooled PQ; on a tie,
    higher F1)?"""
    cand, other = metrics.get("candidate") or {}, metrics.get(than) or {}
    key = (cand.get("pq") or 0.0, cand.get("f1") or 0.0)
    return key > (other.get("pq") or 0.0, other.get("f1") or 0.0)
