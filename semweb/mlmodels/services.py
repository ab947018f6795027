"""Writes on the model registry: the built-in entry, training requests, the worker's
claim/progress/complete/fail (the same fencing protocol as analysis runs: every worker write
carries the attempt it claimed and is a conditional UPDATE), the reaper, cancellation,
promotion, rollback and retirement.

The floor on approved particles (``SEMWEB_TRAIN_MIN_PARTICLES``, default 30, real particles in
the training split) was measured as a curve of gain against data size through this trainer
(``benchmarks/train_floor.py``, 20 epochs, two draws per size): on a material the built-in
model had never seen (msa-tem-train, block split), 16 particles gained +0.16 PQ over the parent,
29–43 gained +0.19…+0.21 in every draw (≥ 77 % of the +0.25 plateau reached from ~100), 55–60
gained +0.22. In the built-in model's own domain (EMPS validation ids) no size up to 150 helped
(−0.02…−0.035): there the promotion rule (beat the parent on the held-back split) is what
refuses the new version, not the floor. The held-back split must hold at least a third of the
floor (10 particles at the default) so that the comparison is not one particle's luck.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from semweb.analyses.engine import BUILTIN_WEIGHTS as DEFAULT_WEIGHTS
from semweb.analyses.engine import read_weights_sidecar as read_sidecar
from semweb.analyses.engine import split_ids, training, weights_version
from semweb.analyses.models import Particle
from semweb.audit.services import audit_record, worker_event
from semweb.core.claims import claim_job, reap_lost
from semweb.core.errors import TransitionError
from semweb.core.params import parse_float, parse_int
from semweb.datasets.selectors import dataset_runs
from semweb.labs.permissions import (
    Access,
    model_access,
    model_manage_allowed,
    model_train_allowed,
)
from semweb.mlmodels.models import USABLE, ModelStatus, ModelVersion

log = logging.getLogger(__name__)

# Share of a dataset's runs held back for evaluation (at least one run), and the seed of the
# hash that picks them (stable whatever order the runs are listed in).
HELD_BACK_SHARE = 0.25
SPLIT_SEED = 13


class TrainingAborted(Exception):
    """The worker lost the version (cancelled, or reaped and handed to another attempt)."""


def training_dir(version_id: int) -> Path:
    """The worker-local folder of one training (exported set, checkpoints)."""
    return Path(settings.SEMWEB_TRAINING_DIR) / f"model-{version_id}"


# --- the built-in model and lab defaults ------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _builtin_facts(path: str, mtime_ns: int, size: int) -> tuple[str, dict[str, Any], str]:
    """Version string, sidecar and sha256 of the shipped weights (hashed once per file state)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return weights_version(Path(path)), read_sidecar(Path(path)), digest


def builtin_model() -> ModelVersion:
    """The registry entry of the model shipped with the engine (created on first use; a new
    shipped file gets a new entry, so runs keep pointing at the weights they used)."""
    path = Path(DEFAULT_WEIGHTS)
    if path.is_file():
        st = path.stat()
        version, meta, digest = _builtin_facts(str(path), st.st_mtime_ns, st.st_size)
        size = st.st_size
    else:
        version, meta, digest, size = "none-installed", {}, "", 0
    obj, _ = ModelVersion.objects.get_or_create(
        builtin=True,
        version=version,
        defaults={
            "name": "Built-in particle model",
            "architecture": meta.get("arch", "yolov8n-seg"),
            "status": ModelStatus.READY,
            "weights_sha256": digest,
            "weights_size_bytes": size,
            "parameters": meta,
            "stage": "shipped",
        },
    )
    return obj


def lab_default(lab) -> ModelVersion:
    """The lab's promoted version, else the built-in model."""
    promoted = ModelVersion.objects.filter(lab=lab, status=ModelStatus.PROMOTED).first()
    return promoted or builtin_model()


def weights_path(version: ModelVersion) -> str | None:
    """Local path of the version's weights for the engine; None = the engine's installed
    default (the built-in model, which also honours ``SEMWEB_MODEL_WEIGHTS``)."""
    if version.builtin or not version.weights:
        return None
    return version.weights.path


def parent_weights_path(version: ModelVersion) -> Path:
    return Path(weights_path(version) or DEFAULT_WEIGHTS)


