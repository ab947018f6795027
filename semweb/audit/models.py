"""An append-only log of who did what to which object."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One action. Rows are never updated or deleted (enforced in `save`/`delete`)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lab = models.ForeignKey(
        "labs.Lab", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    verb = models.CharField(max_length=64)  # e.g. "run.approve", "micrograph.upload"
    target_type = models.CharField(max_length=64)  # model label, e.g. "analyses.analysisrun"
    target_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "created_at"])]

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M}"
        return f"{when} {self.actor_id} {self.verb} {self.target_type}#{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")
