"""Login is rate limited per account and address; success resets the account counter."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from semweb.labs import ratelimit


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _attempt(client, password: str):
    return client.post(reverse("login"), {"username": "bob", "password": password})


def test_sixth_wrong_password_is_refused_with_429_even_when_right(client, bob):
    for _ in range(ratelimit.MAX_PER_ACCOUNT):
        assert _attempt(client, "wrong").status_code == 200
    response = _attempt(client, "pw-bob")
    assert response.status_code == 429
    assert b'data-testid="login-rate-limited"' in response.content
    assert "_auth_user_id" not in client.session


def test_success_before_the_limit_resets_the_counter(client, bob):
    for _ in range(ratelimit.MAX_PER_ACCOUNT - 1):
        _attempt(client, "wrong")
    assert _attempt(client, "pw-bob").status_code == 302
    client.logout()
    for _ in range(ratelimit.MAX_PER_ACCOUNT - 1):
        _attempt(client, "wrong")
    assert _attempt(client, "pw-bob").status_code == 302


def test_limit_is_per_address(client, bob):
    for _ in range(ratelimit.MAX_PER_ACCOUNT):
        _attempt(client, "wrong")
    other = client.__class__(REMOTE_ADDR="10.0.0.9")
    response = other.post(reverse("login"), {"username": "bob", "password": "pw-bob"})
    assert response.status_code == 302


def test_admin_login_is_limited_too(client, bob, settings):
    settings.AUTHENTICATION_BACKENDS = ["semweb.labs.ratelimit.RateLimitedModelBackend"]
    bob.is_staff = True
    bob.save()
    for _ in range(ratelimit.MAX_PER_ACCOUNT):
        client.post("/admin/login/", {"username": "bob", "password": "wrong"})
    client.post("/admin/login/", {"username": "bob", "password": "pw-bob"})
    assert "_auth_user_id" not in client.session
    # The main login form now answers 429 for the same account and address.
    assert _attempt(client, "pw-bob").status_code == 429


def test_backend_counts_once_per_attempt(client, bob, settings):
    settings.AUTHENTICATION_BACKENDS = ["semweb.labs.ratelimit.RateLimitedModelBackend"]
    for _ in range(ratelimit.MAX_PER_ACCOUNT - 1):
        assert _attempt(client, "wrong").status_code == 200
    assert _attempt(client, "pw-bob").status_code == 302
