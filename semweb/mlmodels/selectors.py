"""Reads for the model registry: what a user may pick for a run, a version's progress."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from semweb.labs.permissions import visible_models
from semweb.mlmodels import services
from semweb.mlmodels.models import USABLE, ModelStatus, ModelVersion, StyleModel


def models_for_analysis(user, lab) -> tuple[ModelVersion, QuerySet[ModelVersion]]:
    """(the lab's default, every usable version `user` may pick) for an analyse form."""
    default = services.lab_default(lab)
    choices = visible_models(user, ModelVersion.objects.select_related("lab")).filter(
        status__in=USABLE
    )
    return default, choices.order_by("-builtin", "lab__name", "-id")


def models_of_dataset(dataset) -> QuerySet[ModelVersion]:
    return dataset.model_versions.order_by("-id")


def progress_payload(version: ModelVersion) -> dict[str, Any]:
    """The small JSON the model page polls while it trains."""
    progress = version.progress or {}
    return {
        "id": version.pk,
        "status": version.status,
        "status_label": version.get_status_display(),
        "stage": version.stage,
        "training": version.status in (ModelStatus.QUEUED, ModelStatus.TRAINING),
        "epoch": progress.get("epoch", 0),
        "epochs": progress.get("epochs", version.parameters.get("epochs")),
        "history": progress.get("history", []),
        "resumed": progress.get("resumed", []),
        "error": version.error if version.status == ModelStatus.FAILED else "",
        "url": reverse("mlmodels:detail", args=[version.pk]),
        "progress_url": reverse("mlmodels:progress", args=[version.pk]),
    }


def style_progress_payload(style: StyleModel) -> dict[str, Any]:
    """The small JSON the style page polls while it learns: steps, losses, sample sheets."""
    progress = style.progress or {}
    samples = [
        {
            "step": s["step"],
            "url": reverse("mlmodels:style_sample", args=[style.pk, s["step"]]),
        }
        for s in progress.get("samples", [])
    ]
    return {
        "id": style.pk,
        "status": style.status,
        "status_label": style.get_status_display(),
        "stage": style.stage,
        "training": style.status in (ModelStatus.QUEUED, ModelStatus.TRAINING),
        "step": progress.get("step", 0),
        "max_steps": style.parameters.get("max_steps"),
        "seconds": progress.get("seconds", 0.0),
        "minutes": style.parameters.get("minutes"),
        "history": progress.get("history", []),
        "samples": samples,
        "resumed": progress.get("resumed", []),
        "continued": progress.get("continued", []),
        "error": style.error if style.status == ModelStatus.FAILED else "",
        "url": reverse("mlmodels:style", args=[style.pk]),
        "progress_url": reverse("mlmodels:style_progress", args=[style.pk]),
    }
