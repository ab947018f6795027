"""The model registry: versions of the particle model, the built-in one and each lab's
fine-tuned ones, with their weights, training data, metrics and life cycle.

`status` is the life cycle (queued → training → ready | failed; ready → promoted (the lab's
default, at most one per lab) → ready again when superseded; ready → retired). Transitions
happen in `semweb.mlmodels.services`, guarded and audited; worker writes carry the attempt
they claimed, exactly as analysis runs do.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from semweb.core.models import ClaimedJob


class ModelStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    PROMOTED = "promoted", "Lab default"
    RETIRED = "retired", "Retired"


# States in which a version can be used to analyse micrographs.
USABLE = (ModelStatus.READY, ModelStatus.PROMOTED)


class ModelVersion(ClaimedJob):
    # Owner: a lab, or none for the built-in model shipped with the engine.
    lab = models.ForeignKey(
        "labs.Lab", null=True, blank=True, on_delete=models.PROTECT, related_name="model_versions"
    )
    builtin = models.BooleanField(default=False)
    name = models.CharField(max_length=200)
    architecture = models.CharField(max_length=64, default="yolov8n-seg")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # The engine's version string (arch-semweb-<trained date>-<sha8>), recorded on every run.
    version = models.CharField(max_length=128, blank=True, db_index=True)

    # Weights: content-addressed (models/<sha256>.pt + its sidecar .json) in default storage.
    # Empty for the built-in model, whose weights ship with the engine.
    weights = models.FileField(upload_to="models/", blank=True, max_length=255)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    weights_size_bytes = models.PositiveBigIntegerField(default=0)

    # Training data and how it was used.
    dataset = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_versions",
    )
    # run ids (train / held-back eval), images and particles of each split, split seed.
    training_data = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)  # epochs, hours, imgsz, batch …
    metrics = models.JSONField(default=dict, blank=True)  # candidate / parent / classical
    beats_parent = models.BooleanField(null=True, blank=True)
    wall_time_s = models.FloatField(null=True, blank=True)
    hardware = models.CharField(max_length=200, blank=True)

    # Life cycle (the worker protocol's fields come from `ClaimedJob`).
    status = models.CharField(
        max_length=16, choices=ModelStatus.choices, default=ModelStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=32, blank=True)
    progress = models.JSONField(default=dict, blank=True)  # epoch, epochs, history [...]

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promoted_at = models.DateTimeField(null=True, blank=True)  # last time it became default
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lab"],
                condition=Q(status="promoted"),
                name="one_default_model_per_lab",
            ),
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(builtin=True),
                name="one_builtin_row_per_version",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def is_finished_training(self) -> bool:
        return self.status not in (ModelStatus.QUEUED, ModelStatus.TRAINING)

    @property
    def usable(self) -> bool:
        return self.status in USABLE or self.builtin


class StyleModel(ClaimedJob):
    """A lab's learned micrograph style: a mask-conditioned generator trained on a dataset's
    approved real runs (``analysis.synth.learned``), used to paint procedural masks into
    synthetic training images. Life cycle queued → training → ready | failed, with the same
    claim protocol as `ModelVersion` (``semweb.core.claims``); the checkpoint on the worker's
    disk lets a later attempt resume after a worker died."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="style_models")
    dataset = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="style_models",
    )
    name = models.CharField(max_length=200)
    training_data = models.JSONField(default=dict, blank=True)  # run ids, images, particles
    parameters = models.JSONField(default=dict, blank=True)  # minutes, crop_px, max_steps …
    # Generator checkpoint: content-addressed (styles/<sha256>.pt) in default storage.
    weights = models.FileField(upload_to="styles/", blank=True, max_length=255)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    weights_size_bytes = models.PositiveBigIntegerField(default=0)
    stability = models.JSONField(default=dict, blank=True)  # analysis.synth.learned.stability
    wall_time_s = models.FloatField(null=True, blank=True)

    status = models.CharField(
        max_length=16, choices=ModelStatus.choices, default=ModelStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=32, blank=True)
    # step, steps, seconds, history [{step, d_real, d_fake, g_adv, …}] (thinned), samples
    # [{step, name}] (the sample sheets as they improve), resumed [...].
    progress = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def usable(self) -> bool:
        return self.status == ModelStatus.READY


class GenerationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class StyleGeneration(ClaimedJob):
    """One "Generate N training images" request: N procedural masks painted in a style into a
    new synthetic sample (each image an approved run whose particles are the exact mask)."""

    style = models.ForeignKey(StyleModel, on_delete=models.PROTECT, related_name="generations")
    sample = models.OneToOneField(
        "catalogue.Sample",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generation",
    )
    n = models.PositiveIntegerField()
    done = models.PositiveIntegerField(default=0)
    image_px = models.PositiveIntegerField(default=512)
    status = models.CharField(
        max_length=16,
        choices=GenerationStatus.choices,
        default=GenerationStatus.QUEUED,
        db_index=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.n} images in style {self.style_id} ({self.status})"
