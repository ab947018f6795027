"""Writes for datasets: curation, background exports (COCO / YOLO-seg zips) and imports.

Imports create micrographs through the catalogue's one upload path (`micrograph_create`) and
runs holding the imported outlines as reviewed annotations.
"""

from __future__ import annotations

import logging
import math
import tempfile
import zipfile
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from semweb.analyses import engine
from semweb.analyses.models import AnalysisRun, Particle, ReviewState, RunStatus
from semweb.audit.services import audit_record
from semweb.catalogue.services import DuplicateMicrograph, UploadRejected, micrograph_create
from semweb.core.params import DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, parse_text
from semweb.datasets import formats
from semweb.datasets.models import Dataset, DatasetExport, ExportFormat, ExportStatus
from semweb.datasets.selectors import dataset_runs
from semweb.labs.permissions import Access, access_to, lab_role_access

log = logging.getLogger(__name__)


def _require_member(user, dataset: Dataset) -> None:
    if lab_role_access(user, dataset.lab_id) < Access.MEMBER:
        raise PermissionDenied("Only members of the dataset's lab may curate it.")


def _curatable_runs(dataset: Dataset, run_ids: Iterable[int]) -> list[AnalysisRun]:
    """Approved runs of the dataset's own lab's projects; anything else is refused by id
    without saying whether it exists."""
    run_ids = sorted({int(i) for i in run_ids})
    runs = list(
        AnalysisRun.objects.filter(
            pk__in=run_ids,
            review_state=ReviewState.APPROVED,
            micrograph__sample__project__lab_id=dataset.lab_id,
        )
    )
    missing = sorted(set(run_ids) - {r.pk for r in runs})
    if missing:
        raise ValidationError(
            {"runs": f"not approved runs of this lab's projects: {', '.join(map(str, missing))}"}
        )
    return runs


def dataset_create(
    *, lab, user, name: str, description: str = "", run_ids: Iterable[int] = ()
) -> Dataset:
    if lab_role_access(user, lab.pk) < Access.MEMBER:
        raise PermissionDenied("Only members may create datasets in this lab.")
    with transaction.atomic():
        dataset = Dataset.objects.create(
            lab=lab,
            name=parse_text(name, name="name", max_chars=NAME_MAX_CHARS, required=True),
            description=parse_text(
                description, name="description", max_chars=DESCRIPTION_MAX_CHARS
            ),
            created_by=user,
        )
        runs = _curatable_runs(dataset, run_ids)
        dataset.runs.add(*runs)
        audit_record(
            actor=user, verb="dataset.create", target=dataset, lab=lab, runs=[r.pk for r in runs]
        )
    return dataset


def dataset_runs_update(
    *, dataset: Dataset, user, add: Iterable[int] = (), remove: Iterable[int] = ()
) -> Dataset:
    _require_member(user, dataset)
    with transaction.atomic():
        added = _curatable_runs(dataset, add)
        dataset.runs.add(*added)
        removed = sorted({int(i) for i in remove})
        dataset.runs.remove(*dataset.runs.filter(pk__in=removed))
        audit_record(
            actor=user,
            verb="dataset.curate",
            target=dataset,
            lab=dataset.lab,
            added=[r.pk for r in added],
            removed=removed,
        )
    return dataset


# --- exports -----------------------------------------------------------------------------------


def export_request(*, dataset: Dataset, user, format: str) -> DatasetExport:
    """Queue an export (anyone who can see the dataset may export it)."""
    # Lazy import: the services→tasks edge (tasks import services at module top).
    from semweb.datasets.tasks import build_export  # noqa: PLC0415

    if access_to(user, dataset) < Access.VIEW:
        raise PermissionDenied("You may not export this dataset.")
    if format not in ExportFormat.values:
        raise ValidationError({"format": f"unknown export format {format!r}"})
    with transaction.atomic():
        export = DatasetExport.objects.create(dataset=dataset, format=format, created_by=user)
        audit_record(
            actor=user,
            verb="dataset.export",
            target=dataset,
            lab=dataset.lab,
            export=export.pk,
            format=format,
        )
        export_id = export.pk
        transaction.on_commit(lambda: build_export.delay(export_id))
    return export


