"""`manage.py seed_demo`: a demo lab, two users, a project, a sample and four synthetic
micrographs, stored through the same service as browser uploads. Safe to run again: existing
objects are reused, passwords are reset to the documented ones, nothing is duplicated."""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import numpy as np
import tifffile
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image

from analysis.synth import generate
from semweb.analyses.services import run_create
from semweb.catalogue import services as catalogue
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.labs.models import Lab, Membership, Role

DEMO_LAB = ("Demo lab", "demo")
DEMO_PROJECT = "Demo: synthetic nanoparticles"
DEMO_SAMPLE = "Synthetic batch A"
# (username, default password, role). Fixed and documented (README) so a first-time user can
# log in; override with SEMWEB_DEMO_PASSWORD / SEMWEB_DEMO_MEMBER_PASSWORD.
DEMO_USERS = (
    ("demo", "semweb-demo", Role.SUPERVISOR, "SEMWEB_DEMO_PASSWORD"),
    ("member", "semweb-member", Role.MEMBER, "SEMWEB_DEMO_MEMBER_PASSWORD"),
)


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _imagej_tiff16(image: np.ndarray, pixel_size_nm: float) -> bytes:
    """A 16-bit ImageJ TIFF calibrated in µm, as a lab's Fiji export would be."""

    px_um = pixel_size_nm / 1000.0
    buf = io.BytesIO()
    tifffile.imwrite(
        buf,
        (image.astype(np.uint16) * 257),
        imagej=True,
        resolution=(1.0 / px_um, 1.0 / px_um),
        metadata={"unit": "um"},
    )
    return buf.getvalue()


def _tiff8(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, image)
    return buf.getvalue()


def _hitachi_sidecar(width: int, height: int, pixel_size_nm: float) -> bytes:
    return (
        "[SemImageFile]\r\nInstructName=S-4800\r\nSampleName=Synthetic batch A\r\n"
        f"DataSize={width}x{height}\r\nPixelSize={pixel_size_nm:.4f}\r\n"
        "AcceleratingVoltage=5000 Volt\r\nMagnification=50000\r\n"
    ).encode("ascii")


def _demo_images() -> list[tuple[str, Callable[[], tuple[bytes, bytes | None, str]]]]:
    """(file name, builder) pairs; building is lazy so re-runs skip the synthesis."""

    def sem_png() -> tuple[bytes, bytes | None, str]:
        s = generate(103, style="sem", morphology="sphere", data_bar=True, jpeg=False)
        return _png(s.image), None, ""

    def imagej_tiff() -> tuple[bytes, bytes | None, str]:
        s = generate(202, style="sem", morphology="cube", data_bar=False, figure_marks=False)
        return _imagej_tiff16(s.image, s.pixel_size_nm), None, ""

    def hitachi_tiff() -> tuple[bytes, bytes | None, str]:
        s = generate(303, style="sem", morphology="rod", data_bar=False, figure_marks=False)
        h, w = s.image.shape
        return _tiff8(s.image), _hitachi_sidecar(w, h, s.pixel_size_nm), "demo_rods_S4800.txt"

    def tem_png() -> tuple[bytes, bytes | None, str]:
        s = generate(404, style="tem", data_bar=True, jpeg=False)
        return _png(s.image), None, ""

    return [
        ("demo_spheres_databar.png", sem_png),
        ("demo_cubes_imagej16.tif", imagej_tiff),
        ("demo_rods_S4800.tif", hitachi_tiff),
        ("demo_tem_agglomerates.png", tem_png),
    ]


class Command(BaseCommand):
    help = "Create (or refresh) the demo lab, users, project, sample and micrographs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-runs", action="store_true", help="do not queue analysis runs for the demo"
        )
        parser.add_argument(
            "--no-micrographs", action="store_true", help="only lab, users, project and sample"
        )

    def handle(self, *args, no_runs: bool = False, no_micrographs: bool = False, **options):
        users, sample = self._people_and_places()
        created: list[str] = []
        if not no_micrographs:
            created = self._micrographs(sample, users["demo"])
        queued = 0 if no_runs or no_micrographs else self._queue_runs(sample, users["demo"])
        count = sample.micrographs.count()
        self.stdout.write(
            f"Demo data: lab “{sample.project.lab.name}”, project “{sample.project.name}”, "
            f"sample “{sample.name}” with {count} micrographs "
            f"({len(created)} new, {queued} analyses queued)."
        )
        self.stdout.write("")
        self.stdout.write("  Log in at http://127.0.0.1:8000/login/ with")
        for username, default, role, env in DEMO_USERS:
            password = os.environ.get(env, default)
            self.stdout.write(f"    user: {username:<8} password: {password:<16} ({role.label})")
        self.stdout.write("")

    @transaction.atomic
    def _people_and_places(self) -> tuple[dict, Sample]:
        lab, _ = Lab.objects.get_or_create(
            slug=DEMO_LAB[1],
            defaults={"name": DEMO_LAB[0], "description": "Synthetic demo data."},
        )
        User = get_user_model()
        users = {}
        for username, default, role, env in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.org"}
            )
            user.set_password(os.environ.get(env, default))
            user.is_active = True
            user.save()
            Membership.objects.update_or_create(user=user, lab=lab, defaults={"role": role})
            users[username] = user
        project = Project.objects.filter(lab=lab, name=DEMO_PROJECT).first()
        if project is None:
            project = catalogue.project_create(
                lab=lab,
                user=users["demo"],
                name=DEMO_PROJECT,
                description="Synthetic SEM/TEM micrographs with known particle sizes.",
            )
        sample = Sample.objects.filter(project=project, name=DEMO_SAMPLE).first()
        if sample is None:
            sample = catalogue.sample_create(
                project=project,
                user=users["demo"],
                name=DEMO_SAMPLE,
                material="synthetic (analysis.synth)",
                synthesis_notes="Generated by analysis.synth.generate with fixed seeds.",
                tags=["demo", "synthetic"],
            )
        return users, sample

    def _micrographs(self, sample: Sample, user) -> list[str]:
        created = []
        for name, build in _demo_images():
            if Micrograph.objects.filter(sample=sample, original_filename=name).exists():
                continue
            data, sidecar, sidecar_name = build()
            try:
                catalogue.micrograph_create(
                    sample=sample,
                    user=user,
                    data=data,
                    filename=name,
                    sidecar_data=sidecar,
                    sidecar_filename=sidecar_name,
                )
            except catalogue.DuplicateMicrograph:
                continue
            created.append(name)
            self.stdout.write(f"  stored {name}")
        return created

    def _queue_runs(self, sample: Sample, user) -> int:
        """Queue an analysis for each demo micrograph without one (enqueued on commit)."""
        queued = 0
        for micrograph in sample.micrographs.filter(runs__isnull=True):
            with transaction.atomic():
                run_create(micrograph=micrograph, user=user, method="auto")
            queued += 1
        return queued
