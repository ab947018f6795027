"""The claim protocol every background job shares (analysis runs, model trainings, style
trainings, generations).

A worker owns a job only through a conditional UPDATE that moves it from queued to running (or
takes over a running job whose worker stopped heartbeating: a redelivered message) and bumps
``attempts``. The attempt it got is its fencing token: every later write is filtered on it, so
two workers never both own a job. One home for the rule, its timings and its give-up point.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone


def max_attempts() -> int:
    """Deliveries of one job before it is failed for good (a poison image must not loop)."""
    return int(getattr(settings, "SEMWEB_RUN_MAX_ATTEMPTS", 3))


def stale_after() -> timedelta:
    """No heartbeat for this long means the worker died (heartbeats come every few seconds)."""
    return timedelta(seconds=float(getattr(settings, "SEMWEB_RUN_STALE_S", 120)))


def lost_worker(now=None) -> Q:
    """Running jobs whose worker is gone: no heartbeat for `stale_after`, or none at all since
    a start that long ago (it died before its first beat). What every reaper looks for."""
    cutoff = (now or timezone.now()) - stale_after()
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


def claim_job(
    *,
    model: type[models.Model],
    pk: int,
    worker: str,
    queued: str,
    running: str,
    give_up: Callable[[str], None],
    tries: int | None = None,
    **reset: Any,
) -> int | None:
    """queued → running for row ``pk`` of ``model`` (fields ``status``, ``attempts``,
    ``error``, ``worker``, ``started_at``, ``heartbeat_at``, ``finished_at``); ``reset``
    holds the job's own start values (stage, progress). Returns the attempt, or None when the
    job is not ours: someone else owns it, it finished or was cancelled, or it has used its
    attempts (then ``give_up(reason)`` fails it, inside the same transaction). ``tries``
    (default `max_attempts`) is where that point lies: a job that is started again after it
    finished (a style training continued) gets a fresh allowance on top of the attempts it
    used, so its attempt numbers, the fencing tokens, never repeat."""
    now = timezone.now()
    claimable = Q(status=queued) | Q(status=running, heartbeat_at__lt=now - stale_after())
    with transaction.atomic():
        row = (
            model.objects.select_for_update()
            .filter(claimable, pk=pk)
            .values("attempts", "error")
            .first()
        )
        if row is None:
            return None
        if row["attempts"] >= (max_attempts() if tries is None else tries):
            reason = f"gave up after {row['attempts']} attempts"
            if row["error"]:
                reason += f"; last error: {row['error']}"
            give_up(reason)
            return None
        attempt = row["attempts"] + 1
        model.objects.filter(pk=pk).update(
            status=running,
            attempts=attempt,
            worker=worker[:128],
            error="",
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            **reset,
        )
    return attempt


def lost_reason(row: dict[str, Any]) -> str:
    """Why a reaper takes a job away, from its ``worker``, ``stage`` and ``heartbeat_at``."""
    heartbeat_at = row["heartbeat_at"]
    since = heartbeat_at.isoformat(timespec="seconds") if heartbeat_at else "start"
    where = f"worker {row['worker'] or '?'} lost during {row['stage'] or 'start'}"
    return f"{where} (no heartbeat since {since})"


def reap_lost(
    running: models.QuerySet,
    *,
    key: str,
    release: Callable[..., bool],
    requeue: Callable[[dict[str, Any]], None],
    fail: Callable[..., bool],
    logger: logging.Logger,
    label: str,
    now=None,
    fields: tuple[str, ...] = ("stage", "heartbeat_at", "worker"),
    reason: Callable[[dict[str, Any]], str] = lost_reason,
    tries: Callable[[dict[str, Any]], int] | None = None,
    gave_up: str = "{reason}; gave up after {attempts} attempts",
) -> dict[str, int]:
    """The reaper every job shares: the rows of ``running`` (its running jobs) whose worker is
    gone (`lost_worker`) are released and requeued while attempts remain, else failed.

    Each row is a dict of ``pk``, ``attempts`` and ``fields``. ``release`` and ``fail`` are the
    job's own services, called as ``release(**{key: pk}, attempt=, reason=)``; ``requeue(row)``
    sends its message again (inside a transaction, so on commit) once ``release`` took it.
    ``reason(row)`` says why, ``tries(row)`` (default `max_attempts`) is the attempt at which
    the job is failed with ``gave_up`` instead. Returns the counts, also logged as
    ``"<label>: {counts}"`` when anything was stale."""
    now = now or timezone.now()
    stale = list(running.filter(lost_worker(now)).values("pk", "attempts", *fields))
    counts = {"requeued": 0, "failed": 0}
    for row in stale:
        job = {key: row["pk"], "attempt": row["attempts"]}
        why = reason(row)
        if row["attempts"] < (max_attempts() if tries is None else tries(row)):
            if release(**job, reason=why):
                with transaction.atomic():
                    requeue(row)
                counts["requeued"] += 1
        elif fail(**job, reason=gave_up.format(reason=why, attempts=row["attempts"])):
            counts["failed"] += 1
    if stale:
        logger.warning("%s: %s", label, counts)
    return counts
