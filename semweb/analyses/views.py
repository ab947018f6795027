"""Pages and small JSON endpoints of analysis runs. Thin: permission helper, then one service
or selector call. Every object is fetched through `get_for_user` (404 when invisible)."""

from __future__ import annotations

import json
from pathlib import Path

import plotly
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from semweb.analyses import selectors, services
from semweb.analyses.models import AnalysisRun, Method, RunStatus
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.catalogue.services import micrograph_display_image
from semweb.core.params import (
    first_message,
    parse_bool,
    parse_float,
    parse_id,
    parse_ids,
    parse_int_list,
)
from semweb.labs.permissions import (
    Access,
    can_decide,
    can_submit,
    get_for_user,
    run_edit_allowed,
    visible_models,
)
from semweb.mlmodels.selectors import models_for_analysis
from semweb.review.selectors import run_timeline

# --- helpers ----------------------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def progress_payload(run: AnalysisRun) -> dict:
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "stage": run.stage,
        "progress": round(run.progress, 3),
        "finished": run.is_finished,
        "particle_count": run.particle_count,
        "review_state": run.review_state,
        "error": run.error if run.status == RunStatus.FAILED else "",
        "url": reverse("analyses:run", args=[run.pk]),
    }


# --- running ----------------------------------------------------------------------------------


def _parameters_from_post(request: HttpRequest) -> tuple[str, dict]:
    """The form's raw values; `run_create` parses them strictly (an unticked box is absent)."""
    method = request.POST.get("method") or Method.AUTO
    params = {
        "pixel_size_nm": request.POST.get("pixel_size_nm") or None,
        "min_size_nm": request.POST.get("min_size_nm") or None,
        "exclude_edge": request.POST.get("exclude_edge") or "false",
    }
    size = request.POST.get("particle_size") or None
    if size is not None:
        unit = "nm" if request.POST.get("particle_size_unit") == "nm" else "px"
        params[f"particle_size_{unit}"] = size
    return method, params


def _model_from_post(request: HttpRequest):
    """The model version picked in the form; empty = the lab's default (None here)."""
    raw = request.POST.get("model") or ""
    if not raw:
        return None
    model = visible_models(request.user).filter(pk=parse_id(raw, name="model")).first()
    if model is None:
        raise ValidationError({"model": "No such model."})
    return model


def _model_choices(user, lab) -> dict:
    default, choices = models_for_analysis(user, lab)
    return {"default_model": default, "model_choices": choices}


