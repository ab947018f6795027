"""Helpers for run tests: micrographs of known discs, and runs completed by the fake engine."""

from __future__ import annotations

import hashlib
import io

import fake_engine
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from semweb.analyses import services
from semweb.analyses.models import AnalysisRun
from semweb.catalogue.models import Micrograph

FAKE_ENGINE = "fake_engine.analyze"  # tests/web is on sys.path (pytest rootdir-less import)

# Four separate discs, radius 10..25 px, none touching the border.
DISCS = [(60, 60, 10), (160, 60, 15), (60, 170, 20), (200, 160, 25)]


def disc_png(discs=DISCS, size=(320, 240)) -> bytes:
    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    for cx, cy, r in discs:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def make_micrograph(sample, user=None, discs=DISCS, size=(320, 240), name="discs.png"):
    data = disc_png(discs, size)
    sha = hashlib.sha256(data).hexdigest()
    m = Micrograph(
        sample=sample,
        sha256=sha,
        original_filename=name,
        file_size=len(data),
        format="PNG",
        width=size[0],
        height=size[1],
        bit_depth=8,
        uploaded_by=user,
    )
    m.original.save(name, ContentFile(data), save=False)
    m.save()
    return m


def completed_run(micrograph, user, **kwargs) -> AnalysisRun:
    """A run created, claimed and completed in-process with the fake engine."""

    run = services.run_create(micrograph=micrograph, user=user, **kwargs)
    attempt = services.run_claim(run_id=run.pk, worker="test")
    result = fake_engine.analyze(
        micrograph.original.path, run.parameters, method=run.method, progress=None
    )
    services.run_complete(run_id=run.pk, attempt=attempt, result=result)
    run.refresh_from_db()
    return run
