"""REST API v1. Thin views: the permission helper decides access, services do the writes.

Invisible objects answer 404 and visible-but-forbidden ones 403, exactly as the pages do.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from semweb.analyses import edits
from semweb.analyses.models import AnalysisRun
from semweb.analyses.selectors import rows_geometry, run_statistics
from semweb.analyses.services import particles_set_accepted, run_create
from semweb.api import serializers as s
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.catalogue.services import (
    DuplicateMicrograph,
    UploadRejected,
    max_upload_bytes,
    micrograph_create,
    project_create,
    sample_create,
)
from semweb.core.params import optional_id, parse_bool
from semweb.datasets.models import Dataset, DatasetExport
from semweb.datasets.services import (
    dataset_create,
    dataset_import,
    dataset_runs_update,
    export_request,
)
from semweb.labs.models import Lab
from semweb.labs.permissions import (
    REVIEW_ACTION_ACCESS,
    Access,
    get_for_user,
    get_lab_for_user,
    lab_roles,
    visible,
    visible_datasets,
    visible_models,
    visible_styles,
)
from semweb.labs.selectors import labs_for_user
from semweb.mlmodels import services as mlmodels
from semweb.mlmodels import styles
from semweb.mlmodels.models import ModelVersion, StyleModel
from semweb.review import services as review


def _id_param(request: Request, name: str) -> int | None:
    """An id filter from the query string (`semweb.core.params`: out of range is a 400)."""
    return optional_id(request.query_params.get(name), name=name)


def _model_choice(user, model_id: int | None) -> ModelVersion | None:
    """The model version picked for a run (None = the lab's default); invisible ones are a
    400 on the field, like any unknown id."""
    if model_id is None:
        return None
    model = visible_models(user).filter(pk=model_id).first()
    if model is None:
        raise ValidationError({"model": "No such model."})
    return model


def _lab_for_write(user, slug: str) -> Lab:
    """A lab the user is a member of (any role), for creating things in it; a 400 on the
    `lab` field otherwise (it is a body field here, not the URL's object)."""
    try:
        lab, _ = get_lab_for_user(user, slug, need=Access.MEMBER)
    except (Http404, PermissionDenied):
        raise ValidationError({"lab": "No lab with that identifier among your labs."}) from None
    return lab


# One `model` object by the URL's `pk`: 404 when you cannot see it. (A comment, not a
# docstring: the schema would show a docstring as the description of every subclass without one.)
class _VisibleObject(generics.RetrieveAPIView):
    model: type

    def get_object(self):
        return get_for_user(self.request.user, self.model, self.kwargs["pk"])[0]


class _ObjectAction(APIView):
    """POST an action on one `model` object: 404 when you cannot see it, 403 below `need`;
    the body is checked with `body` (None: no body), then `service(<arg>=object, user=you,
    **body)` runs and its answer is returned through `answer` with `code`."""

    model: type
    arg: str  # the service's keyword for the object
    need = Access.SUPERVISOR
    body: type[Serializer] | None = None
    answer: type[Serializer]
    code = status.HTTP_200_OK
    service: Callable

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The schema documents each action's own body and answer (drf-spectacular's class form).
        extend_schema(request=cls.body, responses={cls.code: cls.answer})(cls)

    def post(self, request: Request, pk: int) -> Response:
        obj, _ = get_for_user(request.user, self.model, pk, need=self.need)
        data = _valid(self.body, request) if self.body is not None else {}
        result = self.service(**{self.arg: obj}, user=request.user, **data)
        return Response(self.answer(result).data, status=self.code)


# --- labs --------------------------------------------------------------------------------------


class LabList(generics.ListAPIView):
    """The labs you belong to, with your role in each."""

    serializer_class = s.LabSerializer

    def get_queryset(self):
        return labs_for_user(self.request.user).order_by("name", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "roles": lab_roles(self.request.user)}


class LabDetail(_VisibleObject):
    serializer_class = s.LabSerializer
    model = Lab

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "roles": lab_roles(self.request.user)}


# --- projects and samples -----------------------------------------------------------------------


