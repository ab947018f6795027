"""Lab pages: members and their roles (admins manage them), sharing of projects and datasets,
and the rate-limited login view."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from semweb.catalogue.models import Project
from semweb.datasets.models import Dataset
from semweb.labs import selectors, services
from semweb.labs.models import Membership, Role, ShareLevel
from semweb.labs.permissions import Access, get_for_user, get_lab_for_user, lab_access
from semweb.labs.ratelimit import (
    client_address,
    login_blocked,
    login_failed,
    login_retry_after,
    login_succeeded,
)


class RateLimitedLoginView(auth_views.LoginView):
    """Django's login view, refusing with 429 after too many failures (see `ratelimit`)."""

    template_name = "labs/login.html"

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        address = client_address(request)
        blocked = login_blocked(username=username, address=address)
        response = None if blocked else super().post(request, *args, **kwargs)
        if blocked or getattr(request, "semweb_login_blocked", False):
            form = self.get_form()
            form.errors.clear()
            wait_s = login_retry_after(username=username, address=address)
            response = self.render_to_response(
                self.get_context_data(form=form, rate_limited=True, retry_after_s=wait_s)
            )
            response.status_code = 429
            response["Retry-After"] = str(max(1, wait_s))
            return response
        if not _backend_counts():
            # Without RateLimitedModelBackend configured, this view counts on its own.
            if request.user.is_authenticated:
                login_succeeded(username=username, address=address)
            else:
                login_failed(username=username, address=address)
        return response


def _backend_counts() -> bool:
    return "semweb.labs.ratelimit.RateLimitedModelBackend" in getattr(
        settings, "AUTHENTICATION_BACKENDS", ()
    )


ADMIN_ONLY = "Only a lab admin may do this."


def _report(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


@login_required
def lab_list(request: HttpRequest) -> HttpResponse:
    labs = selectors.labs_for_user(request.user).order_by("name")
    return render(request, "labs/lab_list.html", {"labs": labs})


@login_required
def lab_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lab, access = get_lab_for_user(request.user, slug)
    context = {
        "lab": lab,
        "memberships": selectors.lab_memberships(lab),
        "is_admin": access >= Access.ADMIN,
        "roles": Role.choices,
    }
    return render(request, "labs/lab_detail.html", context)


@login_required
@require_POST
def membership_add(request: HttpRequest, slug: str) -> HttpResponse:
    lab, _ = get_lab_for_user(request.user, slug, need=Access.ADMIN, denied=ADMIN_ONLY)
    user = selectors.user_by_login(request.POST.get("user", ""))
    if user is None:
        messages.error(request, "No active user with that username or e-mail.")
        return redirect("labs:detail", slug=lab.slug)
    try:
        services.membership_add(
            lab=lab, user=user, role=request.POST.get("role", Role.MEMBER), actor=request.user
        )
        messages.success(request, f"{user.username} added.")
    except ValidationError as exc:
        _report(request, exc)
    return redirect("labs:detail", slug=lab.slug)


@login_required
@require_POST
def membership_role(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    lab, _ = get_lab_for_user(request.user, slug, need=Access.ADMIN, denied=ADMIN_ONLY)
    membership = get_object_or_404(Membership, pk=pk, lab=lab)
    try:
        services.membership_set_role(
            membership=membership, role=request.POST.get("role", ""), actor=request.user
        )
        messages.success(request, f"Role of {membership.user.username} changed.")
    except ValidationError as exc:
        _report(request, exc)
    return redirect("labs:detail", slug=lab.slug)


@login_required
@require_POST
def membership_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    lab, _ = get_lab_for_user(request.user, slug, need=Access.ADMIN, denied=ADMIN_ONLY)
    membership = get_object_or_404(Membership, pk=pk, lab=lab)
    try:
        services.membership_remove(membership=membership, actor=request.user)
        messages.success(request, f"{membership.user.username} removed.")
    except ValidationError as exc:
        _report(request, exc)
    if lab_access(request.user, lab) == Access.NONE:
        return redirect("labs:list")
    return redirect("labs:detail", slug=lab.slug)


def _sharing_page(request, obj, access, kind: str) -> HttpResponse:
    context = {
        "obj": obj,
        "kind": kind,
        "shares": obj.shares.select_related("lab").order_by("lab__name"),
        "is_admin": access >= Access.ADMIN,
        "levels": ShareLevel.choices,
    }
    return render(request, "labs/sharing.html", context)


def _grant(request, obj, grant) -> None:
    target = selectors.lab_by_slug(request.POST.get("lab", ""))
    if target is None:
        messages.error(request, "No lab with that identifier.")
        return
    try:
        grant(lab=target, level=request.POST.get("level", ShareLevel.VIEW), actor=request.user)
        messages.success(request, f"Shared with {target.name}.")
    except ValidationError as exc:
        _report(request, exc)


def _sharing_view(request: HttpRequest, model, pk: int, kind: str, grant) -> HttpResponse:
    """The sharing page of a project or dataset: members see it, admins grant (POST)."""
    need = Access.ADMIN if request.method == "POST" else Access.MEMBER
    obj, access = get_for_user(request.user, model, pk, need=need)
    if request.method == "POST":
        _grant(request, obj, lambda **kw: grant(obj, **kw))
        return redirect(f"labs:{kind}_sharing", pk=obj.pk)
    return _sharing_page(request, obj, access, kind)


def _revoke_view(request: HttpRequest, model, pk: int, share_id: int, kind: str, revoke):
    """Revoke one share of a project or dataset (admins of the owning lab)."""
    obj, _ = get_for_user(request.user, model, pk, need=Access.ADMIN)
    share = get_object_or_404(obj.shares.select_related("lab"), pk=share_id)
    revoke(share=share, actor=request.user)
    messages.success(request, f"Sharing with {share.lab.name} revoked.")
    return redirect(f"labs:{kind}_sharing", pk=obj.pk)


@login_required
def project_sharing(request: HttpRequest, pk: int) -> HttpResponse:
    def grant(project, **kw):
        return services.project_share_grant(project=project, **kw)

    return _sharing_view(request, Project, pk, "project", grant)


@login_required
@require_POST
def project_share_revoke(request: HttpRequest, pk: int, share_id: int) -> HttpResponse:
    return _revoke_view(request, Project, pk, share_id, "project", services.project_share_revoke)


@login_required
def dataset_sharing(request: HttpRequest, pk: int) -> HttpResponse:
    def grant(dataset, **kw):
        return services.dataset_share_grant(dataset=dataset, **kw)

    return _sharing_view(request, Dataset, pk, "dataset", grant)


@login_required
@require_POST
def dataset_share_revoke(request: HttpRequest, pk: int, share_id: int) -> HttpResponse:
    return _revoke_view(request, Dataset, pk, share_id, "dataset", services.dataset_share_revoke)
