"""Suite-wide fixtures: personas in labs (alice and bob in the Mori lab, carol in another)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data` beside the checkout; tests using it skip on a user's fresh clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The login rate limiter counts failures in the cache: start every test from zero."""

    if settings.configured:  # engine-only runs (`-p no:django`) have no Django settings
        cache.clear()
    yield
