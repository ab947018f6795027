"""The `make run` path: `seed_demo` (idempotent, prints the credentials) and `serve_all` (web
server + Celery worker started together and stopped together), and production settings that
pass `check --deploy`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from _catalogue_helpers import media_fixture  # noqa: F401  (the `media` fixture)
from django.contrib.auth import authenticate
from django.core.management import call_command

from semweb.analyses.models import AnalysisRun, ReviewState
from semweb.audit.models import AuditEvent
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.core.management.commands.seed_demo import DEMO_SAMPLES
from semweb.datasets.models import Dataset
from semweb.labs.models import Lab, Membership, Role
from semweb.mlmodels.services import training_data, training_refusal

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180  # generous: two busy cores, torch imported by the worker


@pytest.mark.django_db
def test_seed_demo_creates_everything_once_and_prints_credentials(media):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = out.getvalue()
    call_command("seed_demo", stdout=(second := StringIO()))

    lab = Lab.objects.get(slug="demo")
    roles = dict(Membership.objects.filter(lab=lab).values_list("user__username", "role"))
    assert roles == {"demo": Role.SUPERVISOR, "member": Role.MEMBER, "labadmin": Role.ADMIN}
    created = AuditEvent.objects.filter(verb="lab.create", lab=lab)  # through the lab service
    assert list(created.values_list("actor__username", flat=True)) == ["labadmin"]
    assert Project.objects.filter(lab=lab).count() == 1
    samples = Sample.objects.filter(project__lab=lab, name__in=[s.name for s in DEMO_SAMPLES])
    assert [s.name for s in samples.order_by("name")] == [spec.name for spec in DEMO_SAMPLES]
    assert Sample.objects.filter(project__lab=lab).count() == len(DEMO_SAMPLES) + 1  # training
    samples = samples.order_by("name")
    for spec, sample in zip(DEMO_SAMPLES, samples, strict=True):
        micrographs = sample.micrographs.all()
        # One material at one pixel size per sample, read from the files' metadata.
        sizes = [m.pixel_size_nm for m in micrographs]
        assert sizes == pytest.approx([spec.pixel_size_nm] * len(sizes), rel=1e-3)
        assert len(micrographs) == len(spec.seeds)
        assert len(spec.seeds) * spec.particles_per_image >= 300  # ≥ 250 after edge exclusion
    rods = Micrograph.objects.filter(sample__name__endswith="batch B").first()
    assert rods.sidecar_filename.endswith(".txt")
    assert rods.pixel_size_source == "metadata:hitachi"
    for text in (first, second.getvalue()):
        assert "user: demo     password: semweb-demo" in text
        assert "user: member   password: semweb-member" in text
        assert "user: labadmin password: semweb-admin" in text
    assert "(13 new," in first and "(0 new, 0 analyses queued)" in second.getvalue()
    assert authenticate(username="demo", password="semweb-demo") is not None
    assert authenticate(username="member", password="semweb-member") is not None


@pytest.mark.django_db
def test_seed_demo_queues_one_run_per_micrograph_once(media):
    pytest.importorskip("semweb.analyses.services").run_create  # noqa: B018

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    queued = AnalysisRun.objects.exclude(path_taken="imported")  # not the training set's
    assert queued.count() == 13
    assert set(queued.values_list("micrograph__sample__name", flat=True)) == {
        spec.name for spec in DEMO_SAMPLES
    }


@pytest.mark.django_db
def test_seed_demo_holds_an_approved_dataset_big_enough_to_train_on(media):
    call_command("seed_demo", stdout=(out := StringIO()))
    call_command("seed_demo", stdout=StringIO())
    dataset = Dataset.objects.get(name="Demo: approved outlines")
    runs = dataset.runs.all()
    assert runs.count() == 8
    assert set(runs.values_list("review_state", flat=True)) == {ReviewState.APPROVED}
    assert set(runs.values_list("approved_by__username", flat=True)) == {"demo"}
    data = training_data(dataset)
    assert (data["train_images"], data["held_back_images"]) == (6, 2)
    assert training_refusal(data) is None  # the supervisor can press Train right away
    assert "press Train" in out.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="semweb.settings.local",
        SEMWEB_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
    )
    return env


class _Serve:
    """`manage.py serve_all` in a subprocess, its output collected by a reader thread."""

    def __init__(self, tmp_path: Path):
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve_all", "--addr", f"127.0.0.1:{self.port}"],
            cwd=REPO,
            env=_embedded_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if " ready." in line:
                self.ready.set()

    def pid_of(self, name: str) -> int:
        prefix = f"serve_all: {name} started (pid "
        line = next(x for x in self.lines if x.startswith(prefix))
        return int(line[len(prefix) :].split(")")[0])

    def get(self, path: str) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.status

    def wait_up(self) -> None:
        assert self.ready.wait(START_TIMEOUT_S), "worker never ready:\n" + "".join(self.lines)
        for _ in range(int(START_TIMEOUT_S / 0.5)):
            try:
                assert self.get("/healthz") == 200
                return
            except OSError:
                threading.Event().wait(0.5)
        raise AssertionError("web never answered:\n" + "".join(self.lines))

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a dead parent) is not alive.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_serve_all_runs_web_and_worker_and_sigterm_stops_both(tmp_path):
    serve = _Serve(tmp_path)
    try:
        serve.wait_up()
        web, worker = serve.pid_of("web"), serve.pid_of("worker")
        assert serve.get("/login/") == 200
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(timeout=60) == 0
    finally:
        serve.close()
    assert not _alive(web) and not _alive(worker)
    assert "serve_all: worker exited with 0" in "".join(serve.lines)


def test_serve_all_stops_the_web_server_when_the_worker_dies(tmp_path):
    serve = _Serve(tmp_path)
    try:
        serve.wait_up()
        web, worker = serve.pid_of("web"), serve.pid_of("worker")
        os.kill(worker, signal.SIGKILL)
        assert serve.proc.wait(timeout=60) == 1
    finally:
        serve.close()
    assert not _alive(web)
    assert "serve_all: worker exited with -9" in "".join(serve.lines)


def test_production_settings_pass_check_deploy(tmp_path):
    dev_only = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dev_only}
    env.update(
        DJANGO_SETTINGS_MODULE="semweb.settings.production",
        SECRET_KEY="k" * 20 + "Zq8#xV2!pL9@wR4$tY7%uI1^oP3&aS6*dF0(gH5)jK",
        ALLOWED_HOSTS="semweb.example.org",
        SEMWEB_VAR_DIR=str(tmp_path / "var"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_refuse_to_start_without_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.update(
        DJANGO_SETTINGS_MODULE="semweb.settings.production", SEMWEB_VAR_DIR=str(tmp_path / "v")
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "SECRET_KEY must be set" in result.stderr
