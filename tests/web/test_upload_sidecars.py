"""Instrument sidecar text files dropped with their images are paired by name and kept."""

from __future__ import annotations

import pytest
from _catalogue_helpers import (
    XHR,
    files,
    media_fixture,  # noqa: F401  (the `media` fixture)
    png_bytes,
    results_by_name,
    tiff_bytes,
    upload_url,
)

from semweb.catalogue.models import Micrograph

pytestmark = pytest.mark.django_db

HITACHI = (
    "[SemImageFile]\r\nInstructName=S-4800\r\nDataSize=64x48\r\nPixelSize=2.5\r\n"
    "SampleName=SiO2 batch 7\r\n"
).encode("ascii")


def test_sidecar_is_paired_by_stem_and_stored(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample),
        {"files": files(("S4800_012.tif", tiff_bytes(seed=1)), ("S4800_012.TXT", HITACHI))},
        headers=XHR,
    )
    assert response.status_code == 201
    result = results_by_name(response)["S4800_012.tif"]
    assert result["status"] == "created" and result["sidecar"] == "S4800_012.TXT"
    m = Micrograph.objects.get()
    assert m.sidecar_filename == "S4800_012.TXT"
    assert m.sidecar.read() == HITACHI
    detail = client.get(f"/micrographs/{m.pk}/")
    assert "InstructName=S-4800" in detail.content.decode()
    download = client.get(f"/micrographs/{m.pk}/sidecar/")
    assert b"".join(download.streaming_content) == HITACHI
    assert download["Content-Disposition"] == 'attachment; filename="S4800_012.TXT"'


def test_hitachi_sidecar_calibrates_the_micrograph(client, bob, sample, media):
    client.force_login(bob)
    client.post(
        upload_url(sample),
        {"files": files(("S4800_013.tif", tiff_bytes(seed=2)), ("S4800_013.txt", HITACHI))},
        headers=XHR,
    )
    m = Micrograph.objects.get()
    assert m.pixel_size_nm == pytest.approx(2.5)
    assert m.pixel_size_source == "metadata:hitachi"
    assert m.calibration["pixel_size_nm"] == pytest.approx(2.5)


def test_image_without_metadata_is_uncalibrated_not_one_nm(client, bob, sample, media):
    client.force_login(bob)
    client.post(upload_url(sample), {"files": files(("plain.png", png_bytes()))}, headers=XHR)
    m = Micrograph.objects.get()
    assert m.pixel_size_nm is None
    assert m.pixel_size_source == "uncalibrated"


def test_sidecar_without_its_image_is_refused_with_a_reason(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample),
        {"files": files(("a.png", png_bytes()), ("lonely.txt", HITACHI))},
        headers=XHR,
    )
    results = results_by_name(response)
    assert results["a.png"]["status"] == "created" and "sidecar" not in results["a.png"]
    assert results["lonely.txt"]["status"] == "rejected"
    assert results["lonely.txt"]["message"].startswith(
        "lonely.txt: no image named “lonely.*” in this upload"
    )
    assert Micrograph.objects.get().sidecar.name in ("", None)


def test_binary_file_named_txt_is_refused_but_its_image_is_kept(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample),
        {"files": files(("b.png", png_bytes(seed=4)), ("b.txt", b"\x00\x01\x02binary"))},
        headers=XHR,
    )
    assert response.status_code == 201
    results = results_by_name(response)
    assert results["b.txt"] == {
        "name": "b.txt",
        "status": "rejected",
        "message": "b.txt: not an instrument sidecar text file",
    }
    assert results["b.png"]["status"] == "created"
    assert Micrograph.objects.get().sidecar_filename == ""
