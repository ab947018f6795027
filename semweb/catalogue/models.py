"""Projects → samples → micrographs, and the sharing of projects with other labs."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from semweb.labs.models import ShareGrant


class Project(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["lab", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class ProjectShare(ShareGrant):
    """A grant of one project to another lab, at view or annotate level."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="shares")
    lab = models.ForeignKey("labs.Lab", on_delete=models.CASCADE, related_name="project_shares")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "lab"], name="one_share_per_project_lab")
        ]

    def __str__(self) -> str:
        return f"{self.project} shared with {self.lab} ({self.level})"


class Sample(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="samples")
    name = models.CharField(max_length=200)
    material = models.CharField(max_length=200, blank=True)
    synthesis_notes = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    # Synthetic: micrographs painted by a learned style (`mlmodels.StyleModel`) from procedural
    # masks. Training material only: never part of sample, project or dataset statistics.
    is_synthetic = models.BooleanField(default=False, db_index=True)
    style_model = models.ForeignKey(
        "mlmodels.StyleModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="samples",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["project", "name"])]

    def __str__(self) -> str:
        return self.name


def original_upload_to(instance: Micrograph, filename: str) -> str:
    """Originals are content-addressed: the path is derived from the sha256, never the name."""
    ext = {"TIFF": "tif", "PNG": "png", "JPEG": "jpg", "BMP": "bmp"}.get(instance.format, "bin")
    return f"originals/{instance.sha256[:2]}/{instance.sha256}.{ext}"


class Micrograph(models.Model):
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="micrographs")
    original = models.FileField(upload_to=original_upload_to, max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    original_filename = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    format = models.CharField(max_length=8)  # TIFF, PNG, JPEG, BMP
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bit_depth = models.PositiveSmallIntegerField()
    metadata = models.JSONField(default=dict, blank=True)  # instrument metadata as read
    sidecar = models.FileField(upload_to="sidecars/", null=True, blank=True, max_length=255)
    sidecar_filename = models.CharField(max_length=255, blank=True)
    # Calibration of the stored image; None means uncalibrated (never a fake 1.0).
    pixel_size_nm = models.FloatField(null=True, blank=True)
    pixel_size_source = models.CharField(max_length=64, blank=True)
    calibration = models.JSONField(default=dict, blank=True)
    preview = models.ImageField(upload_to="previews/", null=True, blank=True, max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["sample", "sha256"], name="same_bytes_once_per_sample")
        ]
        indexes = [models.Index(fields=["sample", "-uploaded_at"])]

    def __str__(self) -> str:
        return self.original_filename
