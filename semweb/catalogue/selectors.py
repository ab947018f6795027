"""Reads of the catalogue, always filtered by what the user may see."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery

from semweb.analyses.models import AnalysisRun
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.labs.models import Lab, Membership, Role
from semweb.labs.permissions import visible


def projects_visible(user, *, lab: Lab | None = None) -> QuerySet[Project]:
    qs = visible(user, Project.objects.select_related("lab"))
    if lab is not None:
        qs = qs.filter(lab=lab)
    return qs.annotate(sample_count=Count("samples", distinct=True)).order_by("lab__name", "name")


def labs_for_project_create(user) -> QuerySet[Lab]:
    """Labs in which `user` may create projects: the ones they are a member of (any role)."""
    if user.is_superuser:
        return Lab.objects.all()
    roles = [Role.MEMBER, Role.SUPERVISOR, Role.ADMIN]
    lab_ids = Membership.objects.filter(user=user, role__in=roles).values("lab_id")
    return Lab.objects.filter(pk__in=lab_ids)


def samples_of_project(project: Project) -> QuerySet[Sample]:
    return project.samples.annotate(micrograph_count=Count("micrographs")).order_by("name", "id")


def _latest_run():
    return AnalysisRun.objects.filter(micrograph=OuterRef("pk")).order_by("-created_at", "-id")


def micrographs_of_sample(sample: Sample) -> QuerySet[Micrograph]:
    """The sample's micrographs with their latest run's id and statuses (one query)."""
    latest = _latest_run()
    return (
        sample.micrographs.select_related("uploaded_by")
        .annotate(
            latest_run_id=Subquery(latest.values("id")[:1]),
            latest_run_status=Subquery(latest.values("status")[:1]),
            latest_run_review_state=Subquery(latest.values("review_state")[:1]),
            run_count=Count("runs", distinct=True),
        )
        .order_by("-uploaded_at", "-id")
    )


def micrograph_runs(micrograph: Micrograph) -> QuerySet:
    return micrograph.runs.select_related("created_by").order_by("-created_at", "-id")
