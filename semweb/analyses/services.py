"""Writes on analysis runs: creation, the worker's claim/progress/complete/fail, cancellation,
the reaper, and reviewers' edits (acceptance, calibration).

Pipeline transitions are conditional UPDATEs so two workers (or a worker and the reaper) can
never both own a run: every worker write carries the attempt number it claimed (a fencing token)
and is dropped when the run has moved on.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import tifffile
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from semweb.analyses import engine
from semweb.analyses.models import AnalysisRun, Method, Particle, ReviewState, RunStatus
from semweb.analyses.selectors import summarize_values
from semweb.audit.services import audit_record
from semweb.core.claims import claim_job, reap_lost
from semweb.core.errors import TransitionError
from semweb.core.params import parse_int_list, parse_pixel_size_nm
from semweb.labs.permissions import Access, access_to, require_run_write
from semweb.mlmodels.services import model_for_run

log = logging.getLogger(__name__)

# Stages the engine reports (each with the fraction done *within* it), then ours ("saving"),
# with the share of the whole bar each takes — measured on classical runs of 1–12 MP images,
# where segmenting and measuring dominate.
STAGES = ("reading", "calibrating", "segmenting", "measuring", "summarising", "saving")
_STAGE_SPAN = {
    "reading": (0.0, 0.05),
    "calibrating": (0.05, 0.20),
    "segmenting": (0.20, 0.70),
    "measuring": (0.70, 0.88),
    "summarising": (0.88, 0.92),
    "done": (0.92, 0.92),
    "saving": (0.92, 0.99),
}


def overall_progress(stage: str, fraction: float) -> float:
    """Position of the progress bar for `fraction` (0..1) done within `stage`."""
    lo, hi = _STAGE_SPAN.get(stage, (0.0, 0.0))
    return lo + (hi - lo) * max(0.0, min(1.0, float(fraction)))


class RunAborted(Exception):
    """The worker lost ownership of the run (cancelled, or reaped and handed to another)."""


def queue_for(method: str) -> str:
    """Model inference goes to `gpu` (one process holding the model); classical work to `cpu`.
    A worker started by `serve_all` listens on both, so a machine without a GPU serves both."""
    return "cpu" if method == Method.CLASSICAL else "gpu"


def _lab(run: AnalysisRun):
    return run.micrograph.sample.project.lab


# --- creation ---------------------------------------------------------------------------------


def _enqueue(run: AnalysisRun) -> None:
    # Lazy import: the services→tasks edge (tasks import services at module top).
    from semweb.analyses.tasks import run_analysis  # noqa: PLC0415

    queue = queue_for(run.method)
    run_id = run.pk
    transaction.on_commit(lambda: run_analysis.apply_async((run_id,), queue=queue))


def run_create(
    *,
    micrograph,
    user,
    method: str = Method.AUTO,
    parameters: dict[str, Any] | None = None,
    model=None,
) -> AnalysisRun:
    """Create a queued run of `micrograph` and enqueue it once the transaction commits.

    Needs ANNOTATE access to the micrograph's project (annotating labs analyse too). Model and
    auto runs use `model` (a registry entry the user may see) or, by default, the default
    model of the micrograph's lab; the run links to it.
    """
    if user is not None and access_to(user, micrograph) < Access.ANNOTATE:
        raise PermissionDenied("You may not analyse this micrograph.")
    if method not in Method.values:
        raise ValidationError({"method": f"unknown method {method!r}"})
    params = engine.normalise_parameters(parameters)  # ParameterError (a ValidationError)
    lab = micrograph.sample.project.lab
    if method != Method.CLASSICAL:
        model = model_for_run(user=user, lab=lab, model=model)
    elif model is not None:
        raise ValidationError({"model": "The classical method uses no model."})
    run = AnalysisRun.objects.create(
        micrograph=micrograph,
        created_by=user,
        method=method,
        parameters=params,
        engine_version=engine.engine_version(),
        model=model,
    )
    audit_record(
        actor=user,
        verb="run.create",
        target=run,
        lab=micrograph.sample.project.lab,
        method=method,
        parameters=params,
        micrograph=micrograph.pk,
        model=model.pk if model else None,
    )
    _enqueue(run)
    return run


def runs_create(
    *,
    micrographs: Iterable,
    user,
    method: str = Method.AUTO,
    parameters: dict | None = None,
    model=None,
) -> list[AnalysisRun]:
    """One run per micrograph (the "Analyse" button on a selection or a whole sample)."""
    with transaction.atomic():
        return [
            run_create(micrograph=m, user=user, method=method, parameters=parameters, model=model)
            for m in micrographs
        ]


# --- the worker's side ------------------------------------------------------------------------


def run_claim(*, run_id: int, worker: str) -> int | None:
    """Take the run: queued → running (or a running run whose worker stopped heartbeating,
    i.e. a redelivered message). Returns the attempt number (the fencing token) or None when
    someone else owns it, it finished, it was cancelled, or it ran out of attempts."""
    attempt = claim_job(
        model=AnalysisRun,
        pk=run_id,
        worker=worker,
        queued=RunStatus.QUEUED,
        running=RunStatus.RUNNING,
        give_up=lambda reason: run_fail(run_id=run_id, reason=reason),
        stage=STAGES[0],
        progress=0.0,
    )
    if attempt is None:
        return None
    run = AnalysisRun.objects.select_related("micrograph__sample__project__lab").get(pk=run_id)
    audit_record(
        actor=None, verb="run.start", target=run, lab=_lab(run), attempt=attempt, worker=worker
    )
    return attempt


def run_record_progress(*, run_id: int, attempt: int, stage: str, fraction: float) -> None:
    """Store the stage and the overall progress (`fraction` is within the stage, as the engine
    reports it); raise `RunAborted` when the run is no longer ours (this is how cancellation
    reaches a worker between stages)."""
    updated = AnalysisRun.objects.filter(
        pk=run_id, status=RunStatus.RUNNING, attempts=attempt
    ).update(
        stage=stage[:32],
        progress=overall_progress(stage, fraction),
        heartbeat_at=timezone.now(),
    )
    if not updated:
        raise RunAborted(f"run {run_id} attempt {attempt} no longer owns the run")


def run_heartbeat(*, run_id: int, attempt: int) -> bool:
    """Keep-alive from a worker thread while a long stage runs; False when no longer ours."""
    return bool(
        AnalysisRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, attempts=attempt).update(
            heartbeat_at=timezone.now()
        )
    )


def _labels_tiff(labels: np.ndarray) -> bytes:
    """The label map as a TIFF. zstd level 1 (imagecodecs): on a 4096 × 3072 map of 5 000
    particles it writes in ~55 ms and reads in ~35 ms, against ~240 / ~100 ms for zlib, at a
    smaller size (0.36 vs 0.43 MB); outline edits rewrite the map, so this is their budget."""
    buf = io.BytesIO()
    dtype = np.uint16 if int(labels.max(initial=0)) < 65536 else np.uint32
    tifffile.imwrite(
        buf,
        labels.astype(dtype, copy=False),
        compression="zstd",
        compressionargs={"level": 1},
    )
    return buf.getvalue()


def _particle_rows(run_id: int, result) -> list[Particle]:
    rows = []
    for p in result.particles:
        m = {k: (None if v is None else float(v)) for k, v in p.measurements.items()}
        x0, y0, x1, y1 = (int(v) for v in p.bbox_px)
        rows.append(
            Particle(
                run_id=run_id,
                index=int(p.label),
                polygon=[[round(float(x), 1), round(float(y), 1)] for x, y in p.polygon_px],
                bbox_x0=x0,
                bbox_y0=y0,
                bbox_x1=x1,
                bbox_y1=y1,
                measurements=m,
                ecd_nm=m.get("ecd_nm"),
                area_px=m.get("area_px") or 0.0,
                shape_class=p.shape_class or "",
                score=float(p.score),
                touches_border=bool(p.touches_border),
                accepted=True,
            )
        )
    return rows


def run_complete(*, run_id: int, attempt: int, result) -> AnalysisRun | None:
    """Store everything a successful analysis produced in ONE transaction: particles (bulk),
    summary, calibration, timings, versions and the label map. Returns None (and writes
    nothing) when the run was cancelled or handed to another attempt meanwhile."""
    labels_bytes = _labels_tiff(result.labels)
    with transaction.atomic():
        run = (
            AnalysisRun.objects.select_for_update()
            .filter(pk=run_id, status=RunStatus.RUNNING, attempts=attempt)
            .first()
        )
        if run is None:
            return None
        # Idempotent: a previous attempt that died mid-write left nothing (same transaction),
        # but be explicit so a retry can never duplicate particles.
        Particle.objects.filter(run_id=run_id).delete()
        Particle.objects.bulk_create(_particle_rows(run_id, result), batch_size=1000)
        cal = result.calibration
        run.labels_file.save(f"run-{run_id}-labels.tif", ContentFile(labels_bytes), save=False)
        run.status = RunStatus.SUCCEEDED
        run.stage = "done"
        run.progress = 1.0
        run.finished_at = timezone.now()
        run.heartbeat_at = run.finished_at
        run.pixel_size_nm = engine.json_safe(cal.pixel_size_nm)  # the engine may give float32
        run.calibration = engine.json_safe(cal.as_dict())
        run.analysed_region = engine.json_safe(result.analysed_region.as_dict())
        run.summary = engine.json_safe(result.summary)
        run.particle_count = len(result.particles)
        run.timings_ms = {k: float(v) for k, v in result.timings_ms.items()}
        run.engine_version = result.engine_version or run.engine_version
        run.model_version = result.model_version or ""
        run.path_taken = result.method[:32]
        run.segmentation = engine.json_safe(result.options.get("segmentation") or {})
        run.warnings = list(result.warnings) + list(cal.warnings)
        run.save()
        audit_record(
            actor=None,
            verb="run.succeed",
            target=run,
            lab=_lab(run),
            attempt=attempt,
            particles=run.particle_count,
            pixel_size_nm=run.pixel_size_nm,
            calibration_source=cal.source,
            method=run.path_taken,
        )
    return run


def _fail_now(run_id: int, reason: str, *, attempt: int | None) -> bool:
    qs = AnalysisRun.objects.filter(pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    if attempt is not None:
        qs = qs.filter(attempts=attempt)
    now = timezone.now()
    return bool(qs.update(status=RunStatus.FAILED, error=reason[:4000], finished_at=now))


def run_fail(*, run_id: int, reason: str, attempt: int | None = None) -> bool:
    """Mark the run failed with a reason people can read; False when it had already ended."""
    if not _fail_now(run_id, reason, attempt=attempt):
        return False
    run = AnalysisRun.objects.select_related("micrograph__sample__project__lab").get(pk=run_id)
    audit_record(
        actor=None, verb="run.fail", target=run, lab=_lab(run), reason=reason, attempt=run.attempts
    )
    return True


def run_release(*, run_id: int, attempt: int, reason: str) -> bool:
    """Give a claimed run back to the queue (transient error; the task will retry)."""
    updated = AnalysisRun.objects.filter(
        pk=run_id, status=RunStatus.RUNNING, attempts=attempt
    ).update(status=RunStatus.QUEUED, stage="", progress=0.0, error=reason[:4000])
    if updated:
        run = AnalysisRun.objects.select_related("micrograph__sample__project__lab").get(pk=run_id)
        audit_record(
            actor=None, verb="run.retry", target=run, lab=_lab(run), reason=reason, attempt=attempt
        )
    return bool(updated)


def run_cancel(*, run: AnalysisRun, user) -> AnalysisRun:
    """Cancel a queued or running run. A running worker notices at its next stage boundary
    (its progress write finds the run no longer running) and stops without storing results."""
    require_run_write(user, run)
    updated = AnalysisRun.objects.filter(
        pk=run.pk, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
    ).update(status=RunStatus.CANCELLED, finished_at=timezone.now())
    if not updated:
        raise TransitionError("Only queued or running analyses can be cancelled.")
    run.refresh_from_db()
    audit_record(actor=user, verb="run.cancel", target=run, lab=_lab(run))
    return run


def runs_reap(*, now=None) -> dict[str, int]:
    """Find runs whose worker died (running, no heartbeat for `SEMWEB_RUN_STALE_S`): requeue
    them while attempts remain, else fail them with the reason. Approved runs are never
    touched (they are not running, and the filter says so explicitly)."""
    return reap_lost(
        AnalysisRun.objects.filter(status=RunStatus.RUNNING).exclude(
            review_state=ReviewState.APPROVED
        ),
        now=now,
        key="run_id",
        release=run_release,
        requeue=lambda row: _enqueue(AnalysisRun.objects.get(pk=row["pk"])),
        fail=run_fail,
        logger=log,
        label="reaper",
    )


# --- reviewers' edits -------------------------------------------------------------------------


def _require_editable(run: AnalysisRun, user) -> None:
    """403 unless `user` may change `run`; 409 unless its state allows editing now."""
    require_run_write(user, run)
    if run.is_locked:
        raise TransitionError("This analysis is approved and read-only; start a new run.")
    if run.status != RunStatus.SUCCEEDED:
        raise TransitionError("Only finished analyses can be edited.")


def particles_set_accepted(
    *, run: AnalysisRun, user, indices: Iterable[int], accepted: bool
) -> int:
    """Reject or restore particles (by label index). Returns how many changed."""
    indices = sorted(set(parse_int_list(list(indices), name="indices")))
    with transaction.atomic():
        run = (
            AnalysisRun.objects.select_for_update()
            .select_related("micrograph__sample__project__lab")
            .get(pk=run.pk)
        )
        _require_editable(run, user)
        changed = list(
            run.particles.filter(index__in=indices)
            .exclude(accepted=accepted)
            .values_list("index", flat=True)
        )
        if not changed:
            return 0
        run.particles.filter(index__in=changed).update(accepted=accepted)
        run.revision += 1
        run.summary = _accepted_summary(run)  # of this revision
        run.save(update_fields=["revision", "summary"])
        audit_record(
            actor=user,
            verb="particles.accept" if accepted else "particles.reject",
            target=run,
            lab=_lab(run),
            indices=changed[:500],
            count=len(changed),
            revision=run.revision,
        )
    return len(changed)


def _accepted_summary(run: AnalysisRun) -> dict[str, Any]:
    rows = run.particles.filter(accepted=True, ecd_nm__isnull=False).values_list(
        "ecd_nm", "shape_class"
    )
    summary = summarize_values([r[0] for r in rows], [r[1] or "unclassified" for r in rows])
    return {**summary, "revision": run.revision}


def run_set_calibration(
    *,
    run: AnalysisRun,
    user,
    pixel_size_nm: float,
    method: str = "typed",
    line_px: float | None = None,
    length_nm: float | None = None,
) -> AnalysisRun:
    """Correct the pixel size by hand (typed, or a line drawn over the scale bar with its
    length): every particle's nm measurements and the summary are recomputed; source=manual."""
    pixel_size_nm = parse_pixel_size_nm(pixel_size_nm, required=True)
    with transaction.atomic():
        run = (
            AnalysisRun.objects.select_for_update()
            .select_related("micrograph__sample__project__lab")
            .get(pk=run.pk)
        )
        _require_editable(run, user)
        previous = run.pixel_size_nm
        particles = list(run.particles.all())
        for p in particles:
            p.measurements = engine.rescale_to_nm(p.measurements, pixel_size_nm)
            p.ecd_nm = p.measurements.get("ecd_nm")
        Particle.objects.bulk_update(particles, ["measurements", "ecd_nm"], batch_size=1000)
        run.pixel_size_nm = pixel_size_nm
        run.calibration = {
            **run.calibration,
            "pixel_size_nm": pixel_size_nm,
            "source": "manual",
            "confidence": 1.0,
            "reason": f"set by {user.get_username()} ({method})",
            "previous_pixel_size_nm": previous,
            "manual": {"method": method, "line_px": line_px, "length_nm": length_nm},
        }
        run.revision += 1
        run.summary = _accepted_summary(run)
        run.save(update_fields=["pixel_size_nm", "calibration", "summary", "revision"])
        audit_record(
            actor=user,
            verb="run.calibrate",
            target=run,
            lab=_lab(run),
            pixel_size_nm=pixel_size_nm,
            previous_pixel_size_nm=previous,
            method=method,
            line_px=line_px,
            length_nm=length_nm,
            revision=run.revision,
        )
    return run
