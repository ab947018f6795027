"""Cancellation: queued runs never start; running ones stop at the next stage boundary and
store nothing."""

from __future__ import annotations

import pytest
from _runs import FAKE_ENGINE, make_micrograph

from semweb.analyses import services, tasks
from semweb.analyses.models import RunStatus
from semweb.analyses.services import TransitionError


@pytest.fixture
def run(sample, alice, bob, settings):
    settings.SEMWEB_ENGINE = FAKE_ENGINE
    return services.run_create(micrograph=make_micrograph(sample, alice), user=bob)


def test_cancelled_queued_run_is_skipped_by_the_worker(run, bob):
    services.run_cancel(run=run, user=bob)
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "skipped"
    run.refresh_from_db()
    assert (run.status, run.attempts, run.particles.count()) == (RunStatus.CANCELLED, 0, 0)


def test_run_cancelled_while_running_stops_and_stores_nothing(run, bob, monkeypatch):
    original = services.run_record_progress

    def cancel_during_segmenting(**kwargs):
        if kwargs["stage"] == "segmenting":
            services.run_cancel(run=run, user=bob)
        return original(**kwargs)

    monkeypatch.setattr(services, "run_record_progress", cancel_during_segmenting)
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "aborted"
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert run.particles.count() == 0
    assert run.stage == "calibrating"  # the last stage it reported before the cancel


def test_finished_runs_cannot_be_cancelled(run, bob):
    tasks.run_analysis.apply(args=(run.pk,))
    with pytest.raises(TransitionError):
        services.run_cancel(run=run, user=bob)


def test_cancel_through_the_page(client, run, bob):
    client.force_login(bob)
    assert client.post(f"/runs/{run.pk}/cancel").status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
