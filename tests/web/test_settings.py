"""Settings read from the environment fail loudly on bad values."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from semweb.settings.env import env_bool, env_int, env_str


def test_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)


def test_int_minimum(monkeypatch):
    monkeypatch.setenv("X_MB", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_MB", 5, minimum=1)


def test_file_variant_is_read(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_str("X_SECRET") == "s3cret"
