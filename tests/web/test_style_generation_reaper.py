"""A generation ("Generate N training images") whose worker died is reaped like a training:
requeued while attempts remain, and the next attempt paints from ``done`` on, so no image is
painted or stored twice; out of attempts it fails with the reason. The dead worker's late
writes are fenced off by its attempt. Real generator (one training step on a tiny dataset),
real painting; only the Celery send is captured."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
from _api import api_media_fixture  # noqa: F401
from _models import tiny_dataset
from django.utils import timezone

from semweb.analyses.engine import style_learn, style_load, style_paint
from semweb.analyses.models import AnalysisRun
from semweb.mlmodels import style_worker, styles
from semweb.mlmodels.models import GenerationStatus, ModelStatus, StyleGeneration, StyleModel
from semweb.mlmodels.services import store_weights
from semweb.mlmodels.training import annotated_image

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(300)]


def _style(lab, dataset, **fields) -> StyleModel:
    run_ids = sorted(dataset.runs.values_list("pk", flat=True))
    return StyleModel.objects.create(
        lab=lab,
        dataset=dataset,
        name="tiny style",
        status=ModelStatus.READY,
        training_data={"run_ids": run_ids, "images": len(run_ids)},
        **fields,
    )


@pytest.fixture
def ready_style(lab, sample, alice, api_media, settings, tmp_path) -> StyleModel:
    """A style trained for one step (real checkpoint, stored as a finished training stores it)."""
    settings.SEMWEB_STYLE_IMAGE_PX = 48
    dataset = tiny_dataset(lab, sample, alice, images=2)
    runs = AnalysisRun.objects.filter(pk__in=dataset.runs.all()).order_by("pk")
    checkpoint = tmp_path / "style.pt"
    style_learn(
        [annotated_image(run) for run in runs],
        checkpoint,
        seconds=120,
        crop_px=32,
        max_steps=1,
        checkpoint_every_s=0.0,
        on_step=lambda *_: None,
        should_stop=lambda: False,
    )
    name, digest, size = store_weights(checkpoint, folder="styles")
    return _style(lab, dataset, weights=name, weights_sha256=digest, weights_size_bytes=size)


def _silence(generation_id: int, seconds: float) -> None:
    beat = timezone.now() - timedelta(seconds=seconds)
    StyleGeneration.objects.filter(pk=generation_id).update(started_at=beat, heartbeat_at=beat)


def test_a_dead_generation_is_requeued_and_resumes_at_done_without_duplicates(
    ready_style, sam, settings, django_capture_on_commit_callbacks
):
    settings.SEMWEB_RUN_STALE_S = 60
    with django_capture_on_commit_callbacks(execute=False):
        generation = styles.generation_request(style=ready_style, user=sam, n=3)
    first = styles.generation_claim(generation_id=generation.pk, worker="w1@host")
    assert first == 1
    # Worker w1 paints and stores image 0, then dies (no more heartbeats).
    painter = style_load(ready_style.weights.path)
    png0, polygons0 = style_paint(painter, 0, size_px=48, seed=generation.pk)
    styles.generation_add(
        generation_id=generation.pk, attempt=first, index=0, png=png0, polygons=polygons0
    )
    stored = AnalysisRun.objects.get(micrograph__sample=generation.sample)
    _silence(generation.pk, 30)
    assert styles.generations_reap() == {"requeued": 0, "failed": 0}  # alive enough
    _silence(generation.pk, 61)
    with (
        mock.patch("semweb.mlmodels.tasks.generate_images.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert styles.generations_reap() == {"requeued": 1, "failed": 0}
    assert apply_async.call_count == 1
    assert apply_async.call_args.args == ((generation.pk,),)
    assert apply_async.call_args.kwargs["queue"] == "gpu"
    generation.refresh_from_db()
    assert (generation.status, generation.attempts, generation.done) == (
        GenerationStatus.QUEUED,
        1,
        1,
    )
    assert generation.error == "worker w1@host lost after 1 of 3 images"

    # The next delivery claims attempt 2 and paints images 1 and 2 only.
    second = styles.generation_claim(generation_id=generation.pk, worker="w2@host")
    assert second == 2
    # The dead worker wakes up: its late write is refused, nothing is stored.
    png1, polygons1 = style_paint(painter, 1, size_px=48, seed=generation.pk)
    with pytest.raises(styles.StyleAborted):
        styles.generation_add(
            generation_id=generation.pk, attempt=first, index=1, png=png1, polygons=polygons1
        )
    style_worker.generation_execute(
        generation_id=generation.pk, attempt=second, lost=threading.Event()
    )
    generation.refresh_from_db()
    assert (generation.status, generation.done) == (GenerationStatus.SUCCEEDED, 3)
    runs = AnalysisRun.objects.filter(micrograph__sample=generation.sample).order_by("pk")
    names = [run.micrograph.original_filename for run in runs]
    assert names == [f"synthetic-{generation.pk}-{i:04d}.png" for i in range(3)]
    assert runs[0].pk == stored.pk  # image 0 kept, not painted again
    assert generation.sample.micrographs.count() == 3
    assert set(ready_style.dataset.runs.filter(pk__in=runs).values_list("pk", flat=True)) == {
        r.pk for r in runs
    }


def test_a_dead_generation_out_of_attempts_fails_with_the_reason(
    lab, sample, alice, sam, api_media, settings, django_capture_on_commit_callbacks
):
    settings.SEMWEB_RUN_STALE_S = 60
    settings.SEMWEB_RUN_MAX_ATTEMPTS = 2
    style = _style(lab, tiny_dataset(lab, sample, alice, images=1))  # never painted with
    with django_capture_on_commit_callbacks(execute=False):
        generation = styles.generation_request(style=style, user=sam, n=2)
    StyleGeneration.objects.filter(pk=generation.pk).update(
        status=GenerationStatus.RUNNING, attempts=2, worker="w9@host"
    )
    _silence(generation.pk, 600)
    with mock.patch("semweb.mlmodels.tasks.generate_images.apply_async") as apply_async:
        assert styles.generations_reap() == {"requeued": 0, "failed": 1}
    apply_async.assert_not_called()
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error == "worker w9@host lost after 0 of 2 images; gave up after 2 attempts"
