"""Writes on learned styles: "Learn this lab's style" (a mask-conditioned generator trained on a
dataset's approved real runs) and "Generate N training images" (procedural masks painted in
that style into a new synthetic sample).

Both are background jobs with the claim protocol every job shares (`semweb.core.claims`):
the worker's writes carry the attempt it claimed and are conditional UPDATEs, a cancel is
seen at the worker's next write, and the reaper hands a job whose worker stopped
heartbeating to the next attempt. A style's checkpoint lives on the worker's disk
(``SEMWEB_TRAINING_DIR/style-<id>``), so that attempt resumes the training where it stopped;
a generation resumes at the first image not yet stored (images are deterministic by index).

Synthetic images are training material only: their sample is flagged ``is_synthetic``, its
runs are never part of sample, project or dataset statistics, and the lab-model training
keeps them out of the held-back split (`services.training_data`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from semweb.audit.services import audit_record, worker_event
from semweb.catalogue.models import Sample
from semweb.core.claims import claim_job, max_attempts, reap_lost
from semweb.core.errors import TransitionError
from semweb.core.params import parse_float, parse_int
from semweb.datasets.services import synthetic_run_create
from semweb.labs.permissions import model_train_allowed, style_train_allowed
from semweb.mlmodels.models import GenerationStatus, ModelStatus, StyleGeneration, StyleModel
from semweb.mlmodels.services import store_weights, training_data

log = logging.getLogger(__name__)

RUNNING = (ModelStatus.QUEUED, ModelStatus.TRAINING)
HISTORY_MAX = 400  # loss rows kept for the page; older ones are thinned to every other row
SAMPLES_KEPT = 8  # sample sheets listed on the page (the latest ones)


class StyleAborted(Exception):
    """The worker lost the job (cancelled, or reaped and handed to another attempt)."""


def style_checkpoint(style_id: int) -> Path:
    """The worker-local checkpoint of one style training (resumed by a later attempt)."""
    return Path(settings.SEMWEB_TRAINING_DIR) / f"style-{style_id}" / "style.pt"


def style_restore_checkpoint(style: StyleModel, attempt: int) -> bool:
    """Put the style's registered checkpoint where the trainer resumes from, when this
    attempt continues a finished training: at the first attempt of a continued session
    always (the worker-local file may be an older session's, left by another worker), later
    only when the worker has none (a retry on another machine). Returns whether it copied."""
    if not style.weights.name:
        return False  # a first training: resume from the local checkpoint, if any
    checkpoint = style_checkpoint(style.pk)
    first_of_session = attempt == int(style.parameters.get("attempts_before", 0)) + 1
    if checkpoint.exists() and not first_of_session:
        return False
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint.with_name(checkpoint.name + ".restore")
    with default_storage.open(style.weights.name, "rb") as src, tmp.open("wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    tmp.replace(checkpoint)
    return True


# --- learning ---------------------------------------------------------------------------------


def style_training_data(dataset) -> dict[str, Any]:
    """The dataset's approved *real* runs the generator learns from (synthetic ones never:
    a style learned from its own paintings would drift away from the lab's micrographs)."""
    data = training_data(dataset)
    synthetic = set(data["synthetic_run_ids"])
    run_ids = [r for r in data["run_ids"] if r not in synthetic]
    return {"run_ids": run_ids, "images": len(run_ids)}


def _minutes(value: Any) -> float:
    cap = float(settings.SEMWEB_STYLE_MAX_MINUTES)
    minutes = parse_float(value, name="minutes", positive=True, max_value=cap, required=False)
    return cap if minutes is None else minutes


def _enqueue_learn(style_id: int, minutes: float) -> None:
    from semweb.mlmodels.tasks import learn_style  # noqa: PLC0415  (services → tasks edge)

    # Reading the images and the final stability report come on top of the training budget.
    soft = int(minutes * 60 + 600)
    transaction.on_commit(
        lambda: learn_style.apply_async(
            (style_id,), queue="gpu", soft_time_limit=soft, time_limit=soft + 60
        )
    )


def style_request(*, dataset, user, minutes: Any = None) -> StyleModel:
    """Queue the learning of `dataset`'s style (supervisors and admins of its lab, as for a
    lab-model training) within a wall-time budget of at most ``SEMWEB_STYLE_MAX_MINUTES``."""
    if not model_train_allowed(user, dataset):
        raise PermissionDenied("Only supervisors and admins of the lab may learn its style.")
    minutes = _minutes(minutes)
    with transaction.atomic():
        busy = StyleModel.objects.select_for_update().filter(dataset=dataset, status__in=RUNNING)
        if busy.exists():
            raise TransitionError("A style of this dataset is already being learned.")
        data = style_training_data(dataset)
        if not data["run_ids"]:
            raise ValidationError(
                {"dataset": "Learning a style needs approved real runs in the dataset."}
            )
        style = StyleModel.objects.create(
            lab=dataset.lab,
            dataset=dataset,
            name=f"{dataset.name} style · {timezone.now():%Y-%m-%d %H:%M}",
            training_data=data,
            parameters={
                "minutes": minutes,
                "crop_px": int(settings.SEMWEB_STYLE_CROP_PX),
                "max_steps": int(settings.SEMWEB_STYLE_MAX_STEPS) or None,
                "checkpoint_s": float(settings.SEMWEB_STYLE_CHECKPOINT_S),
            },
            progress={"step": 0, "seconds": 0.0, "history": [], "samples": []},
            created_by=user,
        )
        audit_record(
            actor=user,
            verb="style.learn",
            target=style,
            lab=dataset.lab,
            dataset=dataset.pk,
            minutes=minutes,
            images=data["images"],
        )
        _enqueue_learn(style.pk, minutes)
    return style


def _tries(parameters: dict) -> int:
    """The attempt number a style's current session may reach: a continued training gets a
    fresh allowance on top of the attempts its earlier sessions used (attempt numbers are the
    fencing tokens and never restart)."""
    return int(parameters.get("attempts_before", 0)) + max_attempts()


def style_claim(*, style_id: int, worker: str) -> int | None:
    params = StyleModel.objects.filter(pk=style_id).values_list("parameters", flat=True).first()
    attempt = claim_job(
        model=StyleModel,
        pk=style_id,
        worker=worker,
        queued=ModelStatus.QUEUED,
        running=ModelStatus.TRAINING,
        give_up=lambda reason: style_fail(style_id=style_id, reason=reason),
        tries=_tries(params or {}),
        stage="starting",
    )
    if attempt is not None:
        style = StyleModel.objects.get(pk=style_id)
        worker_event(
            style,
            "style.learn.start",
            attempt=attempt,
            worker=worker,
            resume_from_step=style.progress.get("step", 0),
        )
    return attempt


def _owned(style_id: int, attempt: int):
    return StyleModel.objects.filter(pk=style_id, status=ModelStatus.TRAINING, attempts=attempt)


def style_record(
    *, style_id: int, attempt: int, stage: str | None = None, progress: dict | None = None
) -> None:
    """Store stage and/or progress; raise `StyleAborted` when the job is no longer ours."""
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if stage is not None:
        fields["stage"] = stage[:32]
    if progress is not None:
        if len(progress.get("history", [])) > HISTORY_MAX:
            progress["history"] = progress["history"][::2]
        fields["progress"] = progress
    if not _owned(style_id, attempt).update(**fields):
        raise StyleAborted(f"style {style_id} attempt {attempt} no longer owns it")


def style_heartbeat(*, style_id: int, attempt: int) -> bool:
    return bool(_owned(style_id, attempt).update(heartbeat_at=timezone.now()))


def style_publish_samples(*, style_id: int, step: int, sheet: Path, progress: dict) -> None:
    """Copy the trainer's latest sample sheet (real | mask | two paintings per row) into
    storage and list it in ``progress["samples"]`` (the page shows them as they improve)."""
    if not sheet.exists():
        return
    name = default_storage.save(
        f"styles/samples/style-{style_id}-step{step}.png", ContentFile(sheet.read_bytes())
    )
    samples = [s for s in progress.get("samples", []) if s["step"] != step]
    samples.append({"step": step, "name": name})
    for old in samples[:-SAMPLES_KEPT]:
        default_storage.delete(old["name"])
    progress["samples"] = samples[-SAMPLES_KEPT:]


def style_complete(
    *, style_id: int, attempt: int, checkpoint: Path, result, progress: dict
) -> StyleModel | None:
    """Register the trained generator (content-addressed ``styles/<sha256>.pt``) with its
    stability report: training → ready. None when the job was lost meanwhile."""
    name, digest, size = store_weights(checkpoint, folder="styles")
    with transaction.atomic():
        style = _owned(style_id, attempt).select_for_update().first()
        if style is None:
            return None
        style.weights.name = name
        style.weights_sha256 = digest
        style.weights_size_bytes = size
        style.stability = result.stability
        style.wall_time_s = result.seconds
        style.parameters = {**style.parameters, "crop_px_used": result.crop_px}
        style.progress = {**progress, "step": result.steps, "seconds": result.seconds}
        style.status = ModelStatus.READY
        style.stage = "done"
        style.finished_at = timezone.now()
        style.heartbeat_at = style.finished_at
        style.save()
        worker_event(
            style,
            "style.learn.succeed",
            attempt=attempt,
            steps=result.steps,
            collapsed=result.stability.get("collapsed"),
        )
    return style


def _stop(qs, reason: str) -> str | None:
    """End the queued or running session of the style in ``qs``. A first training fails; a
    continued one (the style has registered weights) goes back to ready with the generator
    it had, the reason kept in ``error``: a crash or a cancel while training further must not
    take a usable style away. Returns the new status, None when nothing was running."""
    now = timezone.now()
    continued = qs.exclude(weights="").update(
        status=ModelStatus.READY,
        stage="",
        error=f"continued training stopped: {reason}"[:4000],
        finished_at=now,
    )
    if continued:
        return ModelStatus.READY
    if qs.update(status=ModelStatus.FAILED, error=reason[:4000], finished_at=now):
        return ModelStatus.FAILED
    return None


def style_fail(*, style_id: int, reason: str, attempt: int | None = None) -> bool:
    qs = StyleModel.objects.filter(pk=style_id, status__in=RUNNING)
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    now_status = _stop(qs, reason)
    if now_status is None:
        return False
    style = StyleModel.objects.get(pk=style_id)
    worker_event(
        style,
        "style.learn.fail",
        reason=reason,
        status=now_status,
    )
    return True


def style_release(*, style_id: int, attempt: int, reason: str) -> bool:
    """Give a claimed style back to the queue (its checkpoint stays for the next attempt)."""
    updated = _owned(style_id, attempt).update(
        status=ModelStatus.QUEUED, stage="", error=reason[:4000]
    )
    if updated:
        style = StyleModel.objects.get(pk=style_id)
        worker_event(
            style,
            "style.learn.retry",
            reason=reason,
            attempt=attempt,
        )
    return bool(updated)


def styles_reap(*, now=None) -> dict[str, int]:
    """Style trainings whose worker died: requeued while attempts remain, else failed."""
    return reap_lost(
        StyleModel.objects.filter(status=ModelStatus.TRAINING),
        now=now,
        key="style_id",
        release=style_release,
        requeue=lambda row: _enqueue_learn(row["pk"], float(row["parameters"].get("minutes", 1))),
        fail=style_fail,
        logger=log,
        label="style reaper",
        fields=("stage", "worker", "parameters"),
        reason=lambda row: f"worker {row['worker'] or '?'} lost during {row['stage'] or 'start'}",
        tries=lambda row: _tries(row["parameters"]),
        gave_up="{reason}; gave up after {attempts}",  # (its text has always lacked "attempts")
    )


def style_cancel(*, style: StyleModel, user) -> StyleModel:
    """Stop a queued or running style training (the worker notices at its next step); a
    continued training goes back to ready with its earlier generator (`_stop`)."""
    if not style_train_allowed(user, style):
        raise PermissionDenied("Only supervisors and admins of the lab may cancel a training.")
    qs = StyleModel.objects.filter(pk=style.pk, status__in=RUNNING)
    if _stop(qs, f"cancelled by {user.get_username()}") is None:
        raise TransitionError("Only queued or running style trainings can be cancelled.")
    style.refresh_from_db()
    audit_record(actor=user, verb="style.learn.cancel", target=style, lab=style.lab)
    return style


def style_continue(*, style: StyleModel, user, minutes: Any = None) -> StyleModel:
    """Train a ready style ``minutes`` more (at most ``SEMWEB_STYLE_MAX_MINUTES``), resuming
    from its registered checkpoint: the stored ``styles/<sha256>.pt`` holds both networks and
    both optimisers, and the worker puts it where the trainer resumes from. Its generator
    stays as it is until the new session registers one, and a session that stops early
    leaves it ready (`_stop`). Refused while it paints images (they would mix generators),
    while another style of its dataset learns, or when the stored checkpoint is gone."""
    if not style_train_allowed(user, style):
        raise PermissionDenied("Only supervisors and admins of the lab may train a style.")
    minutes = _minutes(minutes)
    with transaction.atomic():
        style = StyleModel.objects.select_for_update().get(pk=style.pk)
        if style.status != ModelStatus.READY:
            raise TransitionError(
                f"Only a ready style can be trained further; this one is {style.status}."
            )
        if style.generations.filter(
            status__in=[GenerationStatus.QUEUED, GenerationStatus.RUNNING]
        ).exists():
            raise TransitionError(
                "This style is generating images; continue its training once they are done."
            )
        if not style.weights.name or not default_storage.exists(style.weights.name):
            raise TransitionError(
                "The stored checkpoint of this style is gone, so its training cannot be "
                "continued; learn the dataset's style again."
            )
        if (
            style.dataset_id is not None
            and StyleModel.objects.filter(dataset_id=style.dataset_id, status__in=RUNNING)
            .exclude(pk=style.pk)
            .exists()
        ):
            raise TransitionError("A style of this dataset is already being learned.")
        progress = dict(style.progress or {})
        step = int(progress.get("step", 0))
        spent_s = float(progress.get("seconds", 0.0))
        cap_steps = int(settings.SEMWEB_STYLE_MAX_STEPS)
        progress["continued"] = [
            *progress.get("continued", []),
            {
                "from_step": step,
                "minutes": minutes,
                "by": user.get_username(),
                "at": timezone.now().isoformat(timespec="seconds"),
            },
        ]
        style.parameters = {
            **style.parameters,
            # The worker trains `minutes * 60 - progress.seconds`: exactly the new minutes.
            "minutes": round(spent_s / 60 + minutes, 3),
            "max_steps": step + cap_steps if cap_steps else None,
            "attempts_before": style.attempts,
        }
        style.progress = progress
        style.status = ModelStatus.QUEUED
        style.stage = ""
        style.error = ""
        style.finished_at = None
        style.save(
            update_fields=["parameters", "progress", "status", "stage", "error", "finished_at"]
        )
        audit_record(
            actor=user,
            verb="style.learn.continue",
            target=style,
            lab=style.lab,
            minutes=minutes,
            from_step=step,
        )
        _enqueue_learn(style.pk, minutes)
    return style


# --- generating -------------------------------------------------------------------------------


def _target_project(style: StyleModel):
    """The project the synthetic sample goes to: that of the dataset's first real run."""
    run_ids = style.training_data.get("run_ids") or []
    sample = (
        Sample.objects.filter(micrographs__runs__pk__in=run_ids, is_synthetic=False)
        .select_related("project")
        .order_by("project_id", "pk")
        .first()
    )
    if sample is None:
        raise ValidationError({"style": "The runs this style learned from are gone."})
    return sample.project


def _enqueue_generate(generation_id: int, n: int) -> None:
    from semweb.mlmodels.tasks import generate_images  # noqa: PLC0415  (services → tasks edge)

    soft = 600 + 30 * n  # painting a 512-px frame takes about a second on a CPU
    transaction.on_commit(
        lambda: generate_images.apply_async(
            (generation_id,), queue="gpu", soft_time_limit=soft, time_limit=soft + 60
        )
    )


def generation_request(*, style: StyleModel, user, n: Any) -> StyleGeneration:
    """Queue the painting of ``n`` procedural masks in `style` into a new sample flagged
    synthetic (in the project of the style's training data). Its runs are added to the
    style's dataset, where the lab-model training uses them for training only."""
    if not style_train_allowed(user, style):
        raise PermissionDenied("Only supervisors and admins of the lab may generate images.")
    n = parse_int(n, name="n", min_value=1, max_value=int(settings.SEMWEB_STYLE_MAX_IMAGES))
    if style.status != ModelStatus.READY:
        raise TransitionError("Only a ready style can generate images.")
    project = _target_project(style)
    with transaction.atomic():
        # Locked and checked again: a "continue training" in between would change the generator.
        locked = StyleModel.objects.select_for_update().filter(pk=style.pk).first()
        if locked is None or locked.status != ModelStatus.READY:
            raise TransitionError("Only a ready style can generate images.")
        sample = Sample.objects.create(
            project=project,
            name=f"Synthetic · {style.name}"[:200],
            material="synthetic (learned style)",
            synthesis_notes=(
                f"{n} procedural masks painted by learned style #{style.pk}; training "
                "material only, never part of statistics."
            ),
            tags=["synthetic"],
            is_synthetic=True,
            style_model=style,
            created_by=user,
        )
        generation = StyleGeneration.objects.create(
            style=style,
            sample=sample,
            n=n,
            image_px=int(settings.SEMWEB_STYLE_IMAGE_PX),
            created_by=user,
        )
        audit_record(
            actor=user, verb="style.generate", target=style, lab=style.lab, n=n, sample=sample.pk
        )
        _enqueue_generate(generation.pk, n)
    return generation


def generation_claim(*, generation_id: int, worker: str) -> int | None:
    return claim_job(
        model=StyleGeneration,
        pk=generation_id,
        worker=worker,
        queued=GenerationStatus.QUEUED,
        running=GenerationStatus.RUNNING,
        give_up=lambda reason: generation_fail(generation_id=generation_id, reason=reason),
    )


def _generation_owned(generation_id: int, attempt: int):
    return StyleGeneration.objects.filter(
        pk=generation_id, status=GenerationStatus.RUNNING, attempts=attempt
    )


def generation_heartbeat(*, generation_id: int, attempt: int) -> bool:
    return bool(_generation_owned(generation_id, attempt).update(heartbeat_at=timezone.now()))


def generation_add(
    *, generation_id: int, attempt: int, index: int, png: bytes, polygons: list
) -> None:
    """Store painted image ``index`` as an approved run of the synthetic sample (added to the
    style's dataset), and count it, in one transaction owned by ``attempt``."""
    with transaction.atomic():
        generation = (
            _generation_owned(generation_id, attempt)
            .select_for_update(of=("self",))
            .select_related("sample", "style__dataset", "created_by")
            .first()
        )
        if generation is None or generation.sample is None:
            raise StyleAborted(f"generation {generation_id} attempt {attempt} lost")
        if generation.done != index:
            return  # stored by an earlier attempt
        run = synthetic_run_create(
            sample=generation.sample,
            user=generation.created_by,
            filename=f"synthetic-{generation.pk}-{index:04d}.png",
            data=png,
            polygons=polygons,
            source=f"style {generation.style_id}",
        )
        if generation.style.dataset is not None:
            generation.style.dataset.runs.add(run)
        generation.done = index + 1
        generation.heartbeat_at = timezone.now()
        generation.save(update_fields=["done", "heartbeat_at"])


def _generation(generation_id: int) -> StyleGeneration:
    """A generation with its style and lab, for the audit events recorded on the style."""
    return StyleGeneration.objects.select_related("style__lab").get(pk=generation_id)


def generation_complete(*, generation_id: int, attempt: int) -> bool:
    updated = _generation_owned(generation_id, attempt).update(
        status=GenerationStatus.SUCCEEDED, finished_at=timezone.now()
    )
    if updated:
        generation = _generation(generation_id)
        worker_event(
            generation.style,
            "style.generate.succeed",
            sample=generation.sample_id,
            n=generation.done,
        )
    return bool(updated)


def generation_release(*, generation_id: int, attempt: int, reason: str) -> bool:
    """Give a claimed generation back to the queue; the next attempt paints from ``done`` on."""
    updated = _generation_owned(generation_id, attempt).update(
        status=GenerationStatus.QUEUED, error=reason[:4000]
    )
    if updated:
        generation = _generation(generation_id)
        worker_event(
            generation.style,
            "style.generate.retry",
            sample=generation.sample_id,
            done=generation.done,
            reason=reason,
            attempt=attempt,
        )
    return bool(updated)


def generations_reap(*, now=None) -> dict[str, int]:
    """Generations whose worker died: requeued while attempts remain (the next attempt
    resumes at ``done``: images are deterministic by index and `generation_add` stores each
    index once), else failed with the reason. Without this a dead generation would wait for
    Celery's redelivery of its message, which a purged or lost broker never sends."""
    return reap_lost(
        StyleGeneration.objects.filter(status=GenerationStatus.RUNNING),
        now=now,
        key="generation_id",
        release=generation_release,
        requeue=lambda row: _enqueue_generate(row["pk"], row["n"] - row["done"]),
        fail=generation_fail,
        logger=log,
        label="generation reaper",
        fields=("worker", "n", "done"),
        reason=lambda row: (
            f"worker {row['worker'] or '?'} lost after {row['done']} of {row['n']} images"
        ),
    )


def generation_fail(*, generation_id: int, reason: str, attempt: int | None = None) -> bool:
    qs = StyleGeneration.objects.filter(
        pk=generation_id, status__in=[GenerationStatus.QUEUED, GenerationStatus.RUNNING]
    )
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    return bool(
        qs.update(status=GenerationStatus.FAILED, error=reason[:4000], finished_at=timezone.now())
    )