def model_for_run(*, user, lab, model: ModelVersion | None) -> ModelVersion:
    """The version a new model/auto run of `lab` uses: `model` when given (it must be usable
    and visible to `user`), else the lab's default."""
    if model is None:
        return lab_default(lab)
    if user is not None and model_access(user, model) < Access.VIEW:
        raise ValidationError({"model": "No such model."})
    if not model.usable:
        raise ValidationError(
            {"model": f"Model {model.pk} is {model.get_status_display().lower()}, not usable."}
        )
    return model


# --- training requests ------------------------------------------------------------------------


def _epochs(value: Any) -> int:
    if value in (None, ""):
        return int(settings.SEMWEB_TRAIN_DEFAULT_EPOCHS)
    return parse_int(value, name="epochs", min_value=1, max_value=settings.SEMWEB_TRAIN_MAX_EPOCHS)


def _hours(value: Any) -> float:
    """A wall-time cap in hours: more than 0, at most the budget setting (the default)."""
    cap = float(settings.SEMWEB_TRAIN_MAX_HOURS)
    hours = parse_float(value, name="hours", positive=True, max_value=cap, required=False)
    return cap if hours is None else hours


def training_split(run_particles: dict[int, int]) -> tuple[list[int], list[int]]:
    """(train run ids, held-back run ids): a quarter of the runs (at least one) held back,
    chosen by hash so adding a run never reshuffles the others."""
    ids = [str(i) for i in sorted(run_particles)]
    n_held = max(1, round(len(ids) * HELD_BACK_SHARE))
    train, held = split_ids(ids, n_val=n_held, seed=SPLIT_SEED)
    return sorted(int(i) for i in train), sorted(int(i) for i in held)


def training_data(dataset) -> dict[str, Any]:
    """Runs, split and counts a training of `dataset` would use (shown before pressing Train).

    Runs of synthetic samples (painted by a learned style, `semweb.mlmodels.styles`) always
    go to the training split: the held-back split is real runs only, so a candidate's PQ and
    the promotion rule (beat the parent on the held-back split, `model_promote`) are measured
    on real micrographs. That is how a learned style is kept only where it helps: synthetic
    images that do not improve the real held-back score give a version that is not promoted.
    """
    rows = list(dataset_runs(dataset).values_list("pk", "micrograph__sample__is_synthetic"))
    runs = [pk for pk, _ in rows]
    synthetic = sorted(pk for pk, is_synthetic in rows if is_synthetic)
    counts = dict(
        Particle.objects.filter(run_id__in=runs, accepted=True)
        .values_list("run_id")
        .annotate(n=Count("pk"))
        .values_list("run_id", "n")
    )
    per_run = {r: int(counts.get(r, 0)) for r in runs}
    real = {r: n for r, n in per_run.items() if r not in set(synthetic)}
    if len(real) < 2:
        train, held = list(real), []
    else:
        train, held = training_split(real)
    train = sorted(train + synthetic)
    return {
        "run_ids": sorted(per_run),
        "synthetic_run_ids": synthetic,
        "train_run_ids": train,
        "held_back_run_ids": held,
        "train_images": len(train),
        "held_back_images": len(held),
        "synthetic_images": len(synthetic),
        "train_particles": sum(per_run[r] for r in train),
        "synthetic_particles": sum(per_run[r] for r in synthetic),
        "held_back_particles": sum(per_run[r] for r in held),
        "split_seed": SPLIT_SEED,
        "held_back_share": HELD_BACK_SHARE,
    }


def training_refusal(data: dict[str, Any]) -> str | None:
    """Why a dataset is too small to learn from (None when it is not)."""
    need = int(settings.SEMWEB_TRAIN_MIN_PARTICLES)
    real = len(data["run_ids"]) - len(data.get("synthetic_run_ids", []))
    if real < 2 or data["held_back_particles"] == 0:
        return (
            "Training needs at least two approved runs with particles (real ones: synthetic "
            "runs are never held back): one is held back to evaluate the new model. This "
            f"dataset has {real}."
        )
    real_train = data["train_particles"] - data.get("synthetic_particles", 0)
    real_images = data["train_images"] - data.get("synthetic_images", 0)
    if real_train < need:
        return (
            f"Too few approved particles to learn from: the training split holds "
            f"{real_train} real particles in {real_images} images; at least {need} are needed "
            "(below that a fine-tune gains little on a new material; see the README). Add "
            "approved runs to the dataset."
        )
    need_held = math.ceil(need / 3)
    if data["held_back_particles"] < need_held:
        return (
            f"The held-back split holds {data['held_back_particles']} particles; at least "
            f"{need_held} are needed to tell the new model from its parent. Add approved runs "
            "to the dataset."
        )
    return None


