"""A particle drawn by hand stays marked as manual in every export (CSV, COCO, YOLO-seg),
so training data can tell people's outlines from the engine's."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from _api import api_media_fixture, approve  # noqa: F401
from _runs import completed_run, make_micrograph
from django.urls import reverse

from semweb.analyses.edits import particle_add
from semweb.datasets.models import DatasetExport, ExportStatus
from semweb.datasets.services import dataset_create, export_build, export_request

SQUARE = [[250, 10], [280, 10], [280, 40], [250, 40]]


@pytest.fixture
def edited_run(alice, sam, sample, api_media):
    run = completed_run(make_micrograph(sample, alice), alice)
    result = particle_add(run=run, user=alice, polygon=SQUARE, revision=run.revision)
    run.refresh_from_db()
    return run, result.particles[0].index


def test_csv_has_a_manual_column(client, alice, edited_run):
    run, drawn = edited_run
    client.force_login(alice)
    response = client.get(reverse("datasets:particles", args=["run", run.pk, "csv"]))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    flags = {int(r["particle"]): r["manual"] for r in rows}
    assert flags[drawn] == "True"
    assert {v for k, v in flags.items() if k != drawn} == {"False"}


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_dataset_exports_carry_the_flag(
    fmt, alice, sam, lab, edited_run, django_capture_on_commit_callbacks
):
    run, drawn = edited_run
    approve(run, sam)
    dataset = dataset_create(lab=lab, user=alice, name="Edited", run_ids=[run.pk])
    with django_capture_on_commit_callbacks(execute=False):
        export = export_request(dataset=dataset, user=alice, format=fmt)
    export_build(export_id=export.pk)
    export = DatasetExport.objects.get(pk=export.pk)
    assert export.status == ExportStatus.SUCCEEDED
    with export.file.open("rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as archive:
        if fmt == "coco":
            document = json.loads(archive.read("annotations.json"))
            flags = [a["attributes"]["manual"] for a in document["annotations"]]
        else:
            flags = json.loads(archive.read("manual.json"))[run.micrograph.original_filename]
            lines = archive.read(f"labels/train/{run.micrograph.original_filename[:-4]}.txt")
            assert len(lines.decode().splitlines()) == len(flags)
    indices = list(
        run.particles.filter(accepted=True).order_by("index").values_list("index", flat=True)
    )
    assert flags == [index == drawn for index in indices]
