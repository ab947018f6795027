"""Dataset imports validate the whole archive before writing and are all-or-nothing: every
malformed case of issue 14 answers 400 with a message, and the database and media are unchanged.
Imported runs land in review; only a lab admin may import them as approved (audited)."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
from _api import api_as, api_media_fixture  # noqa: F401
from _runs import disc_png
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from semweb.analyses.models import AnalysisRun, Particle, ReviewState
from semweb.audit.models import AuditEvent
from semweb.catalogue.models import Micrograph
from semweb.datasets import formats
from semweb.datasets.services import dataset_import

SQUARE = [10, 10, 30, 10, 30, 30, 10, 30]


def coco_document(**image_fields) -> dict:
    image = {"id": 1, "file_name": "a.png", "width": 320, "height": 240, **image_fields}
    return {
        "images": [image],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [SQUARE]}],
        "categories": [{"id": 1, "name": "particle"}],
    }


def zip_of(members: dict[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def coco_zip(
    document: dict | str | bytes,
    images: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    text = document if isinstance(document, str | bytes) else json.dumps(document)
    images = {"a.png": disc_png()} if images is None else images
    members = {"annotations.json": text, **{f"images/{k}": v for k, v in images.items()}}
    return zip_of(members, compression)


def yolo_zip(label: bytes, calibration: str | None = None) -> bytes:
    members: dict[str, bytes | str] = {
        "data.yaml": "path: .\ntrain: images/train\nval: images/train\nnames:\n  0: particle\n",
        "images/train/a.png": disc_png(),
        "labels/train/a.txt": label,
    }
    if calibration is not None:
        members["calibration.json"] = calibration
    return zip_of(members)


def crc_damaged() -> bytes:
    png = disc_png()
    # Stored, so the PNG's bytes are verbatim: flip one in the middle of the image data.
    stored = zip_of({"annotations.json": json.dumps(coco_document()), "images/a.png": png},
                    compression=zipfile.ZIP_STORED)  # fmt: skip
    data = bytearray(stored)
    at = data.index(png) + len(png) // 2
    data[at] ^= 0xFF
    return bytes(data)


def method_99() -> bytes:
    """A member claiming compression method 99 (WinZip AES) in both headers."""
    data = bytearray(
        zip_of(
            {"annotations.json": json.dumps(coco_document()), "images/a.png": disc_png()},
            compression=zipfile.ZIP_STORED,
        )
    )
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            struct.pack_into("<H", data, start + offset, 99)
            start += 4
    return bytes(data)


MALFORMED = {
    "coco NaN coordinate": coco_zip(
        '{"images": [{"id": 1, "file_name": "a.png", "width": 320, "height": 240}],'
        ' "annotations": [{"id": 1, "image_id": 1, "segmentation":'
        " [[10, NaN, 30, 10, 30, 30]]}]}"
    ),
    "coco string coordinate": coco_zip(
        {**coco_document(), "annotations": [{"image_id": 1, "segmentation": [["nan"] * 6]}]}
    ),
    "coco width abc": coco_zip(coco_document(width="abc")),
    "coco pixel size nan": coco_zip(coco_document(pixel_size_nm="nan")),
    "coco pixel size negative": coco_zip(coco_document(pixel_size_nm=-1000)),
    "coco pixel size 1e400": coco_zip(
        json.dumps(coco_document()).replace(
            '"height": 240', '"height": 240, "pixel_size_nm": 1e400'
        )
    ),
    "coco point outside image": coco_zip(
        {
            **coco_document(),
            "annotations": [{"image_id": 1, "segmentation": [[0, 0, 900, 0, 0, 9]]}],
        }
    ),
    "coco zero area outline": coco_zip(
        {**coco_document(), "annotations": [{"image_id": 1, "segmentation": [[1, 1, 2, 2, 3, 3]]}]}
    ),
    "coco size differs from image": coco_zip(coco_document(width=640)),
    "coco images not a list": coco_zip({"images": {"1": "a.png"}}),
    "coco deeply nested": coco_zip(
        '{"images": [], "info": ' + "[" * 100_000 + "]" * 100_000 + "}",
        compression=zipfile.ZIP_STORED,
    ),
    "coco not utf-8": coco_zip(b'{"images": [{"file_name": "\xff\xfe.png"}]}'),
    "yolo label not utf-8": yolo_zip(b"0 0.1 0.1 0.2 0.1 0.2 \xff\xfe 0.2\n"),
    "yolo label inf": yolo_zip(b"0 0.1 0.1 inf 0.1 0.2 0.2\n"),
    "yolo label outside 0..1": yolo_zip(b"0 0.1 0.1 5 0.1 0.2 0.2\n"),
    "yolo calibration not a number": yolo_zip(b"0 0.1 0.1 0.2 0.1 0.2 0.2\n", '{"a.png": "abc"}'),
    "yolo calibration not json": yolo_zip(b"0 0.1 0.1 0.2 0.1 0.2 0.2\n", "{nope"),
    "zip crc error": crc_damaged(),
    "zip method 99": method_99(),
    "not a zip": b"PK\x03\x04 this is not really a zip",
    "no images": zip_of({"annotations.json": json.dumps({"images": [], "annotations": []})}),
}


EXPECTED = {  # the reason each one is refused, as the user reads it
    "coco NaN coordinate": "not valid JSON",
    "coco string coordinate": "is not a finite number",
    "coco width abc": "width must be a whole number",
    "coco pixel size nan": "pixel_size_nm must be a finite number",
    "coco pixel size negative": "pixel_size_nm must be greater than 0",
    "coco pixel size 1e400": "pixel_size_nm must be a finite number",
    "coco point outside image": "outside the 320 × 240 image",
    "coco zero area outline": "has no area",
    "coco size differs from image": "the annotations say 640 × 240 px",
    "coco images not a list": "no list of images",
    "coco deeply nested": "nested too deeply",
    "coco not utf-8": "not UTF-8",
    "yolo label not utf-8": "not UTF-8",
    "yolo label inf": "not a finite number",
    "yolo label outside 0..1": "outside the 1 × 1 image",
    "yolo calibration not a number": "must be a number",
    "yolo calibration not json": "not valid JSON",
    "zip crc error": "damaged",
    "zip method 99": "unsupported compression method 99",
    "not a zip": "not a readable zip",
    "no images": "no images",
}


def snapshot(media) -> tuple:
    files = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    return (
        Micrograph.objects.count(),
        AnalysisRun.objects.count(),
        Particle.objects.count(),
        AuditEvent.objects.count(),
        files if media.exists() else [],
    )


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_archives_are_refused_before_anything_is_stored(case, sample, alice, api_media):
    api_media.mkdir(parents=True, exist_ok=True)
    before = snapshot(api_media)
    with pytest.raises(ValidationError) as info:
        dataset_import(sample=sample, user=alice, fileobj=io.BytesIO(MALFORMED[case]))
    assert EXPECTED[case] in info.value.messages[0]
    assert snapshot(api_media) == before


@pytest.mark.parametrize("case", ["coco pixel size nan", "zip crc error", "yolo label not utf-8"])
def test_api_and_page_answer_400_with_the_reason(case, sample, alice, api_media):
    api_media.mkdir(parents=True, exist_ok=True)
    before = snapshot(api_media)
    response = api_as(alice).post(
        "/api/v1/datasets/import",
        {"sample": sample.pk, "archive": SimpleUploadedFile("x.zip", MALFORMED[case])},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["archive"][0]
    page = Client()
    page.force_login(alice)
    response = page.post(
        "/datasets/import/",
        {"sample": sample.pk, "archive": SimpleUploadedFile("x.zip", MALFORMED[case])},
    )
    assert response.status_code == 400
    assert snapshot(api_media) == before


def test_a_failure_on_the_second_image_removes_the_first_ones_rows_and_files(
    sample, alice, api_media
):
    document = coco_document()
    document["images"].append({"id": 2, "file_name": "b.png", "width": 320, "height": 240})
    archive = coco_zip(document, {"a.png": disc_png(), "b.png": b"\x89PNG\r\n\x1a\n broken"})
    api_media.mkdir(parents=True, exist_ok=True)
    before = snapshot(api_media)
    with pytest.raises(ValidationError, match="b.png"):
        dataset_import(sample=sample, user=alice, fileobj=io.BytesIO(archive))
    assert snapshot(api_media) == before


def test_a_too_many_outlines_archive_is_refused(sample, alice, api_media, monkeypatch):
    monkeypatch.setattr(formats, "MAX_POLYGONS_PER_IMAGE", 2)
    document = coco_document()
    document["annotations"] *= 3
    with pytest.raises(ValidationError, match="more than 2 outlines"):
        dataset_import(sample=sample, user=alice, fileobj=io.BytesIO(coco_zip(document)))
    assert AnalysisRun.objects.count() == 0


def test_a_supervisor_import_lands_in_review(sample, sam, api_media):
    runs = dataset_import(
        sample=sample, user=sam, fileobj=io.BytesIO(coco_zip(coco_document(pixel_size_nm=2)))
    )
    assert [r.review_state for r in runs] == [ReviewState.IN_REVIEW]
    assert runs[0].approved_by is None
    assert runs[0].summary["mean"] > 0


def test_only_lab_admins_import_as_approved_and_it_is_audited(sample, sam, alice, api_media):
    archive = coco_zip(coco_document(pixel_size_nm=2))
    with pytest.raises(PermissionDenied):
        dataset_import(sample=sample, user=sam, fileobj=io.BytesIO(archive), as_approved=True)
    response = api_as(sam).post(
        "/api/v1/datasets/import",
        {"sample": sample.pk, "archive": SimpleUploadedFile("x.zip", archive), "approve": "true"},
        format="multipart",
    )
    assert response.status_code == 403
    assert AnalysisRun.objects.count() == 0
    response = api_as(alice).post(
        "/api/v1/datasets/import",
        {"sample": sample.pk, "archive": SimpleUploadedFile("x.zip", archive), "approve": "true"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()[0]["review_state"] == "approved"
    event = AuditEvent.objects.get(verb="run.import_approved")
    assert event.actor == alice
