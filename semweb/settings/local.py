"""`make run` defaults: DEBUG on, a fixed development secret, embedded SQLite and broker."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-not-for-production")
os.environ.setdefault("DEBUG", "1")

from semweb.settings.base import *  # noqa: E402,F403
