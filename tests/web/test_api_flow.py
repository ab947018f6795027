"""The scripted path: upload → analyze → poll → particles → reject some, over the REST API
with a token, as the README shows."""

from __future__ import annotations

from _api import api_media_fixture  # noqa: F401
from _runs import disc_png
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from semweb.analyses import tasks
from semweb.analyses.models import AnalysisRun


def test_upload_analyze_poll_particles_with_a_token(
    bob, sample, api_media, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=bob).key)

    upload = SimpleUploadedFile("discs.png", disc_png(), content_type="image/png")
    response = client.post(
        "/api/v1/micrographs/", {"sample": sample.pk, "file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content
    micrograph = response.json()
    assert (micrograph["width"], micrograph["height"], micrograph["format"]) == (320, 240, "PNG")

    listed = client.get(f"/api/v1/micrographs/?sample={sample.pk}").json()
    assert [m["id"] for m in listed["results"]] == [micrograph["id"]]

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = client.post(
            f"/api/v1/micrographs/{micrograph['id']}/analyze",
            {"method": "classical"},
            format="json",
        )
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    assert len(enqueued) == 1

    # The worker's side, in process.
    assert tasks.run_analysis.apply(args=(run_id,)).get() == "succeeded"
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert (run["status"], run["progress"], run["particle_count"]) == ("succeeded", 1.0, 4)
    assert run["calibration"]["pixel_size_nm"] == 2.0

    particles = client.get(f"/api/v1/runs/{run_id}/particles").json()
    assert particles["count"] == 4
    assert [p["index"] for p in particles["results"]] == [1, 2, 3, 4]

    response = client.patch(
        f"/api/v1/runs/{run_id}/particles", {"indices": [2, 3], "accepted": False}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 2
    assert response.json()["run"]["revision"] == 1
    rejected = client.get(f"/api/v1/runs/{run_id}/particles?accepted=false").json()
    assert [p["index"] for p in rejected["results"]] == [2, 3]
    assert AnalysisRun.objects.get(pk=run_id).particles.filter(accepted=True).count() == 2


def test_upload_of_a_non_image_is_refused_with_the_reason(bob, sample, api_media):
    client = APIClient()
    client.force_authenticate(bob)
    upload = SimpleUploadedFile("notes.png", b"hello, not an image", content_type="image/png")
    response = client.post(
        "/api/v1/micrographs/", {"sample": sample.pk, "file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert "not a supported image" in response.json()["file"][0]


def test_same_bytes_twice_answer_409_with_the_existing_id(bob, sample, api_media):
    client = APIClient()
    client.force_authenticate(bob)
    first = client.post(
        "/api/v1/micrographs/",
        {"sample": sample.pk, "file": SimpleUploadedFile("a.png", disc_png())},
        format="multipart",
    )
    again = client.post(
        "/api/v1/micrographs/",
        {"sample": sample.pk, "file": SimpleUploadedFile("b.png", disc_png())},
        format="multipart",
    )
    assert again.status_code == 409
    assert again.json()["micrograph"] == first.json()["id"]
