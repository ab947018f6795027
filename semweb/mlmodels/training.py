"""The worker's side of a training: read the approved runs, hand them to the trainer (the
engine seam), report epochs, and register the result. Called by the thin Celery task."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

from semweb.analyses.engine import annotated_image as engine_annotated_image
from semweb.analyses.engine import training
from semweb.analyses.models import AnalysisRun
from semweb.mlmodels import engine, services
from semweb.mlmodels.models import ModelVersion

log = logging.getLogger(__name__)


def annotated_image(run: AnalysisRun) -> training.AnnotatedImage:
    """The run's micrograph (grey, uint8) and its accepted outlines as an instance map."""
    polygons = list(
        run.particles.filter(accepted=True).order_by("index").values_list("polygon", flat=True)
    )
    return engine_annotated_image(run.micrograph.original.path, polygons, f"run{run.pk}")


def _images(run_ids: list[int]) -> list[training.AnnotatedImage]:
    runs = AnalysisRun.objects.filter(pk__in=run_ids).select_related("micrograph").order_by("pk")
    return [annotated_image(run) for run in runs]


def training_execute(*, version_id: int, attempt: int, lost: threading.Event) -> ModelVersion:
    """Run one claimed attempt to the end. Raises `services.TrainingAborted` when the version
    was cancelled or taken over (seen after any batch, via the heartbeat's `lost` flag, or at
    the next write)."""
    version = ModelVersion.objects.select_related("parent").get(pk=version_id)
    data, params = version.training_data, version.parameters
    progress: dict[str, Any] = dict(version.progress or {})
    progress.setdefault("history", [])
    if progress.get("epoch"):
        progress.setdefault("resumed", []).append(
            {"attempt": attempt, "from_epoch": progress["epoch"]}
        )
        services.training_record(version_id=version_id, attempt=attempt, progress=progress)

    def on_stage(stage: str) -> None:
        services.training_record(version_id=version_id, attempt=attempt, stage=stage)

    def on_epoch(report: training.EpochReport) -> None:
        progress["epoch"] = report.epoch
        progress["epochs"] = report.epochs
        progress["history"] = [h for h in progress["history"] if h["epoch"] < report.epoch] + [
            {
                "epoch": report.epoch,
                "attempt": attempt,
                "seconds": report.seconds,
                "losses": report.losses,
                "val": report.val,
            }
        ]
        services.training_record(version_id=version_id, attempt=attempt, progress=progress)

    def should_stop() -> bool:
        return lost.is_set()

    job = engine.TrainingJob(
        out_dir=services.training_dir(version_id),
        parent_weights=services.parent_weights_path(version.parent),
        train=_images(data["train_run_ids"]),
        held_back=_images(data["held_back_run_ids"]),
        epochs=int(params["epochs"]),
        imgsz=int(params["imgsz"]),
        batch=int(params.get("batch", settings.SEMWEB_TRAIN_BATCH)),
        device=str(params.get("device", "cpu")),
        max_seconds=float(params["hours"]) * 3600,
        tile_px=int(params.get("tile_px", 512)),
        sidecar={
            "lab": version.lab.slug if version.lab else None,
            "registry_id": version.pk,
            "parent": version.parent.version if version.parent else None,
            "dataset": version.dataset_id,
        },
    )
    try:
        outcome = engine.run_trainer(
            job, on_epoch=on_epoch, should_stop=should_stop, on_stage=on_stage
        )
    except Exception:
        if lost.is_set():
            raise services.TrainingAborted(f"model {version_id} attempt {attempt} lost") from None
        raise
    on_stage("registering")
    done = services.training_complete(version_id=version_id, attempt=attempt, outcome=outcome)
    if done is None:
        raise services.TrainingAborted(f"model {version_id} attempt {attempt} lost at the end")
    return done
