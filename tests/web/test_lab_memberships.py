"""Lab admins manage memberships from the web UI: invite existing users, change roles, remove."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from semweb.labs.models import Membership, Role
from semweb.labs.services import membership_remove, membership_set_role


@pytest.fixture
def zoe(db):
    return get_user_model().objects.create_user("zoe", "zoe@example.org", "pw-zoe")


def test_admin_invites_existing_user_by_email(client, alice, lab, zoe):
    client.force_login(alice)
    url = reverse("labs:membership_add", args=[lab.slug])
    response = client.post(url, {"user": "ZOE@example.org", "role": "supervisor"})
    assert response.status_code == 302
    assert Membership.objects.get(user=zoe).role == Role.SUPERVISOR


def test_admin_changes_role_and_removes(client, alice, bob, lab):
    client.force_login(alice)
    membership = Membership.objects.get(user=bob)
    client.post(reverse("labs:membership_role", args=[lab.slug, membership.pk]), {"role": "admin"})
    assert Membership.objects.get(user=bob).role == Role.ADMIN
    client.post(reverse("labs:membership_remove", args=[lab.slug, membership.pk]))
    assert not Membership.objects.filter(user=bob).exists()


def test_member_cannot_manage(client, bob, lab, zoe):
    client.force_login(bob)
    response = client.post(reverse("labs:membership_add", args=[lab.slug]), {"user": "zoe"})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=zoe).exists()


def test_outsider_gets_404_for_lab_pages(client, carol, lab, alice):
    client.force_login(carol)
    assert client.get(reverse("labs:detail", args=[lab.slug])).status_code == 404
    membership = Membership.objects.get(user=alice)
    url = reverse("labs:membership_remove", args=[lab.slug, membership.pk])
    assert client.post(url).status_code == 404
    assert Membership.objects.filter(user=alice).exists()


def test_last_admin_cannot_be_demoted_or_removed(alice):
    membership = Membership.objects.get(user=alice)
    with pytest.raises(ValidationError):
        membership_set_role(membership=membership, role=Role.MEMBER, actor=alice)
    with pytest.raises(ValidationError):
        membership_remove(membership=membership, actor=alice)
    assert Membership.objects.get(user=alice).role == Role.ADMIN


def test_lab_page_lists_members_for_a_member(client, alice, bob, sam, lab):
    client.force_login(bob)
    response = client.get(reverse("labs:detail", args=[lab.slug]))
    assert response.status_code == 200
    for name in (b"alice", b"bob", b"sam"):
        assert b'data-testid="member-' + name + b'"' in response.content
    assert b"Add member" not in response.content