def _enqueue(version_id: int) -> None:
    from semweb.mlmodels.tasks import train_model  # noqa: PLC0415  (services → tasks edge)

    budget_s = float(settings.SEMWEB_TRAIN_MAX_HOURS) * 3600
    # Export and evaluation come on top of the training budget.
    soft = int(budget_s + 900)
    transaction.on_commit(
        lambda: train_model.apply_async(
            (version_id,), queue="gpu", soft_time_limit=soft, time_limit=soft + 60
        )
    )


def training_request(*, dataset, user, epochs: Any = None, hours: Any = None) -> ModelVersion:
    """Queue a fine-tuning of the lab's default model on `dataset`'s approved runs (the `gpu`
    queue; a CPU worker listening there takes it when no GPU worker runs)."""
    if not model_train_allowed(user, dataset):
        raise PermissionDenied("Only supervisors and admins of the dataset's lab may train.")
    epochs = _epochs(epochs)
    hours = _hours(hours)
    with transaction.atomic():
        busy = ModelVersion.objects.select_for_update().filter(
            dataset=dataset, status__in=[ModelStatus.QUEUED, ModelStatus.TRAINING]
        )
        if busy.exists():
            raise TransitionError("A training of this dataset is already queued or running.")
        data = training_data(dataset)
        refusal = training_refusal(data)
        if refusal:
            raise ValidationError({"dataset": refusal})
        parent = lab_default(dataset.lab)
        parent_meta = read_sidecar(parent_weights_path(parent))
        imgsz = int(settings.SEMWEB_TRAIN_IMGSZ or parent_meta.get("imgsz", 512))
        version = ModelVersion.objects.create(
            lab=dataset.lab,
            name=f"{dataset.name} · {timezone.now():%Y-%m-%d %H:%M}",
            architecture=parent.architecture,
            parent=parent,
            dataset=dataset,
            training_data=data,
            parameters={
                "epochs": epochs,
                "hours": hours,
                "imgsz": imgsz,
                "batch": int(settings.SEMWEB_TRAIN_BATCH),
                "device": settings.SEMWEB_TRAIN_DEVICE,
                "tile_px": int(parent_meta.get("tile_px", 512)),
                "fine_tuned_from": parent.version,
            },
            progress={"epoch": 0, "epochs": epochs, "history": []},
            created_by=user,
        )
        audit_record(
            actor=user,
            verb="model.train",
            target=version,
            lab=dataset.lab,
            dataset=dataset.pk,
            parent=parent.pk,
            epochs=epochs,
            hours=hours,
            train_particles=data["train_particles"],
        )
        _enqueue(version.pk)
    return version


# --- the worker's side ------------------------------------------------------------------------


def training_claim(*, version_id: int, worker: str) -> int | None:
    """queued → training (or a training whose worker stopped heartbeating). Returns the
    attempt (fencing token), or None when it is not ours to run."""
    attempt = claim_job(
        model=ModelVersion,
        pk=version_id,
        worker=worker,
        queued=ModelStatus.QUEUED,
        running=ModelStatus.TRAINING,
        give_up=lambda reason: training_fail(version_id=version_id, reason=reason),
        stage="starting",
    )
    if attempt is None:
        return None
    version = ModelVersion.objects.get(pk=version_id)
    worker_event(
        version,
        "model.train.start",
        attempt=attempt,
        worker=worker,
        resume_from_epoch=version.progress.get("epoch", 0),
    )
    return attempt


def _owned(version_id: int, attempt: int):
    return ModelVersion.objects.filter(pk=version_id, status=ModelStatus.TRAINING, attempts=attempt)


