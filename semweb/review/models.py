"""Comments and decisions on runs; the states themselves live on `AnalysisRun.review_state`."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CommentKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    SUBMIT = "submit", "Submitted for review"
    APPROVE = "approve", "Approved"
    REQUEST_CHANGES = "request_changes", "Changes requested"


class ReviewComment(models.Model):
    run = models.ForeignKey(
        "analyses.AnalysisRun", on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=CommentKind.choices, default=CommentKind.COMMENT)
    body = models.TextField(blank=True)
    particle = models.ForeignKey(
        "analyses.Particle", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["run", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on run {self.run_id} by {self.author_id}"
