"""run_create: a queued row with its parameters, audited, enqueued after commit on its queue."""

from __future__ import annotations

from unittest import mock

import pytest
from _runs import make_micrograph
from django.core.exceptions import PermissionDenied, ValidationError

from analysis import ENGINE_VERSION
from semweb.analyses import services
from semweb.analyses.models import AnalysisRun, RunStatus
from semweb.audit.models import AuditEvent
from semweb.catalogue.models import ProjectShare
from semweb.labs.models import ShareLevel


@pytest.fixture
def micrograph(sample, alice):
    return make_micrograph(sample, alice)


def test_run_create_stores_parameters_and_engine_version(micrograph, bob):
    run = services.run_create(
        micrograph=micrograph,
        user=bob,
        method="classical",
        parameters={"pixel_size_nm": "2.5", "min_size_nm": 10, "exclude_edge": False},
    )
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert run.created_by == bob
    assert run.parameters == {
        "pixel_size_nm": 2.5,
        "min_size_nm": 10.0,
        "exclude_edge": False,
        "particle_size_px": None,
        "particle_size_nm": None,
    }

    assert run.engine_version == ENGINE_VERSION
    event = AuditEvent.objects.get(verb="run.create", target_id=str(run.pk))
    assert event.actor == bob


@pytest.mark.parametrize(
    ("method", "queue"), [("classical", "cpu"), ("auto", "gpu"), ("model", "gpu")]
)
def test_run_create_enqueues_after_commit_on_the_queue_of_its_method(
    micrograph, bob, method, queue, django_capture_on_commit_callbacks
):
    with mock.patch("semweb.analyses.tasks.run_analysis.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = services.run_create(micrograph=micrograph, user=bob, method=method)
        apply_async.assert_not_called()  # nothing is sent before the row is committed
        for callback in callbacks:
            callback()
    apply_async.assert_called_once_with((run.pk,), queue=queue)


def test_run_create_refuses_unknown_parameters(micrograph, bob):
    with pytest.raises(ValidationError):
        services.run_create(micrograph=micrograph, user=bob, parameters={"pixel_sise": 1})
    assert AnalysisRun.objects.count() == 0


def test_run_create_refuses_view_only_labs_and_strangers(micrograph, project, other_lab, carol):
    with pytest.raises(PermissionDenied):
        services.run_create(micrograph=micrograph, user=carol)
    ProjectShare.objects.create(project=project, lab=other_lab, level=ShareLevel.VIEW)
    with pytest.raises(PermissionDenied):
        services.run_create(micrograph=micrograph, user=carol)
    assert AnalysisRun.objects.count() == 0


def test_run_create_allows_annotating_labs(micrograph, project, other_lab, carol):
    ProjectShare.objects.create(project=project, lab=other_lab, level=ShareLevel.ANNOTATE)
    run = services.run_create(micrograph=micrograph, user=carol)
    assert run.created_by == carol
