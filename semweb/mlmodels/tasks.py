"""Celery tasks of the model registry: ids in, re-fetch, one service call each.

`train_model` runs on the `gpu` queue (a CPU worker started by `serve_all` listens there
too). It claims the version with a conditional UPDATE carrying the attempt, exactly as
`analyses.run_analysis` claims runs, so a redelivered message is a no-op while another
attempt owns the training; a worker that dies mid-training is noticed by the reaper (no
heartbeat) and the next attempt resumes from the last epoch's checkpoint.
"""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.db import close_old_connections, connection

from semweb.analyses.tasks import TRANSIENT, Heartbeat, Reaper
from semweb.mlmodels import services, style_worker, styles, training

log = logging.getLogger(__name__)


@shared_task(bind=True, name="mlmodels.train_model", max_retries=3, acks_late=True)
def train_model(self, version_id: int) -> str:
    worker = getattr(self.request, "hostname", None) or socket.gethostname()
    attempt = services.training_claim(version_id=version_id, worker=worker)
    if attempt is None:
        log.info("model %s: nothing to do (not claimable)", version_id)
        return "skipped"
    heartbeat = Heartbeat(
        f"model-{version_id}",
        lambda: services.training_heartbeat(version_id=version_id, attempt=attempt),
    )
    heartbeat.start()
    try:
        training.training_execute(version_id=version_id, attempt=attempt, lost=heartbeat.lost)
        return "ready"
    except services.TrainingAborted:
        log.info("model %s attempt %s: aborted (cancelled or reaped)", version_id, attempt)
        return "aborted"
    except SoftTimeLimitExceeded:
        services.training_fail(version_id=version_id, attempt=attempt, reason="time limit exceeded")
        return "failed"
    except TRANSIENT as exc:
        if not connection.in_atomic_block:
            close_old_connections()
        if self.request.retries >= self.max_retries:
            services.training_fail(
                version_id=version_id, attempt=attempt, reason=f"{type(exc).__name__}: {exc}"
            )
            return "failed"
        services.training_release(
            version_id=version_id,
            attempt=attempt,
            reason=f"transient error, retrying: {type(exc).__name__}: {exc}",
        )
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    except Exception as exc:  # bad data or a crash in training: say why, do not retry
        log.exception("model %s failed", version_id)
        services.training_fail(
            version_id=version_id, attempt=attempt, reason=f"{type(exc).__name__}: {exc}"
        )
        return "failed"
    finally:
        heartbeat.stop()


@shared_task(bind=True, name="mlmodels.learn_style", max_retries=3, acks_late=True)
def learn_style(self, style_id: int) -> str:
    """Learn a dataset's style (`styles`): claimed and fenced like `train_model`; a worker
    that dies leaves a checkpoint the next attempt resumes."""
    worker = getattr(self.request, "hostname", None) or socket.gethostname()
    attempt = styles.style_claim(style_id=style_id, worker=worker)
    if attempt is None:
        log.info("style %s: nothing to do (not claimable)", style_id)
        return "skipped"
    heartbeat = Heartbeat(
        f"style-{style_id}",
        lambda: styles.style_heartbeat(style_id=style_id, attempt=attempt),
    )
    heartbeat.start()
    try:
        style_worker.style_execute(style_id=style_id, attempt=attempt, lost=heartbeat.lost)
        return "ready"
    except styles.StyleAborted:
        log.info("style %s attempt %s: aborted (cancelled or reaped)", style_id, attempt)
        return "aborted"
    except SoftTimeLimitExceeded:
        styles.style_fail(style_id=style_id, attempt=attempt, reason="time limit exceeded")
        return "failed"
    except Exception as exc:  # bad data or a crash in training: say why, do not retry
        log.exception("style %s failed", style_id)
        styles.style_fail(style_id=style_id, attempt=attempt, reason=f"{type(exc).__name__}: {exc}")
        return "failed"
    finally:
        heartbeat.stop()


@shared_task(bind=True, name="mlmodels.generate_images", max_retries=3, acks_late=True)
def generate_images(self, generation_id: int) -> str:
    """Paint a generation's images into its synthetic sample (`styles.generation_request`)."""
    worker = getattr(self.request, "hostname", None) or socket.gethostname()
    attempt = styles.generation_claim(generation_id=generation_id, worker=worker)
    if attempt is None:
        return "skipped"
    heartbeat = Heartbeat(
        f"generation-{generation_id}",
        lambda: styles.generation_heartbeat(generation_id=generation_id, attempt=attempt),
    )
    heartbeat.start()
    try:
        style_worker.generation_execute(
            generation_id=generation_id, attempt=attempt, lost=heartbeat.lost
        )
        return "succeeded"
    except styles.StyleAborted:
        return "aborted"
    except Exception as exc:
        log.exception("generation %s failed", generation_id)
        styles.generation_fail(
            generation_id=generation_id, attempt=attempt, reason=f"{type(exc).__name__}: {exc}"
        )
        return "failed"
    finally:
        heartbeat.stop()


def _reap_trainings() -> None:
    """Every worker reaps dead trainings, style trainings and generations (`Reaper`)."""
    services.trainings_reap()
    styles.styles_reap()
    styles.generations_reap()


@worker_ready.connect
def _reap_trainings_in_the_worker(**_kwargs) -> None:
    Reaper(
        "semweb-training-reaper", _reap_trainings, failed="training reaper failed", logger=log
    ).start()
