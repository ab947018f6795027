""" "Continue training (+M minutes)" on a ready style: queued again with exactly M more minutes
(and a fresh allowance of attempts on top of those used), resumed by the worker from the
stored checkpoint; refused clearly while the style paints images, while it is not ready, or
when the stored checkpoint is gone; only for supervisors and admins of its lab. A continued
session that stops early (crash, reaper give-up, cancel) leaves the style ready with the
generator it had. The worker's side runs for real in test_style_worker.py."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from _api import api_media_fixture  # noqa: F401
from _models import tiny_dataset
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from semweb.core.errors import TransitionError
from semweb.mlmodels import styles
from semweb.mlmodels.models import GenerationStatus, ModelStatus, StyleGeneration, StyleModel

pytestmark = pytest.mark.django_db

CHECKPOINT = b"stored checkpoint: both networks and both optimisers"


@pytest.fixture
def ready(lab, sample, alice, api_media, settings, tmp_path) -> StyleModel:
    """A style whose first session used all its attempts and stopped on its 2-minute budget."""
    settings.SEMWEB_TRAINING_DIR = tmp_path / "training"
    settings.SEMWEB_RUN_MAX_ATTEMPTS = 3
    settings.SEMWEB_STYLE_MAX_MINUTES = 30
    settings.SEMWEB_STYLE_MAX_STEPS = 0
    dataset = tiny_dataset(lab, sample, alice, images=1)
    run_ids = sorted(dataset.runs.values_list("pk", flat=True))
    return StyleModel.objects.create(
        lab=lab,
        dataset=dataset,
        name="style",
        status=ModelStatus.READY,
        training_data={"run_ids": run_ids, "images": 1},
        parameters={"minutes": 2.0, "crop_px": 32, "max_steps": None, "checkpoint_s": 60.0},
        progress={"step": 40, "seconds": 120.0, "history": [], "samples": []},
        attempts=3,
        weights=default_storage.save("styles/abc.pt", ContentFile(CHECKPOINT)),
        weights_sha256="abc",
    )


def _continue(style, user, minutes, capture):
    with (
        mock.patch("semweb.mlmodels.tasks.learn_style.apply_async") as apply_async,
        capture(execute=True),
    ):
        style = styles.style_continue(style=style, user=user, minutes=minutes)
    return style, apply_async


def test_continue_queues_m_more_minutes_with_a_fresh_allowance_of_attempts(
    ready, sam, django_capture_on_commit_callbacks
):
    style, apply_async = _continue(ready, sam, 4, django_capture_on_commit_callbacks)
    style.refresh_from_db()
    assert (style.status, style.error, style.finished_at) == (ModelStatus.QUEUED, "", None)
    # The worker trains `minutes * 60 - progress.seconds` = 240 s more.
    assert style.parameters["minutes"] * 60 - style.progress["seconds"] == pytest.approx(240)
    assert style.parameters["attempts_before"] == 3
    assert [(c["from_step"], c["minutes"], c["by"]) for c in style.progress["continued"]] == [
        (40, 4.0, "sam")
    ]
    assert apply_async.call_args.args == ((style.pk,),)
    assert apply_async.call_args.kwargs["queue"] == "gpu"
    assert apply_async.call_args.kwargs["soft_time_limit"] == 4 * 60 + 600
    # Three attempts were used by the first session; this one still gets its own three, and
    # the attempt numbers (fencing tokens) go on from 3.
    assert styles.style_claim(style_id=style.pk, worker="w1@host") == 4
    StyleModel.objects.filter(pk=style.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with mock.patch("semweb.mlmodels.tasks.learn_style.apply_async"):
        assert styles.styles_reap() == {"requeued": 1, "failed": 0}


def test_continue_is_refused_clearly(ready, sam, settings, django_capture_on_commit_callbacks):
    # Over the cap.
    with pytest.raises(ValidationError, match="minutes"):
        styles.style_continue(style=ready, user=sam, minutes=31)
    # While it paints images.
    generation = StyleGeneration.objects.create(style=ready, n=2, status=GenerationStatus.RUNNING)
    with pytest.raises(TransitionError, match="generating images"):
        styles.style_continue(style=ready, user=sam, minutes=1)
    generation.status = GenerationStatus.SUCCEEDED
    generation.save()
    # While it is not ready.
    StyleModel.objects.filter(pk=ready.pk).update(status=ModelStatus.TRAINING)
    with pytest.raises(TransitionError, match="Only a ready style"):
        styles.style_continue(style=ready, user=sam, minutes=1)
    StyleModel.objects.filter(pk=ready.pk).update(status=ModelStatus.READY)
    # When the stored checkpoint is gone.
    default_storage.delete(ready.weights.name)
    with pytest.raises(TransitionError, match="checkpoint of this style is gone"):
        styles.style_continue(style=ready, user=sam, minutes=1)
    ready.refresh_from_db()
    assert ready.status == ModelStatus.READY and "continued" not in ready.progress


def test_only_supervisors_and_admins_of_the_lab_continue(
    ready, bob, carol, alice, client, django_capture_on_commit_callbacks
):
    for user in (bob, carol):
        with pytest.raises(PermissionDenied):
            styles.style_continue(style=ready, user=user, minutes=1)
    client.force_login(bob)
    response = client.post(reverse("mlmodels:style_continue", args=[ready.pk]), {"minutes": "1"})
    assert response.status_code == 403
    page = client.get(reverse("mlmodels:style", args=[ready.pk])).content
    assert b'data-testid="style-continue"' not in page
    client.force_login(alice)
    page = client.get(reverse("mlmodels:style", args=[ready.pk])).content
    assert b'data-testid="style-continue"' in page
    with (
        mock.patch("semweb.mlmodels.tasks.learn_style.apply_async"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("api_style_continue", args=[ready.pk]),
            json.dumps({"minutes": 2}),
            content_type="application/json",
        )
    assert response.status_code == 202
    assert response.json()["status"] == ModelStatus.QUEUED
    # A second press while it trains: 409 with the reason.
    response = client.post(
        reverse("api_style_continue", args=[ready.pk]),
        json.dumps({"minutes": 2}),
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "Only a ready style" in json.dumps(response.json())


def test_the_page_says_why_while_generating(ready, alice, client):
    StyleGeneration.objects.create(style=ready, n=2, status=GenerationStatus.QUEUED)
    client.force_login(alice)
    page = client.get(reverse("mlmodels:style", args=[ready.pk])).content
    assert b'data-testid="style-continue-wait"' in page
    assert b'data-testid="style-continue"' not in page
    response = client.post(
        reverse("mlmodels:style_continue", args=[ready.pk]), {"minutes": "1"}, follow=True
    )
    assert b"generating images" in response.content
    assert StyleModel.objects.get(pk=ready.pk).status == ModelStatus.READY


@pytest.mark.parametrize("how", ["crash", "cancel"])
def test_a_continued_session_that_stops_leaves_the_style_ready(
    how, ready, sam, django_capture_on_commit_callbacks
):
    style, _ = _continue(ready, sam, 1, django_capture_on_commit_callbacks)
    attempt = styles.style_claim(style_id=style.pk, worker="w1@host")
    if how == "crash":
        assert styles.style_fail(style_id=style.pk, attempt=attempt, reason="RuntimeError: boom")
    else:
        styles.style_cancel(style=style, user=sam)
    style.refresh_from_db()
    assert style.status == ModelStatus.READY and style.weights.name == ready.weights.name
    reason = "RuntimeError: boom" if how == "crash" else "cancelled by sam"
    assert style.error == f"continued training stopped: {reason}"
    # A first training that fails is failed, as before.
    first = StyleModel.objects.create(lab=ready.lab, name="first", status=ModelStatus.TRAINING)
    assert styles.style_fail(style_id=first.pk, reason="boom")
    assert StyleModel.objects.get(pk=first.pk).status == ModelStatus.FAILED


def test_the_worker_resumes_from_the_stored_checkpoint(
    ready, sam, django_capture_on_commit_callbacks
):
    style, _ = _continue(ready, sam, 1, django_capture_on_commit_callbacks)
    local = styles.style_checkpoint(style.pk)
    # Another worker's older session left a checkpoint here: the continued session's first
    # attempt replaces it with the registered one.
    local.parent.mkdir(parents=True)
    local.write_bytes(b"an older session's checkpoint")
    assert styles.style_restore_checkpoint(style, attempt=4)
    assert local.read_bytes() == CHECKPOINT
    # A retry on the same worker keeps what the first attempt trained since ...
    local.write_bytes(b"trained further by attempt 4")
    assert not styles.style_restore_checkpoint(style, attempt=5)
    assert local.read_bytes() == b"trained further by attempt 4"
    # ... and one on a worker without it starts from the registered checkpoint again.
    local.unlink()
    assert styles.style_restore_checkpoint(style, attempt=5)
    assert local.read_bytes() == CHECKPOINT
