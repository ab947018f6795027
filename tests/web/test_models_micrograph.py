"""The micrograph table: content-addressed originals, one copy of given bytes per sample."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from semweb.catalogue.models import Micrograph, Sample, original_upload_to

pytestmark = pytest.mark.django_db

SHA = "ab" + "0" * 62


def _micrograph(sample, sha=SHA, **kw) -> Micrograph:
    fields = dict(
        sample=sample,
        sha256=sha,
        original=f"originals/{sha[:2]}/{sha}.png",
        original_filename="a.png",
        format="PNG",
        width=10,
        height=10,
        bit_depth=8,
    )
    fields.update(kw)
    return Micrograph.objects.create(**fields)


def test_original_path_comes_from_the_hash_not_the_name(sample):
    m = Micrograph(sample=sample, sha256=SHA, format="TIFF")
    assert original_upload_to(m, "../../evil name.png") == f"originals/ab/{SHA}.tif"


def test_same_hash_twice_in_one_sample_is_refused_by_the_database(sample):
    _micrograph(sample)
    with pytest.raises(IntegrityError), transaction.atomic():
        _micrograph(sample, original_filename="b.png")


def test_same_hash_in_two_samples_is_allowed(sample, project):
    other = Sample.objects.create(project=project, name="Batch 8")
    _micrograph(sample)
    _micrograph(other)
    assert Micrograph.objects.filter(sha256=SHA).count() == 2


def test_new_micrograph_is_uncalibrated_not_one_nm(sample):
    m = _micrograph(sample)
    assert m.pixel_size_nm is None