def _records_of(dataset: Dataset, on_progress) -> list[formats.ImageRecord]:
    """The dataset's approved runs as archive records. Synthetic runs (painted by a learned
    style) are training material and stay in, flagged so an evaluation can leave them out."""
    runs = list(dataset_runs(dataset).select_related("micrograph__sample"))
    records = []
    for i, run in enumerate(runs, start=1):
        micrograph = run.micrograph
        with micrograph.original.open("rb") as fh:
            data = fh.read()
        outlines = list(
            run.particles.filter(accepted=True).order_by("index").values_list("polygon", "manual")
        )
        polygons = [polygon for polygon, _ in outlines]
        records.append(
            formats.ImageRecord(
                filename=micrograph.original_filename,
                data=data,
                width=micrograph.width,
                height=micrograph.height,
                polygons=polygons,
                manual=[manual for _, manual in outlines],
                pixel_size_nm=run.pixel_size_nm,
                source={"run": run.pk, "micrograph": micrograph.pk},
                synthetic=micrograph.sample.is_synthetic,
            )
        )
        on_progress(0.9 * i / max(len(runs), 1))
    formats.unique_names(records)
    return records


def export_build(*, export_id: int) -> DatasetExport | None:
    """Build the zip of a queued export (the worker's side). Claimed by a conditional UPDATE,
    so a redelivered message never builds the same export twice."""
    claimed = DatasetExport.objects.filter(pk=export_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, progress=0.0
    )
    if not claimed:
        log.info("export %s is not queued (gone, or taken by another worker)", export_id)
        return None
    export = DatasetExport.objects.select_related("dataset__lab").get(pk=export_id)

    def on_progress(fraction: float) -> None:
        DatasetExport.objects.filter(pk=export_id).update(progress=round(fraction, 3))

    try:
        records = _records_of(export.dataset, on_progress)
        info = {
            "description": export.dataset.name,
            "lab": export.dataset.lab.slug,
            "dataset": export.dataset.pk,
            "exported_at": timezone.now().isoformat(timespec="seconds"),
        }
        with tempfile.TemporaryFile() as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                writer = formats.write_coco if export.format == "coco" else formats.write_yolo
                writer(archive, records, info=info)
            tmp.seek(0)
            name = f"exports/dataset-{export.dataset_id}-{export.pk}-{export.format}.zip"
            export.file.name = default_storage.save(name, File(tmp))
    except Exception as exc:
        log.exception("export %s failed", export_id)
        DatasetExport.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=str(exc)[:4000], finished_at=timezone.now()
        )
        return None
    export.status = ExportStatus.SUCCEEDED
    export.progress = 1.0
    export.finished_at = timezone.now()
    export.save(update_fields=["file", "status", "progress", "finished_at"])
    return export


# --- imports -----------------------------------------------------------------------------------


def _particles(run: AnalysisRun, polygons, width: int, height: int, pixel_size_nm):
    """Rows for imported outlines, measured and classified by the engine exactly as its own
    outlines are; the imported polygon itself is kept as drawn."""
    measured = engine.measure_outlines(polygons, width, height, pixel_size_nm)
    rows = []
    for index, (polygon, particle) in enumerate(zip(polygons, measured, strict=True), start=1):
        if particle is not None:
            x0, y0, x1, y1 = particle.bbox_px
            measurements = engine.json_safe(particle.measurements)
        else:  # an outline covering no pixel centre: kept, but nothing to measure
            xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
            x0, y0 = int(math.floor(min(xs))), int(math.floor(min(ys)))
            x1, y1 = int(math.ceil(max(xs))), int(math.ceil(max(ys)))
            measurements = {}
        rows.append(
            Particle(
                run=run,
                index=index,
                polygon=[[round(x, 2), round(y, 2)] for x, y in polygon],
                bbox_x0=x0,
                bbox_y0=y0,
                bbox_x1=x1,
                bbox_y1=y1,
                measurements=measurements,
                ecd_nm=measurements.get("ecd_nm"),
                area_px=measurements.get("area_px") or 0.0,
                shape_class=particle.shape_class if particle is not None else "",
                touches_border=(
                    particle.touches_border
                    if particle is not None
                    else x0 <= 0 or y0 <= 0 or x1 >= width - 1 or y1 >= height - 1
                ),
            )
        )
    return rows, [p for p in measured if p is not None]


