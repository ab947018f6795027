"""Lab models with a real Celery worker and real training (nothing faked): a supervisor's
request fine-tunes the built-in model for one epoch on a tiny approved dataset (128 px disc
micrographs), the worker registers it with held-back metrics, the lab admin promotes it, and
a micrograph analysed afterwards uses it and says so. A worker killed between epochs leaves a
checkpoint the next worker resumes from.

Needs PostgreSQL and Redis shared with the worker (skipped on the SQLite default).
"""

from __future__ import annotations

import signal
import time

import pytest
from _models import tiny_dataset, tiny_discs
from _runs import make_micrograph
from _worker import NEEDS_SHARED_WORKER, real_engine, shared_var, wait_for, worker_running
from django.core.files.storage import default_storage
from django.urls import reverse

from analysis.train.finetune import beats
from semweb.analyses import services as runs
from semweb.analyses.models import AnalysisRun, RunStatus
from semweb.audit.models import AuditEvent
from semweb.mlmodels import services
from semweb.mlmodels.models import ModelStatus, ModelVersion

STALE_S = 3

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
    NEEDS_SHARED_WORKER,
]


@pytest.fixture
def var(settings, tmp_path):
    """Media and training folders the worker shares (it gets SEMWEB_VAR_DIR)."""
    return shared_var(settings, tmp_path, SEMWEB_TRAIN_MIN_PARTICLES=10, SEMWEB_TRAIN_IMGSZ=128)


def test_train_register_promote_and_analyse_with_the_new_model(
    var, lab, sample, alice, sam, bob, client, tmp_path
):
    dataset = tiny_dataset(lab, sample, alice, images=4)
    log = tmp_path / "worker.log"
    with worker_running("train", log=log, env=real_engine(var, stale_s=STALE_S)):
        version = services.training_request(dataset=dataset, user=sam, epochs=1)
        wait_for(
            lambda: ModelVersion.objects.filter(
                pk=version.pk, status__in=[ModelStatus.READY, ModelStatus.FAILED]
            ).exists(),
            240,
            "the training to finish",
            [log],
        )
        version.refresh_from_db()
        assert version.status == ModelStatus.READY, version.error
        # Registered: content-addressed weights + sidecar, version string pinning the bytes.
        assert version.weights.name == f"models/{version.weights_sha256}.pt"
        assert default_storage.exists(f"models/{version.weights_sha256}.json")
        assert version.version.endswith(version.weights_sha256[:8])
        assert version.parent == services.builtin_model()
        # Held-back metrics against the parent and the classical path, on one image.
        for side in ("candidate", "parent", "classical"):
            assert version.metrics[side]["images"] == 1
            assert 0.0 <= version.metrics[side]["pq"] <= 1.0
        assert version.beats_parent == beats(version.metrics)
        history = version.progress["history"]
        assert [h["epoch"] for h in history] == [1]
        assert history[0]["losses"]["train/seg_loss"] > 0
        assert version.wall_time_s > 0 and version.hardware

        # Promote (the override is needed only when one epoch did not beat the parent).
        services.model_promote(version=version, user=alice, override=True, reason="demo: one epoch")
        assert services.lab_default(lab) == version

        micrograph = make_micrograph(sample, bob, discs=tiny_discs(11), size=(128, 128))
        run = runs.run_create(micrograph=micrograph, user=bob, method="model")
        wait_for(
            lambda: (
                AnalysisRun.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).exists()
                or AnalysisRun.objects.filter(pk=run.pk, status=RunStatus.FAILED).exists()
            ),
            120,
            "the model run",
            [log],
        )
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.model_id, run.model_version, run.path_taken) == (
        version.pk,
        version.version,
        "model",
    )
    client.force_login(bob)
    page = client.get(reverse("analyses:run", args=[run.pk])).content.decode()
    assert version.version in page
    assert reverse("mlmodels:detail", args=[version.pk]) in page


def test_a_worker_killed_mid_training_resumes_from_its_checkpoint(
    var, lab, sample, alice, sam, tmp_path
):
    dataset = tiny_dataset(lab, sample, alice, images=4)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    slow = real_engine(
        var,
        stale_s=STALE_S,
        SEMWEB_TRAINER="slow_trainer.train_and_evaluate",
        SLOW_TRAINER_HOLD_S="120",
    )
    # SIGKILL between epochs: epoch 1's checkpoint is on disk.
    with worker_running("a", log=log_a, env=slow, stop=signal.SIGKILL):
        version = services.training_request(dataset=dataset, user=sam, epochs=2)
        wait_for(
            lambda: ModelVersion.objects.get(pk=version.pk).progress.get("epoch") == 1,
            240,
            "worker a to finish epoch 1",
            [log_a],
        )
    version.refresh_from_db()
    assert (version.status, version.attempts) == (ModelStatus.TRAINING, 1)
    time.sleep(STALE_S + 1.5)
    with worker_running("b", log=log_b, env=real_engine(var, stale_s=STALE_S)):
        wait_for(
            lambda: ModelVersion.objects.filter(
                pk=version.pk, status__in=[ModelStatus.READY, ModelStatus.FAILED]
            ).exists(),
            240,
            "worker b to resume and finish",
            [log_a, log_b],
        )
    version.refresh_from_db()
    assert version.status == ModelStatus.READY, version.error
    assert version.attempts == 2 and version.worker.startswith("b@")
    assert version.progress["resumed"] == [{"attempt": 2, "from_epoch": 1}]
    assert [(h["epoch"], h["attempt"]) for h in version.progress["history"]] == [(1, 1), (2, 2)]
    retry = AuditEvent.objects.get(verb="model.train.retry", target_id=str(version.pk))
    assert retry.data["reason"].startswith("worker a@")
    assert "lost during training" in retry.data["reason"]
