"""Reads for runs, particles and their statistics (review page, sample and project pages)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from django.db.models import Count, Q, QuerySet

from semweb.analyses.models import AnalysisRun, Particle, ReviewState, RunStatus

# ISO 13322-1 / common practice: at least 250 particles for a trustworthy number distribution.
RULE_OF_250 = 250
_MAX_BINS = 60


def summarize_values(values_nm: list[float] | np.ndarray) -> dict[str, Any]:
    """n, mean ± sd, D10/D50/D90, 95 % CI of the mean, log-normal fit and representativeness
    of a set of equivalent circular diameters (nm). Empty input gives ``{"n": 0}``."""
    try:  # the engine's statistics, when present, are the single source of truth
        from analysis.stats import summarize as engine_summarize
    except ImportError:
        engine_summarize = None
    x = np.asarray([v for v in values_nm if v is not None and math.isfinite(v)], dtype=float)
    out = dict(engine_summarize(x)) if engine_summarize is not None else _summarize_numpy(x)
    out.setdefault("n", int(x.size))
    out["meets_250_rule"] = int(out["n"]) >= RULE_OF_250
    return _plain(out)


def _summarize_numpy(x: np.ndarray) -> dict[str, Any]:
    n = int(x.size)
    if n == 0:
        return {"n": 0}
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if n > 1 else 0.0
    half = 1.96 * sd / math.sqrt(n) if n > 1 else None
    d10, d50, d90 = (float(v) for v in np.percentile(x, [10, 50, 90]))
    pos = x[x > 0]
    lognormal = None
    if pos.size >= 2:
        logs = np.log(pos)
        lognormal = {"mu": float(logs.mean()), "sigma": float(logs.std(ddof=1))}
        lognormal["median_nm"] = math.exp(lognormal["mu"])
        lognormal["gsd"] = math.exp(lognormal["sigma"])
    return {
        "n": n,
        "mean_nm": mean,
        "sd_nm": sd,
        "cv": sd / mean if mean else None,
        "d10_nm": d10,
        "d50_nm": d50,
        "d90_nm": d90,
        "span": (d90 - d10) / d50 if d50 else None,
        "min_nm": float(x.min()),
        "max_nm": float(x.max()),
        "ci95_mean_nm": [mean - half, mean + half] if half is not None else None,
        "ci95_rel": (half / mean) if (half is not None and mean) else None,
        "lognormal": lognormal,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def histogram(values_nm: list[float], *, bins: int | None = None) -> dict[str, Any]:
    """Bin edges/counts for the ECD histogram plus the log-normal fit scaled to the counts."""
    x = np.asarray([v for v in values_nm if v is not None and v > 0], dtype=float)
    if x.size == 0:
        return {"edges": [], "counts": [], "fit_x": [], "fit_y": []}
    if bins is None:
        bins = int(min(_MAX_BINS, max(8, math.ceil(math.sqrt(x.size)))))
    counts, edges = np.histogram(x, bins=bins)
    out = {"edges": edges.tolist(), "counts": counts.tolist(), "fit_x": [], "fit_y": []}
    if x.size >= 2:
        logs = np.log(x)
        mu, sigma = float(logs.mean()), float(logs.std(ddof=1))
        if sigma > 0:
            fx = np.linspace(edges[0], edges[-1], 200)
            fx = fx[fx > 0]
            pdf = np.exp(-((np.log(fx) - mu) ** 2) / (2 * sigma**2)) / (
                fx * sigma * math.sqrt(2 * math.pi)
            )
            out["fit_x"] = fx.tolist()
            out["fit_y"] = (pdf * x.size * (edges[1] - edges[0])).tolist()
    return out


def run_statistics(run: AnalysisRun) -> dict[str, Any]:
    """Everything the statistics panel of the review page shows, from the accepted particles."""
    rows = list(run.particles.values_list("ecd_nm", "shape_class", "accepted"))
    accepted = [r for r in rows if r[2]]
    ecd = [r[0] for r in accepted if r[0] is not None]
    return {
        "revision": run.revision,
        "n_total": len(rows),
        "n_accepted": len(accepted),
        "n_rejected": len(rows) - len(accepted),
        "calibrated": run.pixel_size_nm is not None,
        "pixel_size_nm": run.pixel_size_nm,
        "summary": summarize_values(ecd),
        "histogram": histogram(ecd),
        "classes": dict(Counter(r[1] or "unclassified" for r in accepted).most_common()),
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


def particles_payload(run: AnalysisRun) -> dict[str, Any]:
    """Columnar particle data for the review page: one array per field, polygons as flat
    coordinate lists, so 5 000 particles are one compact JSON document."""
    rows = run.particles.values_list(
        "index",
        "polygon",
        "measurements",
        "shape_class",
        "score",
        "touches_border",
        "accepted",
        "bbox_x0",
        "bbox_y0",
        "bbox_x1",
        "bbox_y1",
    )
    cols: dict[str, list] = {
        k: [] for k in ("index", "poly", "cx", "cy", "cls", "score", "border", "accepted", "m")
    }
    fields = [f for f in HOVER_FIELDS]
    for index, polygon, m, cls, score, border, accepted, x0, y0, x1, y1 in rows:
        cols["index"].append(index)
        flat: list[float] = []
        for x, y in polygon:
            flat.extend((x, y))
        cols["poly"].append(flat)
        cx = m.get("centroid_x_px")
        cy = m.get("centroid_y_px")
        cols["cx"].append(round(cx if cx is not None else (x0 + x1) / 2, 1))
        cols["cy"].append(round(cy if cy is not None else (y0 + y1) / 2, 1))
        cols["cls"].append(cls or "unclassified")
        cols["score"].append(round(score, 3))
        cols["border"].append(border)
        cols["accepted"].append(accepted)
        cols["m"].append([None if m.get(f) is None else round(m[f], 4) for f in fields])
    return {"fields": fields, "revision": run.revision, **cols}


def runs_of_micrograph(micrograph) -> QuerySet[AnalysisRun]:
    return micrograph.runs.all().order_by("-created_at", "-id")


def runs_awaiting_review(user) -> QuerySet[AnalysisRun]:
    """Runs in review in every lab where `user` is a supervisor or admin."""
    from semweb.labs.models import Membership, Role

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
                "d50_nm": float(np.median(values)) if values else None,
            }
        )
    total = len(pooled)
    for c in contributions:
        c["share"] = c["n"] / total if total else 0.0
    return {
        "summary": summarize_values(pooled),
        "histogram": histogram(pooled),
        "contributions": contributions,
        "n": total,
        "rule": RULE_OF_250,
        "meets_rule": total >= RULE_OF_250,
        "values": pooled,
    }


def project_comparison(project) -> list[dict[str, Any]]:
    """One row per sample: its pooled summary and values (for overlaid distributions)."""
    out = []
    for sample in project.samples.all().order_by("name", "id"):
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


def run_counts_by_status(qs: QuerySet[AnalysisRun]) -> dict[str, int]:
    return dict(qs.values_list("status").annotate(c=Count("id")).values_list("status", "c"))


def active_runs_filter() -> Q:
    return Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
