"""Writes for labs: memberships and the sharing of projects and datasets with other labs.

Every service checks that the actor may do it (lab admin of the owning lab), keeps the lab
with at least one admin, and records an audit event.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from semweb.audit.services import audit_record
from semweb.catalogue.models import ProjectShare
from semweb.datasets.models import DatasetShare
from semweb.labs.models import Lab, Membership, Role, ShareLevel
from semweb.labs.permissions import Access, access_to, forget, lab_role_access


def _require_lab_admin(actor, lab: Lab) -> None:
    if lab_role_access(actor, lab.pk) < Access.ADMIN:
        raise PermissionDenied("Only a lab admin may do this.")


def _require_other_admin(membership: Membership) -> None:
    """Refuse to leave a lab without any admin."""
    others = (
        Membership.objects.select_for_update()
        .filter(lab_id=membership.lab_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise ValidationError("A lab needs at least one admin.")


def lab_create(*, name: str, slug: str, creator, description: str = "") -> Lab:
    """Create a lab with `creator` as its first admin (audited)."""
    with transaction.atomic():
        lab = Lab.objects.create(name=name, slug=slug, description=description)
        Membership.objects.create(lab=lab, user=creator, role=Role.ADMIN)
        audit_record(actor=creator, verb="lab.create", target=lab, lab=lab)
    forget(creator)
    return lab


def membership_add(*, lab: Lab, user, role: str, actor) -> Membership:
    """Add an existing user to `lab` with `role`."""
    _require_lab_admin(actor, lab)
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    with transaction.atomic():
        if Membership.objects.filter(lab=lab, user=user).exists():
            raise ValidationError(f"{user.username} is already a member.")
        membership = Membership.objects.create(lab=lab, user=user, role=role)
        audit_record(
            actor=actor,
            verb="membership.add",
            target=membership,
            lab=lab,
            user=user.username,
            role=role,
        )
    forget(user)
    return membership


def membership_set_role(*, membership: Membership, role: str, actor) -> Membership:
    _require_lab_admin(actor, membership.lab)
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.ADMIN and role != Role.ADMIN:
            _require_other_admin(membership)
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=actor,
            verb="membership.set_role",
            target=membership,
            lab=membership.lab,
            user=membership.user.username,
            old=old,
            new=role,
        )
    forget(membership.user)
    return membership


def membership_remove(*, membership: Membership, actor) -> None:
    _require_lab_admin(actor, membership.lab)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.ADMIN:
            _require_other_admin(membership)
        audit_record(
            actor=actor,
            verb="membership.remove",
            target=membership,
            lab=membership.lab,
            user=membership.user.username,
        )
        membership.delete()
    forget(membership.user)


def _share_grant(*, obj, share_model, field: str, lab: Lab, level: str, actor):
    if access_to(actor, obj) < Access.ADMIN:
        raise PermissionDenied("Only an admin of the owning lab may share.")
    if level not in ShareLevel.values:
        raise ValidationError(f"Unknown share level {level!r}.")
    if lab.pk == obj.lab_id:
        raise ValidationError("The owning lab already has access.")
    with transaction.atomic():
        share, created = share_model.objects.update_or_create(
            **{field: obj, "lab": lab}, defaults={"level": level, "granted_by": actor}
        )
        audit_record(
            actor=actor,
            verb=f"{field}.share",
            target=obj,
            lab=obj.lab,
            to_lab=lab.slug,
            level=level,
            created=created,
        )
    return share


def _share_revoke(*, share, obj, field: str, actor) -> None:
    if access_to(actor, obj) < Access.ADMIN:
        raise PermissionDenied("Only an admin of the owning lab may revoke a share.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb=f"{field}.unshare",
            target=obj,
            lab=obj.lab,
            to_lab=share.lab.slug,
            level=share.level,
        )
        share.delete()


def project_share_grant(*, project, lab: Lab, level: str, actor):
    """Share `project` with `lab` at `level` (view or annotate); re-granting changes the level."""

    return _share_grant(
        obj=project, share_model=ProjectShare, field="project", lab=lab, level=level, actor=actor
    )


def project_share_revoke(*, share, actor) -> None:
    """Revoke a project share; it takes effect on the next request of that lab's members."""
    _share_revoke(share=share, obj=share.project, field="project", actor=actor)


def dataset_share_grant(*, dataset, lab: Lab, level: str, actor):
    return _share_grant(
        obj=dataset, share_model=DatasetShare, field="dataset", lab=lab, level=level, actor=actor
    )


def dataset_share_revoke(*, share, actor) -> None:
    _share_revoke(share=share, obj=share.dataset, field="dataset", actor=actor)
