"""A real Celery worker killed with SIGKILL mid-run never leaves the run stuck in "running":
the next worker's start-up reaper requeues it (and it completes), or fails it with the reason
once attempts are spent. Approved runs are untouched.

Needs what a worker subprocess can share with the test: PostgreSQL (the test database) and a
real broker (Redis in CI); skipped on the embedded SQLite default.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from _runs import completed_run, make_micrograph
from _worker import NEEDS_SHARED_WORKER, purge_queues, wait_for, worker_running

from semweb.analyses import services
from semweb.analyses.models import AnalysisRun, ReviewState, RunStatus
from semweb.audit.models import AuditEvent

STALE_S = 3

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
    NEEDS_SHARED_WORKER,
]


def _worker(name: str, *, hold_s: float, max_attempts: int, log: Path, stop=signal.SIGTERM):
    return worker_running(
        name,
        log=log,
        stop=stop,
        env={
            "SEMWEB_ENGINE": "fake_engine.analyze",
            "FAKE_ENGINE_HOLD_S": str(hold_s),
            "SEMWEB_HEARTBEAT_S": "1",
            "SEMWEB_RUN_STALE_S": str(STALE_S),
            "SEMWEB_RUN_MAX_ATTEMPTS": str(max_attempts),
        },
    )


@pytest.fixture
def setup(sample, alice, bob, sam, settings):
    settings.SEMWEB_RUN_STALE_S = STALE_S
    purge_queues()
    approved = completed_run(make_micrograph(sample, alice, name="approved.png"), bob)
    AnalysisRun.objects.filter(pk=approved.pk).update(review_state=ReviewState.APPROVED)
    micrograph = make_micrograph(sample, alice, discs=[(40, 40, 9), (120, 90, 14)], name="k.png")
    return approved, micrograph, bob


def _kill_mid_run(micrograph, user, tmp_path, *, max_attempts: int):
    log_a = tmp_path / "worker-a.log"
    with _worker("a", hold_s=120, max_attempts=max_attempts, log=log_a, stop=signal.SIGKILL):
        run = services.run_create(micrograph=micrograph, user=user, method="classical")
        wait_for(
            lambda: AnalysisRun.objects.filter(pk=run.pk, stage="segmenting").exists(),
            120,
            "worker a to reach segmenting",
            [log_a],
        )
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING  # what a dead worker leaves behind
    # Wait until its heartbeat is stale, so the next worker's reaper recognises the death.
    time.sleep(STALE_S + 1.5)
    return run, log_a


def _worker_b_until(run, status: str, log_a: Path, tmp_path, *, max_attempts: int):
    """Worker b (no hold) runs until ``run`` reaches ``status``; ``run`` is refreshed."""
    log_b = tmp_path / "worker-b.log"
    with _worker("b", hold_s=0, max_attempts=max_attempts, log=log_b):
        wait_for(
            lambda: AnalysisRun.objects.filter(pk=run.pk, status=status).exists(),
            120,
            f"worker b to take the run to {status}",
            [log_a, log_b],
        )
    run.refresh_from_db()


def test_killed_worker_run_is_requeued_and_completed_by_the_next_worker(setup, tmp_path):
    approved, micrograph, bob = setup
    run, log_a = _kill_mid_run(micrograph, bob, tmp_path, max_attempts=3)
    _worker_b_until(run, RunStatus.SUCCEEDED, log_a, tmp_path, max_attempts=3)
    assert (run.attempts, run.particle_count, run.particles.count()) == (2, 2, 2)
    assert run.worker.startswith("b@")
    retry = AuditEvent.objects.get(verb="run.retry", target_id=str(run.pk))
    assert retry.data["reason"].startswith("worker a@")
    assert "lost during segmenting" in retry.data["reason"]
    approved.refresh_from_db()
    assert (approved.status, approved.review_state, approved.particles.count()) == (
        RunStatus.SUCCEEDED,
        ReviewState.APPROVED,
        4,
    )


def test_killed_worker_run_without_attempts_left_is_failed_with_the_reason(setup, tmp_path):
    approved, micrograph, bob = setup
    run, log_a = _kill_mid_run(micrograph, bob, tmp_path, max_attempts=1)
    _worker_b_until(run, RunStatus.FAILED, log_a, tmp_path, max_attempts=1)
    assert "worker a@" in run.error and "lost during segmenting" in run.error
    assert run.error.endswith("gave up after 1 attempts")
    assert run.particles.count() == 0
    approved.refresh_from_db()
    assert approved.review_state == ReviewState.APPROVED
