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

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from semweb.analyses.models import AnalysisRun, Particle, ReviewState, RunStatus
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.datasets.models import Dataset, DatasetExport, DatasetShare
from semweb.labs.models import Lab, Membership, Role, ShareLevel
from semweb.mlmodels.models import ModelVersion, StyleModel


class Access(IntEnum):
    NONE = 0
    VIEW = 10  # see everything, export
    ANNOTATE = 20  # also create runs and edit acceptance on their own runs
    MEMBER = 30  # full member of the owning lab: upload, analyse, edit, submit
    SUPERVISOR = 40  # also approve / request changes
    ADMIN = 50  # also manage memberships and shares, delete


ROLE_ACCESS = {
    Role.MEMBER: Access.MEMBER,
    Role.SUPERVISOR: Access.SUPERVISOR,
    Role.ADMIN: Access.ADMIN,
}
SHARE_ACCESS = {ShareLevel.VIEW: Access.VIEW, ShareLevel.ANNOTATE: Access.ANNOTATE}


def lab_roles(user) -> dict[int, str]:
    """{lab_id: role} for `user`, read once per user instance (i.e. once per request, since
    Django builds `request.user` afresh for every request). Revocations therefore apply from
    the next request on; services that change memberships call `forget` for the same object."""
    cached = getattr(user, "_semweb_lab_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("lab_id", "role"))
        user._semweb_lab_roles = cached
    return cached


def forget(user) -> None:
    """Drop the per-instance cache of `user`'s memberships (after changing them)."""
    user.__dict__.pop("_semweb_lab_roles", None)


def lab_role_access(user, lab_id: int) -> Access:
    """The user's access to a lab as a member (NONE when not a member)."""
    if not user.is_authenticated:
        return Access.NONE
    if user.is_superuser:
        return Access.ADMIN
    return ROLE_ACCESS.get(lab_roles(user).get(lab_id), Access.NONE)


def lab_access(user, lab) -> Access:
    """Access to a lab's own pages (members, shares): members only; shares do not count."""
    return lab_role_access(user, lab.pk)


def user_lab_ids(user) -> list[int]:
    """Ids of the labs `user` belongs to."""
    if not user.is_authenticated:
        return []
    return list(lab_roles(user))


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
    lab_ids = user_lab_ids(user)
    return Q(**{f"{prefix}lab_id__in": lab_ids}) | Q(**{f"{prefix}shares__lab_id__in": lab_ids})


def visible(user, queryset: QuerySet, prefix: str = "") -> QuerySet:
    """Filter any queryset down to what `user` may see.

    A subquery on Project (not a join through shares) keeps rows unique without DISTINCT, so
    lists stay index-friendly with millions of rows.
    """
    if user.is_superuser:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    project_ids = Project.objects.filter(visible_project_filter(user)).values("pk")
    if not prefix:
        return queryset.filter(pk__in=project_ids)
    return queryset.filter(**{f"{prefix.removesuffix('__')}__in": project_ids})


def visible_datasets(user, queryset: QuerySet | None = None) -> QuerySet:
    """Datasets `user` may see: their labs' own and those shared with their labs."""
    queryset = Dataset.objects.all() if queryset is None else queryset
    if user.is_superuser:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    lab_ids = user_lab_ids(user)
    shared = Dataset.objects.filter(shares__lab_id__in=lab_ids).values("pk")
    return queryset.filter(Q(lab_id__in=lab_ids) | Q(pk__in=shared))


def trained_on_access(user, obj, *, builtin: bool = False) -> Access:
    """Access to something trained on a lab's dataset (a model version, a learned style).

    The lab's own: its members by role. Another lab sees it (VIEW: read it, use it) only while
    the owning lab shares the dataset it was trained on with them; sharing the data is what
    makes what was trained on it shareable. `builtin`: every signed-in user may see and use it.
    """
    if not user.is_authenticated:
        return Access.NONE
    if user.is_superuser:
        return Access.ADMIN
    if builtin:
        return Access.VIEW
    own = lab_role_access(user, obj.lab_id)
    if own:
        return own
    if obj.dataset_id is None:
        return Access.NONE
    shared = DatasetShare.objects.filter(
        dataset_id=obj.dataset_id, lab_id__in=user_lab_ids(user)
    ).exists()
    return Access.VIEW if shared else Access.NONE


def visible_trained_on(user, queryset: QuerySet, *, builtin: bool = False) -> QuerySet:
    """The queryset form of :func:`trained_on_access`: rows of their labs' own and those
    trained on a dataset shared with one of their labs; `builtin`: also the built-in rows."""
    if user.is_superuser:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    lab_ids = user_lab_ids(user)
    shared = DatasetShare.objects.filter(lab_id__in=lab_ids).values("dataset_id")
    rule = Q(lab_id__in=lab_ids) | Q(dataset_id__in=shared)
    if builtin:
        rule = Q(builtin=True) | rule
    return queryset.filter(rule)


def model_access(user, version) -> Access:
    """Access to a model version of the registry (:func:`trained_on_access`); the built-in
    model: every signed-in user may see and use it."""
    return trained_on_access(user, version, builtin=version.builtin)


def visible_models(user, queryset: QuerySet | None = None) -> QuerySet:
    """Model versions `user` may see: the built-in ones, their labs' own, and those trained on
    a dataset shared with one of their labs (the rule of :func:`model_access`)."""
    queryset = ModelVersion.objects.all() if queryset is None else queryset
    return visible_trained_on(user, queryset, builtin=True)


def model_train_allowed(user, dataset) -> bool:
    """Training a lab model on a dataset: supervisors and lab admins of the dataset's own lab
    (a share never allows it: training spends the owning lab's machines)."""
    return lab_role_access(user, dataset.lab_id) >= Access.SUPERVISOR


def style_access(user, style) -> Access:
    """Access to a learned style: as to a model version trained on the same dataset (its lab's
    members by role; a lab the dataset is shared with may look at it, VIEW)."""
    return trained_on_access(user, style)


def visible_styles(user, queryset: QuerySet | None = None) -> QuerySet:
    """Learned styles `user` may see (the rule of :func:`style_access`)."""
    queryset = StyleModel.objects.all() if queryset is None else queryset
    return visible_trained_on(user, queryset)


def style_train_allowed(user, style) -> bool:
    """Generating with, or cancelling, a learned style: who may train on its lab's data
    (:func:`model_train_allowed`: supervisors and admins of the owning lab)."""
    return model_train_allowed(user, style)  # the same rule; it reads only the lab


def model_manage_allowed(user, version) -> bool:
    """Promote, retire, roll back: the owning lab's admins; nobody manages the built-in."""
    return not version.builtin and lab_role_access(user, version.lab_id) >= Access.ADMIN


def run_write_allowed(user, run, access: Access | None = None) -> bool:
    """The one rule for changing a run, whatever its state: owning-lab members may change any
    run; annotate-shared users only the runs they created themselves; view-shared users none.
    Used for editing, cancelling and submitting for review."""
    access = access_to(user, run) if access is None else access
    if access >= Access.MEMBER:
        return True
    return access == Access.ANNOTATE and run.created_by_id == getattr(user, "pk", None)


def require_run_write(user, run, message: str = "You may not change this analysis.") -> None:
    """`PermissionDenied` (403) unless `run_write_allowed`; state checks are the services'."""
    if not run_write_allowed(user, run):
        raise PermissionDenied(message)


def require_supervisor(user, run) -> None:
    """Only supervisors (and admins) of the owning lab approve or request changes."""
    if access_to(user, run) < Access.SUPERVISOR:
        raise PermissionDenied("Only the lab's supervisors approve or request changes.")


def run_edit_allowed(user, run, access: Access | None = None) -> bool:
    """May `user` change particle acceptance (or calibration) of `run` now?

    `run_write_allowed` and the run is unlocked: approved runs are immutable for everyone.
    """
    return not run.is_locked and run_write_allowed(user, run, access)


# Review states a run may be submitted from (the review service's transition sources).
SUBMITTABLE_STATES = frozenset({ReviewState.UNREVIEWED, ReviewState.CHANGES_REQUESTED})

# Least access that lets the review page or API attempt each review action; finer rules
# (own run for annotators) are checked by the services.
REVIEW_ACTION_ACCESS = {
    "comment": Access.ANNOTATE,
    "submit": Access.ANNOTATE,
    "approve": Access.SUPERVISOR,
    "request_changes": Access.SUPERVISOR,
}


def can_submit(user, run, access: Access | None = None) -> bool:
    """Show the "submit for review" control: a finished, editable run in a submittable state."""
    return (
        run.status == RunStatus.SUCCEEDED
        and run.review_state in SUBMITTABLE_STATES
        and run_edit_allowed(user, run, access)
    )


def can_decide(user, run, access: Access | None = None) -> bool:
    """Show "approve / request changes": a supervisor, and the run is finished and in review."""
    access = access_to(user, run) if access is None else access
    return (
        access >= Access.SUPERVISOR
        and run.status == RunStatus.SUCCEEDED
        and run.review_state == ReviewState.IN_REVIEW
    )


def get_lab_for_user(
    user,
    slug: str,
    *,
    need: Access = Access.VIEW,
    denied: str = "Your role in this lab does not allow this.",
) -> tuple[Lab, Access]:
    """The lab with `slug` and the user's role-based access to it (shares do not count).

    404 when there is no such lab or the user is not a member (existence does not leak);
    `PermissionDenied` with `denied` when a member's role is below `need`.
    """
    lab = Lab.objects.filter(slug=(slug or "").strip().lower()).first()
    access = lab_access(user, lab) if lab is not None else Access.NONE
    if access == Access.NONE:
        raise Http404("Not found")
    if access < need:
        raise PermissionDenied(denied)
    return lab, access


def project_of(obj):
    """The project an object belongs to (Project, Sample, Micrograph, AnalysisRun, Particle)."""
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
    """Access to any catalogue/analysis object, lab, dataset, dataset export or model."""
    if isinstance(obj, ModelVersion):
        return model_access(user, obj)
    if isinstance(obj, StyleModel):
        return style_access(user, obj)
    if isinstance(obj, Dataset):
        return dataset_access(user, obj)
    if isinstance(obj, DatasetExport):
        return dataset_access(user, obj.dataset)
    if isinstance(obj, Lab):
        return lab_access(user, obj)
    return project_access(user, project_of(obj))


# Related paths that make `get_for_user` fetch the project chain in the same query.
_SELECT_RELATED = {
    "project": ("lab",),
    "sample": ("project",),
    "micrograph": ("sample__project",),
    "analysisrun": ("micrograph__sample__project",),
    "particle": ("run__micrograph__sample__project",),
    "datasetexport": ("dataset",),
    "modelversion": ("lab", "parent", "dataset"),
    "stylemodel": ("lab", "dataset"),
}


def get_for_user(user, model, pk, *, need: Access = Access.VIEW):
    """Fetch `model` #pk if `user` has at least `need` access; else 404 when they cannot see it
    at all, and `PermissionDenied` when they can see it but not do this.

    Returns ``(obj, access)`` so callers can show or hide write controls.
    """
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
