"""A failed insert leaves neither a row nor the files it had just written."""

from __future__ import annotations

import pytest
from _catalogue_helpers import (
    media_fixture,  # noqa: F401  (the `media` fixture)
    png_bytes,
    stored_files,
)
from django.db import DatabaseError

from semweb.catalogue import services
from semweb.catalogue.models import Micrograph, Sample

pytestmark = pytest.mark.django_db


def test_database_failure_removes_the_written_files(bob, sample, media, monkeypatch):
    def broken_audit(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(DatabaseError):
        services.micrograph_create(sample=sample, user=bob, data=png_bytes(), filename="a.png")
    assert Micrograph.objects.count() == 0
    assert stored_files(media) == []


def test_failure_keeps_an_original_another_sample_already_uses(
    bob, sample, project, media, monkeypatch
):
    data = png_bytes(seed=21)
    other = Sample.objects.create(project=project, name="Batch 8")
    first = services.micrograph_create(sample=other, user=bob, data=data, filename="a.png")
    before = stored_files(media)

    def broken_audit(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(DatabaseError):
        services.micrograph_create(sample=sample, user=bob, data=data, filename="a.png")
    assert list(Micrograph.objects.all()) == [first]
    assert stored_files(media) == before


def test_service_refuses_oversize_bytes_before_decoding(bob, sample, media, settings):
    settings.SEMWEB_MAX_UPLOAD_MB = 1
    with pytest.raises(services.UploadRejected, match=r"^big.png: 1.0 MB is over the 1 MB limit"):
        services.micrograph_create(
            sample=sample, user=bob, data=b"\x89PNG" + b"\0" * (1024 * 1024), filename="big.png"
        )
    assert stored_files(media) == []
