"""A curated dataset exported as COCO and as YOLO-seg and imported into another lab gives the
same particles (outlines, count, calibration) as reviewed annotations there."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from _api import api_as, api_media_fixture, approved_run  # noqa: F401
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from semweb.analyses.models import ReviewState
from semweb.catalogue.models import Project, Sample
from semweb.datasets.models import DatasetExport, ExportStatus
from semweb.datasets.services import dataset_create, dataset_import, export_build, export_request

SECOND = [(50, 50, 12), (150, 100, 30), (250, 180, 18)]


@pytest.fixture
def dataset(alice, lab, sample, api_media):
    runs = [approved_run(sample, alice), approved_run(sample, alice, "b.png", SECOND)]
    return dataset_create(lab=lab, user=alice, name="Spheres", run_ids=[r.pk for r in runs])


@pytest.fixture
def carol_sample(carol, other_lab):
    project = Project.objects.create(lab=other_lab, name="Imported", created_by=carol)
    return Sample.objects.create(project=project, name="From Mori", created_by=carol)


def _export(dataset, user, fmt, captured) -> DatasetExport:
    with captured(execute=False):
        export = export_request(dataset=dataset, user=user, format=fmt)
    export_build(export_id=export.pk)  # what the worker does
    export.refresh_from_db()
    assert (export.status, export.progress) == (ExportStatus.SUCCEEDED, 1.0)
    return export


def _particles(runs):
    """{filename: sorted outlines} with the pixel size, comparable across labs."""
    out = {}
    for run in runs:
        polygons = sorted(
            [[round(x, 1), round(y, 1)] for x, y in p]
            for p in run.particles.filter(accepted=True).values_list("polygon", flat=True)
        )
        out[run.micrograph.original_filename] = (run.pixel_size_nm, polygons)
    return out


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_export_then_import_in_another_lab_gives_the_same_particles(
    fmt, dataset, alice, carol, carol_sample, django_capture_on_commit_callbacks
):
    # One rejected particle must not travel.
    first = dataset.runs.order_by("pk").first()
    first.particles.filter(index=1).update(accepted=False)
    export = _export(dataset, alice, fmt, django_capture_on_commit_callbacks)

    with export.file.open("rb") as fh:
        data = fh.read()
    imported = dataset_import(
        sample=carol_sample, user=carol, fileobj=io.BytesIO(data), as_approved=True
    )

    assert len(imported) == 2
    assert all(r.review_state == ReviewState.APPROVED for r in imported)
    assert all(r.approved_by == carol for r in imported)
    assert [r.particle_count for r in imported] == [3, 3]
    assert _particles(imported) == _particles(dataset.runs.all())
    assert all(r.micrograph.sample == carol_sample for r in imported)


def test_coco_document_has_images_annotations_and_one_category(
    dataset, alice, django_capture_on_commit_callbacks
):
    export = _export(dataset, alice, "coco", django_capture_on_commit_callbacks)
    with export.file.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        names = sorted(archive.namelist())
        document = json.loads(archive.read("annotations.json"))
    assert names == ["annotations.json", "images/b.png", "images/discs.png"]
    assert [c["name"] for c in document["categories"]] == ["particle"]
    assert len(document["images"]) == 2
    assert len(document["annotations"]) == 7
    assert {a["iscrowd"] for a in document["annotations"]} == {0}


def test_yolo_folder_has_data_yaml_and_normalised_labels(
    dataset, alice, django_capture_on_commit_callbacks
):
    export = _export(dataset, alice, "yolo", django_capture_on_commit_callbacks)
    with export.file.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        names = set(archive.namelist())
        label = archive.read("labels/train/discs.txt").decode().splitlines()
    assert {"data.yaml", "images/train/discs.png", "labels/train/b.txt"} <= names
    assert len(label) == 4
    values = [float(v) for line in label for v in line.split()[1:]]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert {line.split()[0] for line in label} == {"0"}


def test_member_import_is_submitted_for_review_not_approved(
    dataset, alice, bob, sample, django_capture_on_commit_callbacks
):
    export = _export(dataset, alice, "coco", django_capture_on_commit_callbacks)
    other = Sample.objects.create(project=sample.project, name="Again")
    with export.file.open("rb") as fh:
        runs = dataset_import(sample=other, user=bob, fileobj=io.BytesIO(fh.read()))
    assert [r.review_state for r in runs] == [ReviewState.IN_REVIEW] * 2
    assert [r.approved_by for r in runs] == [None, None]


def test_export_download_obeys_dataset_permissions(
    client, dataset, alice, bob, carol, django_capture_on_commit_callbacks
):
    export = _export(dataset, alice, "coco", django_capture_on_commit_callbacks)
    url = reverse("datasets:export_download", args=[export.pk])
    client.force_login(bob)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    client.force_login(carol)
    assert client.get(url).status_code == 404


def test_export_build_is_claimed_once(dataset, alice, django_capture_on_commit_callbacks):
    export = _export(dataset, alice, "yolo", django_capture_on_commit_callbacks)
    assert export_build(export_id=export.pk) is None  # a redelivered message does nothing


def test_dataset_page_refreshes_while_an_export_runs(
    client, dataset, alice, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("datasets:export", args=[dataset.pk]), {"format": "coco"})
    page = client.get(reverse("datasets:detail", args=[dataset.pk])).content.decode()
    assert 'http-equiv="refresh"' in page and "Queued" in page
    export_build(export_id=DatasetExport.objects.get().pk)
    page = client.get(reverse("datasets:detail", args=[dataset.pk])).content.decode()
    assert 'http-equiv="refresh"' not in page and ">Download<" in page


def test_curation_page_offers_lab_approved_runs_and_adds_ticked_ones(
    client, lab, alice, bob, sample, api_media
):
    runs = [approved_run(sample, alice, "c.png", [(40, 40, 9)]), approved_run(sample, alice)]
    dataset = dataset_create(lab=lab, user=alice, name="Empty")
    client.force_login(bob)
    page = client.get(reverse("datasets:detail", args=[dataset.pk])).content.decode()
    assert all(f'name="add" value="{r.pk}"' in page for r in runs)
    client.post(reverse("datasets:runs", args=[dataset.pk]), {"add": [str(runs[0].pk), ""]})
    assert list(dataset.runs.values_list("pk", flat=True)) == [runs[0].pk]


def test_api_import_of_a_yolo_export(
    dataset, alice, carol, carol_sample, django_capture_on_commit_callbacks
):
    export = _export(dataset, alice, "yolo", django_capture_on_commit_callbacks)
    with export.file.open("rb") as fh:
        upload = SimpleUploadedFile("spheres.zip", fh.read())
    response = api_as(carol).post(
        "/api/v1/datasets/import",
        {"sample": carol_sample.pk, "archive": upload},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert sorted(r["particle_count"] for r in response.json()) == [3, 4]
    assert {r["review_state"] for r in response.json()} == {"in_review"}
