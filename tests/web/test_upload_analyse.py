""" "Analyse after upload" queues one run per stored micrograph, with the chosen method; without
the option nothing is queued; duplicates and refused files are never analysed."""

from __future__ import annotations

import pytest
from _catalogue_helpers import (
    XHR,
    files,
    media_fixture,  # noqa: F401  (the `media` fixture)
    png_bytes,
    results_by_name,
    upload_url,
)

from semweb.analyses.models import AnalysisRun, RunStatus

pytestmark = pytest.mark.django_db


def test_upload_with_analyse_queues_one_run_each(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample),
        {
            "files": files(("a.png", png_bytes(40, 30)), ("junk.png", b"not an image")),
            "analyse": "on",
            "method": "classical",
        },
        headers=XHR,
    )
    assert response.status_code == 201
    results = results_by_name(response)
    runs = list(AnalysisRun.objects.all())
    assert len(runs) == 1
    run = runs[0]
    assert run.micrograph.original_filename == "a.png"
    assert (run.method, run.status, run.created_by) == ("classical", RunStatus.QUEUED, bob)
    assert results["a.png"]["run"]["id"] == run.pk
    assert "run" not in results["junk.png"]


def test_upload_without_analyse_queues_nothing(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample), {"files": files(("a.png", png_bytes(40, 30)))}, headers=XHR
    )
    assert response.status_code == 201
    assert AnalysisRun.objects.count() == 0


def test_duplicate_upload_is_not_analysed_again(client, bob, sample, media):
    client.force_login(bob)
    data = png_bytes(40, 30)
    for _ in range(2):
        client.post(
            upload_url(sample), {"files": files(("a.png", data)), "analyse": "on"}, headers=XHR
        )
    assert AnalysisRun.objects.count() == 1


def test_unknown_method_keeps_the_micrograph_and_says_why(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample),
        {"files": files(("a.png", png_bytes(40, 30))), "analyse": "on", "method": "magic"},
        headers=XHR,
    )
    assert response.status_code == 201
    assert "Not analysed" in results_by_name(response)["a.png"]["message"]
    assert sample.micrographs.count() == 1
    assert AnalysisRun.objects.count() == 0
