"""The review page and its JSON: visible to the project's lab, 404 to other labs; edits saved
at once and answered with the recomputed statistics; approved runs refuse edits."""

from __future__ import annotations

import json

import pytest
from _runs import completed_run, make_micrograph

from semweb.analyses.models import ReviewState
from semweb.audit.models import AuditEvent
from semweb.catalogue.models import ProjectShare


@pytest.fixture
def run(sample, alice, bob):
    return completed_run(make_micrograph(sample, alice), bob)


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_review_page_shows_outline_data_and_summary(client, run, bob):
    client.force_login(bob)
    page = client.get(f"/runs/{run.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="overlay"' in html
    assert '<span data-testid="n-accepted">4</span>' in html
    assert "/runs/assets/plotly.min.js" in html
    data = client.get(f"/runs/{run.pk}/particles.json").json()
    geometry = data["geometry"]
    assert geometry["index"] == [1, 2, 3, 4]
    assert data["accepted"] == [True, True, True, True]
    assert len(geometry["poly"][0]) == 8  # the fake engine's polygons are boxes: 4 points
    assert geometry["fields"][0] == "ecd_nm"


def test_particle_geometry_follows_the_calibration(client, run, bob):
    client.force_login(bob)
    before = client.get(f"/runs/{run.pk}/particles.json").json()["geometry"]
    client.post(
        f"/runs/{run.pk}/calibration",
        json.dumps({"pixel_size_nm": 4.0}),
        content_type="application/json",
    )
    after = client.get(f"/runs/{run.pk}/particles.json").json()["geometry"]
    ratios = [a[0] / b[0] for a, b in zip(after["m"], before["m"], strict=True)]  # ECD, nm
    assert ratios == pytest.approx([2.0] * 4, rel=1e-4)  # the payload rounds to 4 decimals


def test_other_labs_get_404_everywhere(client, run, carol):
    client.force_login(carol)
    for url in (
        f"/runs/{run.pk}/",
        f"/runs/{run.pk}/particles.json",
        f"/runs/{run.pk}/stats.json",
        f"/runs/{run.pk}/progress.json",
        f"/runs/micrographs/{run.micrograph_id}/image",
    ):
        assert client.get(url).status_code == 404, url
    assert (
        _post(client, f"/runs/{run.pk}/accept", {"indices": [1], "accepted": False}).status_code
        == 404
    )
    assert run.particles.filter(accepted=False).count() == 0


def test_rejecting_a_particle_updates_statistics_and_audits(client, run, bob):
    client.force_login(bob)
    before = client.get(f"/runs/{run.pk}/stats.json").json()
    assert before["summary"]["count"] == 4
    response = _post(client, f"/runs/{run.pk}/accept", {"indices": [4], "accepted": False})
    assert response.status_code == 200
    stats = response.json()["stats"]
    assert response.json()["changed"] == 1
    assert (stats["n_accepted"], stats["n_rejected"], stats["summary"]["count"]) == (3, 1, 3)
    assert stats["summary"]["d50"] < before["summary"]["d50"]  # the largest disc is out
    assert stats["revision"] == 1
    event = AuditEvent.objects.get(verb="particles.reject")
    assert (event.actor, event.data["indices"]) == (bob, [4])
    restored = _post(client, f"/runs/{run.pk}/accept", {"indices": [4], "accepted": True}).json()
    assert restored["stats"]["summary"]["count"] == 4


def test_approved_runs_refuse_edits(client, run, bob):
    run.review_state = ReviewState.APPROVED
    run.save()
    client.force_login(bob)
    response = _post(client, f"/runs/{run.pk}/accept", {"indices": [1], "accepted": False})
    assert response.status_code == 409
    assert _post(client, f"/runs/{run.pk}/calibration", {"pixel_size_nm": 3}).status_code == 409
    assert run.particles.filter(accepted=False).count() == 0
    assert 'data-testid="read-only"' in client.get(f"/runs/{run.pk}/").content.decode()


def test_view_only_labs_see_but_cannot_edit(client, run, project, other_lab, carol):
    ProjectShare.objects.create(project=project, lab=other_lab, level="view")
    client.force_login(carol)
    assert client.get(f"/runs/{run.pk}/").status_code == 200
    response = _post(client, f"/runs/{run.pk}/accept", {"indices": [1], "accepted": False})
    assert response.status_code == 403


def test_image_and_plotly_are_served_to_members(client, run, bob):
    client.force_login(bob)
    image = client.get(f"/runs/micrographs/{run.micrograph_id}/image")
    assert image.status_code == 200
    assert b"".join(image.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    js = client.get("/runs/assets/plotly.min.js")
    assert js.status_code == 200 and js["Content-Type"] == "text/javascript"
    client.logout()
    assert client.get("/runs/assets/plotly.min.js").status_code == 302