@login_required
def micrograph_analyse(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the parameters form with defaults; POST: create a run and go to its page."""
    micrograph, access = get_for_user(request.user, Micrograph, pk, need=Access.ANNOTATE)
    status = 200
    if request.method == "POST":
        method, params = _parameters_from_post(request)
        try:
            run = services.run_create(
                micrograph=micrograph,
                user=request.user,
                method=method,
                parameters=params,
                model=_model_from_post(request),
            )
        except ValidationError as exc:
            messages.error(request, first_message(exc))
            status = 400  # the form again, with the message, as a client error
        else:
            return redirect("analyses:run", run.pk)
    return render(
        request,
        "analyses/analyse_form.html",
        {
            "micrograph": micrograph,
            "methods": Method.choices,
            "runs": selectors.runs_of_micrograph(micrograph)[:20],
            **_model_choices(request.user, micrograph.sample.project.lab),
        },
        status=status,
    )


@login_required
@require_POST
def sample_analyse(request: HttpRequest, pk: int) -> HttpResponse:
    """Analyse every micrograph of a sample (or the ids posted as `micrograph`)."""
    sample, access = get_for_user(request.user, Sample, pk, need=Access.ANNOTATE)
    micrographs = sample.micrographs.all()
    method, params = _parameters_from_post(request)
    try:
        if ids := request.POST.getlist("micrograph"):
            micrographs = micrographs.filter(pk__in=parse_ids(ids, name="micrograph"))
        runs = services.runs_create(
            micrographs=micrographs,
            user=request.user,
            method=method,
            parameters=params,
            model=_model_from_post(request),
        )
    except ValidationError as exc:
        messages.error(request, first_message(exc))
        response = sample_stats(request, pk)  # the page again, with the message
        response.status_code = 400
        return response
    messages.success(request, f"{len(runs)} analyses queued.")
    return redirect("analyses:sample_stats", sample.pk)


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run, _ = get_for_user(request.user, AnalysisRun, pk, need=Access.ANNOTATE)
    try:
        services.run_cancel(run=run, user=request.user)
    except services.TransitionError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect("analyses:run", run.pk)


@login_required
@require_GET
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run, _ = get_for_user(request.user, AnalysisRun, pk)
    return JsonResponse(progress_payload(run))


# --- the review page --------------------------------------------------------------------------


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run, access = get_for_user(request.user, AnalysisRun, pk)
    micrograph = run.micrograph
    can_edit = run.status == RunStatus.SUCCEEDED and run_edit_allowed(request.user, run, access)
    config = {
        "run": run.pk,
        "width": micrograph.width,
        "height": micrograph.height,
        "image": reverse("analyses:micrograph_image", args=[micrograph.pk]),
        "particles": reverse("analyses:particles", args=[run.pk]),
        "stats": reverse("analyses:stats", args=[run.pk]),
        "accept": reverse("analyses:accept", args=[run.pk]),
        "calibration": reverse("analyses:calibration", args=[run.pk]),
        "editable": can_edit,
        "pixel_size_nm": run.pixel_size_nm,
        "analysed_region": run.analysed_region or None,
        "data_bar": (run.calibration or {}).get("data_bar"),
        "scale_bar": (run.calibration or {}).get("scale_bar"),
        # Outline editing goes through the REST API (the same endpoints scripts use).
        "edit": {
            "particles": reverse("api_run_particles", args=[run.pk]),
            "particle": reverse("api_run_particle", args=[run.pk, 0]).removesuffix("0"),
            "split": reverse("api_run_particles_split", args=[run.pk]),
            "merge": reverse("api_run_particles_merge", args=[run.pk]),
            "wand": reverse("api_run_particles_wand", args=[run.pk]),
            "undo": reverse("api_run_undo", args=[run.pk]),
            "redo": reverse("api_run_redo", args=[run.pk]),
        }
        if can_edit
        else None,
    }
    return render(
        request,
        "analyses/run_detail.html",
        {
            "run": run,
            "micrograph": micrograph,
            "sample": micrograph.sample,
            "project": micrograph.sample.project,
            "access": access,
            "can_edit": can_edit,
            "can_submit": can_submit(request.user, run, access),
            "can_decide": can_decide(request.user, run, access),
            "can_cancel": not run.is_finished and access >= Access.ANNOTATE,
            "config": config,
            "stats": selectors.run_statistics(run) if run.status == RunStatus.SUCCEEDED else None,
            "timeline": run_timeline(run),
        },
    )


@login_required
@require_GET
def run_particles(request: HttpRequest, pk: int) -> JsonResponse:
    run, _ = get_for_user(request.user, AnalysisRun, pk)
    geometry = selectors.particles_geometry_json(run)
    accepted = json.dumps(selectors.particles_accepted(run), separators=(",", ":")).encode()
    body = b'{"revision":%d,"accepted":%s,"geometry":%s}' % (run.revision, accepted, geometry)
    return HttpResponse(body, content_type="application/json")


@login_required
@require_GET
def run_stats(request: HttpRequest, pk: int) -> JsonResponse:
    run, _ = get_for_user(request.user, AnalysisRun, pk)
    return JsonResponse(selectors.run_statistics(run))


@login_required
@require_POST
def run_accept(request: HttpRequest, pk: int) -> JsonResponse:
    """Body: {"indices": [label, ...], "accepted": true|false}; answers the new statistics."""
    run, _ = get_for_user(request.user, AnalysisRun, pk, need=Access.ANNOTATE)
    body = _json_body(request)
    try:
        indices = parse_int_list(body.get("indices"), name="indices")
        accepted = parse_bool(body.get("accepted"), name="accepted")
        changed = services.particles_set_accepted(
            run=run, user=request.user, indices=indices, accepted=accepted
        )
    except services.TransitionError as exc:
        return _error(" ".join(exc.messages), 409)
    except ValidationError as exc:
        return _error(first_message(exc), 400)
    run.refresh_from_db()
    return JsonResponse({"changed": changed, "stats": selectors.run_statistics(run)})


@login_required
@require_POST
def run_calibration(request: HttpRequest, pk: int) -> JsonResponse:
    """Body: {"pixel_size_nm": x} or {"line_px": L, "length_nm": N} (a line over the bar)."""
    run, _ = get_for_user(request.user, AnalysisRun, pk, need=Access.ANNOTATE)
    body = _json_body(request)
    try:
        if body.get("line_px") is not None:
            line_px = parse_float(body["line_px"], name="line_px", positive=True)
            length_nm = parse_float(body.get("length_nm"), name="length_nm", positive=True)
            kwargs = {
                "pixel_size_nm": length_nm / line_px,
                "method": "line",
                "line_px": line_px,
                "length_nm": length_nm,
            }
        else:
            kwargs = {"pixel_size_nm": body.get("pixel_size_nm"), "method": "typed"}
        run = services.run_set_calibration(run=run, user=request.user, **kwargs)
    except services.TransitionError as exc:
        return _error(" ".join(exc.messages), 409)
    except ValidationError as exc:
        return _error(first_message(exc) or "give pixel_size_nm, or line_px and length_nm", 400)
    return JsonResponse(
        {"pixel_size_nm": run.pixel_size_nm, "stats": selectors.run_statistics(run)}
    )


# --- files ------------------------------------------------------------------------------------


@login_required
@require_GET
def micrograph_image(request: HttpRequest, pk: int) -> HttpResponse:
    """The micrograph at full resolution as a browser-friendly image (permission-checked)."""
    micrograph, _ = get_for_user(request.user, Micrograph, pk)
    try:
        name, content_type = micrograph_display_image(micrograph=micrograph)
    except ValueError as exc:
        return HttpResponseBadRequest(f"cannot render this image: {exc}")
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response


_PLOTLY_JS = None


@login_required
@require_GET
def plotly_js(request: HttpRequest) -> HttpResponse:
    """plotly.min.js from the installed plotly package (never a CDN), for logged-in users."""
    global _PLOTLY_JS
    if _PLOTLY_JS is None:
        _PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    response = FileResponse(_PLOTLY_JS.open("rb"), content_type="text/javascript")
    response["Cache-Control"] = "private, max-age=604800"
    return response


# --- sample and project statistics ------------------------------------------------------------


@login_required
def sample_stats(request: HttpRequest, pk: int) -> HttpResponse:
    sample, access = get_for_user(request.user, Sample, pk)
    stats = selectors.sample_statistics(sample)
    active = (
        AnalysisRun.objects.filter(micrograph__sample=sample)
        .filter(selectors.active_runs_filter())
        .select_related("micrograph")
    )
    return render(
        request,
        "analyses/sample_stats.html",
        {
            "sample": sample,
            "project": sample.project,
            "stats": stats,
            "active_runs": active,
            "can_analyse": access >= Access.ANNOTATE,
            "methods": Method.choices,
            **_model_choices(request.user, sample.project.lab),
            "chart": {"histogram": stats["histogram"], "values": stats["values"]},
        },
    )


@login_required
def project_compare(request: HttpRequest, pk: int) -> HttpResponse:
    project, _ = get_for_user(request.user, Project, pk)
    rows = selectors.project_comparison(project)
    chart = [{"name": r["sample"].name, "values": r["values"]} for r in rows if r["values"]]
    return render(
        request,
        "analyses/project_compare.html",
        {"project": project, "rows": rows, "chart": chart},
    )
