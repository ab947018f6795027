"""Catalogue pages: lab → projects → samples → micrographs, the create/edit forms, and the
permission-checked preview and download views."""

from __future__ import annotations

import pytest
from _api import api_as
from _catalogue_helpers import (
    media_fixture,  # noqa: F401  (the `media` fixture)
    png_bytes,
)

from semweb.analyses.models import AnalysisRun, RunStatus
from semweb.audit.models import AuditEvent
from semweb.catalogue import services
from semweb.catalogue.models import Project, ProjectShare, Sample
from semweb.datasets.models import Dataset
from semweb.labs.models import ShareLevel

pytestmark = pytest.mark.django_db


@pytest.fixture
def micrograph(sample, bob, media):
    return services.micrograph_create(
        sample=sample, user=bob, data=png_bytes(seed=31), filename="grid 3.png"
    )


def test_home_lists_projects_by_lab(client, bob, project):
    client.force_login(bob)
    response = client.get("/")
    assert response.status_code == 200
    assert list(response.context["projects"]) == [project]
    assert f'href="/projects/{project.pk}/"' in response.content.decode()


def test_project_list_filters_by_lab(client, bob, lab, project):
    client.force_login(bob)
    response = client.get(f"/projects/?lab={lab.slug}")
    assert response.status_code == 200
    assert list(response.context["projects"]) == [project]


def test_other_lab_sees_no_projects_and_404s_on_the_lab_filter(client, carol, lab, project):
    client.force_login(carol)
    assert list(client.get("/projects/").context["projects"]) == []
    assert client.get(f"/projects/?lab={lab.slug}").status_code == 404


def test_member_creates_a_project_in_their_lab(client, bob, lab):
    client.force_login(bob)
    response = client.post(
        "/projects/new/", {"lab": lab.pk, "name": "  Gold rods ", "description": "TEM"}
    )
    project = Project.objects.get(name="Gold rods")
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert (project.lab, project.created_by, project.description) == (lab, bob, "TEM")
    assert AuditEvent.objects.filter(verb="project.create", target_id=str(project.pk)).count() == 1


def test_member_cannot_create_a_project_in_another_lab(client, bob, other_lab):
    client.force_login(bob)
    response = client.post("/projects/new/", {"lab": other_lab.pk, "name": "Sneaky"})
    assert response.status_code == 400  # the form again, refused
    assert "lab" in response.context["form"].errors
    assert not Project.objects.filter(name="Sneaky").exists()


def test_user_without_a_lab_cannot_open_the_project_form(client, django_user_model):
    loner = django_user_model.objects.create_user("loner", password="x")
    client.force_login(loner)
    assert client.get("/projects/new/").status_code == 403


def test_member_edits_a_project(client, bob, project):
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/edit/", {"name": "Silica", "description": "d"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.description) == ("Silica", "d")
    event = AuditEvent.objects.get(verb="project.update")
    assert event.data == {"changed": ["description", "name"]}


def test_shared_viewer_sees_the_project_but_cannot_edit(client, carol, other_lab, project):
    ProjectShare.objects.create(project=project, lab=other_lab, level=ShareLevel.VIEW)
    client.force_login(carol)
    page = client.get(f"/projects/{project.pk}/")
    assert page.status_code == 200 and page.context["can_edit"] is False
    assert client.post(f"/projects/{project.pk}/edit/", {"name": "x"}).status_code == 403
    assert client.get(f"/projects/{project.pk}/samples/new/").status_code == 403


def test_member_creates_and_edits_a_sample_with_tags(client, bob, project):
    client.force_login(bob)
    response = client.post(
        f"/projects/{project.pk}/samples/new/",
        {
            "name": "Batch 9",
            "material": "TiO2",
            "synthesis_notes": "sol-gel, 450 °C",
            "tags": "calcined, anatase, calcined",
        },
    )
    sample = Sample.objects.get(name="Batch 9")
    assert response["Location"] == f"/samples/{sample.pk}/"
    assert (sample.material, sample.tags) == ("TiO2", ["calcined", "anatase"])
    edit = client.get(f"/samples/{sample.pk}/edit/")
    assert edit.context["form"].initial["tags"] == "calcined, anatase"
    client.post(
        f"/samples/{sample.pk}/edit/",
        {"name": "Batch 9b", "material": "TiO2", "synthesis_notes": "", "tags": "rutile"},
    )
    sample.refresh_from_db()
    assert (sample.name, sample.tags, sample.synthesis_notes) == ("Batch 9b", ["rutile"], "")


