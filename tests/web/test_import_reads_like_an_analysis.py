"""Imported outlines are measured and summarised by the engine, so an imported run reads exactly
like an analysed one (same measurement and summary keys), and the data migration renames the
keys that imports stored before."""

from __future__ import annotations

import importlib
import io
import math
import zipfile

import pytest
from _api import api_media_fixture  # noqa: F401
from _runs import disc_png, make_micrograph
from django.apps import apps

from analysis.measure import MEASUREMENT_COLUMNS
from analysis.stats import summarize
from semweb.analyses.models import AnalysisRun, Particle, RunStatus
from semweb.datasets import formats
from semweb.datasets.services import dataset_import

# Vertices on pixel centres 40..59 and 100..129: squares of 20 x 20 and 30 x 30 pixels.
SQUARES = [
    [[40, 40], [59, 40], [59, 59], [40, 59]],
    [[100, 100], [129, 100], [129, 129], [100, 129]],
]


def _coco_zip(pixel_size_nm: float | None) -> bytes:
    record = formats.ImageRecord(
        filename="squares.png",
        data=disc_png(discs=[]),
        width=320,
        height=240,
        polygons=SQUARES,
        pixel_size_nm=pixel_size_nm,
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        formats.write_coco(archive, [record], info={})
    return buf.getvalue()


def test_imported_outlines_carry_the_engines_measurements_and_summary(alice, sample, api_media):
    (run,) = dataset_import(sample=sample, user=alice, fileobj=io.BytesIO(_coco_zip(2.0)))
    first, second = run.particles.order_by("index")
    assert set(first.measurements) == set(MEASUREMENT_COLUMNS)
    assert (first.area_px, second.area_px) == (400, 900)
    assert first.ecd_nm == pytest.approx(2.0 * 2 * math.sqrt(400 / math.pi))
    assert first.shape_class == "cube"
    assert (first.bbox_x0, first.bbox_y0, first.bbox_x1, first.bbox_y1) == (40, 40, 60, 60)
    assert first.polygon == SQUARES[0]  # the outline as drawn is kept
    assert set(run.summary) == set(summarize([10.0, 20.0]))
    assert (run.summary["count"], run.summary["unit"]) == (2, "nm")
    assert run.summary["mean"] == pytest.approx((first.ecd_nm + second.ecd_nm) / 2)


def test_uncalibrated_imports_summarise_in_pixels_like_analyses(alice, sample, api_media):
    sample.micrographs.all().delete()
    (run,) = dataset_import(sample=sample, user=alice, fileobj=io.BytesIO(_coco_zip(None)))
    assert run.pixel_size_nm is None
    assert run.particles.get(index=1).measurements["ecd_nm"] is None
    assert (run.summary["count"], run.summary["unit"]) == (2, "px")


def test_migration_renames_the_keys_imports_stored_before(alice, sample, api_media):
    migration = importlib.import_module("semweb.datasets.migrations.0002_imported_summary_keys")
    micrograph = make_micrograph(sample, alice)
    old_summary = {"count": 2, "mean_nm": 5.0, "sd_nm": 1.0, "d10_nm": 4, "d50_nm": 5, "d90_nm": 6}
    imported = AnalysisRun.objects.create(
        micrograph=micrograph,
        path_taken="imported",
        status=RunStatus.SUCCEEDED,
        summary=old_summary,
    )
    analysed = AnalysisRun.objects.create(
        micrograph=micrograph, status=RunStatus.SUCCEEDED, summary={"mean_nm": 1.0}
    )
    for run in (imported, analysed):
        Particle.objects.create(
            run=run,
            index=1,
            polygon=[],
            bbox_x0=0,
            bbox_y0=0,
            bbox_x1=4,
            bbox_y1=3,
            measurements={"area_px2": 12.0, "ecd_px": 3.9},
        )

    migration.forwards(apps, None)
    imported.refresh_from_db()
    assert imported.summary == {
        "count": 2,
        "mean": 5.0,
        "sd": 1.0,
        "d10": 4,
        "d50": 5,
        "d90": 6,
        "unit": "nm",
    }
    assert imported.particles.get().measurements == {"area_px": 12.0, "ecd_px": 3.9}
    untouched = AnalysisRun.objects.get(pk=analysed.pk)
    assert untouched.summary == {"mean_nm": 1.0}
    assert untouched.particles.get().measurements == {"area_px2": 12.0, "ecd_px": 3.9}

    migration.backwards(apps, None)
    imported.refresh_from_db()
    assert imported.summary == old_summary
    assert imported.particles.get().measurements == {"area_px2": 12.0, "ecd_px": 3.9}
