"""`manage.py serve_all`: the web server and a Celery worker together, for `make run`.

Both run as child processes with this process's settings and environment. Ctrl-C or SIGTERM
is forwarded to both; when either one exits, the other is stopped and this command exits
(non-zero if a child failed), so a crashed worker is never silently missing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

STOP_GRACE_S = 20  # Celery's warm shutdown finishes the current task's bookkeeping
POLL_S = 0.2


class Command(BaseCommand):
    help = "Serve the app (runserver) together with a Celery worker; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to serve on")
        parser.add_argument(
            "--queues", default="cpu,gpu", help="Celery queues the worker consumes (cpu,gpu)"
        )
        parser.add_argument("--concurrency", type=int, default=1)
        parser.add_argument("--no-worker", action="store_true", help="only the web server")

    def handle(self, *args, addr: str, queues: str, concurrency: int, no_worker: bool, **opts):
        env = os.environ.copy()
        env["PYTHONUNBUFFERED"] = "1"
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {
            "web": [*manage, "runserver", "--noreload", addr],
        }
        if not no_worker:
            commands["worker"] = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "semweb",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "--prefetch-multiplier",
                "1",
                "-l",
                "info",
                "-n",
                f"semweb-dev-{os.getpid()}@%h",
            ]
        children: dict[str, subprocess.Popen] = {}
        stopping = {"signal": None}

        def on_signal(signum, frame):
            stopping["signal"] = signum

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name, cmd in commands.items():
                # Own session: a terminal Ctrl-C reaches only us, and we stop the children
                # once, in order (a second SIGINT would make Celery skip its warm shutdown).
                children[name] = subprocess.Popen(
                    cmd, env=env, cwd=str(settings.BASE_DIR), start_new_session=True
                )
                self.stdout.write(f"serve_all: {name} started (pid {children[name].pid})")
            self.stdout.write(
                f"serve_all: http://{addr}/ — "
                + ("no worker" if no_worker else f"worker on queues {queues}")
                + " — Ctrl-C stops everything"
            )
            self.stdout.flush()
            failed = self._wait(children, stopping)
        finally:
            self._stop_all(children)
            for s, handler in previous.items():
                signal.signal(s, handler)
        for name, proc in children.items():
            self.stdout.write(f"serve_all: {name} exited with {proc.returncode}")
        if failed:
            raise CommandError(f"{failed} exited unexpectedly; stopped the others")

    def _wait(self, children: dict[str, subprocess.Popen], stopping: dict) -> str | None:
        """Block until a signal arrives (returns None) or a child exits (returns its name)."""
        while stopping["signal"] is None:
            for name, proc in children.items():
                if proc.poll() is not None:
                    self.stderr.write(f"serve_all: {name} exited with {proc.returncode}")
                    return name
            time.sleep(POLL_S)
        self.stdout.write("serve_all: stopping")
        return None

    def _stop_all(self, children: dict[str, subprocess.Popen]) -> None:
        for proc in children.values():
            if proc.poll() is None:
                # The main process only: Celery then drains its pool children itself.
                proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            # Anything the child left behind in its session (e.g. orphaned pool processes).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
