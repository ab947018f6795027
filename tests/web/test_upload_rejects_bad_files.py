"""Bad files get a clear message each, never a 500 nor a half-written record, and the good
files of the same batch still go in."""

from __future__ import annotations

import pytest
from _catalogue_helpers import (
    XHR,
    files,
    media_fixture,  # noqa: F401  (the `media` fixture)
    pil_bytes,
    png_bomb,
    png_bytes,
    results_by_name,
    stored_files,
    tiff_bomb,
    truncated_tiff,
    upload_url,
)

from semweb.catalogue.models import Micrograph

pytestmark = pytest.mark.django_db

BAD_CASES = [
    ("notes.png", b"this is not an image at all\n" * 20, "not a supported image"),
    ("empty.tif", b"", "empty"),
    ("cut.tif", truncated_tiff(), "truncated"),
    ("bomb.png", png_bomb(), "50000 x 50000"),
    ("bomb.tif", tiff_bomb(), "50000 x 50000"),
]


@pytest.mark.parametrize(("name", "data", "says"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_file_is_refused_and_the_good_one_goes_in(client, bob, sample, media, name, data, says):
    client.force_login(bob)
    good = png_bytes(seed=11)
    response = client.post(
        upload_url(sample), {"files": files((name, data), ("good.png", good))}, headers=XHR
    )
    assert response.status_code == 201
    results = results_by_name(response)
    assert results[name]["status"] == "rejected"
    assert says in results[name]["message"]
    assert name in results[name]["message"]
    assert results["good.png"]["status"] == "created"
    m = Micrograph.objects.get()
    assert m.original_filename == "good.png"
    assert stored_files(media) == sorted(
        [f"originals/{m.sha256[:2]}/{m.sha256}.png", f"previews/{m.sha256[:2]}/{m.sha256}.png"]
    )


def test_only_bad_files_answer_422_and_store_nothing(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample), {"files": files(("bomb.png", png_bomb()))}, headers=XHR
    )
    assert response.status_code == 422
    assert response.json()["results"][0]["status"] == "rejected"
    assert Micrograph.objects.count() == 0
    assert stored_files(media) == []


def test_file_over_the_size_limit_is_skipped_while_streaming(client, bob, sample, media, settings):
    settings.SEMWEB_MAX_UPLOAD_MB = 1
    client.force_login(bob)
    big = pil_bytes("BMP", 1200, 1000)  # a valid 1.2 MB image
    assert len(big) > 1024 * 1024
    response = client.post(
        upload_url(sample),
        {"files": files(("big.bmp", big), ("small.png", png_bytes(seed=5)))},
        headers=XHR,
    )
    assert response.status_code == 201
    results = results_by_name(response)
    assert results["big.bmp"] == {
        "name": "big.bmp",
        "status": "rejected",
        "message": "big.bmp: over the 1 MB limit per file",
    }
    assert results["small.png"]["status"] == "created"
    assert list(Micrograph.objects.values_list("original_filename", flat=True)) == ["small.png"]


def test_form_fallback_reports_each_file_as_a_message(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample),
        {"files": files(("x.tif", truncated_tiff()), ("ok.png", png_bytes(seed=2)))},
        follow=True,
    )
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert len(texts) == 2
    assert texts[0].startswith("x.tif: the file is truncated")
    assert texts[1].startswith("ok.png: stored (64 × 48 px, 8-bit PNG")
    assert Micrograph.objects.count() == 1


def test_posting_no_files_is_a_400_for_xhr(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(upload_url(sample), {}, headers=XHR)
    assert response.status_code == 400
    assert response.json() == {"error": "no files were sent", "results": []}
