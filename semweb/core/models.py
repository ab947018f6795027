"""Fields shared by every background job (analysis runs, model trainings, style trainings,
generations)."""

from __future__ import annotations

from django.db import models


class ClaimedJob(models.Model):
    """The field set `semweb.core.claims.claim_job` (and the reapers, through
    `semweb.core.claims.lost_worker` and `reap_lost`) relies on: the attempt that is the
    fencing token, the worker that owns it, its start, heartbeat and end, and the last error.
    ``status`` (each job has its own choices) and ``created_by`` stay on the concrete model."""

    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=128, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
