"""Learned styles in a real browser, nothing faked: the supervisor presses "Learn this lab's
style" on a tiny approved dataset → the style page follows the training → a real Celery
worker trains the generator for a few steps (tiny crop) and registers it → the page shows it
ready with its sample sheet and its loss curves (Plotly, served by the app) → Generate 2
images → "Continue training" resumes it from its checkpoint for two more steps → the synthetic
sample appears, marked synthetic on its own page.

Needs PostgreSQL and Redis shared with the worker (skipped on the SQLite default).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from _models import tiny_dataset  # noqa: E402
from _worker import NEEDS_SHARED_WORKER, log_tails  # noqa: E402

from semweb.mlmodels.models import StyleModel  # noqa: E402

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(400),
    NEEDS_SHARED_WORKER,
]

TIMEOUT_MS = 240_000


@pytest.fixture
def worker(shared_worker):
    return shared_worker(
        "e2e-style",
        SEMWEB_STYLE_CROP_PX=32,
        SEMWEB_STYLE_MAX_STEPS=2,
        SEMWEB_STYLE_CHECKPOINT_S=0.0,
        SEMWEB_STYLE_IMAGE_PX=64,
    )


def test_learn_a_style_then_generate_a_synthetic_sample(
    browser_page, live_server, login, lab, sample, alice, sam, worker
):
    dataset = tiny_dataset(lab, sample, alice, images=2)
    page = browser_page
    login(page, live_server, "sam", "pw-sam")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
    page.click("[data-testid=learn-style]")
    page.wait_for_selector("[data-testid=style-progress]")
    style = StyleModel.objects.get(dataset=dataset)
    assert page.url.rstrip("/").endswith(f"/models/styles/{style.pk}")
    try:
        page.wait_for_selector("[data-testid=style-status]:text-is('Ready')", timeout=TIMEOUT_MS)
    except Exception as exc:
        style.refresh_from_db()
        raise AssertionError(
            f"style {style.status}/{style.stage}: {style.error}\n{log_tails([worker.log])}"
        ) from exc
    assert page.locator("[data-testid=style-sample]").get_attribute("src").endswith(".png")
    assert "step 2" in page.locator("[data-testid=style-label]").inner_text()
    page.wait_for_selector("#style-curve .main-svg")
    curve_steps = "document.getElementById('style-curve').data.map((t) => t.x.join(','))"
    assert set(page.evaluate(curve_steps)) == {"1,2"}
    assert page.locator("#style-curve .legendtext").count() == 6
    page.fill("[data-testid=generate-n]", "2")
    page.click("[data-testid=generate]")
    try:
        page.wait_for_selector(
            "[data-testid=generation-status]:text-is('Succeeded')", timeout=TIMEOUT_MS
        )
    except Exception as exc:
        raise AssertionError(log_tails([worker.log])) from exc
    page.fill("[data-testid=style-continue-minutes]", "1")
    page.click("[data-testid=style-continue]")
    page.wait_for_selector("[data-testid=style-continued]")
    try:
        page.wait_for_selector("[data-testid=style-status]:text-is('Ready')", timeout=TIMEOUT_MS)
    except Exception as exc:
        raise AssertionError(log_tails([worker.log])) from exc
    assert "step 4" in page.locator("[data-testid=style-label]").inner_text()
    page.wait_for_selector("#style-curve .main-svg")
    assert set(page.evaluate(curve_steps)) == {"1,2,3,4"}
    page.click("[data-testid=synthetic-sample-link]")
    page.wait_for_selector("[data-testid=synthetic-badge]")
    assert "never part of" in page.locator("[data-testid=synthetic-note]").inner_text()