class ProjectList(generics.ListCreateAPIView):
    """Projects you can see (your labs' and those shared with them). Filter: `?lab=<slug>`."""

    serializer_class = s.ProjectSerializer

    def get_queryset(self):
        qs = visible(self.request.user, Project.objects.select_related("lab"))
        if lab := self.request.query_params.get("lab"):
            qs = qs.filter(lab__slug=lab)
        return qs.order_by("-created_at", "-id")

    @extend_schema(request=s.ProjectCreateSerializer, responses=s.ProjectSerializer)
    def post(self, request: Request) -> Response:
        data = s.ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lab = _lab_for_write(request.user, data.validated_data["lab"])
        project = project_create(
            lab=lab,
            user=request.user,
            name=data.validated_data["name"],
            description=data.validated_data["description"],
        )
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(_VisibleObject):
    serializer_class = s.ProjectSerializer
    model = Project


class SampleList(generics.ListCreateAPIView):
    """Samples you can see. Filter: `?project=<id>`."""

    serializer_class = s.SampleSerializer

    def get_queryset(self):
        qs = visible(self.request.user, Sample.objects.all(), "project__")
        if (project := _id_param(self.request, "project")) is not None:
            qs = qs.filter(project_id=project)
        return qs.order_by("project_id", "name", "id")

    @extend_schema(request=s.SampleCreateSerializer, responses=s.SampleSerializer)
    def post(self, request: Request) -> Response:
        data = s.SampleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        project, _ = get_for_user(request.user, Project, values.pop("project"), need=Access.MEMBER)
        sample = sample_create(project=project, user=request.user, **values)
        return Response(s.SampleSerializer(sample).data, status=status.HTTP_201_CREATED)


class SampleDetail(_VisibleObject):
    serializer_class = s.SampleSerializer
    model = Sample


# --- micrographs --------------------------------------------------------------------------------


