"""The daily workflow in a real browser: analyse a micrograph → the progress bar moves and the
run completes → the review page shows outlines and the histogram → clicking a particle rejects
it and the count drops → submit → the supervisor approves → the page is read-only."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from django.db import connection

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from _review_helpers import PARTICLE_XY, POST_REJECT, logout  # noqa: E402
from _runs import FAKE_ENGINE, make_micrograph  # noqa: E402

from semweb.analyses import tasks  # noqa: E402
from semweb.analyses.models import AnalysisRun, ReviewState, RunStatus  # noqa: E402


@pytest.fixture
def thread_worker(monkeypatch, settings):
    """Stands in for the Celery worker: runs the real task in a thread of this process, which
    shares the live server's test database. The fake engine holds 'segmenting' for 2 s so the
    progress bar is seen moving."""
    settings.SEMWEB_ENGINE = FAKE_ENGINE
    monkeypatch.setenv("FAKE_ENGINE_HOLD_S", "2")
    threads: list[threading.Thread] = []

    def run_in_thread(args, queue=None, **kwargs):
        def work():
            try:
                tasks.run_analysis.apply(args=args)
            finally:
                connection.close()

        t = threading.Thread(target=work, daemon=True)
        threads.append(t)
        t.start()

    monkeypatch.setattr(tasks.run_analysis, "apply_async", run_in_thread)
    yield threads
    for t in threads:
        t.join(timeout=30)


def test_analyse_review_reject_submit_approve(
    browser_page, live_server, login, sample, alice, bob, sam, thread_worker
):
    page = browser_page
    micrograph = make_micrograph(sample, alice)
    login(page, live_server, "bob", "pw-bob")

    # Analyse: the form's defaults are fine; we land on the run page with a live progress bar.
    page.goto(f"{live_server.url}/runs/micrographs/{micrograph.pk}/analyse")
    page.select_option("select[name=method]", "classical")
    page.click("[data-testid=analyse]")
    bar = page.locator("[data-testid=run-progress]")
    bar.wait_for(state="visible")
    page.wait_for_function(
        "() => { const p = document.querySelector('[data-testid=run-progress] progress');"
        " return p && p.value > 0 && p.value < 1; }"
    )
    assert "Running" in page.locator("[data-testid=run-status]").inner_text()
    # On completion the page reloads itself into the review page.
    page.wait_for_selector("body[data-review-ready='1']", timeout=30_000)
    run = AnalysisRun.objects.get(micrograph=micrograph)
    assert run.status == RunStatus.SUCCEEDED

    # Outlines (WebGL traces) and the histogram are drawn.
    n_traces = page.evaluate("() => document.getElementById('overlay').data.length")
    assert 2 <= n_traces <= 9  # a few outline groups + one marker trace, never one per particle
    assert page.locator("#overlay canvas").count() >= 1
    assert page.locator("#histogram .bars .point").count() >= 1
    assert page.locator("[data-testid=n-accepted]").inner_text() == "4"

    # Click the largest particle's centre: it is rejected and the count drops at once.
    xy = page.evaluate(PARTICLE_XY, 4)
    page.mouse.click(xy["x"], xy["y"])
    page.wait_for_function(
        "() => document.querySelector('[data-testid=n-accepted]').textContent === '3'"
    )
    assert page.locator("[data-testid=summary-n]").inner_text() == "3"
    assert list(run.particles.filter(accepted=False).values_list("index", flat=True)) == [4]

    # Submit for review.
    page.click("[data-testid=submit-review]")
    page.wait_for_selector("[data-testid=review-state]:text-is('In review')")

    # The supervisor approves; the page becomes read-only.
    logout(page)
    login(page, live_server, "sam", "pw-sam")
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=review-state]:text-is('Approved')")
    assert page.locator("[data-testid=read-only]").is_visible()
    assert page.locator("#reject-selected").count() == 0
    page.wait_for_selector("body[data-review-ready='1']")
    status = page.evaluate(POST_REJECT, f"/runs/{run.pk}/accept")
    assert status == 409
    run.refresh_from_db()
    assert (run.review_state, run.approved_by) == (ReviewState.APPROVED, sam)
    assert run.particles.filter(accepted=False).count() == 1
