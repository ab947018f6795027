"""The worker's side of learned styles: read the approved runs (the same annotated images the
lab-model training reads, `training.annotated_image`), hand them to the engine's generator
training through the engine seam, report steps and sample sheets, register the result; and
paint a generation's images one by one. Called by the thin Celery tasks."""

from __future__ import annotations

import threading
import time
from typing import Any

from semweb.analyses.engine import style_learn, style_load, style_paint, style_side_file
from semweb.analyses.models import AnalysisRun
from semweb.mlmodels import styles
from semweb.mlmodels.models import StyleGeneration, StyleModel
from semweb.mlmodels.training import annotated_image

RECORD_EVERY_S = 2.0  # progress writes between checkpoints: at most one per this many seconds


def style_execute(*, style_id: int, attempt: int, lost: threading.Event) -> StyleModel:
    """Run one claimed attempt to the end (or to the budget). Raises `styles.StyleAborted`
    when the style was cancelled or taken over."""
    style = StyleModel.objects.get(pk=style_id)
    params = style.parameters
    progress: dict[str, Any] = dict(style.progress or {})
    progress.setdefault("history", [])
    progress.setdefault("samples", [])
    if progress.get("step"):
        progress.setdefault("resumed", []).append(
            {"attempt": attempt, "from_step": progress["step"]}
        )
    styles.style_record(style_id=style_id, attempt=attempt, stage="reading", progress=progress)
    runs = AnalysisRun.objects.filter(pk__in=style.training_data["run_ids"]).select_related(
        "micrograph"
    )
    images = [annotated_image(run) for run in runs.order_by("pk")]
    checkpoint = styles.style_checkpoint(style_id)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if styles.style_restore_checkpoint(style, attempt):
        progress.setdefault("restored", []).append(
            {"attempt": attempt, "sha256": style.weights_sha256}
        )
    budget_s = max(0.0, float(params["minutes"]) * 60 - float(progress.get("seconds", 0.0)))
    max_steps = params.get("max_steps")
    if max_steps:
        max_steps = max(0, int(max_steps) - int(progress.get("step", 0)))
    styles.style_record(style_id=style_id, attempt=attempt, stage="training")
    last = [0.0]
    t0 = time.monotonic()
    spent_before = float(progress.get("seconds", 0.0))

    def on_step(step: int, losses: dict[str, float], saved: bool) -> None:
        progress["step"] = step
        progress["seconds"] = round(spent_before + time.monotonic() - t0, 1)
        # A resumed attempt restarts at its checkpoint's step: rows after it are replaced.
        progress["history"] = [h for h in progress["history"] if h["step"] < step] + [
            {"step": step, "attempt": attempt, **{k: round(v, 4) for k, v in losses.items()}}
        ]
        if saved:
            styles.style_publish_samples(
                style_id=style_id,
                step=step,
                sheet=style_side_file(checkpoint, "samples.png"),
                progress=progress,
            )
        now = time.monotonic()
        # A saved step is recorded here, before the trainer writes the checkpoint holding it:
        # a worker killed in between resumes from the step before, never past the history.
        if saved or now - last[0] >= RECORD_EVERY_S:
            styles.style_record(style_id=style_id, attempt=attempt, progress=progress)
            last[0] = now

    try:
        result = style_learn(
            images,
            checkpoint,
            seconds=budget_s,
            crop_px=int(params["crop_px"]),
            max_steps=max_steps,
            checkpoint_every_s=float(params.get("checkpoint_s", 60.0)),
            on_step=on_step,
            should_stop=lost.is_set,
        )
    except Exception:
        if lost.is_set():
            raise styles.StyleAborted(f"style {style_id} attempt {attempt} lost") from None
        raise
    if lost.is_set():
        raise styles.StyleAborted(f"style {style_id} attempt {attempt} lost")
    if not any(s["step"] == result.steps for s in progress["samples"]):
        # The last step was published as saved; this is for a session that trained none.
        styles.style_publish_samples(
            style_id=style_id,
            step=result.steps,
            sheet=style_side_file(checkpoint, "samples.png"),
            progress=progress,
        )
    styles.style_record(style_id=style_id, attempt=attempt, stage="registering", progress=progress)
    done = styles.style_complete(
        style_id=style_id, attempt=attempt, checkpoint=checkpoint, result=result, progress=progress
    )
    if done is None:
        raise styles.StyleAborted(f"style {style_id} attempt {attempt} lost at the end")
    return done


def generation_execute(*, generation_id: int, attempt: int, lost: threading.Event) -> None:
    """Paint the images a generation still lacks (from ``done`` on) and store each one."""
    generation = StyleGeneration.objects.select_related("style").get(pk=generation_id)
    style = style_load(generation.style.weights.path)
    for index in range(generation.done, generation.n):
        if lost.is_set():
            raise styles.StyleAborted(f"generation {generation_id} attempt {attempt} lost")
        png, polygons = style_paint(style, index, size_px=generation.image_px, seed=generation.pk)
        styles.generation_add(
            generation_id=generation_id,
            attempt=attempt,
            index=index,
            png=png,
            polygons=polygons,
        )
    if not styles.generation_complete(generation_id=generation_id, attempt=attempt):
        raise styles.StyleAborted(f"generation {generation_id} attempt {attempt} lost at the end")
