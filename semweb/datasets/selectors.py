"""Reads for datasets and exports: which runs a dataset, sample or project export contains."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from semweb.analyses.models import AnalysisRun, Particle, ReviewState, RunStatus


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
