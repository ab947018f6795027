"""Analysis runs and the particles they found.

A run has two independent state axes: the pipeline `status` (what the worker did) and the
`review_state` (what people decided). Transitions happen only in services, guarded and audited.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from semweb.core.models import ClaimedJob


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ReviewState(models.TextChoices):
    UNREVIEWED = "unreviewed", "Unreviewed"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"


class Method(models.TextChoices):
    AUTO = "auto", "Auto (model, classical fallback)"
    MODEL = "model", "Model (YOLOv8-seg)"
    CLASSICAL = "classical", "Classical (threshold + watershed)"


class AnalysisRun(ClaimedJob):
    micrograph = models.ForeignKey(
        "catalogue.Micrograph", on_delete=models.CASCADE, related_name="runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    # What was asked and what ran.
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.AUTO)
    parameters = models.JSONField(default=dict, blank=True)
    engine_version = models.CharField(max_length=32, blank=True)
    model_version = models.CharField(max_length=128, blank=True)
    # The registry entry the run used (None for classical runs and runs from before it).
    model = models.ForeignKey(
        "mlmodels.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
    )
    path_taken = models.CharField(max_length=32, blank=True)  # e.g. "model", "classical"
    # How the engine segmented: particle scale (estimate or the user's), area floor, auto's
    # choice and reason, inference zoom (``AnalysisResult.options["segmentation"]``).
    segmentation = models.JSONField(default=dict, blank=True)

    # Pipeline axis.
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0.0)  # 0..1
    timings_ms = models.JSONField(default=dict, blank=True)

    # Results (written in one transaction with the particles).
    pixel_size_nm = models.FloatField(null=True, blank=True)
    calibration = models.JSONField(default=dict, blank=True)
    analysed_region = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    particle_count = models.PositiveIntegerField(default=0)
    labels_file = models.FileField(upload_to="labels/", null=True, blank=True, max_length=255)
    overlay = models.ImageField(upload_to="overlays/", null=True, blank=True, max_length=255)
    warnings = models.JSONField(default=list, blank=True)

    # Review axis.
    review_state = models.CharField(
        max_length=20, choices=ReviewState.choices, default=ReviewState.UNREVIEWED, db_index=True
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every edit of acceptance/calibration/outlines; guards approval racing an edit.
    revision = models.PositiveIntegerField(default=0)
    # Bumped on every change of outlines (edit, undo, redo), never reused: keys derived files
    # such as the review page's geometry document.
    geometry_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["micrograph", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
            models.Index(fields=["review_state", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.micrograph_id} ({self.status}/{self.review_state})"

    @property
    def is_finished(self) -> bool:
        return self.status in {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}

    @property
    def is_locked(self) -> bool:
        """Approved results are immutable: a change means a new run."""
        return self.review_state == ReviewState.APPROVED


class Particle(models.Model):
    # Everything a particle is, apart from its run: what the API shows and what an outline
    # edit snapshots to be undone.
    STATE_FIELDS = (
        "index",
        "polygon",
        "bbox_x0",
        "bbox_y0",
        "bbox_x1",
        "bbox_y1",
        "measurements",
        "ecd_nm",
        "area_px",
        "shape_class",
        "score",
        "touches_border",
        "accepted",
        "manual",
    )

    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="particles")
    index = models.PositiveIntegerField()  # value in the run's label map
    polygon = models.JSONField()  # [[x, y], ...] in pixels of the stored image
    bbox_x0 = models.IntegerField()
    bbox_y0 = models.IntegerField()
    bbox_x1 = models.IntegerField()
    bbox_y1 = models.IntegerField()
    measurements = models.JSONField(default=dict)  # names carry units: ecd_nm, area_px, …
    # Denormalised so that statistics and filters are plain queries.
    ecd_nm = models.FloatField(null=True, blank=True)
    area_px = models.FloatField(default=0.0)
    shape_class = models.CharField(max_length=16, blank=True)
    score = models.FloatField(default=1.0)
    touches_border = models.BooleanField(default=False)
    accepted = models.BooleanField(default=True)
    # Provenance: drawn or corrected by a person (add, reshape, trim, split, merge) rather than
    # found by the engine. Exported with the outlines; training data can weigh it.
    manual = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="one_particle_per_label")
        ]
        indexes = [models.Index(fields=["run", "accepted"])]

    def __str__(self) -> str:
        return f"Particle {self.index} of run {self.run_id}"


class EditOp(models.TextChoices):
    ADD = "add", "Drew a particle"
    RESHAPE = "reshape", "Redrew a particle"
    TRIM = "trim", "Trimmed a particle"
    DELETE = "delete", "Deleted a particle"
    SPLIT = "split", "Split a particle"
    MERGE = "merge", "Merged particles"


class ParticleEdit(models.Model):
    """One manual outline edit of a run, with what it needs to be undone and redone.

    ``before`` and ``after`` list the affected particles as they were and became: each item
    is ``{"row": {field: value}, "mask": Mask.to_json()}`` (see ``analysis.edit.Mask``). Undo
    swaps ``after`` for ``before`` in the rows and the label map; redo the reverse. History is
    linear: a new edit drops the steps that were undone.
    """

    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="edits")
    seq = models.PositiveIntegerField()
    op = models.CharField(max_length=16, choices=EditOp.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(default=list)
    after = models.JSONField(default=list)
    undone = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_edit_per_seq")]

    def __str__(self) -> str:
        return f"Edit {self.seq} ({self.op}) of run {self.run_id}"
