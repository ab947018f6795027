"""Completion is one transaction: a failure while storing leaves no particles and the run still
owned by its attempt (so a retry starts clean); a late completion of a lost attempt is dropped."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import fake_engine
import pytest
from _runs import make_micrograph
from django.utils import timezone

from semweb.analyses import services
from semweb.analyses.models import AnalysisRun, Particle, RunStatus


@pytest.fixture
def run(sample, alice, bob):
    return services.run_create(micrograph=make_micrograph(sample, alice), user=bob)


def _result(run):
    return fake_engine.analyze(run.micrograph.original.path, run.parameters, method="auto")


def test_failure_while_storing_leaves_nothing_behind(run, monkeypatch):
    attempt = services.run_claim(run_id=run.pk, worker="t")
    result = _result(run)

    def broken_audit(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(RuntimeError):
        services.run_complete(run_id=run.pk, attempt=attempt, result=result)
    run.refresh_from_db()
    assert Particle.objects.filter(run=run).count() == 0
    assert (run.status, run.particle_count, run.summary) == (RunStatus.RUNNING, 0, {})


def test_completion_by_a_superseded_attempt_is_dropped(run, settings):
    settings.SEMWEB_RUN_STALE_S = 2
    first = services.run_claim(run_id=run.pk, worker="a")
    run.refresh_from_db()

    AnalysisRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    second = services.run_claim(run_id=run.pk, worker="b")
    assert (first, second) == (1, 2)
    assert services.run_complete(run_id=run.pk, attempt=first, result=_result(run)) is None
    assert Particle.objects.filter(run=run).count() == 0
    assert services.run_complete(run_id=run.pk, attempt=second, result=_result(run)) is not None
    assert Particle.objects.filter(run=run).count() == 4


def test_particles_are_inserted_in_bulk(run, django_assert_max_num_queries):
    attempt = services.run_claim(run_id=run.pk, worker="t")
    result = _result(run)
    template = result.particles[0]
    result.particles = [replace(template, label=i) for i in range(1, 601)]
    # 600 rows one by one would be 600 queries; SQLite caps variables per statement, so Django
    # splits the bulk insert into ~10 statements there (one on PostgreSQL).
    with django_assert_max_num_queries(30):
        services.run_complete(run_id=run.pk, attempt=attempt, result=result)
    assert Particle.objects.filter(run=run).count() == 600
