"""Writing to the audit log: every service that changes state calls `audit_record`."""

from __future__ import annotations

from typing import Any

from django.db import models

from semweb.audit.models import AuditEvent


def audit_record(*, actor, verb: str, target: models.Model, lab=None, **data: Any) -> AuditEvent:
    """Append one event. `actor` may be None for system actions (worker, reaper)."""
    return AuditEvent.objects.create(
        actor=actor if (actor is not None and actor.is_authenticated) else None,
        lab=lab,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        data=data,
    )


def worker_event(target: models.Model, verb: str, **data: Any) -> AuditEvent:
    """An event no person caused (a worker claimed, finished, failed or gave back a job; a
    reaper took it away), recorded on ``target`` in its own lab (``target.lab``)."""
    return audit_record(actor=None, verb=verb, target=target, lab=target.lab, **data)
