"""CSRF: every state-changing URL of the matrix refuses a logged-in browser session without a
CSRF token (403), and accepts the same request with one. Token-authenticated API calls carry
no cookies and need none."""

from __future__ import annotations

import pytest
from _api import api_media_fixture  # noqa: F401
from django.test import Client
from rest_framework.authtoken.models import Token
from test_permission_matrix import CASES, _status, ctx_fixture  # noqa: F401

WRITES = [c for c in CASES if c.method != "GET" and c.name not in {"login"}]
# Who passes each write's permission check (the first persona the matrix does not answer 403
# or 404; a 400 for a deliberately bad body counts), so a 403 here can only mean CSRF.
PERMITTED = ("bob", "alice", "erin", "sam")
ALLOWED = {
    c.id: next(p for p in PERMITTED if c.expect[p] not in (403, 404))
    for c in WRITES
    if any(c.expect[p] not in (403, 404) for p in PERMITTED)
}


@pytest.mark.parametrize("case", [c for c in WRITES if c.id in ALLOWED], ids=lambda c: c.id)
def test_write_without_csrf_token_is_refused(case, ctx):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ctx.users[ALLOWED[case.id]])
    assert _status(client, case, ctx) == 403


def test_writes_that_no_role_may_do_are_none():
    """Every write in the matrix is allowed to someone, so the test above covers all of them."""
    assert sorted(c.id for c in WRITES if c.id not in ALLOWED) == []


def test_login_form_needs_a_csrf_token(bob):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "bob", "password": "pw-bob"})
    assert response.status_code == 403


def test_write_with_csrf_token_passes(ctx):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ctx.users["alice"])
    client.get(f"/labs/projects/{ctx.project.pk}/sharing/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/labs/projects/{ctx.project.pk}/sharing/",
        {"lab": "kato", "level": "view", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert ctx.project.shares.filter(lab__slug="kato").exists()


def test_api_token_requests_need_no_csrf(ctx):
    client = Client(enforce_csrf_checks=True)
    key = Token.objects.create(user=ctx.users["bob"]).key
    response = client.post(
        f"/api/v1/runs/{ctx.run.pk}/review",
        {"action": "comment", "comment": "from a script"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 200
