"""Reads for datasets and exports: which runs a dataset, sample or project export contains, and
the summary document and printable report built from them."""

from __future__ import annotations

import base64
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from semweb.analyses import engine
from semweb.analyses.models import AnalysisRun, Particle, ReviewState, RunStatus
from semweb.datasets import exports

REPORT_MAX_FIGURES = 50  # a printable report, not an archive: the first 50 micrographs


def dataset_runs(dataset) -> QuerySet[AnalysisRun]:
    return dataset.runs.select_related("micrograph", "approved_by").order_by(
        "micrograph__sample_id", "micrograph_id", "id"
    )


def export_runs(*, micrographs: QuerySet) -> QuerySet[AnalysisRun]:
    """One run per micrograph: its latest approved run, else its latest succeeded run."""
    best = (
        AnalysisRun.objects.filter(micrograph=OuterRef("pk"), status=RunStatus.SUCCEEDED)
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    approved_first = (
        AnalysisRun.objects.filter(micrograph=OuterRef("pk"), review_state=ReviewState.APPROVED)
        .order_by("-approved_at", "-id")
        .values("pk")[:1]
    )
    ids = micrographs.annotate(
        approved_run=Subquery(approved_first), latest_run=Subquery(best)
    ).values_list("approved_run", "latest_run")
    run_ids = [a or b for a, b in ids if (a or b)]
    return (
        AnalysisRun.objects.filter(pk__in=run_ids)
        .select_related("micrograph__sample__project", "approved_by")
        .order_by("micrograph__sample__name", "micrograph_id")
    )


def accepted_particles(runs) -> QuerySet[Particle]:
    return (
        Particle.objects.filter(run__in=runs, accepted=True)
        .select_related("run__micrograph__sample")
        .order_by("run__micrograph__sample__name", "run__micrograph_id", "run_id", "index")
    )


def accepted_ecds(runs) -> list[float]:
    """ECD (nm) of the accepted, calibrated particles of `runs`."""
    return list(
        Particle.objects.filter(run__in=runs, accepted=True, ecd_nm__isnull=False).values_list(
            "ecd_nm", flat=True
        )
    )


def curatable_runs(dataset, limit: int = 200) -> QuerySet[AnalysisRun]:
    """Approved runs of the dataset lab's own projects that are not in it yet (newest first)."""
    return (
        AnalysisRun.objects.filter(
            review_state=ReviewState.APPROVED,
            micrograph__sample__project__lab_id=dataset.lab_id,
        )
        .exclude(datasets=dataset)
        .select_related("micrograph__sample__project", "approved_by")
        .order_by("-approved_at", "-id")[:limit]
    )


def summary_document(scope: str, obj, runs) -> dict[str, Any]:
    """The summary JSON of a run, sample or project export: each run's provenance and stored
    summary, and the engine's statistics of all accepted ECDs (nm)."""
    runs = list(runs)
    return {
        "scope": scope,
        "id": obj.pk,
        "name": str(obj),
        "runs": [
            {
                "id": r.pk,
                "micrograph": r.micrograph_id,
                "review_state": r.review_state,
                "approved_by": r.approved_by.username if r.approved_by else None,
                "approved_at": r.approved_at.isoformat() if r.approved_at else None,
                "pixel_size_nm": r.pixel_size_nm,
                "calibration_source": (r.calibration or {}).get("source"),
                "engine_version": r.engine_version,
                "model_version": r.model_version,
                "summary": r.summary,
            }
            for r in runs
        ],
        "accepted_particles": Particle.objects.filter(run__in=runs, accepted=True).count(),
        "ecd_nm": engine.summarize_sizes(accepted_ecds(runs)),
    }


def _preview_data_uri(micrograph) -> str | None:
    if not micrograph.preview:
        return None
    try:
        with micrograph.preview.open("rb") as fh:
            return "data:image/png;base64," + base64.b64encode(fh.read()).decode()
    except OSError:
        return None


def report_content(scope: str, obj, runs) -> dict[str, Any]:
    """What the printable report shows: the summary document, each micrograph (preview inline)
    with its accepted outlines as SVG points, the ECD histogram bars and the summary table."""
    runs = list(runs)
    document = summary_document(scope, obj, runs)
    figures = []
    for run in runs[:REPORT_MAX_FIGURES]:
        particles = run.particles.filter(accepted=True).only("polygon", "ecd_nm")
        figures.append(
            {
                "run": run,
                "micrograph": run.micrograph,
                "image": _preview_data_uri(run.micrograph),
                "outlines": [" ".join(f"{x:.1f},{y:.1f}" for x, y in p.polygon) for p in particles],
            }
        )
    return {
        "doc": document,
        "figures": figures,
        "more": max(0, len(runs) - REPORT_MAX_FIGURES),
        "histogram": exports.histogram(accepted_ecds(runs)),
        "summary_rows": [
            (exports.header_for(k), v)
            for k, v in document["ecd_nm"].items()
            if isinstance(v, int | float)
        ],
    }
