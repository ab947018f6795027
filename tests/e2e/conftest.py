"""Real-browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Fixtures (stable; other e2e test files rely on them):

- ``browser`` (module scope): a headless Chromium launched from ``/usr/bin/chromium`` (never a
  downloaded one). When Chromium is absent every e2e test is *skipped*, unless the environment
  sets ``SEMWEB_REQUIRE_BROWSER=1`` (CI does), in which case they *fail* loudly.
- ``browser_page``: a fresh browser context + page per test (isolated cookies), with a 15 s
  default timeout; closed after the test.
- ``live_server``: pytest-django's (a real threaded HTTP server on a transactional database);
  use ``live_server.url``.
- ``login``: a fixture returning ``login(page, live_server, username, password)``; it fills the
  login form and waits until the user's name shows in the top bar.
- ``e2e_user_password``: the password the web personas have (``"pw-" + username``, as in
  ``tests/web/conftest.py``), e.g. ``login(page, live_server, "alice", "pw-alice")``.
- ``shared_worker``: a function ``shared_worker(name, **settings)``, called once per test, that
  applies those Django settings, puts media under a folder the worker shares, purges the
  queues and starts a real Celery worker on the real engine (``tests/_worker.py``; mark the
  module ``NEEDS_SHARED_WORKER``). It returns the process, its log path as ``.log``, and stops
  it with SIGTERM after the test.

The personas of ``tests/web/conftest.py`` (lab, alice, bob, sam, carol, project, sample) are
re-exported here so e2e tests can request them directly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _worker import real_engine, shared_var, worker_running


def _load_personas():
    """tests/web/conftest.py by path (tests/ is not a package), so its fixtures are shared."""

    path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
    spec = importlib.util.spec_from_file_location("semweb_e2e_personas", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_personas = _load_personas()
lab = _personas.lab
other_lab = _personas.other_lab
alice = _personas.alice
bob = _personas.bob
sam = _personas.sam
carol = _personas.carol
project = _personas.project
sample = _personas.sample


CHROMIUM = Path(os.environ.get("SEMWEB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
DEFAULT_TIMEOUT_MS = 15_000


def _browser_required() -> bool:
    return os.environ.get("SEMWEB_REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as `e2e`; skip them all when there is no browser."""
    e2e_dir = Path(__file__).parent
    missing = not CHROMIUM.exists()
    for item in items:
        if Path(str(item.fspath)).is_relative_to(e2e_dir):
            item.add_marker(pytest.mark.e2e)
            if missing and not _browser_required():
                item.add_marker(
                    pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install chromium)")
                )


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Module-scoped: Playwright's sync API keeps an asyncio loop running in the test thread
    while it lives, and Django refuses ORM calls from a thread with a running loop unless
    DJANGO_ALLOW_ASYNC_UNSAFE is set. Both are confined to the e2e module being run, so the
    rest of the suite (and subprocesses such as `check --deploy`) never sees either."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"SEMWEB_REQUIRE_BROWSER=1 but {CHROMIUM} does not exist: apt-get install -y chromium"
        )
    # Lazy import: heavy optional (playwright); only browser runs need it.
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_page(browser, live_server) -> Iterator:
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def login(page, live_server, username: str, password: str) -> None:
    """Log in through the real form and wait for the top bar to show the user."""
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main form.login button[type=submit]")
    page.wait_for_selector(f"[data-testid=whoami]:text-is('{username}')")


@pytest.fixture(name="login")
def login_fixture() -> Callable[..., None]:
    return login


@pytest.fixture
def e2e_user_password() -> Callable[[str], str]:
    return lambda username: "pw-" + username


@pytest.fixture
def shared_worker(settings, tmp_path) -> Iterator[Callable[..., object]]:
    with contextlib.ExitStack() as workers:

        def start(name: str, **overrides: object):
            var = shared_var(settings, tmp_path, **overrides)
            log = tmp_path / "worker.log"
            return workers.enter_context(worker_running(name, log=log, env=real_engine(var)))

        yield start
