"""Imports are zip-slip safe: unsafe member names, links and bombs are refused before anything
is stored; nothing is ever extracted to disk. Stored files and downloads never use a name that
came from the client, and media files have no public URL."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest
from _api import api_as, api_media_fixture  # noqa: F401
from _runs import disc_png, make_micrograph
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from semweb.analyses.models import AnalysisRun
from semweb.catalogue.models import Micrograph
from semweb.datasets import formats
from semweb.datasets.services import dataset_import


def _coco_zip(file_name: str, member: str | None = None, *, link: bool = False) -> io.BytesIO:
    document = {
        "images": [{"id": 1, "file_name": file_name, "width": 320, "height": 240}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]],
            },
        ],
        "categories": [{"id": 1, "name": "particle"}],
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("annotations.json", json.dumps(document))
        info = zipfile.ZipInfo(member or f"images/{file_name}")
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd" if link else disc_png())
    buf.seek(0)
    return buf


@pytest.mark.parametrize(
    "member",
    [
        "../evil.png",
        "images/../../evil.png",
        "/tmp/evil.png",
        "C:/evil.png",
        "images\\..\\evil.png",
    ],
)
def test_unsafe_member_names_are_refused_and_nothing_is_stored(
    member, sample, alice, api_media, tmp_path
):
    with pytest.raises(ValidationError, match="unsafe name"):
        dataset_import(sample=sample, user=alice, fileobj=_coco_zip("ok.png", member))
    assert Micrograph.objects.count() == 0
    assert AnalysisRun.objects.count() == 0
    assert not (tmp_path / "evil.png").exists()
    assert not api_media.exists() or not any(api_media.rglob("*evil*"))


def test_unsafe_file_name_inside_annotations_is_refused(sample, alice, api_media):
    with pytest.raises(ValidationError, match="unsafe name"):
        dataset_import(sample=sample, user=alice, fileobj=_coco_zip("../../x.png", "images/x.png"))
    assert Micrograph.objects.count() == 0


def test_symlink_members_are_refused(sample, alice, api_media):
    with pytest.raises(ValidationError, match="links are not allowed"):
        dataset_import(sample=sample, user=alice, fileobj=_coco_zip("a.png", link=True))


def test_zip_bomb_ratio_is_refused(sample, alice, api_media):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("annotations.json", "{}")
        archive.writestr("images/zeros.png", b"\0" * (20 * 1024 * 1024))
    buf.seek(0)
    with pytest.raises(ValidationError, match="compression ratio"):
        dataset_import(sample=sample, user=alice, fileobj=buf)


def test_not_a_zip_is_refused(sample, alice, api_media):
    with pytest.raises(ValidationError, match="not a zip"):
        dataset_import(sample=sample, user=alice, fileobj=io.BytesIO(b"hello"))


def test_a_safe_name_is_normalised():
    assert formats.safe_member_name("images/./a.png") == "images/a.png"


def test_import_page_reports_unsafe_archive(client, alice, sample, api_media):
    client.force_login(alice)
    upload = SimpleUploadedFile("evil.zip", _coco_zip("ok.png", "../evil.png").getvalue())
    response = client.post(
        "/datasets/import/", {"sample": sample.pk, "archive": upload}, follow=True
    )
    assert b"unsafe name in archive" in response.content
    assert Micrograph.objects.count() == 0


def test_uploaded_file_name_never_reaches_the_storage_path(bob, sample, api_media):
    upload = SimpleUploadedFile("../../../etc/passwd.png", disc_png())
    response = api_as(bob).post(
        "/api/v1/micrographs/", {"sample": sample.pk, "file": upload}, format="multipart"
    )
    assert response.status_code == 201
    micrograph = Micrograph.objects.get()
    assert micrograph.original.name.startswith(f"originals/{micrograph.sha256[:2]}/")
    assert "/" not in micrograph.original_filename and ".." not in micrograph.original_filename


def test_media_has_no_public_url(client, alice, sample, api_media):
    micrograph = make_micrograph(sample, alice)
    client.force_login(alice)
    assert client.get("/files/" + micrograph.original.name).status_code == 404
