"""Every file URL the API hands out (an export's zip, a micrograph's original and preview, a
run's report, particle tables and summary) answers a token-authenticated request, with the
same permissions as the pages; the schema is for signed-in users only; the YOLO export's
data.yaml works from any directory."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from _api import api_media_fixture, approved_run  # noqa: F401
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analysis.segment.model import configure_offline
from semweb.datasets.models import ExportStatus
from semweb.datasets.services import dataset_create, export_build, export_request


def token_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=user).key)
    return client


@pytest.fixture
def export(alice, lab, sample, api_media, django_capture_on_commit_callbacks):
    run = approved_run(sample, alice)
    dataset = dataset_create(lab=lab, user=alice, name="Spheres", run_ids=[run.pk])
    with django_capture_on_commit_callbacks(execute=False):
        export = export_request(dataset=dataset, user=alice, format="yolo")
    export_build(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == ExportStatus.SUCCEEDED
    return export


def test_the_scripted_export_flow_ends_with_the_zip(export, bob):
    client = token_client(bob)
    url = client.get(f"/api/v1/exports/{export.pk}").json()["download_url"]
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None


def test_every_file_url_of_micrographs_and_runs_answers_the_token(export, bob, carol):
    run = export.dataset.runs.get()
    client = token_client(bob)
    micrograph = client.get(f"/api/v1/micrographs/{run.micrograph_id}/").json()
    files = client.get(f"/api/v1/runs/{run.pk}").json()["files"]
    urls = [micrograph["original_url"], micrograph["preview_url"], *files.values()]
    assert len(urls) == 6
    for url in urls:
        assert client.get(url).status_code == 200, url
    outsider = token_client(carol)
    for url in [*urls, f"/datasets/exports/{export.pk}/download"]:
        assert outsider.get(url).status_code == 404, url


def test_a_wrong_token_is_401_and_no_token_is_the_login_redirect(export):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    url = f"/datasets/exports/{export.pk}/download"
    assert client.get(url).status_code == 401
    response = APIClient().get(url)
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_schema_needs_a_signed_in_user(bob):
    assert APIClient().get("/api/schema/").status_code == 403
    assert token_client(bob).get("/api/schema/").status_code == 200


def test_yolo_data_yaml_works_from_any_directory(export, tmp_path, monkeypatch):
    configure_offline()  # before ultralytics is imported: no font or settings download
    # Lazy import: heavy optional dependency (ultralytics pulls in torch).
    from ultralytics.data.utils import check_det_dataset  # noqa: PLC0415

    folder = tmp_path / "unzipped" / "export"
    with export.file.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        archive.extractall(folder)
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    for data in (str(folder / "data.yaml"), os.path.relpath(folder / "data.yaml", elsewhere)):
        resolved = check_det_dataset(data, autodownload=False)
        assert Path(resolved["train"]) == folder / "images" / "train", data
        assert resolved["names"] == {0: "particle"}
