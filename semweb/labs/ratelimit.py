"""Login rate limiting.

Three counters, in Django's cache (shared between web processes when the cache is Redis or the
database; the per-process default still limits each process):

- per (username, address): a fixed window of failed attempts (one address guessing one account);
- per address: a fixed window over all accounts (one address trying many accounts);
- per account, over all addresses: past `SLOW_AFTER` failures each further attempt must wait
  a delay that doubles up to `MAX_DELAY_S`. Guessing from many addresses is slowed to a crawl,
  but the owner is never locked out: they wait at most `MAX_DELAY_S` and their success resets it.

The address is the client's, not the proxy's: behind the TLS proxy the README recommends every
request comes from the proxy, so `X-Forwarded-For` is read, but only when the request comes from
an address in ``SEMWEB_TRUSTED_PROXIES`` (anyone else could write that header).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from functools import lru_cache

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
# Per account, over all addresses: 10 failures pass at full speed (a forgetful owner on two
# machines), then 1, 2, 4 … 60 s between attempts: ~1 400 guesses a day instead of millions.
SLOW_AFTER = getattr(settings, "SEMWEB_LOGIN_SLOW_AFTER", 10)
MAX_DELAY_S = getattr(settings, "SEMWEB_LOGIN_MAX_DELAY_S", 60)


def _key(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"semweb:login:{digest}"


def _keys(username: str, address: str) -> tuple[str, str]:
    return _key("acct", username.strip().lower(), address), _key("addr", address)


def _now() -> float:
    """The limiter's clock (one seam, so tests can move it)."""
    return time.time()


def _slow_key(username: str) -> str:
    return _key("slow", username.strip().lower())


def login_retry_after(*, username: str, address: str) -> int:
    """Seconds before this username may try again from this address (0: now)."""
    account_key, address_key = _keys(username, address)
    if cache.get(account_key, 0) >= MAX_PER_ACCOUNT or cache.get(address_key, 0) >= MAX_PER_ADDRESS:
        return WINDOW_S
    slow = cache.get(_slow_key(username)) or {}
    return max(0, math.ceil(slow.get("until", 0) - _now()))


def login_blocked(*, username: str, address: str) -> bool:
    return login_retry_after(username=username, address=address) > 0


def login_failed(*, username: str, address: str) -> None:
    for key in _keys(username, address):
        # add() starts the window only once; incr() keeps its expiry.
        cache.add(key, 0, WINDOW_S)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_S)
    slow_key = _slow_key(username)
    failures = (cache.get(slow_key) or {}).get("failures", 0) + 1
    until = _now() + min(MAX_DELAY_S, 2 ** (failures - SLOW_AFTER)) if failures > SLOW_AFTER else 0
    cache.set(slow_key, {"failures": failures, "until": until}, WINDOW_S)


def login_succeeded(*, username: str, address: str) -> None:
    cache.delete_many([_keys(username, address)[0], _slow_key(username)])


@lru_cache(maxsize=8)
def _networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or, when that is a trusted proxy
    (``SEMWEB_TRUSTED_PROXIES``: addresses or networks), the right-most ``X-Forwarded-For``
    entry that is not itself a trusted proxy. A malformed entry ends the walk at the proxy's
    own address, so a forged header never picks an arbitrary key."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    networks = _networks(tuple(getattr(settings, "SEMWEB_TRUSTED_PROXIES", ()) or ()))
    if not networks or not _trusted(remote, networks):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    client = remote
    for hop in reversed([h for h in hops if h]):
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:
            return client
        if not _trusted(client, networks):
            return client
    return client


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
