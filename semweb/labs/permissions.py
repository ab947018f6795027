"""The one permission helper: every page, API endpoint, file download and export asks here.

Access is a ladder. A user's access to a project is the highest of: their role in the owning
lab (member < supervisor < admin), or the share level granted to any lab they belong to
(view < annotate). Everything below a project (samples, micrographs, runs, particles, files)
inherits the project's access; datasets have their own owner lab and shares.

Objects a user may not see are reported as *not found* (404), never *forbidden*, so that
existence does not leak across labs.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from semweb.labs.models import Membership, Role, ShareLevel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class Access(IntEnum):
    NONE = 0
    VIEW = 10  # see everything, export
    ANNOTATE = 20  # also create runs and edit acceptance on their own runs
    MEMBER = 30  # full member of the owning lab: upload, analyse, edit, submit
    SUPERVISOR = 40  # also approve / request changes
    ADMIN = 50  # also manage memberships and shares, delete


ROLE_ACCESS = {Role.MEMBER: Access.MEMBER, Role.SUPERVISOR: Access.SUPERVISOR, Role.ADMIN: Access.ADMIN}
SHARE_ACCESS = {ShareLevel.VIEW: Access.VIEW, ShareLevel.ANNOTATE: Access.ANNOTATE}


def lab_role_access(user, lab_id: int) -> Access:
    """The user's access to a lab as a member (NONE when not a member)."""
    if not user.is_authenticated:
        return Access.NONE
    if user.is_superuser:
        return Access.ADMIN
    role = (
        Membership.objects.filter(user=user, lab_id=lab_id).values_list("role", flat=True).first()
    )
    return ROLE_ACCESS.get(role, Access.NONE)


def project_access(user, project) -> Access:
    """Highest access the user has to `project` (a Project instance)."""
    if not user.is_authenticated:
        return Access.NONE
    if user.is_superuser:
        return Access.ADMIN
    own = lab_role_access(user, project.lab_id)
    if own:
        return own
    levels = project.shares.filter(lab__memberships__user=user).values_list("level", flat=True)
    return max((SHARE_ACCESS[level] for level in levels), default=Access.NONE)


def dataset_access(user, dataset) -> Access:
    if not user.is_authenticated:
        return Access.NONE
    if user.is_superuser:
        return Access.ADMIN
    own = lab_role_access(user, dataset.lab_id)
    if own:
        return own
    levels = dataset.shares.filter(lab__memberships__user=user).values_list("level", flat=True)
    return max((SHARE_ACCESS[level] for level in levels), default=Access.NONE)


def visible_project_filter(user, prefix: str = "") -> Q:
    """A Q object selecting the projects `user` may see; `prefix` reaches Project from another
    model (e.g. ``"sample__project__"`` for Micrograph). Used by every list, search and count."""
    if user.is_superuser:
        return Q()
    if not user.is_authenticated:
        return Q(pk__in=[])
    lab_ids = Membership.objects.filter(user=user).values("lab_id")
    return Q(**{f"{prefix}lab_id__in": lab_ids}) | Q(**{f"{prefix}shares__lab_id__in": lab_ids})


def visible(user, queryset: QuerySet, prefix: str = "") -> QuerySet:
    """Filter any queryset down to what `user` may see (distinct, since shares join)."""
    return queryset.filter(visible_project_filter(user, prefix)).distinct()


def project_of(obj):
    """The project an object belongs to (Project, Sample, Micrograph, AnalysisRun, Particle)."""
    from semweb.analyses.models import AnalysisRun, Particle
    from semweb.catalogue.models import Micrograph, Project, Sample

    if isinstance(obj, Project):
        return obj
    if isinstance(obj, Sample):
        return obj.project
    if isinstance(obj, Micrograph):
        return obj.sample.project
    if isinstance(obj, AnalysisRun):
        return obj.micrograph.sample.project
    if isinstance(obj, Particle):
        return obj.run.micrograph.sample.project
    raise TypeError(f"no project for {type(obj).__name__}")


def access_to(user, obj) -> Access:
    """Access to any catalogue/analysis object or dataset."""
    from semweb.datasets.models import Dataset

    if isinstance(obj, Dataset):
        return dataset_access(user, obj)
    return project_access(user, project_of(obj))


# Related paths that make `get_for_user` fetch the project chain in the same query.
_SELECT_RELATED = {
    "project": ("lab",),
    "sample": ("project",),
    "micrograph": ("sample__project",),
    "analysisrun": ("micrograph__sample__project",),
    "particle": ("run__micrograph__sample__project",),
}


def get_for_user(user, model, pk, *, need: Access = Access.VIEW):
    """Fetch `model` #pk if `user` has at least `need` access; else 404 when they cannot see it
    at all, and `PermissionDenied` when they can see it but not do this.

    Returns ``(obj, access)`` so callers can show or hide write controls.
    """
    from django.core.exceptions import PermissionDenied

    related = _SELECT_RELATED.get(model._meta.model_name, ())
    try:
        obj = model.objects.select_related(*related).get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found") from None
    access = access_to(user, obj)
    if access == Access.NONE:
        raise Http404("Not found")
    if access < need:
        raise PermissionDenied("Your role does not allow this.")
    return obj, access
