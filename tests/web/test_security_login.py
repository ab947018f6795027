"""Login is rate limited per account and address; success resets the account counter."""

from __future__ import annotations

import contextlib
import time
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
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


# --- behind a proxy, and many addresses against one account ----------------------------------


def _from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client(**extra)


@contextlib.contextmanager
def mock_time(now: float):
    """The limiter's clock only (time.time inside ratelimit), not the process's."""
    with mock.patch.object(ratelimit, "_now", return_value=now):
        yield


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_forwarded_for_is_read_only_from_trusted_proxies(settings):
    settings.SEMWEB_TRUSTED_PROXIES = ["10.0.0.1", "192.168.0.0/16"]
    address = ratelimit.client_address
    assert address(_request("10.0.0.1", "203.0.113.5")) == "203.0.113.5"
    # The right-most untrusted hop: a client-written left part cannot choose the key.
    assert address(_request("10.0.0.1", "6.6.6.6, 203.0.113.5, 192.168.3.4")) == "203.0.113.5"
    # Not from a trusted proxy: the header is anyone's to write, so it is ignored.
    assert address(_request("198.51.100.7", "203.0.113.5")) == "198.51.100.7"
    # Garbage ends the walk at the last trusted hop.
    assert address(_request("10.0.0.1", "not-an-ip")) == "10.0.0.1"
    settings.SEMWEB_TRUSTED_PROXIES = []
    assert address(_request("10.0.0.1", "203.0.113.5")) == "10.0.0.1"


def test_behind_a_proxy_one_users_typos_do_not_lock_out_the_lab(settings, bob, alice):
    settings.SEMWEB_TRUSTED_PROXIES = ["127.0.0.1"]
    settings.AUTHENTICATION_BACKENDS = ["semweb.labs.ratelimit.RateLimitedModelBackend"]
    typo = _from("127.0.0.1", "203.0.113.5")
    for _ in range(ratelimit.MAX_PER_ACCOUNT):
        typo.post(reverse("login"), {"username": "bob", "password": "wrong"})
    assert typo.post(reverse("login"), {"username": "bob", "password": "pw-bob"}).status_code == 429
    # Same proxy, another client: bob on his other machine, and alice, both log in.
    other = _from("127.0.0.1", "203.0.113.6")
    assert (
        other.post(reverse("login"), {"username": "bob", "password": "pw-bob"}).status_code == 302
    )
    colleague = _from("127.0.0.1", "203.0.113.7")
    response = colleague.post(reverse("login"), {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302


def test_guessing_from_many_addresses_slows_down_but_the_owner_gets_in(bob, settings):
    settings.AUTHENTICATION_BACKENDS = ["semweb.labs.ratelimit.RateLimitedModelBackend"]
    for i in range(ratelimit.SLOW_AFTER + 3):
        _from(f"198.51.100.{i + 1}").post(
            reverse("login"), {"username": "bob", "password": "wrong"}
        )
    owner = _from("203.0.113.9")
    response = owner.post(reverse("login"), {"username": "bob", "password": "pw-bob"})
    assert response.status_code == 429
    wait_s = int(response["Retry-After"])
    assert 1 <= wait_s <= ratelimit.MAX_DELAY_S  # a pause, not a lock-out
    # Once the pause is over (simulated by moving the clock), the owner's password works.
    later = time.time() + wait_s + 1
    with mock_time(later):
        response = owner.post(reverse("login"), {"username": "bob", "password": "pw-bob"})
    assert response.status_code == 302
    assert ratelimit.login_retry_after(username="bob", address="198.51.100.1") == 0


def test_an_owner_who_mistyped_waits_half_a_minute_not_the_whole_window(client, bob):
    for _ in range(ratelimit.MAX_PER_ACCOUNT):
        _attempt(client, "wrong")
    response = _attempt(client, "pw-bob")
    assert response.status_code == 429
    assert int(response["Retry-After"]) == ratelimit.ACCOUNT_BASE_DELAY_S
    with mock_time(time.time() + ratelimit.ACCOUNT_BASE_DELAY_S + 1):
        assert _attempt(client, "pw-bob").status_code == 302


def test_a_guesser_from_one_address_waits_longer_each_time(client, bob):
    waits = []
    now = time.time()
    for _ in range(ratelimit.MAX_PER_ACCOUNT + 4):
        with mock_time(now):
            _attempt(client, "wrong")
            waits.append(ratelimit.login_retry_after(username="bob", address="127.0.0.1"))
        now += waits[-1] + 1  # try again as soon as allowed
    assert waits[: ratelimit.MAX_PER_ACCOUNT - 1] == [0] * (ratelimit.MAX_PER_ACCOUNT - 1)
    assert waits[ratelimit.MAX_PER_ACCOUNT - 1 :] == [30, 60, 120, 240, 480]
