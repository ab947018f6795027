"""Only members (and above) of the owning lab may upload; other labs never learn the sample
exists; shared labs can look but not upload. Each upload is audited."""

from __future__ import annotations

import pytest
from _catalogue_helpers import (
    XHR,
    files,
    media_fixture,  # noqa: F401  (the `media` fixture)
    png_bytes,
    stored_files,
    upload_url,
)
from django.test import Client

from semweb.audit.models import AuditEvent
from semweb.catalogue.models import Micrograph, ProjectShare
from semweb.labs.models import ShareLevel

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", ["alice", "bob", "sam"])
def test_owning_lab_roles_may_upload(client, request, sample, media, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(
        upload_url(sample), {"files": files(("a.png", png_bytes()))}, headers=XHR
    )
    assert response.status_code == 201


def test_other_lab_gets_404_and_nothing_is_written(client, carol, sample, media):
    client.force_login(carol)
    response = client.post(
        upload_url(sample), {"files": files(("a.png", png_bytes()))}, headers=XHR
    )
    assert response.status_code == 404
    assert Micrograph.objects.count() == 0 and stored_files(media) == []


@pytest.mark.parametrize("level", [ShareLevel.VIEW, ShareLevel.ANNOTATE])
def test_shared_lab_gets_403(client, carol, other_lab, project, sample, media, level):
    ProjectShare.objects.create(project=project, lab=other_lab, level=level)
    client.force_login(carol)
    response = client.post(
        upload_url(sample), {"files": files(("a.png", png_bytes()))}, headers=XHR
    )
    assert response.status_code == 403
    assert Micrograph.objects.count() == 0


def test_anonymous_is_sent_to_login(client, sample, media):
    response = client.post(upload_url(sample), {"files": files(("a.png", png_bytes()))})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_upload_without_csrf_token_is_refused(bob, sample, media):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    response = client.post(
        upload_url(sample), {"files": files(("a.png", png_bytes()))}, headers=XHR
    )
    assert response.status_code == 403
    assert Micrograph.objects.count() == 0


def test_each_upload_is_audited(client, bob, lab, sample, media):
    client.force_login(bob)
    client.post(upload_url(sample), {"files": files(("a.png", png_bytes()))}, headers=XHR)
    m = Micrograph.objects.get()
    event = AuditEvent.objects.get(verb="micrograph.upload")
    assert (event.actor, event.lab, event.target_type, event.target_id) == (
        bob,
        lab,
        "catalogue.micrograph",
        str(m.pk),
    )
    assert event.data == {
        "filename": "a.png",
        "sha256": m.sha256,
        "sample_id": sample.pk,
        "sidecar": None,
    }
