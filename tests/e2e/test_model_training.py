"""Lab models in a real browser, nothing faked: the supervisor presses Train on a tiny approved
dataset → the model card follows the training (epoch bar, loss curve) → a real Celery worker
fine-tunes for one epoch and registers the version → the page shows it ready with held-back
metrics → the lab admin promotes it (with the audited override when one epoch did not beat
the parent) → it is the lab's default.

Needs PostgreSQL and Redis shared with the worker (skipped on the SQLite default).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from _models import tiny_dataset  # noqa: E402
from _review_helpers import logout  # noqa: E402
from _worker import NEEDS_SHARED_WORKER, log_tails  # noqa: E402

from semweb.mlmodels import services  # noqa: E402
from semweb.mlmodels.models import ModelStatus, ModelVersion  # noqa: E402

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
    NEEDS_SHARED_WORKER,
]

TRAIN_TIMEOUT_MS = 200_000


@pytest.fixture
def worker(shared_worker):
    return shared_worker("e2e-train", SEMWEB_TRAIN_MIN_PARTICLES=10, SEMWEB_TRAIN_IMGSZ=128)


def test_train_follow_progress_and_promote(
    browser_page, live_server, login, lab, sample, alice, sam, worker
):
    dataset = tiny_dataset(lab, sample, alice, images=4)
    page = browser_page
    login(page, live_server, "sam", "pw-sam")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
    assert page.locator("[data-testid=train-particles]").inner_text() == "15"
    page.fill("[data-testid=train-epochs]", "1")
    page.click("[data-testid=train]")
    page.wait_for_selector("[data-testid=training-progress]")
    version = ModelVersion.objects.get(dataset=dataset)
    assert page.url.rstrip("/").endswith(f"/models/{version.pk}")
    assert "of 1" in page.locator("[data-testid=training-label]").inner_text()
    try:
        page.wait_for_selector(
            "[data-testid=model-status]:text-is('Ready')", timeout=TRAIN_TIMEOUT_MS
        )
    except Exception as exc:
        version.refresh_from_db()
        raise AssertionError(
            f"model {version.status}/{version.stage}: {version.error}\n{log_tails([worker.log])}"
        ) from exc
    # After the reload: the epoch bar is full, the curve drawn, the metrics table filled.
    assert page.locator("[data-testid=epoch-bar]").evaluate("p => p.value") == 1
    page.wait_for_selector("#model-curve .main-svg")
    assert page.locator("[data-testid=model-metrics] tbody tr").count() == 5
    assert page.locator("[data-testid=promote]").count() == 0  # supervisors do not promote

    logout(page)
    login(page, live_server, "alice", "pw-alice")
    page.goto(f"{live_server.url}/models/{version.pk}/")
    version.refresh_from_db()
    if not version.beats_parent:
        page.check("[data-testid=override]")
        page.fill("[data-testid=override-reason]", "e2e: one epoch is enough to try it")
    page.click("[data-testid=promote]")
    page.wait_for_selector("[data-testid=model-status]:text-is('Lab default')")
    version.refresh_from_db()
    assert (version.status, version.promoted_by) == (ModelStatus.PROMOTED, alice)
    assert services.lab_default(lab) == version