def test_sample_page_lists_micrographs_with_size_depth_calibration_and_run(
    client, bob, sample, micrograph
):
    client.force_login(bob)
    response = client.get(f"/samples/{sample.pk}/")
    assert response.status_code == 200
    (row,) = response.context["micrographs"]
    assert row == micrograph and row.latest_run_status is None
    html = response.content.decode()
    assert f'src="/micrographs/{micrograph.pk}/preview.png"' in html
    assert "64 × 48 px" in html and "8-bit" in html and "uncalibrated" in html
    assert response.context["can_upload"] is True


def test_sample_page_shows_the_latest_run_status(client, bob, sample, micrograph):
    AnalysisRun.objects.create(micrograph=micrograph, status=RunStatus.FAILED)
    AnalysisRun.objects.create(micrograph=micrograph, status=RunStatus.SUCCEEDED)
    client.force_login(bob)
    (row,) = client.get(f"/samples/{sample.pk}/").context["micrographs"]
    assert (row.latest_run_status, row.run_count) == ("succeeded", 2)


def test_micrograph_page_preview_and_original_download(client, bob, micrograph):
    client.force_login(bob)
    detail = client.get(f"/micrographs/{micrograph.pk}/")
    assert detail.status_code == 200
    assert micrograph.sha256 in detail.content.decode()
    preview = client.get(f"/micrographs/{micrograph.pk}/preview.png")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    assert b"".join(preview.streaming_content).startswith(b"\x89PNG")
    original = client.get(f"/micrographs/{micrograph.pk}/original/")
    assert original["Content-Disposition"] == 'attachment; filename="grid 3.png"'
    assert b"".join(original.streaming_content) == png_bytes(seed=31)


def test_missing_preview_is_regenerated_from_the_original(client, bob, micrograph):
    micrograph.preview.storage.delete(micrograph.preview.name)
    client.force_login(bob)
    response = client.get(f"/micrographs/{micrograph.pk}/preview.png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "path",
    [
        "/projects/{p}/",
        "/projects/{p}/edit/",
        "/samples/{s}/",
        "/samples/{s}/edit/",
        "/micrographs/{m}/",
        "/micrographs/{m}/preview.png",
        "/micrographs/{m}/original/",
        "/micrographs/{m}/sidecar/",
    ],
)
def test_other_lab_gets_404_everywhere(client, carol, project, sample, micrograph, path):
    client.force_login(carol)
    url = path.format(p=project.pk, s=sample.pk, m=micrograph.pk)
    assert client.get(url).status_code == 404


def test_files_are_not_served_from_a_public_media_url(client, bob, micrograph):
    client.force_login(bob)
    assert client.get(f"/files/{micrograph.original.name}").status_code == 404


def test_anonymous_is_sent_to_login_for_downloads(client, micrograph):
    response = client.get(f"/micrographs/{micrograph.pk}/original/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("level", "can_analyse"), [(ShareLevel.VIEW, False), (ShareLevel.ANNOTATE, True)]
)
def test_shared_labs_never_get_the_upload_form(
    client, carol, other_lab, project, sample, level, can_analyse
):
    ProjectShare.objects.create(project=project, lab=other_lab, level=level)
    client.force_login(carol)
    response = client.get(f"/samples/{sample.pk}/")
    assert response.status_code == 200
    assert (response.context["can_upload"], response.context["can_analyse"]) == (
        False,
        can_analyse,
    )
    assert 'data-testid="upload"' not in response.content.decode()


def test_text_limits_hold_on_pages_and_the_api(client, bob, lab, project, sample):
    client.force_login(bob)
    response = client.post(
        f"/projects/{project.pk}/edit/", {"name": "P", "description": "x" * 10_001}
    )
    assert response.status_code == 400
    project.refresh_from_db()
    assert project.description == ""
    tags = ", ".join(f"t{i}" for i in range(51))
    response = client.post(f"/samples/{sample.pk}/edit/", {"name": "S", "tags": tags})
    assert response.status_code == 400
    assert "at most 50 tags" in response.content.decode()
    response = client.post("/datasets/", {"lab": lab.slug, "name": "n" * 10_000})
    assert response.status_code == 400
    assert not Dataset.objects.exists()
    api = api_as(bob)
    response = api.post(
        "/api/v1/projects/",
        {"lab": lab.slug, "name": "P2", "description": "d" * 2_000_000},
        format="json",
    )
    assert response.status_code == 400
    assert "description" in response.json()
    response = api.post(
        "/api/v1/samples/",
        {"project": project.pk, "name": "S2", "tags": [str(i) for i in range(20_000)]},
        format="json",
    )
    assert response.status_code == 400
    assert not Sample.objects.filter(name="S2").exists()