def training_record(
    *, version_id: int, attempt: int, stage: str | None = None, progress: dict | None = None
) -> None:
    """Store the stage and/or progress; raise `TrainingAborted` when no longer ours (how a
    cancel reaches the worker)."""
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if stage is not None:
        fields["stage"] = stage[:32]
    if progress is not None:
        fields["progress"] = progress
    if not _owned(version_id, attempt).update(**fields):
        raise TrainingAborted(f"model {version_id} attempt {attempt} no longer owns it")


def training_heartbeat(*, version_id: int, attempt: int) -> bool:
    return bool(_owned(version_id, attempt).update(heartbeat_at=timezone.now()))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def store_weights(published: Path, folder: str = "models") -> tuple[str, str, int]:
    """Content-addressed copy into default storage: ``<folder>/<sha256>.pt`` and its sidecar
    ``<folder>/<sha256>.json`` (the engine reads the sidecar next to the weights). Returns
    (storage name, sha256, size). Learned styles use ``folder="styles"``."""
    size = published.stat().st_size
    limit = int(settings.SEMWEB_MODEL_MAX_MB) * 1024 * 1024
    if size > limit:
        raise ValueError(f"weights of {size / 1e6:.1f} MB exceed SEMWEB_MODEL_MAX_MB")
    digest = _sha256(published)
    name = f"{folder}/{digest}.pt"
    if not default_storage.exists(name):
        with published.open("rb") as fh:
            saved = default_storage.save(name, File(fh))
        if saved != name:  # a concurrent writer stored the same bytes first
            default_storage.delete(saved)
    sidecar = published.with_suffix(".json")
    side_name = f"{folder}/{digest}.json"
    if sidecar.exists() and not default_storage.exists(side_name):
        with sidecar.open("rb") as fh:
            default_storage.save(side_name, File(fh))
    return name, digest, size


def training_complete(*, version_id: int, attempt: int, outcome) -> ModelVersion | None:
    """Register the trained weights with metrics: training → ready. None (and nothing
    written) when the version was cancelled or handed to another attempt meanwhile."""
    name, digest, size = store_weights(Path(outcome.weights))
    version_string = weights_version(Path(outcome.weights))
    with transaction.atomic():
        version = _owned(version_id, attempt).select_for_update().first()
        if version is None:
            return None
        progress = dict(version.progress)
        earlier_s = sum(
            h.get("seconds", 0) for h in progress.get("history", []) if h.get("attempt") != attempt
        )
        version.weights.name = name
        version.weights_sha256 = digest
        version.weights_size_bytes = size
        version.version = version_string
        version.metrics = outcome.metrics
        version.beats_parent = training.beats(outcome.metrics)
        version.training_data = {**version.training_data, "export": outcome.counts}
        version.wall_time_s = round(outcome.wall_s + earlier_s, 1)
        version.hardware = outcome.hardware[:200]
        version.status = ModelStatus.READY
        version.stage = "done"
        version.finished_at = timezone.now()
        version.heartbeat_at = version.finished_at
        version.save()
        worker_event(
            version,
            "model.train.succeed",
            attempt=attempt,
            version=version_string,
            beats_parent=version.beats_parent,
            pq=(outcome.metrics.get("candidate") or {}).get("pq"),
            parent_pq=(outcome.metrics.get("parent") or {}).get("pq"),
        )
    return version


def training_fail(*, version_id: int, reason: str, attempt: int | None = None) -> bool:
    qs = ModelVersion.objects.filter(
        pk=version_id, status__in=[ModelStatus.QUEUED, ModelStatus.TRAINING]
    )
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    if not qs.update(status=ModelStatus.FAILED, error=reason[:4000], finished_at=timezone.now()):
        return False
    version = ModelVersion.objects.get(pk=version_id)
    worker_event(version, "model.train.fail", reason=reason)
    return True


def training_release(*, version_id: int, attempt: int, reason: str) -> bool:
    """Give a claimed training back to the queue (its checkpoint stays for the next attempt)."""
    updated = _owned(version_id, attempt).update(
        status=ModelStatus.QUEUED, stage="", error=reason[:4000]
    )
    if updated:
        version = ModelVersion.objects.get(pk=version_id)
        worker_event(
            version,
            "model.train.retry",
            reason=reason,
            attempt=attempt,
        )
    return bool(updated)


