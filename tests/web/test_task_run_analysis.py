"""The run_analysis task: claim, progress, results in one go; engine errors fail the run with
the reason; transient errors give the run back and retry."""

from __future__ import annotations

import math

import pytest
from _runs import FAKE_ENGINE, make_micrograph
from django.db import OperationalError

from semweb.analyses import services, tasks
from semweb.analyses.models import AnalysisRun, RunStatus
from semweb.audit.models import AuditEvent


@pytest.fixture
def run(sample, alice, bob, settings):
    settings.SEMWEB_ENGINE = FAKE_ENGINE
    return services.run_create(micrograph=make_micrograph(sample, alice), user=bob)


def test_task_stores_every_particle_and_the_calibration(run):
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "succeeded"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert (run.stage, run.progress, run.attempts) == ("done", 1.0, 1)
    assert run.particle_count == 4
    assert run.pixel_size_nm == 2.0
    assert run.engine_version == "fake-1"
    assert run.path_taken == "classical"
    assert run.labels_file.name.endswith(".tif")
    assert run.finished_at is not None
    # PIL discs of radius 10, 15, 20, 25 px are 2r+1 px wide; at 2 nm/px ECD ≈ 42…102 nm.
    ecd = sorted(run.particles.values_list("ecd_nm", flat=True))
    expected = [42, 62, 82, 102]
    assert all(math.isclose(e, t, rel_tol=0.03) for e, t in zip(ecd, expected, strict=True)), ecd


def test_task_records_each_stage_it_passes(run, monkeypatch):
    seen = []
    original = services.run_record_progress

    def spy(**kwargs):
        seen.append(kwargs["stage"])
        return original(**kwargs)

    monkeypatch.setattr(services, "run_record_progress", spy)
    tasks.run_analysis.apply(args=(run.pk,))
    assert seen == [
        "reading",
        "calibrating",
        "segmenting",
        "measuring",
        "summarising",
        "done",
        "saving",
    ]


def test_engine_error_fails_the_run_with_the_reason(run, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_FAIL", "not a micrograph")
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "failed"
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error == "ValueError: not a micrograph"
    assert run.particles.count() == 0


def test_transient_error_gives_the_run_back_and_retries(run, monkeypatch):
    def flaky(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "run_complete", flaky)
    # Eager mode runs the retries at once: three attempts, each given back, then the run fails.
    tasks.run_analysis.apply(args=(run.pk,))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.attempts == 3
    assert run.error == (
        "gave up after 3 attempts; last error: transient error, retrying: "
        "OperationalError: server closed the connection unexpectedly"
    )
    verbs = list(AuditEvent.objects.filter(target_id=str(run.pk)).values_list("verb", flat=True))
    assert verbs.count("run.retry") == 3


def test_transient_error_once_then_success(run, monkeypatch):
    original = services.run_complete
    calls = []

    def flaky_once(**kwargs):
        calls.append(kwargs["attempt"])
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return original(**kwargs)

    monkeypatch.setattr(services, "run_complete", flaky_once)
    tasks.run_analysis.apply(args=(run.pk,))
    run.refresh_from_db()
    assert calls == [1, 2]
    assert (run.status, run.attempts, run.particle_count) == (RunStatus.SUCCEEDED, 2, 4)


def test_a_second_delivery_of_a_finished_run_does_nothing(run):
    tasks.run_analysis.apply(args=(run.pk,))
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "skipped"
    run.refresh_from_db()
    assert run.attempts == 1
    assert run.particles.count() == 4


def test_task_for_a_deleted_run_is_skipped(run):
    AnalysisRun.objects.filter(pk=run.pk).delete()
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "skipped"
