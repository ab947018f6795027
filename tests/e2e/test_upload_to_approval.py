"""Issue 5's daily workflow end to end with nothing faked: in Chromium a member uploads a
synthetic micrograph through the sample page with "Analyse after upload" (classical) → a real
Celery worker subprocess runs the real engine → the row's progress bar is shown and reaches
"succeeded" → the review page draws outlines and the histogram → clicking a particle rejects
it and the accepted count drops → submit for review → the supervisor approves → the page is
read-only and edits are refused.

Needs PostgreSQL and Redis shared with the worker (skipped on the SQLite default, like
tests/web/test_worker_killed.py).
"""

from __future__ import annotations

import io
import signal

import pytest
from _review_helpers import ISOLATED_PARTICLE, PARTICLE_XY, POST_REJECT, logout, n_accepted
from _worker import NEEDS_SHARED_WORKER, kill, log_tails, purge_queues, start_worker
from PIL import Image

from analysis.synth import generate
from semweb.analyses.models import AnalysisRun, ReviewState, RunStatus
from semweb.catalogue.models import Micrograph

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
    NEEDS_SHARED_WORKER,
]

RUN_TIMEOUT_MS = 120_000


def _synthetic_png() -> bytes:
    synth = generate(
        7,
        width=512,
        height=384,
        style="sem",
        n_particles=25,
        data_bar=True,
        figure_marks=False,
        jpeg=False,
    )
    buf = io.BytesIO()
    Image.fromarray(synth.image).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def shared_media(settings, tmp_path):
    """Media under a var dir of our own, which the worker is pointed at too (the test settings
    put MEDIA_ROOT at <SEMWEB_VAR_DIR>/test-media)."""
    var = tmp_path / "var"
    settings.MEDIA_ROOT = var / "test-media"
    settings.MEDIA_ROOT.mkdir(parents=True)
    return var


@pytest.fixture
def real_worker(shared_media, tmp_path):
    """Starts a real worker (real engine) on demand; stopped with SIGTERM after the test."""
    purge_queues()
    log = tmp_path / "worker.log"
    procs = []

    def start():
        procs.append(
            start_worker(
                "e2e",
                log=log,
                env={"SEMWEB_VAR_DIR": str(shared_media), "SEMWEB_ENGINE": None},
            )
        )

    start.log = log
    yield start
    for proc in procs:
        kill(proc, signal.SIGTERM)


def test_upload_analyse_review_reject_submit_approve(
    browser_page, live_server, login, sample, bob, sam, real_worker
):
    page = browser_page
    login(page, live_server, "bob", "pw-bob")

    # Upload through the sample page's picker, analysing with the classical method.
    page.goto(f"{live_server.url}/samples/{sample.pk}/")
    assert page.locator("[data-testid=analyse-on-upload]").is_checked()
    page.select_option("[data-testid=upload-method]", "classical")
    page.set_input_files(
        "[data-testid=file-input]",
        files=[{"name": "synth.png", "mimeType": "image/png", "buffer": _synthetic_png()}],
    )
    page.wait_for_selector("form.upload-form[data-state=done]")
    assert page.locator("[data-testid=upload-item]").get_attribute("data-status") == "created"
    micrograph = Micrograph.objects.get(sample=sample, original_filename="synth.png")
    run = AnalysisRun.objects.get(micrograph=micrograph)
    assert (run.method, run.created_by, run.status) == ("classical", bob, RunStatus.QUEUED)

    # The refreshed row shows the run's progress bar while it waits; only now does the worker
    # start, so the bar is seen before the run can finish.
    bar = page.locator("[data-testid=micrograph-row] [data-testid=run-progress]")
    bar.wait_for(state="visible")
    real_worker()
    try:
        page.wait_for_function(
            "() => document.querySelector('[data-testid=run-progress]').dataset.status"
            " === 'succeeded'",
            timeout=RUN_TIMEOUT_MS,
        )
    except Exception as exc:
        run.refresh_from_db()
        raise AssertionError(
            f"run {run.status}/{run.stage}: {run.error}\n{log_tails([real_worker.log])}"
        ) from exc
    assert bar.locator("progress").evaluate("p => p.value") == 1
    label = bar.locator(".run-progress-label").inner_text()
    assert label.startswith("Succeeded") and label.endswith(" particles"), label
    run.refresh_from_db()
    assert (run.status, run.path_taken) == (RunStatus.SUCCEEDED, "classical")
    assert run.worker.startswith("e2e@")
    n = run.particle_count
    assert n == run.particles.count() >= 5

    # Follow the row's link to the review page: outlines (WebGL traces) and the histogram.
    bar.locator("a.run-progress-link").click()
    page.wait_for_selector("body[data-review-ready='1']", timeout=30_000)
    assert page.url.rstrip("/").endswith(f"/runs/{run.pk}")
    n_traces = page.evaluate("() => document.getElementById('overlay').data.length")
    assert 2 <= n_traces <= 9  # outline groups + one marker trace, never one per particle
    assert page.locator("#overlay canvas").count() >= 1
    assert page.locator("#histogram .bars .point").count() >= 1
    assert n_accepted(page) == run.particles.filter(accepted=True).count()
    before = n_accepted(page)

    # Click a particle (one well clear of its neighbours): rejected, and the count drops.
    index = page.evaluate(ISOLATED_PARTICLE)
    xy = page.evaluate(PARTICLE_XY, index)
    page.mouse.click(xy["x"], xy["y"])
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=n-accepted]').textContent === '{before - 1}'"
    )
    assert page.locator("[data-testid=summary-n]").inner_text() == str(before - 1)
    assert list(run.particles.filter(accepted=False).values_list("index", flat=True)) == [index]

    # Submit for review.
    page.click("[data-testid=submit-review]")
    page.wait_for_selector("[data-testid=review-state]:text-is('In review')")

    # The supervisor approves; the page becomes read-only and edits are refused.
    logout(page)
    login(page, live_server, "sam", "pw-sam")
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=review-state]:text-is('Approved')")
    assert page.locator("[data-testid=read-only]").is_visible()
    assert page.locator("#reject-selected").count() == 0
    page.wait_for_selector("body[data-review-ready='1']")
    assert page.evaluate(POST_REJECT, f"/runs/{run.pk}/accept") == 409
    run.refresh_from_db()
    assert (run.review_state, run.approved_by) == (ReviewState.APPROVED, sam)
    assert run.particles.filter(accepted=False).count() == 1
