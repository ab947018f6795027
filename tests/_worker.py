"""A real Celery worker as a subprocess of the test, sharing its database and broker.

Only usable where a second process can see the test database: PostgreSQL (``DATABASE_URL``) and
a real broker (``CELERY_BROKER_URL``, Redis in CI). ``NEEDS_SHARED_WORKER`` is the skip mark.
tests/ is on sys.path (its conftest.py), so test modules anywhere below import this as
``_worker``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from semweb.celery_app import app

REPO = Path(__file__).resolve().parents[1]
TESTS_WEB = REPO / "tests" / "web"

NEEDS_SHARED_WORKER = pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"]
    or django_settings.CELERY_BROKER_URL.startswith("filesystem"),
    reason="needs PostgreSQL and Redis (DATABASE_URL, CELERY_BROKER_URL) shared with a worker",
)


def database_url() -> str:
    """The URL of the database the test runs on (pytest-django's test_<name>)."""
    d = connection.settings_dict
    auth = d["USER"] + (f":{d['PASSWORD']}" if d.get("PASSWORD") else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def start_worker(name: str, *, log: Path, env: Mapping[str, str | None] = ()) -> subprocess.Popen:
    """`celery -A semweb worker` on both queues, solo pool, in its own session; ``env`` adds to
    (or, with ``None``, removes from) the inherited environment."""
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "semweb.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "PYTHONPATH": os.pathsep.join([str(TESTS_WEB), str(REPO)]),
    }
    for key, value in dict(env).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "semweb",
        "worker",
        "-Q",
        "cpu,gpu",
        "--pool",
        "solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
    ]
    # Own session: a signal to the group leaves no orphan behind.
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextlib.contextmanager
def worker_running(
    name: str, *, log: Path, env: Mapping[str, str | None] = (), stop: int = signal.SIGTERM
) -> Iterator[subprocess.Popen]:
    """`start_worker` for the ``with`` block (its log path as ``.log``), stopped with ``stop``
    on the way out, whatever happened inside."""
    proc = start_worker(name, log=log, env=env)
    proc.log = log
    try:
        yield proc
    finally:
        kill(proc, stop)


def shared_var(settings, tmp_path: Path, **overrides: object) -> Path:
    """``tmp_path/var``, the folder a real-engine worker shares with the test (see `real_engine`):
    media under it, ``overrides`` set on the Django settings, both queues purged."""
    var = tmp_path / "var"
    settings.MEDIA_ROOT = var / "test-media"
    settings.MEDIA_ROOT.mkdir(parents=True)
    for key, value in overrides.items():
        setattr(settings, key, value)
    purge_queues()
    return var


def real_engine(var: Path, *, stale_s: float | None = None, **env: str) -> dict[str, str | None]:
    """Worker env for the real engine (SEMWEB_ENGINE unset) with ``var`` as SEMWEB_VAR_DIR; with
    ``stale_s``, a heartbeat every second and work without one for ``stale_s`` counted as lost."""
    reaping = (
        {} if stale_s is None else {"SEMWEB_HEARTBEAT_S": "1", "SEMWEB_RUN_STALE_S": str(stale_s)}
    )
    return {"SEMWEB_VAR_DIR": str(var), "SEMWEB_ENGINE": None, **reaping, **env}


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def log_tails(logs: list[Path]) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists())


def wait_for(predicate, timeout: float, what: str, logs: list[Path]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{log_tails(logs)}")


def purge_queues() -> None:
    with app.connection_for_write() as conn:
        for queue in ("cpu", "gpu"):
            with contextlib.suppress(Exception):  # queue not declared yet
                conn.default_channel.queue_purge(queue)
