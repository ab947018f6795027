"""Review through the pages: forms on the run page, the timeline, the supervisors' queue."""

from __future__ import annotations

import pytest
from _runs import completed_run, make_micrograph

from semweb.analyses.models import ReviewState
from semweb.analyses.services import run_set_calibration
from semweb.review import services


@pytest.fixture
def run(sample, alice, bob):
    return completed_run(make_micrograph(sample, alice), bob)


def test_submit_then_approve_through_the_page(client, run, bob, sam):
    client.force_login(bob)
    assert 'data-testid="submit-review"' in client.get(f"/runs/{run.pk}/").content.decode()
    assert client.post(f"/review/runs/{run.pk}/submit", {"body": "done"}).status_code == 302
    assert client.post(f"/review/runs/{run.pk}/approve", {}).status_code == 403  # bob: member
    client.force_login(sam)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="approve"' in page
    client.post(f"/review/runs/{run.pk}/approve", {"revision": run.revision, "body": "fine"})
    run.refresh_from_db()
    assert run.review_state == ReviewState.APPROVED
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-testid="read-only"' in page
    assert 'data-testid="approve"' not in page
    assert 'id="reject-selected"' not in page  # no edit controls once approved


def test_timeline_shows_audit_events_and_pinned_comments(client, run, bob, sam):
    services.run_submit(run=run, user=bob, body="first pass")
    services.run_request_changes(run=run, user=sam, body="split #2", particle_index=2)
    client.force_login(bob)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    timeline = html[html.index('data-testid="timeline"') :]
    order = [
        timeline.index(s)
        for s in (
            "queued the analysis",
            "analysis finished",
            "submitted for review",
            "requested changes",
        )
    ]
    assert order == sorted(order)
    assert "split #2" in timeline and "particle #2" in timeline


def test_queue_lists_runs_in_review_for_supervisors_of_the_lab_only(client, run, bob, sam, carol):
    services.run_submit(run=run, user=bob)
    client.force_login(sam)
    assert f"/runs/{run.pk}/" in client.get("/review/queue").content.decode()
    client.force_login(bob)  # a member supervises nothing
    assert f"/runs/{run.pk}/" not in client.get("/review/queue").content.decode()
    client.force_login(carol)
    assert f"/runs/{run.pk}/" not in client.get("/review/queue").content.decode()


def test_timeline_numbers_are_rounded_and_histograms_offer_a_log_axis(client, run, bob):
    run_set_calibration(run=run, user=bob, pixel_size_nm=25 / 11)  # 2.2727…
    client.force_login(bob)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    timeline = page[page.index('data-testid="timeline"') :]
    assert "2 → 2.273 nm/px" in timeline
    assert "2.2727" not in timeline
    assert 'data-log-axis="histogram"' in page
    sample = run.micrograph.sample
    assert (
        'data-log-axis="sample-histogram"'
        in client.get(f"/runs/samples/{sample.pk}/stats").content.decode()
    )
    assert (
        'data-log-axis="compare-chart"'
        in client.get(f"/runs/projects/{sample.project_id}/compare").content.decode()
    )
