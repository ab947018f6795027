"""`manage.py seed_demo`: a demo lab with a lab admin, a supervisor and a member, and a project
comparing two samples, stored through the same service as browser uploads.

Each sample is one synthetic material imaged at one pixel size, with enough micrographs for
≥ 250 particles pooled, so its statistics and the project's comparison page read like a real
two-sample study (batch A smaller than batch B) rather than a mix of unrelated materials.
The samples travel in different file formats (ImageJ TIFF; Hitachi TIFF + sidecar) so both
metadata readers are shown. Safe to run again: existing objects are reused, passwords are
reset to the documented ones, nothing is duplicated.

The project also holds an annotated batch collected into the dataset “Demo: approved
outlines” (exact outlines imported by the member and approved by the supervisor through the
review service), so a newcomer can open it and press Train.

To add demo content (e.g. an approved dataset), add a method to `Command` and call it from
`handle` once the users and samples exist (`_people_and_places` returns both).
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass

import numpy as np
import tifffile
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image

from semweb.analyses.engine import mask_to_polygon, synthetic_micrograph
from semweb.analyses.services import run_create
from semweb.catalogue import services as catalogue
from semweb.catalogue.models import Micrograph, Project, Sample
from semweb.datasets import formats
from semweb.datasets.models import Dataset
from semweb.datasets.services import dataset_create, dataset_import
from semweb.labs.models import Lab, Membership, Role
from semweb.labs.services import lab_create
from semweb.review.services import run_approve

DEMO_LAB = ("Demo lab", "demo")
DEMO_PROJECT = "Demo: synthetic nanoparticles"
# (username, default password, role). Fixed and documented (README) so a first-time user can
# log in; override with SEMWEB_DEMO_PASSWORD / SEMWEB_DEMO_MEMBER_PASSWORD /
# SEMWEB_DEMO_ADMIN_PASSWORD.
DEMO_USERS = (
    ("demo", "semweb-demo", Role.SUPERVISOR, "SEMWEB_DEMO_PASSWORD"),
    ("member", "semweb-member", Role.MEMBER, "SEMWEB_DEMO_MEMBER_PASSWORD"),
    ("labadmin", "semweb-admin", Role.ADMIN, "SEMWEB_DEMO_ADMIN_PASSWORD"),
)


@dataclass(frozen=True)
class DemoSample:
    """One sample of the demo: one material, one pixel size, `images` micrographs."""

    name: str
    material: str
    notes: str
    file_format: str  # "imagej" (16-bit ImageJ TIFF) or "hitachi" (8-bit TIFF + sidecar)
    pixel_size_nm: float
    median_ecd_nm: float
    particles_per_image: int
    seeds: tuple[int, ...]

    def synth(self, seed: int):
        return synthetic_micrograph(
            seed,
            style="sem",
            morphology="sphere",
            median_ecd_px=self.median_ecd_nm / self.pixel_size_nm,
            n_particles=self.particles_per_image,
            data_bar=False,
            figure_marks=False,
            jpeg=False,
            params={
                "pixel_size_nm": self.pixel_size_nm,
                "sigma_log": 0.12,
                "agglomerate_prob": 0.0,
                "max_overlap": 0.0,
                "photons": 200.0,
            },
        )

    def filename(self, seed: int) -> str:
        stem = self.name.split(",")[0].lower().replace(" ", "_")
        return f"{stem}_{self.file_format}_{seed}.tif"


# Two Stöber silica batches at 2 nm/px: A ~60 nm, B ~85 nm. The classical path measured 53 of
# A's 70 and 37 of B's 55 particles per image (edge particles excluded): 6 × 70 and 7 × 65
# give ≥ 250 measured per sample.
DEMO_SAMPLES = (
    DemoSample(
        name="Silica spheres, batch A",
        material="SiO2 (Stöber, 25 °C)",
        notes="Synthetic: analysis.synth spheres, median 60 nm, fixed seeds.",
        file_format="imagej",
        pixel_size_nm=2.0,
        median_ecd_nm=60.0,
        particles_per_image=70,
        seeds=(1101, 1102, 1103, 1104, 1105, 1106),
    ),
    DemoSample(
        name="Silica spheres, batch B",
        material="SiO2 (Stöber, 40 °C)",
        notes="Synthetic: analysis.synth spheres, median 85 nm, fixed seeds.",
        file_format="hitachi",
        pixel_size_nm=2.0,
        median_ecd_nm=85.0,
        particles_per_image=65,
        seeds=(2201, 2202, 2203, 2204, 2205, 2206, 2207),
    ),
)


DEMO_TRAINING_SAMPLE = "Annotated batch T"
DEMO_DATASET = "Demo: approved outlines"
# Eight 256-px micrographs with exact outlines: six to train on (above the training floor),
# two held back; 20 epochs fine-tune in minutes on a 2-core CPU.
DEMO_TRAINING_SEEDS = tuple(range(7001, 7009))
DEMO_TRAINING_PX = 256


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


def _hitachi_sidecar(width: int, height: int, pixel_size_nm: float, sample: str) -> bytes:
    return (
        f"[SemImageFile]\r\nInstructName=S-4800\r\nSampleName={sample}\r\n"
        f"DataSize={width}x{height}\r\nPixelSize={pixel_size_nm:.4f}\r\n"
        "AcceleratingVoltage=5000 Volt\r\nMagnification=50000\r\n"
    ).encode("ascii")


def demo_files(spec: DemoSample, seed: int) -> tuple[bytes, bytes | None, str]:
    """(image bytes, sidecar bytes or None, sidecar name) of one demo micrograph."""
    s = spec.synth(seed)
    if spec.file_format == "imagej":
        return _imagej_tiff16(s.image, s.pixel_size_nm), None, ""
    h, w = s.image.shape
    sidecar = _hitachi_sidecar(w, h, s.pixel_size_nm, spec.name.encode("ascii", "replace").decode())
    return _tiff8(s.image), sidecar, spec.filename(seed).replace(".tif", ".txt")


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
        users, samples = self._people_and_places()
        created: list[str] = []
        queued = 0
        if not no_micrographs:
            for spec, sample in samples:
                created += self._micrographs(spec, sample, users["demo"])
            if not no_runs:
                queued = sum(self._queue_runs(sample, users["demo"]) for _, sample in samples)
        dataset = None if no_micrographs else self._training_dataset(samples[0][1], users)
        project = samples[0][1].project
        counts = ", ".join(f"“{s.name}” {s.micrographs.count()}" for _, s in samples)
        self.stdout.write(
            f"Demo data: lab “{project.lab.name}”, project “{project.name}”, micrographs per "
            f"sample: {counts} ({len(created)} new, {queued} analyses queued)."
        )
        if dataset is not None:
            self.stdout.write(
                f"Dataset “{dataset.name}” ({dataset.runs.count()} approved runs): open it as "
                "“demo” and press Train to fine-tune a lab model."
            )
        self.stdout.write("")
        self.stdout.write("  Log in at http://127.0.0.1:8000/login/ with")
        for username, default, role, env in DEMO_USERS:
            password = os.environ.get(env, default)
            self.stdout.write(f"    user: {username:<8} password: {password:<16} ({role.label})")
        self.stdout.write("")

    @transaction.atomic
    def _people_and_places(self) -> tuple[dict, list[tuple[DemoSample, Sample]]]:
        User = get_user_model()
        users = {}
        for username, default, _role, env in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.org"}
            )
            user.set_password(os.environ.get(env, default))
            user.is_active = True
            user.save()
            users[username] = user
        lab = Lab.objects.filter(slug=DEMO_LAB[1]).first() or lab_create(
            name=DEMO_LAB[0],
            slug=DEMO_LAB[1],
            creator=users["labadmin"],  # the lab's admin creates it (audited)
            description="Synthetic demo data.",
        )
        for username, _default, role, _env in DEMO_USERS:
            Membership.objects.update_or_create(
                user=users[username], lab=lab, defaults={"role": role}
            )
        project = Project.objects.filter(lab=lab, name=DEMO_PROJECT).first()
        if project is None:
            project = catalogue.project_create(
                lab=lab,
                user=users["demo"],
                name=DEMO_PROJECT,
                description="Two synthetic silica batches imaged at 2 nm/px: compare their "
                "size distributions.",
            )
        samples = []
        for spec in DEMO_SAMPLES:
            sample = Sample.objects.filter(project=project, name=spec.name).first()
            if sample is None:
                sample = catalogue.sample_create(
                    project=project,
                    user=users["demo"],
                    name=spec.name,
                    material=spec.material,
                    synthesis_notes=spec.notes,
                    tags=["demo", "synthetic", "silica"],
                )
            samples.append((spec, sample))
        return users, samples

    def _micrographs(self, spec: DemoSample, sample: Sample, user) -> list[str]:
        created = []
        for seed in spec.seeds:
            name = spec.filename(seed)
            if Micrograph.objects.filter(sample=sample, original_filename=name).exists():
                continue
            data, sidecar, sidecar_name = demo_files(spec, seed)
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

    def _training_dataset(self, sample: Sample, users: dict) -> Dataset:
        """The approved dataset to train on: synthetic micrographs whose exact outlines the
        member imports (COCO) and the supervisor approves, collected into one dataset."""
        lab = sample.project.lab
        dataset = Dataset.objects.filter(lab=lab, name=DEMO_DATASET).first()
        if dataset is not None:
            return dataset
        training_sample = Sample.objects.filter(
            project=sample.project, name=DEMO_TRAINING_SAMPLE
        ).first() or catalogue.sample_create(
            project=sample.project,
            user=users["demo"],
            name=DEMO_TRAINING_SAMPLE,
            material="synthetic (analysis.synth)",
            synthesis_notes="Exact outlines from the generator, reviewed and approved.",
            tags=["demo", "training"],
        )
        records = []
        for seed in DEMO_TRAINING_SEEDS:
            synth = synthetic_micrograph(
                seed,
                width=DEMO_TRAINING_PX,
                height=DEMO_TRAINING_PX,
                style="sem",
                data_bar=False,
                figure_marks=False,
                jpeg=False,
            )
            polygons = []
            for label in np.unique(synth.labels[synth.labels > 0]):
                poly = mask_to_polygon(synth.labels == label)
                if poly is not None and len(poly) >= 3:
                    polygons.append([[float(x), float(y)] for x, y in poly])
            records.append(
                formats.ImageRecord(
                    filename=f"demo_train_{seed}.png",
                    data=_png(synth.image),
                    width=DEMO_TRAINING_PX,
                    height=DEMO_TRAINING_PX,
                    polygons=polygons,
                    pixel_size_nm=synth.pixel_size_nm,
                )
            )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            formats.write_coco(archive, records, info={"description": DEMO_DATASET})
        buf.seek(0)
        with transaction.atomic():
            runs = dataset_import(
                sample=training_sample, user=users["member"], fileobj=buf, source_name="demo.zip"
            )
            for run in runs:
                run_approve(
                    run=run,
                    user=users["demo"],
                    revision=run.revision,
                    body="Demo outlines checked.",
                )
            dataset = dataset_create(
                lab=lab,
                user=users["demo"],
                name=DEMO_DATASET,
                description="Synthetic micrographs with approved outlines: press Train.",
                run_ids=[r.pk for r in runs],
            )
        self.stdout.write(f"  dataset {dataset.name}: {len(runs)} approved runs")
        return dataset
