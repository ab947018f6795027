"""Celery tasks of the analyses app: ids in, re-fetch, one service call each.

`run_analysis` is idempotent: it claims the run with a conditional UPDATE, so a redelivered
message (acks_late + a killed worker) or a duplicate from the reaper is a no-op once another
attempt owns or finished the run.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import OperationalError, close_old_connections, connection
from django.db.utils import InterfaceError

from semweb.analyses import engine, services
from semweb.analyses.models import AnalysisRun
from semweb.core.claims import stale_after
from semweb.mlmodels.services import weights_path

log = logging.getLogger(__name__)

# Errors worth another attempt: the database or broker blinked, the machine ran short of memory.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError, MemoryError)


class Heartbeat(threading.Thread):
    """Calls `beat()` every SEMWEB_HEARTBEAT_S while a long stage works, so the reaper can tell
    slow work from a dead worker. `beat` returns False once the work is no longer ours
    (cancelled or handed over); then `lost` is set and the thread ends. Also used by the
    training task of semweb.mlmodels."""

    def __init__(self, name: str, beat: Callable[[], bool]) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{name}")
        self.beat = beat
        self.interval = float(getattr(settings, "SEMWEB_HEARTBEAT_S", 15))
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                if not self.beat():
                    self.lost.set()
                    return
        except Exception:  # a heartbeat must never kill the worker
            log.exception("%s failed", self.name)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()


def _worker_name(task) -> str:
    return getattr(task.request, "hostname", None) or socket.gethostname()


@shared_task(bind=True, name="analyses.run_analysis", max_retries=3, acks_late=True)
def run_analysis(self, run_id: int) -> str:
    attempt = services.run_claim(run_id=run_id, worker=_worker_name(self))
    if attempt is None:
        log.info("run %s: nothing to do (not claimable)", run_id)
        return "skipped"
    run = AnalysisRun.objects.select_related("micrograph", "model").get(pk=run_id)
    micrograph = run.micrograph
    sidecar_text = None
    if micrograph.sidecar:
        with micrograph.sidecar.open("rb") as fh:
            sidecar_text = fh.read().decode("utf-8", errors="replace")

    def progress(stage: str, fraction: float) -> None:
        services.run_record_progress(run_id=run_id, attempt=attempt, stage=stage, fraction=fraction)

    heartbeat = Heartbeat(
        f"run-{run_id}", lambda: services.run_heartbeat(run_id=run_id, attempt=attempt)
    )
    heartbeat.start()
    try:
        result = engine.analyze_file(
            micrograph.original.path,
            run.parameters,
            method=run.method,
            sidecar_text=sidecar_text,
            progress=progress,
            model_weights=weights_path(run.model) if run.model else None,
        )
        progress("saving", 0.0)
        services.run_complete(run_id=run_id, attempt=attempt, result=result)
        return "succeeded"
    except services.RunAborted:
        log.info("run %s attempt %s: aborted (cancelled or reaped)", run_id, attempt)
        return "aborted"
    except SoftTimeLimitExceeded:
        services.run_fail(run_id=run_id, attempt=attempt, reason="time limit exceeded")
        return "failed"
    except TRANSIENT as exc:
        if not connection.in_atomic_block:  # a broken connection is replaced before we write
            close_old_connections()
        reason = f"transient error, retrying: {type(exc).__name__}: {exc}"
        if self.request.retries >= self.max_retries:
            services.run_fail(run_id=run_id, attempt=attempt, reason=f"{type(exc).__name__}: {exc}")
            return "failed"
        services.run_release(run_id=run_id, attempt=attempt, reason=reason)
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    except Exception as exc:  # the engine refused the image or crashed: say why, do not retry
        log.exception("run %s failed", run_id)
        services.run_fail(run_id=run_id, attempt=attempt, reason=f"{type(exc).__name__}: {exc}")
        return "failed"
    finally:
        heartbeat.stop()


class Reaper(threading.Thread):
    """Every worker reaps: at start (finding what a crashed predecessor left running) and then
    every half stale-period, so dead jobs are caught without a separate beat process. ``reap``
    runs the reapers; a round that raises is logged as ``failed`` on ``logger`` and retried at
    the next one (the database may be briefly away). Also used by semweb.mlmodels."""

    def __init__(
        self, name: str, reap: Callable[[], object], *, failed: str, logger: logging.Logger
    ) -> None:
        super().__init__(daemon=True, name=name)
        self.reap = reap
        self.failed = failed
        self.logger = logger
        self.interval = max(1.0, stale_after().total_seconds() / 2)

    def run(self) -> None:
        while True:
            try:
                self.reap()
            except Exception:  # the database may be briefly away; try again next round
                self.logger.exception(self.failed)
            finally:
                connection.close()
            time.sleep(self.interval)


@worker_ready.connect
def _reap_in_the_worker(**_kwargs) -> None:
    Reaper("semweb-reaper", services.runs_reap, failed="reaper failed", logger=log).start()
