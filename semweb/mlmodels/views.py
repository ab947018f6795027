"""Pages of the model registry: the list, the model card (with live training progress), and
the Train / promote / retire / cancel actions; learned styles (learn, progress with sample
sheets, generate, cancel). Thin: permission helper, then one service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from semweb.core.params import first_message, parse_bool
from semweb.datasets.models import Dataset
from semweb.labs.permissions import (
    Access,
    get_for_user,
    model_manage_allowed,
    model_train_allowed,
    style_train_allowed,
    visible_models,
)
from semweb.mlmodels import selectors, services, styles
from semweb.mlmodels.models import GenerationStatus, ModelStatus, ModelVersion, StyleModel

# The page of each object an action button acts on (or queues).
_PAGES = {Dataset: "datasets:detail", ModelVersion: "mlmodels:detail", StyleModel: "mlmodels:style"}


def _page(obj) -> HttpResponse:
    return redirect(_PAGES[type(obj)], pk=obj.pk)


def _act(
    request: HttpRequest,
    obj,
    call: Callable[[], Any],
    *,
    success: str | Callable[[Any], str] | None = None,
    follow: bool = False,
) -> HttpResponse:
    """One action button on `obj`'s page (a dataset, model version or style): `call()` its
    service. Refused (a ValidationError: bad input, or a state that does not allow it): flash
    why and go back to `obj`'s page. Done: flash `success` (a text, or a function of the
    service's answer) and go back, or with `follow` to the page of the answer (what it queued).
    """
    try:
        answer = call()
    except ValidationError as exc:
        messages.error(request, first_message(exc))
        return _page(obj)
    if success is not None:
        messages.success(request, success(answer) if callable(success) else success)
    return _page(answer if follow else obj)


# Rows of the metrics table on the model card: (key in metrics, label, higher is better).
METRIC_ROWS = [
    ("pq", "Panoptic quality (PQ)", True),
    ("f1", "F1 at IoU 0.5", True),
    ("ap50", "Mask AP50", True),
    ("count_error", "Count error (relative)", False),
    ("median_ecd_error", "Median size error (relative)", False),
]


@login_required
@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    services.builtin_model()  # registered on first use
    versions = visible_models(
        request.user, ModelVersion.objects.select_related("lab", "parent", "dataset")
    ).order_by("-builtin", "-id")
    return render(request, "mlmodels/list.html", {"versions": versions})


def _metric_table(version: ModelVersion) -> list[dict]:
    metrics = version.metrics or {}
    return [
        {
            "label": label,
            "candidate": (metrics.get("candidate") or {}).get(key),
            "parent": (metrics.get("parent") or {}).get(key),
            "classical": (metrics.get("classical") or {}).get(key),
            "higher_better": higher,
        }
        for key, label, higher in METRIC_ROWS
    ]


@login_required
@require_GET
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The generated model card: data, split, parameters, hardware, metrics, lineage, runs."""
    version, access = get_for_user(request.user, ModelVersion, pk)
    can_manage = model_manage_allowed(request.user, version)
    context = {
        "version": version,
        "metric_rows": _metric_table(version),
        "progress": selectors.progress_payload(version),
        "can_manage": can_manage,
        "can_promote": can_manage and version.status in (ModelStatus.READY, ModelStatus.RETIRED),
        "needs_override": not (version.beats_parent or version.promoted_at),
        "can_retire": can_manage and version.status in (ModelStatus.READY, ModelStatus.PROMOTED),
        "can_cancel": version.dataset_id is not None
        and version.status in (ModelStatus.QUEUED, ModelStatus.TRAINING)
        and model_train_allowed(request.user, version.dataset),
        "children": visible_models(request.user, version.children.all()),
        "run_count": version.runs.count(),
        "is_default_somewhere": version.status == ModelStatus.PROMOTED,
    }
    return render(request, "mlmodels/detail.html", context)


@login_required
@require_GET
def model_progress(request: HttpRequest, pk: int) -> JsonResponse:
    version, _ = get_for_user(request.user, ModelVersion, pk)
    return JsonResponse(selectors.progress_payload(version))


@login_required
@require_POST
def dataset_train(request: HttpRequest, pk: int) -> HttpResponse:
    """The Train button of a dataset page: queue a fine-tuning and open its model card."""
    dataset, _ = get_for_user(request.user, Dataset, pk, need=Access.SUPERVISOR)
    return _act(
        request,
        dataset,
        lambda: services.training_request(
            dataset=dataset,
            user=request.user,
            epochs=request.POST.get("epochs") or None,
            hours=request.POST.get("hours") or None,
        ),
        success="Training queued; this page follows it.",
        follow=True,
    )