class MicrographList(generics.ListCreateAPIView):
    """Micrographs you can see. Filter: `?sample=<id>`. POST (multipart): `sample`, `file`,
    optional `sidecar` (instrument metadata text)."""

    serializer_class = s.MicrographSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        qs = visible(self.request.user, Micrograph.objects.all(), "sample__project__")
        if (sample := _id_param(self.request, "sample")) is not None:
            qs = qs.filter(sample_id=sample)
        # Newest first by primary key: a backward index scan that stops after one page
        # (ordering by upload time sorted all 100 000 rows: 128 ms → see README of the API).
        return qs.order_by("-id")

    @extend_schema(request=s.MicrographUploadSerializer, responses=s.MicrographSerializer)
    def post(self, request: Request) -> Response:
        data = s.MicrographUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample, _ = get_for_user(
            request.user, Sample, data.validated_data["sample"], need=Access.MEMBER
        )
        upload = data.validated_data["file"]
        if upload.size > max_upload_bytes():
            raise ValidationError({"file": [f"{upload.size} bytes is over the upload limit"]})
        sidecar = data.validated_data.get("sidecar")
        try:
            micrograph = micrograph_create(
                sample=sample,
                user=request.user,
                data=upload.read(),
                filename=upload.name or "upload",
                sidecar_data=sidecar.read() if sidecar is not None else None,
                sidecar_filename=sidecar.name if sidecar is not None else "",
            )
        except UploadRejected as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        except DuplicateMicrograph as exc:
            return Response(
                {"detail": str(exc), "micrograph": exc.existing.pk},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(s.MicrographSerializer(micrograph).data, status=status.HTTP_201_CREATED)


class MicrographDetail(_VisibleObject):
    serializer_class = s.MicrographSerializer
    model = Micrograph


class MicrographAnalyze(APIView):
    """Start an analysis run of the micrograph (members and annotate-shared labs)."""

    @extend_schema(request=s.AnalyzeSerializer, responses={202: s.RunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        micrograph, _ = get_for_user(request.user, Micrograph, pk, need=Access.ANNOTATE)
        data = s.AnalyzeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = run_create(
            micrograph=micrograph,
            user=request.user,
            method=data.validated_data["method"],
            parameters=data.validated_data["parameters"],
            model=_model_choice(request.user, data.validated_data["model"]),
        )
        return Response(s.RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


# --- runs, particles, review -------------------------------------------------------------------


class RunList(generics.ListAPIView):
    """Runs you can see. Filters: `?micrograph=<id>`, `?status=`, `?review_state=`."""

    serializer_class = s.RunSerializer

    def get_queryset(self):
        qs = visible(
            self.request.user,
            AnalysisRun.objects.select_related("created_by", "approved_by"),
            "micrograph__sample__project__",
        )
        if (micrograph := _id_param(self.request, "micrograph")) is not None:
            qs = qs.filter(micrograph_id=micrograph)
        for field in ("status", "review_state"):
            if value := self.request.query_params.get(field):
                qs = qs.filter(**{field: value})
        return qs.order_by("-id")  # newest first, by index (see MicrographList)


class RunDetail(_VisibleObject):
    """Status, progress, calibration and summary of one run (poll this while it runs)."""

    serializer_class = s.RunSerializer
    model = AnalysisRun


class RunParticles(generics.ListAPIView):
    """The run's particles, paginated by label index. Filter: `?accepted=true|false`.
    PATCH `{"indices": [...], "accepted": false}` rejects (or restores) particles."""

    serializer_class = s.ParticleSerializer

    def get_queryset(self):
        run, _ = get_for_user(self.request.user, AnalysisRun, self.kwargs["pk"])
        qs = run.particles.all()
        if (accepted := self.request.query_params.get("accepted")) not in (None, ""):
            qs = qs.filter(accepted=parse_bool(accepted, name="accepted"))
        return qs.order_by("index")

    @extend_schema(request=s.AcceptanceSerializer, responses={200: s.RunSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        run, _ = get_for_user(request.user, AnalysisRun, pk, need=Access.ANNOTATE)
        data = s.AcceptanceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changed = particles_set_accepted(
            run=run,
            user=request.user,
            indices=data.validated_data["indices"],
            accepted=data.validated_data["accepted"],
        )
        run.refresh_from_db()
        return Response({"changed": changed, "run": s.RunSerializer(run).data})

    @extend_schema(request=s.PolygonEditSerializer, responses={201: s.ParticleSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Draw a particle the engine missed: `{"polygon": [[x, y], ...], "revision": r}`."""
        run = _editable_run(request, pk)
        data = _valid(s.PolygonEditSerializer, request)
        return _edit_response(
            lambda: edits.particle_add(
                run=run,
                user=request.user,
                polygon=data["polygon"],
                revision=data["revision"],
            ),
            status.HTTP_201_CREATED,
        )


# --- manual outline edits ----------------------------------------------------------------------


def _editable_run(request: Request, pk: int) -> AnalysisRun:
    """The run if the user may at least annotate it (404/403 as the matrix says); the edit
    service then applies the full edit rule (own runs for annotators, nothing approved)."""
    return get_for_user(request.user, AnalysisRun, pk, need=Access.ANNOTATE)[0]


def _valid(serializer_class, request: Request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _edit_response(do: Callable[[], edits.EditResult], code: int = status.HTTP_200_OK) -> Response:
    """Run one edit service; answer what changed (rows, removed indices, the review page's
    columns for them), the run's new statistics and the run itself."""
    result = do()  # refused edits: semweb.api.exceptions answers 400 / 409
    run = result.run
    particles = s.ParticleSerializer(result.particles, many=True).data
    body = {
        "op": result.op,
        "revision": run.revision,
        "particles": particles,
        "removed": result.removed,
        "geometry": rows_geometry(result.particles),
        "stats": run_statistics(run),
        "run": s.RunSerializer(run).data,
    }
    if len(particles) == 1:
        body["particle"] = particles[0]
    return Response(body, status=code)


class ParticleDetail(APIView):
    """One particle by label index. PATCH `{"polygon": [...]}` redraws it, `{"erase": [...]}`
    cuts a region out of it; DELETE `{"revision": r}` erases it. Each is undoable."""

    @extend_schema(responses=s.ParticleSerializer)
    def get(self, request: Request, pk: int, index: int) -> Response:
        run, _ = get_for_user(request.user, AnalysisRun, pk)
        particle = run.particles.filter(index=index).first()
        if particle is None:
            return Response({"detail": "No such particle."}, status=status.HTTP_404_NOT_FOUND)
        return Response(s.ParticleSerializer(particle).data)

    @extend_schema(
        operation_id="v1_runs_particles_item_partial_update",
        request=s.ParticlePatchSerializer,
        responses={200: s.ParticleSerializer},
    )
    def patch(self, request: Request, pk: int, index: int) -> Response:
        run = _editable_run(request, pk)
        data = _valid(s.ParticlePatchSerializer, request)
        service = edits.particle_reshape if "polygon" in data else edits.particle_trim
        polygon = data["polygon"] if "polygon" in data else data["erase"]
        return _edit_response(
            lambda: service(
                run=run, user=request.user, index=index, polygon=polygon, revision=data["revision"]
            )
        )

    @extend_schema(
        request=s.EditSerializer,
        responses={200: s.RunSerializer},
        operation_id="v1_runs_particle_destroy",
    )
    def delete(self, request: Request, pk: int, index: int) -> Response:
        run = _editable_run(request, pk)
        data = _valid(s.EditSerializer, request)
        return _edit_response(
            lambda: edits.particle_delete(
                run=run, user=request.user, index=index, revision=data["revision"]
            )
        )


class ParticleSplit(APIView):
    """Split a particle: `{"index": i, "line": [[x0, y0], [x1, y1]]}` (a cut line) or
    `{"index": i, "seeds": [[x, y], ...]}` (marker watershed), with `revision`."""

    @extend_schema(request=s.SplitSerializer, responses={200: s.ParticleSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        run = _editable_run(request, pk)
        data = _valid(s.SplitSerializer, request)
        return _edit_response(
            lambda: edits.particle_split(
                run=run,
                user=request.user,
                index=data["index"],
                line=data.get("line"),
                seeds=data.get("seeds"),
                revision=data["revision"],
            )
        )


class ParticleMerge(APIView):
    """Merge touching particles: `{"indices": [i, j, ...], "revision": r}`."""

    @extend_schema(request=s.MergeSerializer, responses={200: s.ParticleSerializer})
    def post(self, request: Request, pk: int) -> Response:
        run = _editable_run(request, pk)
        data = _valid(s.MergeSerializer, request)
        return _edit_response(
            lambda: edits.particles_merge(
                run=run, user=request.user, indices=data["indices"], revision=data["revision"]
            )
        )


class ParticleWand(APIView):
    """Magic wand: `{"x": x, "y": y, "tolerance": t}` → a candidate `polygon` grown from
    the local contrast around the click. Nothing is stored; POST it to `particles` to keep."""

    @extend_schema(request=s.WandSerializer, responses={200: s.WandResultSerializer})
    def post(self, request: Request, pk: int) -> Response:
        run = _editable_run(request, pk)
        data = _valid(s.WandSerializer, request)
        return Response(edits.wand_candidate(run=run, user=request.user, **data))


class RunUndo(APIView):
    """Take back the latest manual outline edit: `{"revision": r}`."""

    @extend_schema(request=s.EditSerializer, responses={200: s.RunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        run = _editable_run(request, pk)
        data = _valid(s.EditSerializer, request)
        return _edit_response(
            lambda: edits.run_undo(run=run, user=request.user, revision=data["revision"])
        )


class RunRedo(APIView):
    """Re-apply the latest undone edit: `{"revision": r}`."""

    @extend_schema(request=s.EditSerializer, responses={200: s.RunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        run = _editable_run(request, pk)
        data = _valid(s.EditSerializer, request)
        return _edit_response(
            lambda: edits.run_redo(run=run, user=request.user, revision=data["revision"])
        )


class RunReview(APIView):
    """Submit for review, approve, request changes (with a comment), or just comment.

    Approval accepts the `revision` the reviewer saw and is refused (409) if the run changed
    since, so an approval racing an edit never approves unseen changes."""

    @extend_schema(request=s.ReviewActionSerializer, responses={200: s.RunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = s.ReviewActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        action = data.validated_data["action"]
        run, _ = get_for_user(request.user, AnalysisRun, pk, need=REVIEW_ACTION_ACCESS[action])
        body = data.validated_data["comment"]
        kwargs = {"run": run, "user": request.user, "body": body}
        if action == "comment":
            review.comment_create(**kwargs)
        elif action == "submit":
            review.run_submit(**kwargs)
        elif action == "approve":
            review.run_approve(**kwargs, revision=data.validated_data.get("revision"))
        else:
            review.run_request_changes(**kwargs)
        run.refresh_from_db()
        return Response(s.RunSerializer(run).data)


# --- datasets and exports ---------------------------------------------------------------------


class DatasetList(generics.ListCreateAPIView):
    """Datasets you can see (your labs' and those shared with them)."""

    serializer_class = s.DatasetSerializer

    def get_queryset(self):
        return (
            visible_datasets(self.request.user, Dataset.objects.select_related("lab"))
            .annotate(run_count=Count("runs"))
            .order_by("-created_at", "-id")
        )

    @extend_schema(request=s.DatasetCreateSerializer, responses=s.DatasetSerializer)
    def post(self, request: Request) -> Response:
        data = s.DatasetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lab = _lab_for_write(request.user, data.validated_data["lab"])
        dataset = dataset_create(
            lab=lab,
            user=request.user,
            name=data.validated_data["name"],
            description=data.validated_data["description"],
            run_ids=data.validated_data["runs"],
        )
        dataset.run_count = dataset.runs.count()
        return Response(s.DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetail(_VisibleObject):
    serializer_class = s.DatasetSerializer
    model = Dataset

    def get_object(self):
        dataset = super().get_object()
        dataset.run_count = dataset.runs.count()
        return dataset


class DatasetRuns(APIView):
    """Curate: add or remove approved runs (members of the owning lab)."""

    @extend_schema(request=s.DatasetRunsSerializer, responses=s.DatasetSerializer)
    def post(self, request: Request, pk: int) -> Response:
        dataset, _ = get_for_user(request.user, Dataset, pk, need=Access.MEMBER)
        data = s.DatasetRunsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset_runs_update(dataset=dataset, user=request.user, **data.validated_data)
        dataset.run_count = dataset.runs.count()
        return Response(s.DatasetSerializer(dataset).data)


class DatasetExports(generics.ListCreateAPIView):
    """The dataset's exports; POST `{"format": "coco"|"yolo"}` starts one in the background."""

    serializer_class = s.ExportSerializer

    def get_queryset(self):
        dataset, _ = get_for_user(self.request.user, Dataset, self.kwargs["pk"])
        return dataset.exports.order_by("-created_at", "-id")

    @extend_schema(request=s.ExportCreateSerializer, responses={202: s.ExportSerializer})
    def post(self, request: Request, pk: int) -> Response:
        dataset, _ = get_for_user(request.user, Dataset, pk, need=Access.VIEW)
        data = s.ExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = export_request(
            dataset=dataset, user=request.user, format=data.validated_data["format"]
        )
        return Response(s.ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ExportDetail(_VisibleObject):
    """Poll an export's progress; `download_url` appears when it succeeded."""

    serializer_class = s.ExportSerializer
    model = DatasetExport


class DatasetImport(APIView):
    """Import a COCO or YOLO-seg zip into one of your samples (multipart: `sample`,
    `archive`, optional `approve`). Each image becomes a micrograph with a run holding its
    outlines, submitted for review; a lab admin may pass `approve=true` to import them as
    approved (audited). A malformed archive is a 400 and leaves nothing behind."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=s.DatasetImportSerializer, responses={201: s.RunSerializer(many=True)})
    def post(self, request: Request) -> Response:
        data = s.DatasetImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample, _ = get_for_user(
            request.user, Sample, data.validated_data["sample"], need=Access.MEMBER
        )
        archive = data.validated_data["archive"]
        try:
            runs = dataset_import(
                sample=sample,
                user=request.user,
                fileobj=archive,
                source_name=archive.name or "",
                as_approved=data.validated_data["approve"],
            )
        except DjangoValidationError as exc:  # a bad archive: report it on the `archive` field
            raise ValidationError({"archive": exc.messages}) from None
        return Response(s.RunSerializer(runs, many=True).data, status=status.HTTP_201_CREATED)


# --- model registry ----------------------------------------------------------------------------


class ModelList(generics.ListAPIView):
    """Model versions you can see: the built-in model, your labs' versions and those trained
    on datasets shared with your labs. Filters: `?lab=<slug>`, `?status=`."""

    serializer_class = s.ModelVersionSerializer

    def get_queryset(self):
        mlmodels.builtin_model()  # registered on first use
        qs = visible_models(
            self.request.user,
            ModelVersion.objects.select_related("lab", "created_by", "promoted_by"),
        )
        if lab := self.request.query_params.get("lab"):
            qs = qs.filter(lab__slug=lab)
        if state := self.request.query_params.get("status"):
            qs = qs.filter(status=state)
        return qs.order_by("-id")


class ModelDetail(_VisibleObject):
    """One version with its training data, metrics and live training progress."""

    serializer_class = s.ModelVersionSerializer
    model = ModelVersion


class DatasetTrain(_ObjectAction):
    """Fine-tune the lab's default model on the dataset's approved runs (supervisors and lab
    admins of the dataset's lab). `{"epochs": n, "hours": h}` (both optional; hours is a
    wall-time cap within `SEMWEB_TRAIN_MAX_HOURS`) → 202 with the queued model version."""

    model, arg, body = Dataset, "dataset", s.TrainSerializer
    answer, code = s.ModelVersionSerializer, status.HTTP_202_ACCEPTED
    service = staticmethod(mlmodels.training_request)


class ModelPromote(_ObjectAction):
    """Make the version the lab's default (lab admins). Refused (409) unless it beat its parent
    on the held-back split or was the default before (rollback); `{"override": true,
    "reason": "…"}` promotes anyway, audited."""

    model, arg, need, body = ModelVersion, "version", Access.ADMIN, s.PromoteSerializer
    answer = s.ModelVersionSerializer
    service = staticmethod(mlmodels.model_promote)


class ModelRetire(_ObjectAction):
    """Take a version out of use (lab admins)."""

    model, arg, need, body = ModelVersion, "version", Access.ADMIN, s.RetireSerializer
    answer = s.ModelVersionSerializer
    service = staticmethod(mlmodels.model_retire)


class ModelCancel(_ObjectAction):
    """Stop a queued or running training (supervisors and lab admins)."""

    model, arg, answer = ModelVersion, "version", s.ModelVersionSerializer
    service = staticmethod(mlmodels.training_cancel)


# --- learned styles -----------------------------------------------------------------------------


class DatasetLearnStyle(_ObjectAction):
    """Learn the dataset's style: a mask-conditioned generator trained on its approved real
    runs (supervisors and lab admins of the dataset's lab), on the `gpu` queue. `{"minutes":
    m}` (optional, at most `SEMWEB_STYLE_MAX_MINUTES`) → 202 with the queued style."""

    model, arg, body = Dataset, "dataset", s.LearnStyleSerializer
    answer, code = s.StyleModelSerializer, status.HTTP_202_ACCEPTED
    service = staticmethod(styles.style_request)


class StyleModelList(generics.ListAPIView):
    """Learned styles you can see: your labs' and those learned from datasets shared with
    your labs. Filters: `?dataset=<id>`, `?status=`."""

    serializer_class = s.StyleModelSerializer

    def get_queryset(self):
        qs = visible_styles(self.request.user, StyleModel.objects.select_related("lab"))
        if dataset := self.request.query_params.get("dataset"):
            qs = qs.filter(dataset_id=optional_id(dataset, name="dataset"))
        if state := self.request.query_params.get("status"):
            qs = qs.filter(status=state)
        return qs.order_by("-id")


class StyleModelDetail(_VisibleObject):
    """One learned style with its progress (steps, losses, sample sheets) and generations."""

    serializer_class = s.StyleModelSerializer
    model = StyleModel


class StyleGenerate(_ObjectAction):
    """Paint `{"n": N}` procedural masks in a ready style into a new sample flagged synthetic
    (supervisors and lab admins) → 202 with the queued generation. Its runs join the style's
    dataset as training material only (never held back, never in statistics)."""

    model, arg, body = StyleModel, "style", s.GenerateSerializer
    answer, code = s.StyleGenerationSerializer, status.HTTP_202_ACCEPTED
    service = staticmethod(styles.generation_request)


class StyleCancel(_ObjectAction):
    """Stop a queued or learning style (supervisors and lab admins)."""

    model, arg, answer = StyleModel, "style", s.StyleModelSerializer
    service = staticmethod(styles.style_cancel)


class StyleContinue(_ObjectAction):
    """Train a ready style `{"minutes": M}` more (at most `SEMWEB_STYLE_MAX_MINUTES`; supervisors
    and lab admins), resuming from its stored checkpoint → 202 with the queued style. 409 while
    it generates images, while another style of its dataset learns, or when the stored
    checkpoint is gone. The style keeps its generator until the new session registers one, and
    is ready again with it if that session stops early."""

    model, arg, body = StyleModel, "style", s.ContinueStyleSerializer
    answer, code = s.StyleModelSerializer, status.HTTP_202_ACCEPTED
    service = staticmethod(styles.style_continue)
