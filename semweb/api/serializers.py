"""Serializers: shapes only. Every write goes through a service; every read through a selector
or `semweb.labs.permissions.visible`."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from semweb.analyses.models import AnalysisRun, Particle
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.core.params import (
    COMMENT_MAX_CHARS,
    DESCRIPTION_MAX_CHARS,
    MAX_TAGS,
    NAME_MAX_CHARS,
    NOTES_MAX_CHARS,
    TAG_MAX_CHARS,
    BoundedIntegerField,
    IdField,
    StrictBooleanField,
)
from semweb.datasets.models import Dataset, DatasetExport
from semweb.labs.models import Lab
from semweb.mlmodels.models import ModelVersion, StyleGeneration, StyleModel


class LabSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Lab
        fields = ["id", "name", "slug", "description", "role"]

    def get_role(self, lab: Lab) -> str | None:
        roles = self.context.get("roles") or {}
        return roles.get(lab.pk)


class ProjectSerializer(serializers.ModelSerializer):
    lab = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "lab", "name", "description", "created_at", "updated_at"]


class ProjectCreateSerializer(serializers.Serializer):
    lab = serializers.SlugField()
    name = serializers.CharField(max_length=NAME_MAX_CHARS)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=DESCRIPTION_MAX_CHARS
    )


class SampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sample
        fields = [
            "id",
            "project",
            "name",
            "material",
            "synthesis_notes",
            "tags",
            "is_synthetic",
            "style_model",
            "created_at",
        ]
        read_only_fields = ["id", "is_synthetic", "style_model", "created_at"]


class SampleCreateSerializer(serializers.Serializer):
    project = IdField()
    name = serializers.CharField(max_length=NAME_MAX_CHARS)
    material = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NAME_MAX_CHARS
    )
    synthesis_notes = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTES_MAX_CHARS
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_CHARS), required=False, max_length=MAX_TAGS
    )


class MicrographSerializer(serializers.ModelSerializer):
    original_url = serializers.SerializerMethodField(
        help_text="The original file; accepts the same API token."
    )
    preview_url = serializers.SerializerMethodField(help_text="An 8-bit PNG preview (token too).")

    class Meta:
        model = Micrograph
        fields = [
            "id",
            "sample",
            "original_filename",
            "sha256",
            "file_size",
            "format",
            "width",
            "height",
            "bit_depth",
            "pixel_size_nm",
            "pixel_size_source",
            "calibration",
            "uploaded_at",
            "original_url",
            "preview_url",
        ]

    def get_original_url(self, micrograph: Micrograph) -> str:
        return reverse("catalogue:micrograph_original", args=[micrograph.pk])

    def get_preview_url(self, micrograph: Micrograph) -> str:
        return reverse("catalogue:micrograph_preview", args=[micrograph.pk])


class MicrographUploadSerializer(serializers.Serializer):
    sample = IdField()
    file = serializers.FileField()
    sidecar = serializers.FileField(required=False)


class AnalyzeSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["auto", "model", "classical"], default="auto")
    parameters = serializers.DictField(required=False, default=dict)
    model = IdField(
        required=False,
        allow_null=True,
        default=None,
        help_text="model version id; default: the lab's",
    )


class RunSerializer(serializers.ModelSerializer):
    micrograph = serializers.PrimaryKeyRelatedField(read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    files = serializers.SerializerMethodField(
        help_text="Report, particle table and summary of this run; accept the same API token."
    )

    class Meta:
        model = AnalysisRun
        fields = [
            "id",
            "micrograph",
            "created_by",
            "created_at",
            "method",
            "parameters",
            "engine_version",
            "model_version",
            "model",
            "path_taken",
            "segmentation",
            "status",
            "stage",
            "progress",
            "error",
            "started_at",
            "finished_at",
            "pixel_size_nm",
            "calibration",
            "summary",
            "particle_count",
            "warnings",
            "review_state",
            "approved_by",
            "approved_at",
            "revision",
            "files",
        ]

    def get_files(self, run: AnalysisRun) -> dict[str, str]:
        scope = {"scope": "run", "pk": run.pk}
        return {
            "report": reverse("datasets:report", kwargs=scope),
            "particles_csv": reverse("datasets:particles", kwargs={**scope, "fmt": "csv"}),
            "particles_xlsx": reverse("datasets:particles", kwargs={**scope, "fmt": "xlsx"}),
            "summary": reverse("datasets:summary", kwargs=scope),
        }


class ParticleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Particle
        fields = ["id", *Particle.STATE_FIELDS]


class AcceptanceSerializer(serializers.Serializer):
    indices = serializers.ListField(child=BoundedIntegerField(), max_length=100_000)
    accepted = serializers.BooleanField()


class ReviewActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["submit", "approve", "request_changes", "comment"])
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=COMMENT_MAX_CHARS
    )
    revision = BoundedIntegerField(
        required=False,
        help_text="The run revision the reviewer saw; an approval is refused if it changed.",
    )


class DatasetSerializer(serializers.ModelSerializer):
    lab = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    run_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "lab", "name", "description", "created_at", "run_count"]


class DatasetCreateSerializer(serializers.Serializer):
    lab = serializers.SlugField()
    name = serializers.CharField(max_length=NAME_MAX_CHARS)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=DESCRIPTION_MAX_CHARS
    )
    runs = serializers.ListField(child=IdField(), required=False, default=list, max_length=10_000)


class DatasetRunsSerializer(serializers.Serializer):
    add = serializers.ListField(child=IdField(), required=False, default=list, max_length=10_000)
    remove = serializers.ListField(child=IdField(), required=False, default=list, max_length=10_000)


class ExportSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetExport
        fields = [
            "id",
            "dataset",
            "format",
            "status",
            "progress",
            "error",
            "created_at",
            "finished_at",
            "download_url",
        ]

    def get_download_url(self, export: DatasetExport) -> str | None:
        if export.status != "succeeded" or not export.file:
            return None
        return reverse("datasets:export_download", args=[export.pk])


class ExportCreateSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["coco", "yolo"])


class DatasetImportSerializer(serializers.Serializer):
    sample = IdField(help_text="The sample that receives the micrographs.")
    archive = serializers.FileField(help_text="A COCO or Ultralytics YOLO-seg zip.")
    approve = StrictBooleanField(
        required=False,
        default=False,
        help_text="Lab admins only: import the outlines as approved (audited) instead of "
        "submitting them for review.",
    )


# --- manual outline edits (geometry is checked by the engine, which says what is wrong) ------

_REVISION_HELP = "the run's revision you saw; a stale one is refused with 409"


class EditSerializer(serializers.Serializer):
    revision = serializers.IntegerField(min_value=0, help_text=_REVISION_HELP)


class PolygonEditSerializer(EditSerializer):
    polygon = serializers.JSONField(help_text="[[x, y], ...] in pixels of the stored image")


class ParticlePatchSerializer(EditSerializer):
    polygon = serializers.JSONField(required=False, help_text="the particle's new outline")
    erase = serializers.JSONField(required=False, help_text="a region to cut from the particle")

    def validate(self, attrs):
        if ("polygon" in attrs) == ("erase" in attrs):
            raise serializers.ValidationError("give either polygon (reshape) or erase (trim)")
        return attrs


class SplitSerializer(EditSerializer):
    index = serializers.IntegerField(min_value=0)
    line = serializers.JSONField(required=False, help_text="[[x0, y0], [x1, y1], ...]")
    seeds = serializers.JSONField(required=False, help_text="[[x, y], ...], two or more")

    def validate(self, attrs):
        if ("line" in attrs) == ("seeds" in attrs):
            raise serializers.ValidationError("give either line or seeds")
        return attrs


class MergeSerializer(EditSerializer):
    indices = serializers.ListField(
        child=serializers.IntegerField(min_value=0), min_length=2, max_length=1000
    )


class WandSerializer(serializers.Serializer):
    x = serializers.FloatField()
    y = serializers.FloatField()
    tolerance = serializers.FloatField(default=0.25, min_value=0.001, max_value=1.0)


class StyleModelSerializer(serializers.ModelSerializer):
    """A learned style; `progress` holds the step, the loss rows and the sample sheets (poll
    this while it learns); `generations` its "Generate N" requests and their samples."""

    lab = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    generations = serializers.SerializerMethodField()

    class Meta:
        model = StyleModel
        fields = [
            "id",
            "lab",
            "dataset",
            "name",
            "training_data",
            "parameters",
            "weights_sha256",
            "weights_size_bytes",
            "stability",
            "wall_time_s",
            "status",
            "stage",
            "progress",
            "attempts",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "generations",
        ]

    def get_generations(self, obj: StyleModel) -> list[dict]:
        return [
            {"id": g.pk, "sample": g.sample_id, "n": g.n, "done": g.done, "status": g.status}
            for g in obj.generations.order_by("-id")
        ]


class StyleGenerationSerializer(serializers.ModelSerializer):
    class Meta:
        model = StyleGeneration
        fields = ["id", "style", "sample", "n", "done", "image_px", "status", "error", "created_at"]


class LearnStyleSerializer(serializers.Serializer):
    minutes = serializers.FloatField(required=False, allow_null=True, default=None)


class ContinueStyleSerializer(serializers.Serializer):
    minutes = serializers.FloatField()


class GenerateSerializer(serializers.Serializer):
    n = serializers.IntegerField()


class ModelVersionSerializer(serializers.ModelSerializer):
    """A registry entry; `progress` holds the epoch, the epochs planned and each epoch's
    losses and validation figures (poll this while it trains)."""

    lab = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    promoted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "lab",
            "builtin",
            "name",
            "architecture",
            "parent",
            "version",
            "weights_sha256",
            "weights_size_bytes",
            "dataset",
            "training_data",
            "parameters",
            "metrics",
            "beats_parent",
            "wall_time_s",
            "hardware",
            "status",
            "stage",
            "progress",
            "attempts",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "promoted_at",
            "promoted_by",
        ]


class TrainSerializer(serializers.Serializer):
    epochs = serializers.JSONField(required=False, default=None)
    hours = serializers.JSONField(required=False, default=None)


class PromoteSerializer(serializers.Serializer):
    override = StrictBooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class RetireSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class WandResultSerializer(serializers.Serializer):
    polygon = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="candidate outline [[x, y], ...]; POST it to particles to keep it",
    )
    x = serializers.FloatField()
    y = serializers.FloatField()
    tolerance = serializers.FloatField()
    revision = serializers.IntegerField()
