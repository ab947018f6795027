"""Content-Security-Policy: every response carries it, scripts only from this site; no template
holds an inline script or an inline event handler (configuration travels in JSON script
blocks), and review.js builds its tables from text, never from HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _api import api_media_fixture  # noqa: F401
from _runs import completed_run, make_micrograph
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def test_every_page_sends_a_policy_without_inline_scripts(client, bob, sample, api_media):
    run = completed_run(make_micrograph(sample, bob), bob)
    client.force_login(bob)
    for url in ["/", f"/runs/{run.pk}/", f"/datasets/run/{run.pk}/report/", "/login/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        script_src = policy.split("script-src")[1].split(";")[0].split()
        assert script_src[0] == "'self'"
        assert "'unsafe-inline'" not in script_src  # no inline script can run
        assert "'unsafe-inline'" not in policy.split("default-src")[1].split(";")[0]
        body = response.content.decode()
        assert not INLINE_SCRIPT.search(body), (url, INLINE_SCRIPT.search(body))
        assert not HANDLER.search(re.sub(r"<script.*?</script>", "", body, flags=re.S)), url
    assert Client().get("/login/")["Content-Security-Policy"]


@pytest.mark.parametrize("template", sorted((ROOT / "templates").rglob("*.html")), ids=str)
def test_templates_hold_no_inline_scripts_or_handlers(template):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), INLINE_SCRIPT.search(text)
    assert not HANDLER.search(text), HANDLER.search(text)


def test_scripts_write_text_not_html():
    for script in (ROOT / "static" / "js").glob("*.js"):
        source = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (script.name, sink)
