"""Learned styles with a real Celery worker and the real generator (nothing faked): a
supervisor asks to learn a tiny dataset's style for a few steps, the worker trains and
registers it (content-addressed checkpoint, loss rows, sample sheets), then generates two
images into a new sample flagged synthetic. The synthetic runs are approved training material
of the dataset (never held back) and are left out of the project's statistics. "Continue
training" then resumes the ready style from its stored checkpoint for a few more steps. A
worker killed mid-training leaves a checkpoint the next worker resumes from.

Needs PostgreSQL and Redis shared with the worker (skipped on the SQLite default).
"""

from __future__ import annotations

import signal
import time

import pytest
from _models import tiny_dataset
from _worker import NEEDS_SHARED_WORKER, real_engine, shared_var, wait_for, worker_running
from django.core.files.storage import default_storage
from django.urls import reverse

from semweb.analyses.models import AnalysisRun, ReviewState
from semweb.analyses.selectors import project_comparison
from semweb.catalogue.models import Sample
from semweb.mlmodels import styles
from semweb.mlmodels.models import GenerationStatus, ModelStatus, StyleGeneration, StyleModel
from semweb.mlmodels.services import training_data

STALE_S = 3
DONE = [ModelStatus.READY, ModelStatus.FAILED]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(420),
    NEEDS_SHARED_WORKER,
]


@pytest.fixture
def var(settings, tmp_path):
    return shared_var(settings, tmp_path, SEMWEB_STYLE_IMAGE_PX=64)


def test_learn_a_style_then_generate_a_synthetic_sample(
    var, lab, project, sample, alice, sam, settings, client, tmp_path
):
    settings.SEMWEB_STYLE_CROP_PX = 32
    settings.SEMWEB_STYLE_MAX_STEPS = 3
    settings.SEMWEB_STYLE_CHECKPOINT_S = 0.0  # a sample sheet after every step
    dataset = tiny_dataset(lab, sample, alice, images=3)
    real_runs = set(dataset.runs.values_list("pk", flat=True))
    before = {r["sample"].pk: r["n"] for r in project_comparison(project)}
    log = tmp_path / "worker.log"
    with worker_running("style", log=log, env=real_engine(var, stale_s=STALE_S)):
        style = styles.style_request(dataset=dataset, user=sam, minutes=5)
        wait_for(
            lambda: StyleModel.objects.filter(pk=style.pk, status__in=DONE).exists(),
            300,
            "the style to be learned",
            [log],
        )
        style.refresh_from_db()
        assert style.status == ModelStatus.READY, style.error
        generation = styles.generation_request(style=style, user=sam, n=2)
        wait_for(
            lambda: StyleGeneration.objects.filter(
                pk=generation.pk, status__in=[GenerationStatus.SUCCEEDED, GenerationStatus.FAILED]
            ).exists(),
            120,
            "the generation",
            [log],
        )
        # Three more steps from the stored checkpoint (SEMWEB_STYLE_MAX_STEPS per session).
        styles.style_continue(style=style, user=sam, minutes=5)
        wait_for(
            lambda: StyleModel.objects.filter(pk=style.pk, status__in=DONE).exists(),
            300,
            "the continued training",
            [log],
        )
    continued = StyleModel.objects.get(pk=style.pk)
    assert continued.status == ModelStatus.READY, continued.error
    assert [h["step"] for h in continued.progress["history"]] == [1, 2, 3, 4, 5, 6]
    assert {h["attempt"] for h in continued.progress["history"][3:]} == {2}
    assert continued.attempts == 2 and continued.parameters["attempts_before"] == 1
    assert [c["from_step"] for c in continued.progress["continued"]] == [3]
    assert continued.progress["restored"] == [{"attempt": 2, "sha256": style.weights_sha256}]
    assert continued.progress["resumed"] == [{"attempt": 2, "from_step": 3}]
    assert continued.weights_sha256 != style.weights_sha256
    assert continued.stability["step"] == 6
    assert default_storage.exists(continued.weights.name)
    # The style: content-addressed checkpoint, three steps of losses, sample sheets stored.
    assert style.weights.name == f"styles/{style.weights_sha256}.pt"
    assert default_storage.exists(style.weights.name)
    assert style.training_data["run_ids"] == sorted(real_runs)
    assert [h["step"] for h in style.progress["history"]] == [1, 2, 3]
    assert {"d_real", "d_fake", "g_adv", "g_fm"} <= set(style.progress["history"][0])
    assert style.progress["samples"] and all(
        default_storage.exists(s["name"]) for s in style.progress["samples"]
    )
    assert style.parameters["crop_px_used"] == 32
    assert isinstance(style.stability["collapsed"], bool)

    # The generation: a new sample flagged synthetic, two approved runs whose particles are
    # the painted masks, added to the dataset for training only.
    generation.refresh_from_db()
    assert (generation.status, generation.done) == (GenerationStatus.SUCCEEDED, 2), generation.error
    synthetic = Sample.objects.get(pk=generation.sample_id)
    assert synthetic.is_synthetic and synthetic.style_model_id == style.pk
    assert synthetic.project_id == project.pk
    runs = AnalysisRun.objects.filter(micrograph__sample=synthetic)
    assert runs.count() == 2 and synthetic.micrographs.count() == 2
    for run in runs:
        assert run.review_state == ReviewState.APPROVED
        assert run.particle_count > 0 == run.particles.filter(accepted=False).count()
        assert (run.micrograph.width, run.micrograph.height) == (64, 64)
    data = training_data(dataset)
    assert sorted(data["synthetic_run_ids"]) == sorted(r.pk for r in runs)
    assert set(data["synthetic_run_ids"]) <= set(data["train_run_ids"])
    assert set(data["held_back_run_ids"]) <= real_runs

    # Never in the project's statistics; shown as synthetic on its own pages.
    after = {r["sample"].pk: r["n"] for r in project_comparison(project)}
    assert after == before and synthetic.pk not in after
    client.force_login(sam)
    page = client.get(reverse("catalogue:sample_detail", args=[synthetic.pk])).content.decode()
    assert "Synthetic" in page


