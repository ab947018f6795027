"""Curated datasets of approved runs, their sharing, and export jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from semweb.labs.models import ShareGrant


class Dataset(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    runs = models.ManyToManyField("analyses.AnalysisRun", blank=True, related_name="datasets")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class DatasetShare(ShareGrant):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="shares")
    lab = models.ForeignKey("labs.Lab", on_delete=models.CASCADE, related_name="dataset_shares")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "lab"], name="one_share_per_dataset_lab")
        ]

    def __str__(self) -> str:
        return f"{self.dataset} → {self.lab} ({self.level})"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ExportFormat(models.TextChoices):
    COCO = "coco", "COCO instance segmentation (zip)"
    YOLO = "yolo", "Ultralytics YOLO-seg (zip)"


class DatasetExport(models.Model):
    """A background export of a dataset; the file obeys the dataset's permissions."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.FloatField(default=0.0)
    file = models.FileField(upload_to="exports/", null=True, blank=True, max_length=255)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export of {self.dataset} ({self.status})"
