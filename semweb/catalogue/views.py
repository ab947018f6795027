"""Pages for projects → samples → micrographs, the upload endpoint and file downloads.

Every object is fetched through `get_for_user` (404 when invisible, 403 when not allowed), and
every file is served by a view here: media has no public URL.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from semweb.analyses.services import run_create
from semweb.catalogue import selectors, services
from semweb.catalogue.forms import ProjectCreateForm, ProjectForm, SampleForm
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.catalogue.upload_handlers import SizeLimitUploadHandler
from semweb.catalogue.uploads import decode_sidecar
from semweb.core.auth import login_or_token_required
from semweb.labs.models import Lab
from semweb.labs.permissions import Access, get_for_user, lab_role_access

# --------------------------------------------------------------------------------------------
# projects


@login_required
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    lab = None
    if slug := request.GET.get("lab"):
        lab = get_object_or_404(Lab, slug=slug)
        if lab_role_access(request.user, lab.pk) == Access.NONE and not (
            selectors.projects_visible(request.user, lab=lab).exists()
        ):
            raise Http404("Not found")
    projects = selectors.projects_visible(request.user, lab=lab)
    can_create = selectors.labs_for_project_create(request.user).exists()
    return render(
        request,
        "catalogue/project_list.html",
        {"projects": projects, "lab": lab, "can_create": can_create},
    )


def _form_status(request: HttpRequest) -> int:
    """A form shown again after a POST was refused: 400, so clients see the error."""
    return 400 if request.method == "POST" else 200


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    labs = selectors.labs_for_project_create(request.user)
    if not labs.exists():
        raise PermissionDenied("Only lab members can create projects.")
    initial = {}
    if slug := request.GET.get("lab"):
        initial["lab"] = labs.filter(slug=slug).first()
    form = ProjectCreateForm(request.POST or None, labs=labs, initial=initial)
    if request.method == "POST" and form.is_valid():
        project = services.project_create(
            lab=form.cleaned_data["lab"],
            user=request.user,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
        )
        messages.success(request, f"Project “{project.name}” created.")
        return redirect("catalogue:project_detail", pk=project.pk)
    return render(
        request,
        "catalogue/project_form.html",
        {"form": form, "project": None},
        status=_form_status(request),
    )


@login_required
@require_GET
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project, access = get_for_user(request.user, Project, pk)
    return render(
        request,
        "catalogue/project_detail.html",
        {
            "project": project,
            "samples": selectors.samples_of_project(project),
            "can_edit": access >= Access.MEMBER,
            "access": access,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, pk: int) -> HttpResponse:
    project, _ = get_for_user(request.user, Project, pk, need=Access.MEMBER)
    initial = {"name": project.name, "description": project.description}
    form = ProjectForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.project_update(
            project=project,
            user=request.user,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
        )
        messages.success(request, "Project saved.")
        return redirect("catalogue:project_detail", pk=project.pk)
    return render(
        request,
        "catalogue/project_form.html",
        {"form": form, "project": project},
        status=_form_status(request),
    )


# --------------------------------------------------------------------------------------------
# samples


@login_required
@require_http_methods(["GET", "POST"])
def sample_create(request: HttpRequest, project_pk: int) -> HttpResponse:
    project, _ = get_for_user(request.user, Project, project_pk, need=Access.MEMBER)
    form = SampleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        sample = services.sample_create(project=project, user=request.user, **form.cleaned_data)
        messages.success(request, f"Sample “{sample.name}” created.")
        return redirect("catalogue:sample_detail", pk=sample.pk)
    return render(
        request,
        "catalogue/sample_form.html",
        {"form": form, "project": project, "sample": None},
        status=_form_status(request),
    )


@login_required
@require_GET
def sample_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sample, access = get_for_user(request.user, Sample, pk)
    return render(
        request,
        "catalogue/sample_detail.html",
        {
            "sample": sample,
            "project": sample.project,
            "micrographs": selectors.micrographs_of_sample(sample),
            "can_upload": access >= Access.MEMBER,
            "can_edit": access >= Access.MEMBER,
            "can_analyse": access >= Access.ANNOTATE,
            "max_upload_mb": services.max_upload_bytes() // 1048576,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def sample_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sample, _ = get_for_user(request.user, Sample, pk, need=Access.MEMBER)
    initial = {
        "name": sample.name,
        "material": sample.material,
        "synthesis_notes": sample.synthesis_notes,
        "tags": ", ".join(sample.tags or []),
    }
    form = SampleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.sample_update(sample=sample, user=request.user, **form.cleaned_data)
        messages.success(request, "Sample saved.")
        return redirect("catalogue:sample_detail", pk=sample.pk)
    return render(
        request,
        "catalogue/sample_form.html",
        {"form": form, "project": sample.project, "sample": sample},
        status=_form_status(request),
    )


# --------------------------------------------------------------------------------------------
# upload


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get(
        "x-requested-with"
    ) == "XMLHttpRequest" or "application/json" in request.headers.get("accept", "")


@csrf_exempt  # CSRF is checked by the inner view, after the size-limit handler is installed
@login_required
@require_POST
def sample_upload(request: HttpRequest, pk: int) -> HttpResponse:
    # Upload handlers must be set before anything reads request.POST/FILES (the CSRF check
    # does), hence csrf_exempt outside and csrf_protect inside, as Django's docs describe.
    limiter = SizeLimitUploadHandler(request, limit_bytes=services.max_upload_bytes())
    request.upload_handlers.insert(0, limiter)
    return _sample_upload(request, pk, limiter)


@csrf_protect
def _sample_upload(request: HttpRequest, pk: int, limiter: SizeLimitUploadHandler) -> HttpResponse:
    sample, _ = get_for_user(request.user, Sample, pk, need=Access.MEMBER)
    try:
        received = request.FILES.getlist("files")
    except MultiPartParserError as exc:  # e.g. a part header over Django's 1 kB limit
        message = f"The upload could not be read ({exc}); send fewer or shorter-named files."
        if _wants_json(request):
            return JsonResponse({"error": message, "results": []}, status=400)
        messages.error(request, message)
        return redirect("catalogue:sample_detail", pk=sample.pk)
    items = [
        services.UploadItem(name=f.name or "upload", size=f.size, read=f.read) for f in received
    ]
    items += [services.UploadItem(name=n, size=0, refused=why) for n, why in limiter.refused]
    if not items:
        if _wants_json(request):
            return JsonResponse({"error": "no files were sent", "results": []}, status=400)
        messages.error(request, "Choose at least one file to upload.")
        return redirect("catalogue:sample_detail", pk=sample.pk)

    outcomes = services.micrographs_upload(sample=sample, user=request.user, items=items)
    if request.POST.get("analyse"):
        _analyse_uploaded(request, outcomes)
    if _wants_json(request):
        statuses = {o.status for o in outcomes}
        code = 201 if "created" in statuses else (200 if "duplicate" in statuses else 422)
        return JsonResponse({"results": [o.as_dict() for o in outcomes]}, status=code)
    for outcome in outcomes:
        level = {"created": messages.SUCCESS, "duplicate": messages.WARNING}.get(
            outcome.status, messages.ERROR
        )
        messages.add_message(request, level, outcome.message)
    return redirect("catalogue:sample_detail", pk=sample.pk)


def _analyse_uploaded(request: HttpRequest, outcomes: list[services.UploadOutcome]) -> None:
    """ "Analyse after upload": one queued run per newly stored micrograph (enqueued on commit)."""

    method = request.POST.get("method") or "auto"
    for outcome in outcomes:
        if outcome.status != "created" or outcome.micrograph is None:
            continue
        try:
            run = run_create(micrograph=outcome.micrograph, user=request.user, method=method)
        except ValidationError as exc:
            outcome.message += f" Not analysed: {'; '.join(exc.messages)}"
        else:
            outcome.run = run
            outcome.message += f" Analysis #{run.pk} queued ({method})."


# --------------------------------------------------------------------------------------------
# micrographs and their files


@login_required
@require_GET
def micrograph_detail(request: HttpRequest, pk: int) -> HttpResponse:
    micrograph, access = get_for_user(request.user, Micrograph, pk)
    sidecar_text = None
    if micrograph.sidecar:
        try:
            with default_storage.open(micrograph.sidecar.name, "rb") as fh:
                sidecar_text = decode_sidecar(fh.read(200_000))
        except OSError:
            sidecar_text = None
    return render(
        request,
        "catalogue/micrograph_detail.html",
        {
            "micrograph": micrograph,
            "sample": micrograph.sample,
            "project": micrograph.sample.project,
            "runs": selectors.micrograph_runs(micrograph),
            "sidecar_text": sidecar_text,
            "access": access,
            "can_analyse": access >= Access.ANNOTATE,
            "tags": micrograph.metadata.get("tags", {}),
        },
    )


def _file_response(name: str, *, download_name: str, as_attachment: bool, content_type=None):
    try:
        fh = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("File missing") from None
    response = FileResponse(
        fh, as_attachment=as_attachment, filename=download_name, content_type=content_type
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_or_token_required
@require_GET
def micrograph_preview(request: HttpRequest, pk: int) -> HttpResponse:
    micrograph, _ = get_for_user(request.user, Micrograph, pk)
    if not micrograph.preview or not default_storage.exists(micrograph.preview.name):
        services.micrograph_preview_regenerate(micrograph=micrograph)
    return _file_response(
        micrograph.preview.name,
        download_name=f"{micrograph.pk}-preview.png",
        as_attachment=False,
        content_type="image/png",
    )


@login_or_token_required
@require_GET
def micrograph_original(request: HttpRequest, pk: int) -> HttpResponse:
    micrograph, _ = get_for_user(request.user, Micrograph, pk)
    return _file_response(
        micrograph.original.name,
        download_name=micrograph.original_filename,
        as_attachment=True,
        content_type="application/octet-stream",
    )


@login_or_token_required
@require_GET
def micrograph_sidecar(request: HttpRequest, pk: int) -> HttpResponse:
    micrograph, _ = get_for_user(request.user, Micrograph, pk)
    if not micrograph.sidecar:
        raise Http404("No sidecar")
    return _file_response(
        micrograph.sidecar.name,
        download_name=micrograph.sidecar_filename or f"{micrograph.pk}.txt",
        as_attachment=True,
        content_type="text/plain; charset=utf-8",
    )
