"""Reads for runs, particles and their statistics (review page, sample and project pages)."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count, Q, QuerySet

from semweb.analyses import engine
from semweb.analyses.models import AnalysisRun, Particle, ReviewState, RunStatus
from semweb.labs.models import Membership, Role


def summarize_values(
    values_nm: list[float] | np.ndarray, classes: list[str] | None = None
) -> dict[str, Any]:
    """The engine's statistics of ECDs in nm (`engine.summarize_sizes`) with the engine's
    display fields (`engine.display_fields`: span, ci95_rel, log-normal curve over the
    histogram) that the pages show beside them."""
    out = engine.summarize_sizes(list(values_nm), classes)
    out.update(engine.display_fields(out))
    return engine.json_safe(out)


def run_statistics(run: AnalysisRun) -> dict[str, Any]:
    """Everything the statistics panel of the review page shows, from the accepted particles.

    Counts come from one grouped query (a handful of rows, not one per particle); the summary
    is the one stored by the edit that made this revision, recomputed only when stale. That
    keeps the answer to every edit cheap on runs of thousands of particles."""
    groups = run.particles.values_list("accepted", "shape_class").annotate(n=Count("id"))
    n_total = n_accepted = 0
    classes: Counter[str] = Counter()
    for accepted, cls, n in groups:
        n_total += n
        if accepted:
            n_accepted += n
            classes[cls or "unclassified"] += n
    stored = run.summary or {}
    if stored.get("revision") == run.revision and "span" in stored:
        summary = stored  # written by the edit that made this revision
    else:
        rows = run.particles.filter(accepted=True, ecd_nm__isnull=False).values_list(
            "ecd_nm", "shape_class"
        )
        summary = summarize_values([r[0] for r in rows], [r[1] or "unclassified" for r in rows])
    return {
        "revision": run.revision,
        "n_total": n_total,
        "n_accepted": n_accepted,
        "n_rejected": n_total - n_accepted,
        "calibrated": run.pixel_size_nm is not None,
        "pixel_size_nm": run.pixel_size_nm,
        "summary": summary,
        "histogram": summary["histogram"],
        "classes": dict(sorted(classes.items(), key=lambda kv: (-kv[1], kv[0]))),
        **edit_counts(run),
    }


def edit_counts(run: AnalysisRun) -> dict[str, Any]:
    """Manual-edit figures the review page shows: edits in effect (undone ones excluded),
    particles drawn or corrected by hand, and whether undo/redo has anything to do."""
    steps = dict(run.edits.values_list("undone").annotate(n=Count("id")).values_list("undone", "n"))
    return {
        "n_edits": steps.get(False, 0),
        "n_manual": run.particles.filter(manual=True).count(),
        "can_undo": bool(steps.get(False)),
        "can_redo": bool(steps.get(True)),
    }


# Measurements the hover box shows (when present), in this order.
HOVER_FIELDS = (
    "ecd_nm",
    "area_nm2",
    "feret_max_nm",
    "feret_min_nm",
    "aspect_ratio",
    "circularity",
    "solidity",
    "perimeter_nm",
)


GEOMETRY_FIELDS = (
    "index",
    "polygon",
    "measurements",
    "shape_class",
    "score",
    "touches_border",
    "manual",
    "bbox_x0",
    "bbox_y0",
    "bbox_x1",
    "bbox_y1",
)


def geometry_columns(rows: Iterable[tuple]) -> dict[str, Any]:
    """Columnar particle data for the review page (`GEOMETRY_FIELDS` tuples in): one array per
    field, polygons as flat coordinate lists, so 5 000 particles are one compact document."""
    cols: dict[str, list] = {
        k: [] for k in ("index", "poly", "cx", "cy", "cls", "score", "border", "manual", "m")
    }
    fields = list(HOVER_FIELDS)
    for index, polygon, m, cls, score, border, manual, x0, y0, x1, y1 in rows:
        cols["index"].append(index)
        cols["poly"].append([c for point in polygon for c in point])
        cx = m.get("centroid_x_px")
        cy = m.get("centroid_y_px")
        cols["cx"].append(round(cx if cx is not None else (x0 + x1) / 2, 1))
        cols["cy"].append(round(cy if cy is not None else (y0 + y1) / 2, 1))
        cols["cls"].append(cls or "unclassified")
        cols["score"].append(round(score, 3))
        cols["border"].append(border)
        cols["manual"].append(manual)
        cols["m"].append([None if m.get(f) is None else round(m[f], 4) for f in fields])
    return {"fields": fields, **cols}


def particles_geometry(run: AnalysisRun, indices: Iterable[int] | None = None) -> dict[str, Any]:
    """`geometry_columns` of the run's particles (or only `indices`), everything but
    acceptance, in label order."""
    qs = run.particles.all()
    if indices is not None:
        qs = qs.filter(index__in=list(indices))
    return geometry_columns(qs.order_by("index").values_list(*GEOMETRY_FIELDS))


def particles_geometry_json(run: AnalysisRun) -> bytes:
    """`particles_geometry` serialised, cached as a derived file: it only changes with the
    calibration and outline edits (measured: 1.7 s to build for 5 000 particles, a few ms to
    read back)."""
    stamp = int(run.created_at.timestamp() * 1e6)
    name = (
        f"derived/runs/{run.pk}-{stamp}/geometry-{run.pixel_size_nm!r}-g{run.geometry_version}.json"
    )
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            return fh.read()
    data = json.dumps(particles_geometry(run), separators=(",", ":")).encode()
    default_storage.save(name, ContentFile(data))
    return data


def particles_accepted(run: AnalysisRun) -> list[bool]:
    """Acceptance in the order of `particles_geometry`."""
    return list(run.particles.order_by("index").values_list("accepted", flat=True))


def runs_of_micrograph(micrograph) -> QuerySet[AnalysisRun]:
    return micrograph.runs.all().order_by("-created_at", "-id")


def runs_awaiting_review(user) -> QuerySet[AnalysisRun]:
    """Runs in review in every lab where `user` is a supervisor or admin."""

    qs = AnalysisRun.objects.filter(review_state=ReviewState.IN_REVIEW).select_related(
        "micrograph__sample__project__lab", "created_by"
    )
    if not user.is_superuser:
        labs = Membership.objects.filter(user=user, role__in=[Role.SUPERVISOR, Role.ADMIN]).values(
            "lab_id"
        )
        qs = qs.filter(micrograph__sample__project__lab_id__in=labs)
    return qs.order_by("created_at", "id")


def chosen_runs(micrographs) -> dict[int, AnalysisRun]:
    """Per micrograph: the latest approved run, else the latest succeeded one."""
    runs = (
        AnalysisRun.objects.filter(micrograph__in=micrographs, status=RunStatus.SUCCEEDED)
        .order_by("micrograph_id", "-created_at", "-id")
        .only(
            "id",
            "micrograph_id",
            "review_state",
            "created_at",
            "pixel_size_nm",
            "revision",
            "particle_count",
        )
    )
    chosen: dict[int, AnalysisRun] = {}
    for run in runs:
        current = chosen.get(run.micrograph_id)
        if current is None or (
            run.review_state == ReviewState.APPROVED
            and current.review_state != ReviewState.APPROVED
        ):
            chosen[run.micrograph_id] = run
    return chosen


def sample_statistics(sample) -> dict[str, Any]:
    """Pooled accepted particles of the chosen run of each micrograph of `sample`."""
    micrographs = list(sample.micrographs.all().order_by("uploaded_at", "id"))
    chosen = chosen_runs(micrographs)
    ecd_by_run: dict[int, list[float]] = {}
    for run_id, ecd in Particle.objects.filter(
        run_id__in=[r.pk for r in chosen.values()], accepted=True, ecd_nm__isnull=False
    ).values_list("run_id", "ecd_nm"):
        ecd_by_run.setdefault(run_id, []).append(ecd)
    pooled: list[float] = []
    contributions = []
    for m in micrographs:
        run = chosen.get(m.pk)
        values = ecd_by_run.get(run.pk, []) if run else []
        pooled.extend(values)
        contributions.append(
            {
                "micrograph": m,
                "run": run,
                "n": len(values),
                "d50_nm": engine.summarize_sizes(values)["d50"] if values else None,
            }
        )
    total = len(pooled)
    for c in contributions:
        c["share"] = c["n"] / total if total else 0.0
    summary = summarize_values(pooled)
    return {
        "summary": summary,
        "histogram": summary["histogram"],
        "contributions": contributions,
        "n": total,
        "rule": engine.REPRESENTATIVE_MIN_COUNT,
        "meets_rule": total >= engine.REPRESENTATIVE_MIN_COUNT,
        "values": pooled,
    }


def project_comparison(project) -> list[dict[str, Any]]:
    """One row per real sample: its pooled summary and values (for overlaid distributions).
    Synthetic samples (painted by a learned style) are training material, never compared."""
    out = []
    for sample in project.samples.filter(is_synthetic=False).order_by("name", "id"):
        stats = sample_statistics(sample)
        out.append(
            {
                "sample": sample,
                "summary": stats["summary"],
                "values": stats["values"],
                "n": stats["n"],
            }
        )
    return out


def active_runs_filter() -> Q:
    return Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])


def micrograph_grey(micrograph) -> np.ndarray:
    """The micrograph's analysis intensities (``analysis.io``'s grey, float32 in [0, 1]) as
    an (H, W) array, memory-mapped from a derived ``.npy`` when storage is local: the magic
    wand and re-measurement read a small window of it, not the whole image (decoding a
    4096 × 3072 TIFF costs more than the whole edit budget). Regenerable from the original."""
    name = f"derived/grey/{micrograph.sha256[:2]}/{micrograph.sha256}.npy"
    if not default_storage.exists(name):
        with micrograph.original.open("rb") as fh:
            loaded = engine.read_image_bytes(fh.read(), micrograph.original_filename)
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(loaded.grey, dtype=np.float32))
        name = default_storage.save(name, ContentFile(buffer.getvalue()))
    try:
        return np.load(default_storage.path(name), mmap_mode="r")
    except NotImplementedError:  # remote storage: no path, read it all
        with default_storage.open(name, "rb") as fh:
            return np.load(io.BytesIO(fh.read()))


def rows_geometry(rows: Iterable[Particle]) -> dict[str, Any]:
    """`geometry_columns` of Particle objects already in memory (an edit's result), plus
    their acceptance, so the page can patch its arrays without downloading everything."""
    rows = sorted(rows, key=lambda p: p.index)
    columns = geometry_columns(tuple(getattr(p, f) for f in GEOMETRY_FIELDS) for p in rows)
    return {**columns, "accepted": [p.accepted for p in rows]}
