"""Login rate limiting: a fixed window of failed attempts per (username, address) and per address.

Counters live in Django's cache. With several web processes the cache must be shared (Redis or
the database cache); the per-process default still limits each process.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

# Five wrong passwords per account and address in 15 minutes stops online guessing while a
# user who mistypes a few times is not locked out for long; an address trying many accounts is
# capped separately.
WINDOW_S = getattr(settings, "SEMWEB_LOGIN_WINDOW_S", 15 * 60)
MAX_PER_ACCOUNT = getattr(settings, "SEMWEB_LOGIN_MAX_PER_ACCOUNT", 5)
MAX_PER_ADDRESS = getattr(settings, "SEMWEB_LOGIN_MAX_PER_ADDRESS", 30)


def _key(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"semweb:login:{digest}"


def _keys(username: str, address: str) -> tuple[str, str]:
    return _key("acct", username.strip().lower(), address), _key("addr", address)


def login_blocked(*, username: str, address: str) -> bool:
    account_key, address_key = _keys(username, address)
    return (cache.get(account_key, 0) >= MAX_PER_ACCOUNT) or (
        cache.get(address_key, 0) >= MAX_PER_ADDRESS
    )


def login_failed(*, username: str, address: str) -> None:
    for key in _keys(username, address):
        # add() starts the window only once; incr() keeps its expiry.
        cache.add(key, 0, WINDOW_S)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_S)


def login_succeeded(*, username: str, address: str) -> None:
    cache.delete(_keys(username, address)[0])


def client_address(request) -> str:
    """REMOTE_ADDR; behind a proxy, the proxy must set it (we do not trust X-Forwarded-For)."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


class RateLimitedModelBackend(ModelBackend):
    """Django's model backend behind the same limit, so every password form (the login page,
    the admin's login, DRF's browsable login) is limited, not only ours.

    Blocked attempts are refused without checking the password (and without counting again);
    `request.semweb_login_blocked` tells the login view to answer 429.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        username_value = username or kwargs.get(get_user_model().USERNAME_FIELD) or ""
        address = client_address(request) if request is not None else "local"
        if login_blocked(username=username_value, address=address):
            if request is not None:
                request.semweb_login_blocked = True
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failed(username=username_value, address=address)
        else:
            login_succeeded(username=username_value, address=address)
        return user
