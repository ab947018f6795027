"""Names with path tricks, NUL bytes or extreme length never steer where a file is stored:
originals live under their sha256, and the kept display name is cleaned."""

from __future__ import annotations

import pytest
from _catalogue_helpers import (
    XHR,
    media_fixture,  # noqa: F401  (the `media` fixture)
    multipart,
    png_bytes,
    stored_files,
    upload_url,
)

from semweb.catalogue.models import Micrograph
from semweb.catalogue.uploads import clean_filename

pytestmark = pytest.mark.django_db


def _post_raw(client, sample, pairs):
    body, content_type = multipart(pairs)
    return client.generic("POST", upload_url(sample), body, content_type=content_type, headers=XHR)


def test_path_traversal_name_is_stored_by_hash_under_its_base_name(client, bob, sample, media):
    client.force_login(bob)
    response = _post_raw(client, sample, [("../../etc/passwd.png", png_bytes(seed=1))])
    assert response.status_code == 201
    m = Micrograph.objects.get()
    assert m.original_filename == "passwd.png"
    assert m.original.name == f"originals/{m.sha256[:2]}/{m.sha256}.png"
    assert all(not p.startswith("..") and "etc" not in p for p in stored_files(media))


def test_windows_path_and_nul_byte_are_removed_from_the_name(client, bob, sample, media):
    client.force_login(bob)
    response = _post_raw(
        client,
        sample,
        [("C:\\scope\\run1\\img\x00.png", png_bytes(seed=2)), ("ok.png", png_bytes(seed=3))],
    )
    assert response.status_code == 201
    names = sorted(Micrograph.objects.values_list("original_filename", flat=True))
    assert names == ["img.png", "ok.png"]


def test_very_long_name_is_shortened_keeping_the_extension(client, bob, sample, media):
    client.force_login(bob)
    response = _post_raw(client, sample, [("x" * 400 + ".png", png_bytes(seed=4))])
    assert response.status_code == 201
    name = Micrograph.objects.get().original_filename
    assert len(name) == 200 and name.endswith("x.png")


def test_name_too_long_for_the_multipart_parser_is_a_clear_400(client, bob, sample, media):
    client.force_login(bob)
    response = _post_raw(client, sample, [("x" * 5000 + ".png", png_bytes(seed=4))])
    assert response.status_code == 400
    assert response.json()["error"].startswith("The upload could not be read (")
    assert Micrograph.objects.count() == 0
    assert stored_files(media) == []


def test_download_sends_the_cleaned_original_name(client, bob, sample, media):
    client.force_login(bob)
    _post_raw(client, sample, [("../secret/../Ni foam 5 kV.png", png_bytes(seed=5))])
    m = Micrograph.objects.get()
    response = client.get(f"/micrographs/{m.pk}/original/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Ni foam 5 kV.png"'


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\boot.ini.tif", "boot.ini.tif"),
        ("a\x00b\x1f.tif", "ab.tif"),
        ("..", "upload"),
        ("", "upload"),
        ("/", "upload"),
        (" .hidden.png ", "hidden.png"),
    ],
)
def test_clean_filename(raw, clean):
    assert clean_filename(raw) == clean
