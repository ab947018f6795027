"""The cache is shared across processes when CACHE_URL names Redis; anything else is refused."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from semweb.settings import base


def test_cache_url_selects_redis(monkeypatch):
    monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/7")
    assert base._cache_from_env() == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/7",
    }


def test_cache_url_must_be_redis(monkeypatch):
    monkeypatch.setenv("CACHE_URL", "memcached://x")
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        base._cache_from_env()


def test_production_shares_the_cache_through_the_redis_broker():
    code = (
        "import os;"
        "os.environ.update(SECRET_KEY='x'*60, CELERY_BROKER_URL='redis://h:6379/0');"
        "os.environ.pop('CACHE_URL', None);"
        "from semweb.settings import production as p;"
        "print(p.CACHES['default']['BACKEND'], p.CACHES['default']['LOCATION'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://h:6379/0"]
