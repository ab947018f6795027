"""The "log size axis" toggle switches the sample histogram's x axis in a real browser, under
the site's Content-Security-Policy, and a CSP violation would fail the page's scripts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from _runs import completed_run, make_micrograph  # noqa: E402


@pytest.mark.django_db(transaction=True)
def test_log_axis_toggle_on_the_sample_histogram(
    browser, live_server, login, alice, sample, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SEMWEB_ENGINE = "fake_engine.analyze"
    completed_run(make_micrograph(sample, alice), alice)
    ctx = browser.new_context(base_url=live_server.url)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    try:
        login(page, live_server, "alice", "pw-alice")
        page.goto(f"{live_server.url}/runs/samples/{sample.pk}/stats")
        page.wait_for_function("() => document.getElementById('sample-histogram').layout")
        axis = "() => document.getElementById('sample-histogram').layout.xaxis.type"
        assert page.evaluate(axis) in ("linear", "-", None)
        page.check("[data-testid=log-axis]")
        page.wait_for_function(f"() => ({axis})() === 'log'")
        page.uncheck("[data-testid=log-axis]")
        page.wait_for_function(f"() => ({axis})() === 'linear'")
        assert violations == []
    finally:
        ctx.close()
