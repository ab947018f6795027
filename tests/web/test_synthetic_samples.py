"""Synthetic samples (painted by a learned style) are training material only: left out of the
project's comparison, measurement exports and reports, always in the training split of a
lab-model training (the held-back split is real runs only), and never learned from again.
Who may learn a style and generate with it: supervisors and admins of the dataset's lab."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from _api import api_media_fixture, approve  # noqa: F401
from _models import tiny_dataset
from _runs import completed_run, make_micrograph
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from semweb.analyses.selectors import project_comparison
from semweb.catalogue.models import Sample
from semweb.datasets.models import DatasetExport, ExportStatus
from semweb.datasets.services import export_build, export_request
from semweb.mlmodels import styles
from semweb.mlmodels.models import ModelStatus, StyleModel
from semweb.mlmodels.services import training_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def synthetic(project, alice, api_media):
    """A synthetic sample with two approved runs whose particles carry sizes in nm."""
    sample = Sample.objects.create(project=project, name="Synthetic", is_synthetic=True)
    runs = []
    for i in range(2):
        m = make_micrograph(sample, alice, discs=[(40 + 9 * i, 40, 12)], name=f"s{i}.png")
        run = approve(completed_run(m, alice, method="classical"), alice)
        run.particles.update(ecd_nm=5000.0)
        runs.append(run)
    return sample, runs


def _real(sample, alice):
    run = approve(completed_run(make_micrograph(sample, alice), alice, method="classical"), alice)
    run.particles.update(ecd_nm=20.0)
    return run


def test_project_comparison_and_exports_leave_synthetic_samples_out(
    client, alice, project, sample, synthetic
):
    real = _real(sample, alice)
    synthetic_sample, synthetic_runs = synthetic
    rows = project_comparison(project)
    assert [r["sample"].pk for r in rows] == [sample.pk]
    assert rows[0]["values"] == [20.0] * real.particles.count()

    client.force_login(alice)
    document = json.loads(client.get(f"/datasets/project/{project.pk}/summary.json").content)
    assert [r["id"] for r in document["runs"]] == [real.pk]
    assert document["accepted_particles"] == real.particles.count()
    assert document["ecd_nm"]["max"] == 20.0
    table = client.get(f"/datasets/project/{project.pk}/particles.csv").content.decode()
    run_ids = {row["run id"] for row in csv.DictReader(io.StringIO(table))}
    assert run_ids == {str(real.pk)}
    page = client.get(f"/datasets/project/{project.pk}/report/").content.decode()
    assert "5000" not in page

    # Its own pages say what it is; its own export stays available, explicitly.
    page = client.get(reverse("catalogue:sample_detail", args=[synthetic_sample.pk]))
    assert b'data-testid="synthetic-badge"' in page.content
    page = client.get(reverse("catalogue:project_detail", args=[project.pk]))
    assert page.content.count(b'data-testid="synthetic-badge"') == 1
    micrograph = synthetic_runs[0].micrograph
    page = client.get(reverse("catalogue:micrograph_detail", args=[micrograph.pk]))
    assert b'data-testid="synthetic-badge"' in page.content
    document = json.loads(
        client.get(f"/datasets/sample/{synthetic_sample.pk}/summary.json").content
    )
    assert sorted(r["id"] for r in document["runs"]) == sorted(r.pk for r in synthetic_runs)


def test_training_holds_back_real_runs_only_and_styles_learn_from_real_runs_only(
    lab, sample, alice, synthetic
):
    dataset = tiny_dataset(lab, sample, alice, images=4)
    real = set(dataset.runs.values_list("pk", flat=True))
    _, synthetic_runs = synthetic
    dataset.runs.add(*synthetic_runs)
    fake = {r.pk for r in synthetic_runs}
    data = training_data(dataset)
    assert set(data["synthetic_run_ids"]) == fake
    assert fake <= set(data["train_run_ids"])
    assert data["held_back_run_ids"] and set(data["held_back_run_ids"]) <= real
    assert data["synthetic_images"] == 2
    assert styles.style_training_data(dataset)["run_ids"] == sorted(real)


def test_only_supervisors_and_admins_of_the_lab_learn_and_generate(
    lab, sample, alice, bob, sam, carol, api_media, client
):
    dataset = tiny_dataset(lab, sample, alice, images=2)
    for user in (bob, carol):
        with pytest.raises(PermissionDenied):
            styles.style_request(dataset=dataset, user=user)
    style = styles.style_request(dataset=dataset, user=sam, minutes=1)
    assert style.parameters["minutes"] == 1 and style.status == ModelStatus.QUEUED
    StyleModel.objects.filter(pk=style.pk).update(status=ModelStatus.READY)
    style.refresh_from_db()
    for user in (bob, carol):
        with pytest.raises(PermissionDenied):
            styles.generation_request(style=style, user=user, n=1)
    client.force_login(carol)
    assert client.get(reverse("mlmodels:style", args=[style.pk])).status_code == 404
    assert client.post(reverse("api_style_generate", args=[style.pk])).status_code == 404
    client.force_login(bob)
    assert client.get(reverse("mlmodels:style", args=[style.pk])).status_code == 200
    response = client.post(reverse("mlmodels:style_generate", args=[style.pk]), {"n": "1"})
    assert response.status_code == 403
    generation = styles.generation_request(style=style, user=alice, n=2)
    assert generation.sample.is_synthetic and generation.sample.style_model_id == style.pk
    assert generation.sample.project_id == sample.project_id


def test_a_style_budget_above_the_cap_is_refused(lab, sample, alice, sam, settings, api_media):
    settings.SEMWEB_STYLE_MAX_MINUTES = 10
    dataset = tiny_dataset(lab, sample, alice, images=1)
    with pytest.raises(Exception, match="minutes"):
        styles.style_request(dataset=dataset, user=sam, minutes=11)
    assert styles.style_request(dataset=dataset, user=sam).parameters["minutes"] == 10


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_dataset_exports_keep_synthetic_runs_and_flag_them(
    fmt, lab, sample, alice, synthetic, django_capture_on_commit_callbacks
):
    """Synthetic runs are training material, so a dataset export keeps them, but marks them:
    whoever evaluates on the export must be able to leave painted images out."""
    dataset = tiny_dataset(lab, sample, alice, images=2)
    _, synthetic_runs = synthetic
    dataset.runs.add(*synthetic_runs)
    painted = {r.micrograph.original_filename for r in synthetic_runs}
    real = {r.micrograph.original_filename for r in dataset.runs.all()} - painted
    with django_capture_on_commit_callbacks(execute=False):
        export = export_request(dataset=dataset, user=alice, format=fmt)
    export_build(export_id=export.pk)
    export = DatasetExport.objects.get(pk=export.pk)
    assert export.status == ExportStatus.SUCCEEDED, export.error
    with export.file.open("rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as archive:
        if fmt == "coco":
            images = json.loads(archive.read("annotations.json"))["images"]
            flags = {image["file_name"]: image["synthetic"] for image in images}
            assert flags == {**dict.fromkeys(real, False), **dict.fromkeys(painted, True)}
        else:
            listed = archive.read("synthetic.txt").decode().splitlines()
            assert sorted(listed) == sorted(f"images/train/{name}" for name in painted)
            assert all(name in archive.namelist() for name in listed)
            manifest = json.loads(archive.read("semweb.json"))
            assert sorted(manifest["synthetic_images"]) == sorted(painted)
            images = {n for n in archive.namelist() if n.startswith("images/train/")}
            assert len(images) == len(real) + len(painted)
