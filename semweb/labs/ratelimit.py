"""Login rate limiting.

Three counters, in Django's cache (shared between web processes when the cache is Redis or the
database; the per-process default still limits each process):

- per (username, address): past `MAX_PER_ACCOUNT` failures each further attempt waits 30 s,
  60 s, … up to the window (one address guessing one account; the owner who mistyped waits);
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
# One account from one address: after MAX_PER_ACCOUNT failures, 30 s, 60 s, … up to the window
# between attempts: an owner who mistyped waits half a minute, a guesser ~100 tries a day.
ACCOUNT_BASE_DELAY_S = getattr(settings, "SEMWEB_LOGIN_ACCOUNT_BASE_DELAY_S", 30)
# Per account, over all addresses: 10 failures pass at full speed (a forgetful owner on two
# machines), then 1, 2, 4 … 60 s between attempts: ~1 400 guesses a day instead of millions.
SLOW_AFTER = getattr(settings, "SEMWEB_LOGIN_SLOW_AFTER", 10)
MAX_DELAY_S = getattr(settings, "SEMWEB_LOGIN_MAX_DELAY_S", 60)


def _key(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"semweb:login:{digest}"


def _account_key(username: str, address: str) -> str:
    return _key("acct", username.strip().lower(), address)


def _address_key(address: str) -> str:
    return _key("addr", address)


def _slow_key(username: str) -> str:
    return _key("slow", username.strip().lower())


def _now() -> float:
    """The limiter's clock (one seam, so tests can move it)."""
    return time.time()


def _wait_s(state: dict | None) -> int:
    return max(0, math.ceil((state or {}).get("until", 0) - _now()))


def _record(key: str, *, free: int, delay_s) -> None:
    """Count one failure in a back-off state; past `free` failures the next attempt waits
    ``delay_s(failures beyond free)`` seconds."""
    failures = (cache.get(key) or {}).get("failures", 0) + 1
    beyond = failures - free
    until = _now() + delay_s(beyond) if beyond > 0 else 0
    cache.set(key, {"failures": failures, "until": until}, WINDOW_S)


def login_retry_after(*, username: str, address: str) -> int:
    """Seconds before this username may try again from this address (0: now)."""
    if cache.get(_address_key(address), 0) >= MAX_PER_ADDRESS:
        return WINDOW_S
    return max(
        _wait_s(cache.get(_account_key(username, address))),
        _wait_s(cache.get(_slow_key(username))),
    )


def login_blocked(*, username: str, address: str) -> bool:
    return login_retry_after(username=username, address=address) > 0


def login_failed(*, username: str, address: str) -> None:
    key = _address_key(address)
    cache.add(key, 0, WINDOW_S)  # add() starts the window only once; incr() keeps its expiry
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_S)
    _record(
        _account_key(username, address),
        free=MAX_PER_ACCOUNT - 1,  # the MAX_PER_ACCOUNT-th failure starts the wait
        delay_s=lambda n: min(WINDOW_S, ACCOUNT_BASE_DELAY_S * 2 ** (n - 1)),
    )
    _record(_slow_key(username), free=SLOW_AFTER, delay_s=lambda n: min(MAX_DELAY_S, 2 ** (n - 1)))


def login_succeeded(*, username: str, address: str) -> None:
    cache.delete_many([_account_key(username, address), _slow_key(username)])


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
