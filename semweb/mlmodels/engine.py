"""The one place the web platform calls the engine's training code.

Workers call :func:`run_trainer`, which resolves ``settings.SEMWEB_TRAINER`` (a dotted path to
a callable ``(job, *, on_epoch, should_stop, on_stage) -> TrainingOutcome``). The default,
:func:`train_and_evaluate`, writes the YOLO-seg set, fine-tunes from the parent (resuming a
checkpoint left by a dead worker), publishes the weights and scores candidate, parent and the
classical path on the held-back images, all with :mod:`analysis.train.finetune` (reached
through `semweb.analyses.engine`, the platform's one door to the engine). Tests wrap
it (e.g. to hold each epoch long enough to kill the worker) without faking the training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from semweb.analyses.engine import training as finetune

EpochCallback = Callable[[finetune.EpochReport], None]
StageCallback = Callable[[str], None]


@dataclass
class TrainingJob:
    out_dir: Path  # this version's working folder (dataset, checkpoints, published weights)
    parent_weights: Path
    train: list[finetune.AnnotatedImage]
    held_back: list[finetune.AnnotatedImage]
    epochs: int
    imgsz: int
    batch: int
    device: str
    max_seconds: float
    tile_px: int = 512
    sidecar: dict[str, Any] = field(default_factory=dict)  # extra model-card facts


@dataclass
class TrainingOutcome:
    weights: Path  # published (no optimizer state), with its sidecar JSON next to it
    metrics: dict[str, Any]
    counts: dict[str, int]
    wall_s: float
    hardware: str
    epochs_done: int


def train_and_evaluate(
    job: TrainingJob,
    *,
    on_epoch: EpochCallback,
    should_stop: Callable[[], bool],
    on_stage: StageCallback,
) -> TrainingOutcome:
    """The real trainer (see the module docstring)."""
    t0 = time.monotonic()
    on_stage("exporting")
    data_yaml = job.out_dir / "data" / "data.yaml"
    counts: dict[str, int] = {}
    if not data_yaml.exists():  # a resumed job reuses what the first attempt wrote
        data_yaml, counts = finetune.write_dataset(
            job.train, job.held_back, job.out_dir / "data", job.tile_px
        )
    on_stage("training")
    done = [0]

    def epoch(report: finetune.EpochReport) -> None:
        done[0] = report.epoch
        on_epoch(report)

    last = finetune.finetune(
        finetune.FinetuneSpec(
            data_yaml=data_yaml,
            parent_weights=job.parent_weights,
            out_dir=job.out_dir,
            epochs=job.epochs,
            imgsz=job.imgsz,
            batch=job.batch,
            device=job.device,
            max_seconds=job.max_seconds,
        ),
        on_epoch=epoch,
        should_stop=should_stop,
    )
    on_stage("publishing")
    published = finetune.publish(
        last,
        job.out_dir / "published.pt",
        parent_weights=job.parent_weights,
        imgsz=job.imgsz,
        extra=job.sidecar,
    )
    on_stage("evaluating")
    metrics = finetune.score(job.held_back, published, job.parent_weights)
    return TrainingOutcome(
        weights=published,
        metrics=metrics,
        counts=counts,
        wall_s=round(time.monotonic() - t0, 1),
        hardware=finetune.describe_hardware(job.device),
        epochs_done=done[0],
    )


def run_trainer(job: TrainingJob, **callbacks: Any) -> TrainingOutcome:
    trainer = import_string(
        getattr(settings, "SEMWEB_TRAINER", None) or __name__ + ".train_and_evaluate"
    )
    return trainer(job, **callbacks)
