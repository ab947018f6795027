"""Sharing a project with another lab: grant, change level, revoke; who may do it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from semweb.audit.models import AuditEvent
from semweb.catalogue.models import ProjectShare
from semweb.labs.permissions import Access, project_access
from semweb.labs.services import project_share_grant, project_share_revoke


def test_admin_shares_project_through_the_page(client, alice, project, view_lab, dave):
    client.force_login(alice)
    response = client.post(
        reverse("labs:project_sharing", args=[project.pk]), {"lab": "sato", "level": "view"}
    )
    assert response.status_code == 302
    share = ProjectShare.objects.get(project=project)
    assert (share.lab, share.level, share.granted_by) == (view_lab, "view", alice)
    assert AuditEvent.objects.filter(verb="project.share", target_id=str(project.pk)).count() == 1
    assert project_access(dave, project) == Access.VIEW


def test_regranting_changes_the_level_not_the_count(alice, project, annotate_lab, erin):
    project_share_grant(project=project, lab=annotate_lab, level="view", actor=alice)
    project_share_grant(project=project, lab=annotate_lab, level="annotate", actor=alice)
    assert list(ProjectShare.objects.values_list("level", flat=True)) == ["annotate"]
    assert project_access(erin, project) == Access.ANNOTATE


def test_revocation_takes_effect_on_the_next_request(client, alice, project, view_lab, dave):
    share = project_share_grant(project=project, lab=view_lab, level="view", actor=alice)
    client.force_login(dave)
    url = reverse("labs:project_sharing", args=[project.pk])
    assert client.get(url).status_code == 403  # visible (shared) but not a member
    project_share_revoke(share=share, actor=alice)
    assert client.get(url).status_code == 404  # no longer visible at all


def test_member_and_supervisor_cannot_share(bob, sam, project, view_lab):
    for user in (bob, sam):
        with pytest.raises(PermissionDenied):
            project_share_grant(project=project, lab=view_lab, level="view", actor=user)
    assert ProjectShare.objects.count() == 0


def test_sharing_with_the_owner_lab_is_refused(alice, project, lab):
    with pytest.raises(ValidationError):
        project_share_grant(project=project, lab=lab, level="view", actor=alice)


def test_unknown_lab_slug_is_reported_and_nothing_is_shared(client, alice, project):
    client.force_login(alice)
    response = client.post(
        reverse("labs:project_sharing", args=[project.pk]),
        {"lab": "nope", "level": "view"},
        follow=True,
    )
    assert b"No lab with that identifier" in response.content
    assert ProjectShare.objects.count() == 0


def test_member_sees_shares_but_no_controls(client, alice, bob, project, view_lab):
    project_share_grant(project=project, lab=view_lab, level="view", actor=alice)
    client.force_login(bob)
    response = client.get(reverse("labs:project_sharing", args=[project.pk]))
    assert response.status_code == 200
    assert b'data-testid="share-sato"' in response.content
    assert b'data-testid="share-form"' not in response.content


def test_member_cannot_revoke_through_the_url(client, alice, bob, project, view_lab):
    share = project_share_grant(project=project, lab=view_lab, level="view", actor=alice)
    client.force_login(bob)
    url = reverse("labs:project_share_revoke", args=[project.pk, share.pk])
    assert client.post(url).status_code == 403
    assert ProjectShare.objects.filter(pk=share.pk).exists()