def _import_record(
    *,
    record: formats.ImageRecord,
    sample,
    user,
    kind: str,
    source_name: str,
    approve: bool,
    saved_names: list[str],
) -> AnalysisRun:
    """One image of an import: its micrograph (reused when the sample has the same bytes) and a
    run holding its outlines. Raises `ValidationError`; the caller rolls everything back."""

    try:
        micrograph = micrograph_create(
            sample=sample,
            user=user,
            data=record.data,
            filename=record.filename,
            saved_names=saved_names,
        )
    except DuplicateMicrograph as exc:
        micrograph = exc.existing
    except UploadRejected as exc:
        raise ValidationError(str(exc)) from None
    if record.width is not None and (record.width, record.height) != (
        micrograph.width,
        micrograph.height,
    ):
        raise ValidationError(
            f"{record.filename}: the annotations say {record.width} × {record.height} px, "
            f"the image is {micrograph.width} × {micrograph.height} px"
        )
    polygons = record.polygons
    if record.normalised:
        polygons = [[[x * micrograph.width, y * micrograph.height] for x, y in p] for p in polygons]
    pixel_size_nm = record.pixel_size_nm or micrograph.pixel_size_nm
    now = timezone.now()
    run = AnalysisRun.objects.create(
        micrograph=micrograph,
        created_by=user,
        path_taken="imported",
        parameters={"imported_from": kind, "archive": source_name[:200]},
        status=RunStatus.SUCCEEDED,
        progress=1.0,
        started_at=now,
        finished_at=now,
        pixel_size_nm=pixel_size_nm,
        calibration={
            "pixel_size_nm": pixel_size_nm,
            "source": "import" if record.pixel_size_nm else micrograph.pixel_size_source,
        },
        review_state=ReviewState.APPROVED if approve else ReviewState.IN_REVIEW,
        approved_by=user if approve else None,
        approved_at=now if approve else None,
    )
    particles, measured = _particles(
        run, polygons, micrograph.width, micrograph.height, pixel_size_nm
    )
    Particle.objects.bulk_create(particles, batch_size=1000)
    run.particle_count = len(particles)
    run.summary = engine.summarize_particles(measured)
    run.save(update_fields=["particle_count", "summary"])
    audit_record(
        actor=user,
        verb="run.import_approved" if approve else "run.import",
        target=run,
        lab=sample.project.lab,
        format=kind,
        particles=len(particles),
        review_state=run.review_state,
        archive=source_name[:200],
    )
    return run


def synthetic_run_create(
    *, sample, user, filename: str, data: bytes, polygons: list, source: str
) -> AnalysisRun:
    """One painted micrograph of a synthetic sample and an approved run whose particles are its
    exact mask: stored, measured and audited exactly as an approved import (one path for
    annotations made outside the analysis), so the lab-model training reads it like any
    approved run. Files stored by a failed call are removed again."""
    if not sample.is_synthetic:
        raise ValidationError("only synthetic samples take generated micrographs")
    saved_names: list[str] = []
    record = formats.ImageRecord(
        filename=filename, data=data, width=None, height=None, polygons=polygons
    )
    try:
        with transaction.atomic():
            return _import_record(
                record=record,
                sample=sample,
                user=user,
                kind="synthetic",
                source_name=source,
                approve=True,
                saved_names=saved_names,
            )
    except BaseException:
        for name in saved_names:
            try:
                default_storage.delete(name)
            except OSError:
                log.warning("could not remove %s after a failed generation", name)
        raise


def dataset_import(
    *, sample, user, fileobj, source_name: str = "", as_approved: bool = False
) -> list[AnalysisRun]:
    """Import a COCO or YOLO-seg zip into `sample`: one micrograph (reused when the same bytes
    are already there) and one run with the imported outlines per image.

    Runs land *in review* (outlines made elsewhere are checked like any other result before
    they count); a lab admin may ask for `as_approved`, which is audited as
    ``run.import_approved``. The archive is read and validated completely first (`formats`),
    then everything is written in one transaction; on any failure the rows are rolled back and
    the files this import stored are removed, so a failed import leaves nothing behind.
    """
    access = access_to(user, sample)
    if access < Access.MEMBER:
        raise PermissionDenied("Only members of the project's lab may import into it.")
    if as_approved and access < Access.ADMIN:
        raise PermissionDenied("Only lab admins may import annotations as already approved.")
    try:
        archive, members = formats.open_archive(fileobj)
        kind = formats.detect_format(members)
        reader = formats.read_coco if kind == "coco" else formats.read_yolo
        records = list(reader(archive, members))
        formats.check_totals(records)
    except formats.ArchiveRejected as exc:
        raise ValidationError(str(exc)) from None
    if not records:
        raise ValidationError("the archive holds no images")
    saved_names: list[str] = []
    try:
        with transaction.atomic():
            return [
                _import_record(
                    record=record,
                    sample=sample,
                    user=user,
                    kind=kind,
                    source_name=source_name,
                    approve=as_approved,
                    saved_names=saved_names,
                )
                for record in records
            ]
    except BaseException:
        for name in saved_names:  # files of micrographs whose rows were just rolled back
            try:
                default_storage.delete(name)
            except OSError:
                log.warning("could not remove %s after a failed import", name)
        raise
