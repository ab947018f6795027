"""Dataset pages (curate, export, import) and the per-run/sample/project export files.

Every response, files included, passes `get_for_user`: nothing is served from a public URL.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from semweb.analyses import engine
from semweb.analyses.models import AnalysisRun
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.core.auth import login_or_token_required
from semweb.core.params import first_message, id_or_404, parse_bool, parse_ids
from semweb.datasets import exports, selectors, services
from semweb.datasets.models import Dataset, DatasetExport, ExportFormat, ExportStatus
from semweb.labs.permissions import (
    Access,
    get_for_user,
    get_lab_for_user,
    model_train_allowed,
    visible_datasets,
    visible_models,
    visible_styles,
)
from semweb.labs.selectors import labs_for_user
from semweb.mlmodels.selectors import models_of_dataset
from semweb.mlmodels.services import training_data, training_refusal

SCOPES = {"run": AnalysisRun, "sample": Sample, "project": Project}


def _report_errors(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, first_message(exc))


@login_required
@require_http_methods(["GET", "POST"])
def dataset_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            lab, _ = get_lab_for_user(request.user, request.POST.get("lab", ""), need=Access.MEMBER)
        except Http404:  # a form field, not the URL's object: refuse rather than "not found"
            raise PermissionDenied("You may not create datasets in that lab.") from None
        try:
            dataset = services.dataset_create(
                lab=lab,
                user=request.user,
                name=request.POST.get("name", "") or "Dataset",
                description=request.POST.get("description", ""),
            )
        except ValidationError as exc:
            _report_errors(request, exc)
            status = 400  # the list again, with the message
        else:
            return redirect("datasets:detail", pk=dataset.pk)
    else:
        status = 200
    datasets = (
        visible_datasets(request.user, Dataset.objects.select_related("lab"))
        .annotate(run_count=Count("runs"))
        .order_by("-created_at", "-id")
    )
    return render(
        request,
        "datasets/list.html",
        {"datasets": datasets, "labs": labs_for_user(request.user).order_by("name")},
        status=status,
    )


@login_required
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset, access = get_for_user(request.user, Dataset, pk)
    exports_shown = list(dataset.exports.order_by("-created_at")[:20])
    context = {
        "dataset": dataset,
        "runs": selectors.dataset_runs(dataset),
        "exports": exports_shown,
        "exports_running": any(
            e.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for e in exports_shown
        ),
        "can_curate": access >= Access.MEMBER,
        "candidates": selectors.curatable_runs(dataset) if access >= Access.MEMBER else [],
        "can_share": access >= Access.ADMIN,
        "formats": ExportFormat.choices,
        **_training_context(request.user, dataset),
    }
    return render(request, "datasets/detail.html", context)


def _training_context(user, dataset: Dataset) -> dict:
    """The Train card: what a training would use, why it would be refused, past versions."""
    can_train = model_train_allowed(user, dataset)
    data = training_data(dataset) if can_train else None
    return {
        "can_train": can_train,
        "training": data,
        "training_refusal": training_refusal(data) if data else None,
        "train_defaults": {
            "epochs": settings.SEMWEB_TRAIN_DEFAULT_EPOCHS,
            "max_epochs": settings.SEMWEB_TRAIN_MAX_EPOCHS,
            "max_hours": settings.SEMWEB_TRAIN_MAX_HOURS,
        },
        "model_versions": visible_models(user, models_of_dataset(dataset)),
        "style_models": visible_styles(user, dataset.style_models.order_by("-id")),
        "style_max_minutes": settings.SEMWEB_STYLE_MAX_MINUTES,
    }


@login_required
@require_POST
def dataset_runs(request: HttpRequest, pk: int) -> HttpResponse:
    dataset, _ = get_for_user(request.user, Dataset, pk, need=Access.MEMBER)

    def ids(name: str) -> list[int]:
        """Ticked boxes (several values) and/or typed ids ("12, 15"); a typo is reported."""
        raw = " ".join(request.POST.getlist(name)).replace(",", " ").split()
        return parse_ids(raw, name=name)

    try:
        services.dataset_runs_update(
            dataset=dataset, user=request.user, add=ids("add"), remove=ids("remove")
        )
    except ValidationError as exc:
        _report_errors(request, exc)
    return redirect("datasets:detail", pk=dataset.pk)


@login_required
@require_POST
def dataset_export(request: HttpRequest, pk: int) -> HttpResponse:
    dataset, _ = get_for_user(request.user, Dataset, pk)
    try:
        services.export_request(
            dataset=dataset, user=request.user, format=request.POST.get("format", "")
        )
        messages.success(request, "Export started; it appears below when ready.")
    except ValidationError as exc:
        _report_errors(request, exc)
    return redirect("datasets:detail", pk=dataset.pk)


@login_or_token_required
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    export, _ = get_for_user(request.user, DatasetExport, pk)
    if export.status != ExportStatus.SUCCEEDED or not export.file:
        raise Http404("Not ready")
    filename = f"dataset-{export.dataset_id}-{export.format}.zip"
    return FileResponse(export.file.open("rb"), as_attachment=True, filename=filename)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_import(request: HttpRequest) -> HttpResponse:
    """Upload a COCO or YOLO-seg zip into one of your samples."""
    if request.method == "POST":
        upload = request.FILES.get("archive")
        sample_id = id_or_404(request.POST.get("sample", ""))
        sample, _ = get_for_user(request.user, Sample, sample_id, need=Access.MEMBER)
        if upload is None:
            messages.error(request, "Choose a zip file.")
            return render(request, "datasets/import.html", status=400)
        try:
            runs = services.dataset_import(
                sample=sample,
                user=request.user,
                fileobj=upload,
                source_name=upload.name or "",
                as_approved=parse_bool(request.POST.get("approve"), name="approve", default=False),
            )
        except ValidationError as exc:
            _report_errors(request, exc)
            return render(request, "datasets/import.html", status=400)
        messages.success(request, f"Imported {len(runs)} micrographs with their annotations.")
        return redirect("datasets:import")
    return render(request, "datasets/import.html")


# --- per-run / sample / project exports ----------------------------------------------------


def _scope_runs(user, scope: str, pk: int):
    obj, _ = get_for_user(user, SCOPES[scope], pk)
    if scope == "run":
        return obj, AnalysisRun.objects.filter(pk=obj.pk).select_related(
            "micrograph__sample__project", "approved_by"
        )
    if scope == "sample":
        micrographs = Micrograph.objects.filter(sample=obj)
    else:  # a project's measurements are its real samples' (synthetic ones are training data)
        micrographs = Micrograph.objects.filter(sample__project=obj, sample__is_synthetic=False)
    return obj, selectors.export_runs(micrographs=micrographs)


def _filename(scope: str, pk: int, suffix: str) -> str:
    return f"semweb-{scope}-{pk}-{suffix}"


@login_or_token_required
def particles_file(request: HttpRequest, scope: str, pk: int, fmt: str) -> HttpResponse:
    _, runs = _scope_runs(request.user, scope, pk)
    particles = list(selectors.accepted_particles(runs))
    header, rows = exports.particle_table(particles)
    if fmt == "csv":
        body, content_type = exports.to_csv(header, rows), "text/csv; charset=utf-8"
    else:
        summary = engine.summarize_sizes([p.ecd_nm for p in particles if p.ecd_nm is not None])
        body = exports.to_xlsx(header, rows, summary=summary)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = HttpResponse(body, content_type=content_type)
    name = _filename(scope, pk, f"particles.{fmt}")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_or_token_required
def summary_json(request: HttpRequest, scope: str, pk: int) -> HttpResponse:
    obj, runs = _scope_runs(request.user, scope, pk)
    response = HttpResponse(
        json.dumps(selectors.summary_document(scope, obj, runs), indent=2, default=str),
        content_type="application/json",
    )
    name = _filename(scope, pk, "summary.json")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_or_token_required
def report(request: HttpRequest, scope: str, pk: int) -> HttpResponse:
    """Printable report: each micrograph with outlines, histograms, summary table,
    calibration source, engine/model version, reviewer and approval date."""
    obj, runs = _scope_runs(request.user, scope, pk)
    runs = list(runs)
    context = {"scope": scope, "obj": obj, **selectors.report_content(scope, obj, runs)}
    return render(request, "datasets/report.html", context)
