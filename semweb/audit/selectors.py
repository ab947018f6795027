"""Reading the audit log."""

from __future__ import annotations

from django.db import models
from django.db.models import QuerySet

from semweb.audit.models import AuditEvent


def audit_for_object(obj: models.Model) -> QuerySet[AuditEvent]:
    """The timeline of one object, oldest first."""
    return (
        AuditEvent.objects.filter(target_type=obj._meta.label_lower, target_id=str(obj.pk))
        .select_related("actor")
        .order_by("created_at", "id")
    )
