"""Reads for labs: a user's labs, a lab's members, the shares of a project or dataset."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from semweb.labs.models import Lab, Membership


def labs_for_user(user) -> QuerySet[Lab]:
    """Labs `user` belongs to (all labs for a superuser)."""
    if user.is_superuser:
        return Lab.objects.all()
    if not user.is_authenticated:
        return Lab.objects.none()
    return Lab.objects.filter(memberships__user=user)


def lab_memberships(lab: Lab) -> QuerySet[Membership]:
    return lab.memberships.select_related("user").order_by("user__username")


def user_by_login(identifier: str):
    """An existing active user by username or e-mail (None when there is none)."""
    identifier = identifier.strip()
    if not identifier:
        return None
    users = get_user_model().objects.filter(is_active=True)
    return (
        users.filter(username=identifier).first()
        or users.filter(email__iexact=identifier).order_by("pk").first()
    )


def lab_by_slug(slug: str) -> Lab | None:
    return Lab.objects.filter(slug=slug.strip().lower()).first()
