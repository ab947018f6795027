"""Progress: the worker's stage reports become one bar that only moves forward, served as a
small JSON document to the run's viewers (and to nobody else)."""

from __future__ import annotations

import pytest
from _runs import make_micrograph

from semweb.analyses import services
from semweb.analyses.models import RunStatus


@pytest.fixture
def run(sample, alice, bob):
    return services.run_create(micrograph=make_micrograph(sample, alice), user=bob)


def test_bar_moves_forward_through_the_stages():
    stages = ["reading", "calibrating", "segmenting", "measuring", "summarising", "done", "saving"]
    starts = [services.overall_progress(s, 0.0) for s in stages]
    assert starts == sorted(starts)
    assert starts[0] == 0.0 and starts[-1] < 1.0
    assert services.overall_progress("segmenting", 0.5) == pytest.approx(0.45)


def test_progress_json_follows_the_worker(client, run, bob):
    client.force_login(bob)
    assert client.get(f"/runs/{run.pk}/progress.json").json() == {
        "id": run.pk,
        "status": "queued",
        "status_label": "Queued",
        "stage": "",
        "progress": 0.0,
        "finished": False,
        "particle_count": 0,
        "review_state": "unreviewed",
        "error": "",
        "url": f"/runs/{run.pk}/",
    }
    attempt = services.run_claim(run_id=run.pk, worker="w")
    services.run_record_progress(run_id=run.pk, attempt=attempt, stage="segmenting", fraction=0)
    data = client.get(f"/runs/{run.pk}/progress.json").json()
    assert (data["status"], data["stage"], data["progress"]) == ("running", "segmenting", 0.2)
    services.run_fail(run_id=run.pk, attempt=attempt, reason="ImageReadError: truncated")
    data = client.get(f"/runs/{run.pk}/progress.json").json()
    assert (data["status"], data["finished"], data["error"]) == (
        RunStatus.FAILED,
        True,
        "ImageReadError: truncated",
    )


def test_progress_partial_renders_a_polling_bar(client, run, bob):
    client.force_login(bob)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert f'data-progress-url="/runs/{run.pk}/progress.json"' in html
    assert 'data-reload-on-finish="1"' in html
    assert "js/progress.js" in html


def test_progress_is_invisible_to_other_labs(client, run, carol):
    client.force_login(carol)
    assert client.get(f"/runs/{run.pk}/progress.json").status_code == 404
