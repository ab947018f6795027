"""The reaper: a running run whose worker stopped heartbeating is requeued while attempts
remain, else failed with the reason; live and approved runs are never touched."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from _runs import completed_run, make_micrograph
from django.core.management import call_command
from django.utils import timezone

from semweb.analyses import services
from semweb.analyses.models import AnalysisRun, ReviewState, RunStatus


@pytest.fixture
def micrograph(sample, alice):
    return make_micrograph(sample, alice)


def _running(micrograph, user, *, attempts: int, silent_for_s: float) -> AnalysisRun:
    run = services.run_create(micrograph=micrograph, user=user)
    beat = timezone.now() - timedelta(seconds=silent_for_s)
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        attempts=attempts,
        stage="segmenting",
        worker="w1@host",
        started_at=beat,
        heartbeat_at=beat,
    )
    return run


def test_dead_worker_run_is_requeued_and_enqueued_again(
    micrograph, bob, settings, django_capture_on_commit_callbacks
):
    settings.SEMWEB_RUN_STALE_S = 60
    run = _running(micrograph, bob, attempts=1, silent_for_s=61)
    with (
        mock.patch("semweb.analyses.tasks.run_analysis.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.runs_reap() == {"requeued": 1, "failed": 0}
    apply_async.assert_called_once_with((run.pk,), queue="gpu")
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.QUEUED, 1)
    assert run.error.startswith("worker w1@host lost during segmenting")


def test_dead_worker_run_out_of_attempts_is_failed_with_the_reason(micrograph, bob, settings):
    settings.SEMWEB_RUN_STALE_S = 60
    settings.SEMWEB_RUN_MAX_ATTEMPTS = 3
    run = _running(micrograph, bob, attempts=3, silent_for_s=600)
    assert services.runs_reap() == {"requeued": 0, "failed": 1}
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "worker w1@host lost during segmenting" in run.error
    assert run.error.endswith("gave up after 3 attempts")


def test_live_runs_are_left_alone(micrograph, bob, settings):
    settings.SEMWEB_RUN_STALE_S = 60
    run = _running(micrograph, bob, attempts=1, silent_for_s=5)
    assert services.runs_reap() == {"requeued": 0, "failed": 0}
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_approved_and_finished_runs_are_never_touched(micrograph, bob, sam, settings):
    settings.SEMWEB_RUN_STALE_S = 60
    run = completed_run(micrograph, bob)
    AnalysisRun.objects.filter(pk=run.pk).update(
        review_state=ReviewState.APPROVED, heartbeat_at=timezone.now() - timedelta(days=1)
    )
    call_command("reap_runs")
    run.refresh_from_db()
    assert (run.status, run.review_state, run.particle_count) == (
        RunStatus.SUCCEEDED,
        ReviewState.APPROVED,
        4,
    )


def test_a_redelivered_message_reclaims_a_dead_run_without_the_reaper(micrograph, bob, settings):
    settings.SEMWEB_RUN_STALE_S = 60
    run = _running(micrograph, bob, attempts=1, silent_for_s=120)
    assert services.run_claim(run_id=run.pk, worker="w2@host") == 2
    # The dead attempt's late writes are fenced off.
    with pytest.raises(services.RunAborted):
        services.run_record_progress(run_id=run.pk, attempt=1, stage="measuring", fraction=0)
