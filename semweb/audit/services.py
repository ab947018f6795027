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