@login_required
@require_POST
def model_promote(request: HttpRequest, pk: int) -> HttpResponse:
    version, _ = get_for_user(request.user, ModelVersion, pk, need=Access.ADMIN)
    return _act(
        request,
        version,
        lambda: services.model_promote(
            version=version,
            user=request.user,
            override=parse_bool(request.POST.get("override"), name="override", default=False),
            reason=request.POST.get("reason", ""),
        ),
        success=f"{version.name} is now the default model of {version.lab}.",
    )


@login_required
@require_POST
def model_retire(request: HttpRequest, pk: int) -> HttpResponse:
    version, _ = get_for_user(request.user, ModelVersion, pk, need=Access.ADMIN)
    return _act(
        request,
        version,
        lambda: services.model_retire(
            version=version, user=request.user, reason=request.POST.get("reason", "")
        ),
        success=f"{version.name} is retired.",
    )


@login_required
@require_POST
def model_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    version, _ = get_for_user(request.user, ModelVersion, pk, need=Access.SUPERVISOR)
    if version.dataset_id is None or not model_train_allowed(request.user, version.dataset):
        raise PermissionDenied("Only supervisors and admins of the lab may cancel a training.")
    return _act(
        request, version, lambda: services.training_cancel(version=version, user=request.user)
    )


# --- learned styles -------------------------------------------------------------------------


@login_required
@require_POST
def dataset_learn_style(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Learn this lab's style" on a dataset page: queue it and open the style's page."""
    dataset, _ = get_for_user(request.user, Dataset, pk, need=Access.SUPERVISOR)
    return _act(
        request,
        dataset,
        lambda: styles.style_request(
            dataset=dataset, user=request.user, minutes=request.POST.get("minutes") or None
        ),
        success="Learning the style; this page follows it.",
        follow=True,
    )


@login_required
@require_GET
def style_detail(request: HttpRequest, pk: int) -> HttpResponse:
    style, _ = get_for_user(request.user, StyleModel, pk)
    can_act = style_train_allowed(request.user, style)
    generations = style.generations.select_related("sample").order_by("-id")
    generating = any(
        g.status in (GenerationStatus.QUEUED, GenerationStatus.RUNNING) for g in generations
    )
    return render(
        request,
        "mlmodels/style.html",
        {
            "style": style,
            "progress": selectors.style_progress_payload(style),
            "can_cancel": can_act and style.status in styles.RUNNING,
            "can_generate": can_act and style.status == ModelStatus.READY,
            "can_continue": can_act and style.status == ModelStatus.READY and style.weights,
            "generating": generating,
            "max_minutes": settings.SEMWEB_STYLE_MAX_MINUTES,
            "continue_minutes": min(10.0, float(settings.SEMWEB_STYLE_MAX_MINUTES)),
            "max_images": settings.SEMWEB_STYLE_MAX_IMAGES,
            "generations": generations,
        },
    )


@login_required
@require_GET
def style_progress(request: HttpRequest, pk: int) -> JsonResponse:
    style, _ = get_for_user(request.user, StyleModel, pk)
    return JsonResponse(selectors.style_progress_payload(style))


@login_required
@require_GET
def style_sample(request: HttpRequest, pk: int, step: int) -> FileResponse:
    """One sample sheet of the training (real | mask | two paintings per row)."""
    style, _ = get_for_user(request.user, StyleModel, pk)
    names = [s["name"] for s in style.progress.get("samples", []) if s["step"] == step]
    if not names or not default_storage.exists(names[0]):
        raise Http404("No such sample sheet.")
    return FileResponse(default_storage.open(names[0], "rb"), content_type="image/png")


@login_required
@require_POST
def style_generate(request: HttpRequest, pk: int) -> HttpResponse:
    style, _ = get_for_user(request.user, StyleModel, pk, need=Access.SUPERVISOR)
    return _act(
        request,
        style,
        lambda: styles.generation_request(style=style, user=request.user, n=request.POST.get("n")),
        success=lambda generation: (
            f"Generating {generation.n} synthetic images into {generation.sample.name}."
        ),
    )


@login_required
@require_POST
def style_continue(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Continue training (+M minutes)": resume a ready style from its stored checkpoint."""
    style, _ = get_for_user(request.user, StyleModel, pk, need=Access.SUPERVISOR)
    return _act(
        request,
        style,
        lambda: styles.style_continue(
            style=style, user=request.user, minutes=request.POST.get("minutes") or None
        ),
        success=lambda resumed: (
            f"Training continues for {resumed.progress['continued'][-1]['minutes']:g} minutes."
        ),
        follow=True,
    )


@login_required
@require_POST
def style_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    style, _ = get_for_user(request.user, StyleModel, pk, need=Access.SUPERVISOR)
    return _act(request, style, lambda: styles.style_cancel(style=style, user=request.user))