def trainings_reap(*, now=None) -> dict[str, int]:
    """Trainings whose worker died (no heartbeat for `SEMWEB_RUN_STALE_S`): requeued while
    attempts remain (the next attempt resumes from the last epoch's checkpoint), else failed."""
    return reap_lost(
        ModelVersion.objects.filter(status=ModelStatus.TRAINING),
        now=now,
        key="version_id",
        release=training_release,
        requeue=lambda row: _enqueue(row["pk"]),
        fail=training_fail,
        logger=log,
        label="training reaper",
    )


# --- people's actions -------------------------------------------------------------------------


def training_cancel(*, version: ModelVersion, user) -> ModelVersion:
    """Stop a queued or running training (the worker notices within one batch)."""
    if version.builtin or not version.dataset_id:
        raise PermissionDenied("This model is not being trained.")
    if not model_train_allowed(user, version.dataset):
        raise PermissionDenied("Only supervisors and admins of the lab may cancel a training.")
    updated = ModelVersion.objects.filter(
        pk=version.pk, status__in=[ModelStatus.QUEUED, ModelStatus.TRAINING]
    ).update(
        status=ModelStatus.FAILED,
        error=f"cancelled by {user.get_username()}",
        finished_at=timezone.now(),
    )
    if not updated:
        raise TransitionError("Only queued or running trainings can be cancelled.")
    version.refresh_from_db()
    audit_record(actor=user, verb="model.train.cancel", target=version, lab=version.lab)
    return version


def model_promote(
    *, version: ModelVersion, user, override: bool = False, reason: str = ""
) -> ModelVersion:
    """Make `version` the lab's default model (the previous default goes back to ready).

    Allowed when the version beat its parent on the held-back split, when it was the lab's
    default before (a rollback), or with an explicit override, which needs a reason and is
    audited as such.
    """
    if not model_manage_allowed(user, version):
        raise PermissionDenied("Only the lab's admins may promote its models.")
    reason = (reason or "").strip()
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status not in (ModelStatus.READY, ModelStatus.RETIRED):
            raise TransitionError(
                f"Only ready or retired versions can be promoted (this one is "
                f"{version.get_status_display().lower()})."
            )
        rollback = version.promoted_at is not None
        if not (version.beats_parent or rollback or override):
            raise TransitionError(
                "This version does not beat its parent on the held-back split; promote it "
                "with an explicit override (and say why) if you want it anyway."
            )
        if override and not (version.beats_parent or rollback) and not reason:
            raise ValidationError({"reason": "An override needs a reason."})
        previous = (
            ModelVersion.objects.select_for_update()
            .filter(lab_id=version.lab_id, status=ModelStatus.PROMOTED)
            .first()
        )
        if previous is not None:
            previous.status = ModelStatus.READY
            previous.save(update_fields=["status"])
        version.status = ModelStatus.PROMOTED
        version.promoted_at = timezone.now()
        version.promoted_by = user
        version.save(update_fields=["status", "promoted_at", "promoted_by"])
        audit_record(
            actor=user,
            verb="model.promote",
            target=version,
            lab=version.lab,
            previous=previous.pk if previous else None,
            beats_parent=version.beats_parent,
            rollback=rollback,
            override=bool(override and not (version.beats_parent or rollback)),
            reason=reason,
        )
    return version


def model_retire(*, version: ModelVersion, user, reason: str = "") -> ModelVersion:
    """Take a version out of use; retiring the lab's default returns the lab to the built-in
    model until another version is promoted."""
    if not model_manage_allowed(user, version):
        raise PermissionDenied("Only the lab's admins may retire its models.")
    updated = ModelVersion.objects.filter(pk=version.pk, status__in=USABLE).update(
        status=ModelStatus.RETIRED
    )
    if not updated:
        raise TransitionError("Only ready or promoted versions can be retired.")
    was_default = version.status == ModelStatus.PROMOTED
    version.refresh_from_db()
    audit_record(
        actor=user,
        verb="model.retire",
        target=version,
        lab=version.lab,
        was_default=was_default,
        reason=(reason or "").strip(),
    )
    return version