def test_a_worker_killed_mid_training_resumes_from_its_checkpoint(
    var, lab, sample, alice, sam, settings, tmp_path
):
    settings.SEMWEB_STYLE_CROP_PX = 32
    settings.SEMWEB_STYLE_MAX_STEPS = 400
    settings.SEMWEB_STYLE_CHECKPOINT_S = 0.0
    dataset = tiny_dataset(lab, sample, alice, images=2)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    # SIGKILL mid-training: the last step's checkpoint is on disk.
    env = real_engine(var, stale_s=STALE_S)
    with worker_running("a", log=log_a, env=env, stop=signal.SIGKILL):
        style = styles.style_request(dataset=dataset, user=sam, minutes=5)
        wait_for(
            lambda: StyleModel.objects.get(pk=style.pk).progress.get("step", 0) >= 2,
            240,
            "worker a to train two steps",
            [log_a],
        )
    style.refresh_from_db()
    assert (style.status, style.attempts) == (ModelStatus.TRAINING, 1)
    killed_at = style.progress["step"]
    # Finish quickly once resumed: a few more steps than the first attempt made.
    StyleModel.objects.filter(pk=style.pk).update(
        parameters={**style.parameters, "max_steps": killed_at + 2}
    )
    time.sleep(STALE_S + 1.5)
    with worker_running("b", log=log_b, env=env):
        wait_for(
            lambda: StyleModel.objects.filter(pk=style.pk, status__in=DONE).exists(),
            240,
            "worker b to resume and finish",
            [log_a, log_b],
        )
    style.refresh_from_db()
    assert style.status == ModelStatus.READY, style.error
    assert style.attempts == 2 and style.worker.startswith("b@")
    resumed = style.progress["resumed"]
    assert [r["attempt"] for r in resumed] == [2] and resumed[0]["from_step"] >= 2
    steps = [h["step"] for h in style.progress["history"]]
    assert steps == list(range(1, len(steps) + 1))  # no gap and no step counted twice
    assert style.progress["history"][0]["attempt"] == 1
    assert style.progress["history"][-1]["attempt"] == 2
