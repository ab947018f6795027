"""Originals are content-addressed: the same bytes in the same sample are detected and not
stored twice; in another sample they become a new micrograph sharing the stored file."""

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

from semweb.catalogue.models import Micrograph, Sample

pytestmark = pytest.mark.django_db


def test_same_bytes_into_same_sample_is_reported_not_duplicated(client, bob, sample, media):
    client.force_login(bob)
    data = png_bytes(seed=9)
    first = client.post(upload_url(sample), {"files": files(("a.png", data))}, headers=XHR)
    again = client.post(upload_url(sample), {"files": files(("renamed.png", data))}, headers=XHR)
    m = Micrograph.objects.get()
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["results"][0]["message"] == (
        f"renamed.png: already uploaded to this sample as “a.png” (micrograph #{m.pk})"
    )
    assert again.json()["results"][0]["micrograph"]["id"] == m.pk
    assert len(stored_files(media)) == 2  # one original, one preview


def test_same_bytes_twice_in_one_batch_is_stored_once(client, bob, sample, media):
    client.force_login(bob)
    data = png_bytes(seed=10)
    response = client.post(
        upload_url(sample), {"files": files(("a.png", data), ("b.png", data))}, headers=XHR
    )
    assert [r["status"] for r in response.json()["results"]] == ["created", "duplicate"]
    assert Micrograph.objects.count() == 1


def test_same_bytes_in_another_sample_share_the_stored_original(
    client, bob, sample, project, media
):
    client.force_login(bob)
    other = Sample.objects.create(project=project, name="Batch 8")
    data = png_bytes(seed=12)
    client.post(upload_url(sample), {"files": files(("a.png", data))}, headers=XHR)
    response = client.post(upload_url(other), {"files": files(("a.png", data))}, headers=XHR)
    assert response.status_code == 201
    a, b = Micrograph.objects.order_by("id")
    assert (a.sample, b.sample) == (sample, other)
    assert a.sha256 == b.sha256 and a.original.name == b.original.name
    assert len(stored_files(media)) == 2
