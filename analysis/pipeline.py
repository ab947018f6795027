"""The one entry point of the engine: micrograph in, :class:`AnalysisResult` out.

``analyze(source, options)`` runs read → calibrate → segment → post-process → measure →
classify → summarise, reports progress per stage and records the time each stage took. The
same input and options always give the same result (no randomness anywhere).

Outlines drawn or imported elsewhere are measured and classified by :func:`measure_outlines`
exactly as :func:`analyze` measures its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from analysis import ENGINE_VERSION
from analysis.calibration import calibrate
from analysis.calibration.marks import burned_in_marks
from analysis.calibration.plausibility import check_scale_against_particles
from analysis.io import LoadedImage, image_from_array, read_image
from analysis.measure import measure_particles, rasterize_polygons
from analysis.morphology import classify
from analysis.result import AnalysisResult, Calibration, Particle, Region
from analysis.segment import auto, scale, tiling
from analysis.segment import postprocess as pp
from analysis.segment.classical import ClassicalSegmentation, segment_classical
from analysis.segment.model import load_default_model, load_model
from analysis.segment.refine import RefineOptions, refine
from analysis.segment.scale import ScaleEstimate
from analysis.stats import summarize

__all__ = [
    "STAGES",
    "AnalysisOptions",
    "ModelUnavailableError",
    "analyze",
    "analysed_region",
    "measure_outlines",
    "particles_from_labels",
]

Method = Literal["auto", "model", "classical"]
ProgressCallback = Callable[[str, float], None]
STAGES = ("reading", "calibrating", "segmenting", "measuring", "summarising")
# A particle with over this fraction of its area under a burned-in mark is dropped; dropping
# on any contact lost real particles next to the bar (EMPS F1, classical path).
_MARK_MAX_OVERLAP = 0.2


class ModelUnavailableError(RuntimeError):
    """``method="model"`` was asked for but no model (code or weights) is installed."""


@dataclass(frozen=True)
class AnalysisOptions:
    """What the caller may choose about one analysis.

    method : "auto" uses the neural model when one is installed, else the classical
        pipeline (with a warning saying why); "model" requires the model; "classical" never
        uses it.
    pixel_size_nm : manual pixel size; wins over metadata and scale bar.
    min_size_nm : particles with a smaller ECD are dropped (only when calibrated).
    min_area_px : particles with fewer pixels are dropped (always). ``None`` (default): the
        floor follows the image's particle scale
        (:func:`analysis.segment.postprocess.adaptive_min_area_px`: 30 % of the typical
        diameter, ≥ 4 px; the fixed 50 px when the scale is unknown or unsure).
    particle_size_px / particle_size_nm : the typical particle diameter, when the user knows
        it; it replaces the estimate (:mod:`analysis.segment.scale`). A size in nm needs a
        pixel size (manual, metadata or scale bar); without one the estimate is used and a
        warning says so.
    exclude_edge : drop particles cut by the image border or the data bar (their true size
        is unknown).
    split_touching : split touching particles (distance-transform watershed).
    polarity : "auto", "bright" (particles brighter than substrate) or "dark".
    use_scale_bar : look for a burned-in scale bar (OCR) to calibrate or cross-check.
    model_weights : weights file of the model to use (a lab's registered model); None = the
        installed default.
    """

    method: Method = "auto"
    pixel_size_nm: float | None = None
    min_size_nm: float | None = None
    min_area_px: int | None = None
    particle_size_px: float | None = None
    particle_size_nm: float | None = None
    exclude_edge: bool = True
    split_touching: bool = True
    polarity: Literal["auto", "bright", "dark"] = "auto"
    use_scale_bar: bool = True
    model_weights: str | None = None

    def __post_init__(self) -> None:
        if self.method not in ("auto", "model", "classical"):
            raise ValueError(f"method must be auto, model or classical, not {self.method!r}")
        if self.polarity not in ("auto", "bright", "dark"):
            raise ValueError(f"polarity must be auto, bright or dark, not {self.polarity!r}")
        for name in ("pixel_size_nm", "min_size_nm", "particle_size_px", "particle_size_nm"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if self.min_area_px is not None and self.min_area_px < 0:
            raise ValueError("min_area_px must be ≥ 0")


def analyze(
    source: str | Path | LoadedImage | np.ndarray,
    options: AnalysisOptions | None = None,
    *,
    sidecar_text: str | None = None,
    progress: ProgressCallback | None = None,
) -> AnalysisResult:
    """Analyse one micrograph.

    Parameters
    ----------
    source : path, LoadedImage or (H, W) / (H, W, C) ndarray
        An ndarray of integers is scaled by its dtype range; floats are taken as [0, 1]
        (:func:`analysis.io.image_from_array`).
    options : AnalysisOptions, optional
    sidecar_text : str, optional
        Instrument sidecar file contents (JEOL/Hitachi ``.txt``) for uploads.
    progress : callable(stage, fraction), optional
        Called with each stage name of :data:`STAGES` as it starts (fraction 0.0) and once
        with ``("done", 1.0)``.

    Raises
    ------
    analysis.io.ImageReadError
        The file is not a readable image.
    ModelUnavailableError
        ``method="model"`` without an installed model.
    """
    opts = options or AnalysisOptions()
    timings: dict[str, float] = {}
    warnings: list[str] = []
    report = progress or (lambda stage, fraction: None)

    with _stage("reading", timings, report):
        image = _load(source)
    with _stage("calibrating", timings, report):
        calibration = calibrate(
            image,
            manual_pixel_size_nm=opts.pixel_size_nm,
            sidecar_text=sidecar_text,
            use_scale_bar=opts.use_scale_bar,
        )
        region = analysed_region(image.width, image.height, calibration.data_bar)
    grey = image.grey
    with _stage("segmenting", timings, report):
        particle_scale = _particle_scale(grey, region, opts, calibration.pixel_size_nm, warnings)
        floor_px = _min_area_px(opts, particle_scale)
        labels, scores, method, model_version, seg_details = _segment(
            grey, region, calibration.data_bar, opts, warnings, particle_scale, floor_px
        )
        labels, scores, excluded = _postprocess(labels, scores, region, calibration, opts, floor_px)
    with _stage("measuring", timings, report):
        particles = particles_from_labels(labels, grey, calibration.pixel_size_nm, region, scores)
        # A bar's scale that makes the particles an implausible size is flagged, not used
        # silently (analysis.calibration.plausibility).
        calibration = check_scale_against_particles(
            calibration, [p.measurements.get("area_px", 0.0) for p in particles]
        )
    with _stage("summarising", timings, report):
        summary = summarize(particles)
    report("done", 1.0)
    timings["total"] = round(sum(timings.values()), 3)
    options_dict = asdict(opts)
    options_dict["segmentation"] = seg_details
    options_dict["excluded_regions"] = excluded
    return AnalysisResult(
        width=image.width,
        height=image.height,
        calibration=calibration,
        analysed_region=region,
        labels=labels,
        particles=particles,
        summary=summary,
        method=method,
        engine_version=ENGINE_VERSION,
        model_version=model_version,
        timings_ms=timings,
        options=options_dict,
        warnings=list(calibration.warnings) + warnings,
    )


def measure_outlines(
    polygons: list[list[list[float]]],
    width: int,
    height: int,
    pixel_size_nm: float | None,
    *,
    region: Region | None = None,
) -> list[Particle | None]:
    """Measure and classify outlines made elsewhere (imported annotations, hand edits).

    Parameters
    ----------
    polygons : list of ``[[x, y], ...]`` in pixels of the stored image (vertices on pixel
        centres, as :mod:`analysis.measure` draws outlines)
    width, height : size of the stored image in px
    pixel_size_nm : pixel size, or None for uncalibrated (``_nm`` measurements None)
    region : the analysed region (for ``touches_border``); the whole image when omitted

    Returns
    -------
    One :class:`Particle` per polygon, in order (``label`` = position + 1), measured by
    :func:`analysis.measure.measure_particles` on the rasterised outlines, exactly as
    :func:`analyze` measures its own; ``None`` where an outline covers no pixel centre.
    """
    labels = rasterize_polygons(polygons, height, width)
    by_label = {
        p.label: p for p in particles_from_labels(labels, None, pixel_size_nm, region, None)
    }
    return [by_label.get(k + 1) for k in range(len(polygons))]


def analysed_region(width: int, height: int, data_bar: Region | None) -> Region:
    """The image minus the data bar: the largest full-width (or full-height) band left.

    A bottom/top banner (the usual case) removes rows; a side banner removes columns. A
    data bar that spans neither the full width nor the full height cannot be cut away with
    a rectangle, so it only removes rows when it sits at the bottom or top edge.
    """
    if data_bar is None:
        return Region(0, 0, width, height)
    b = data_bar
    horizontal = b.width >= b.height
    if horizontal:
        above, below = b.y0, height - b.y1
        return Region(0, 0, width, b.y0) if above >= below else Region(0, b.y1, width, height)
    left, right = b.x0, width - b.x1
    return Region(0, 0, b.x0, height) if left >= right else Region(b.x1, 0, width, height)


# ---------------------------------------------------------------------------------------
# stages


@contextmanager
def _stage(name: str, timings: dict[str, float], report: ProgressCallback) -> Iterator[None]:
    report(name, 0.0)
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round((time.perf_counter() - start) * 1000.0, 3)


def _load(source: str | Path | LoadedImage | np.ndarray) -> LoadedImage:
    if isinstance(source, LoadedImage):
        return source
    if isinstance(source, np.ndarray):
        return image_from_array(source)
    if isinstance(source, str | Path):
        return read_image(source)
    raise TypeError(f"cannot analyse a {type(source).__name__}: give a path, array or image")


def _particle_scale(
    grey: np.ndarray,
    region: Region,
    opts: AnalysisOptions,
    pixel_size_nm: float | None,
    warnings: list[str],
) -> ScaleEstimate:
    """The user's typical particle diameter when given (px, or nm with a pixel size), else
    the estimate of :func:`analysis.segment.scale.estimate_particle_scale`."""
    given = scale.user_scale(
        diameter_px=opts.particle_size_px,
        diameter_nm=opts.particle_size_nm,
        pixel_size_nm=pixel_size_nm,
    )
    if given is not None:
        return given
    if opts.particle_size_nm is not None:
        warnings.append(
            "particle size given in nm but the image is uncalibrated: the size was estimated"
        )
    return scale.estimate_particle_scale(grey, region, polarity=opts.polarity)


def _small_diameter_px(est: ScaleEstimate) -> float | None:
    """The diameter the floors and the split follow: the smaller population when bimodal."""
    if est.bimodal and est.populations_px:
        return float(min(est.populations_px))
    return est.diameter_px


def _scale_found(est: ScaleEstimate) -> bool:
    """Particle-like structure stands above the noise: a size given, or ≥ 3 blobs found.

    One or two surviving blobs is what bare substrate and pure noise produce (1 and 2 on
    the empty and noise-only regimes); the sparsest real frames of the bench give dozens.
    """
    return est.source == "user" or (est.diameter_px is not None and est.n_blobs >= 3)


def _min_area_px(opts: AnalysisOptions, est: ScaleEstimate) -> float:
    if opts.min_area_px is not None:
        return float(opts.min_area_px)
    return pp.adaptive_min_area_px(_small_diameter_px(est), est.confidence)


def _segment(
    grey: np.ndarray,
    region: Region,
    data_bar: Region | None,
    opts: AnalysisOptions,
    warnings: list[str],
    est: ScaleEstimate,
    floor_px: float,
) -> tuple[np.ndarray, dict[int, float] | None, str, str | None, dict[str, Any]]:
    """Labels (full image), per-label scores, method used, model version, details.

    ``model``: the model's instances at the normalised particle scale
    (:func:`analysis.segment.tiling.segment_normalised`), refined (marks dropped, edges
    snapped, holes filled, touching particles separated:
    :func:`analysis.segment.refine.refine`). ``auto``: that and the classical result, chosen
    or merged per image by :func:`analysis.segment.auto.decide` on quality signals; the path
    and the reason are recorded. Without a model, classical with a warning.
    """
    details: dict[str, Any] = {"particle_scale": est.as_dict(), "min_area_px": round(floor_px, 2)}
    if opts.method in ("auto", "model"):
        model, why = _load_model(opts.model_weights)
        if model is not None:
            version = str(model.version)
            labels, scores, inference = _model_labels(model, grey, region, data_bar, est)
            details.update(model=version, inference=inference)
            if opts.method == "model":
                return labels, _score_dict(scores), "model", version, details
            seg = _classical(grey, region, opts, floor_px, _small_diameter_px(est))
            d = auto.decide(
                labels,
                scores,
                seg.labels,
                floor_px=floor_px,
                diameter_px=_small_diameter_px(est),
                confidence=est.confidence,
                scale_found=_scale_found(est),
                grey=grey,
            )
            details.update(auto_choice=d.path, auto_reason=d.reason, auto_signals=d.details)
            if d.path == "classical":
                details.update(seg.describe())
                return d.labels, None, "classical", version, details
            path = {"merged": "model+classical"}.get(d.path, d.path)
            return d.labels, _score_dict(d.scores), path, version, details
        if opts.method == "model":
            raise ModelUnavailableError(f"method 'model' asked for, but {why}")
        warnings.append(f"classical segmentation used: {why}")
    seg = _classical(grey, region, opts, floor_px, _small_diameter_px(est))
    details.update(seg.describe())
    if opts.method == "auto" and not _scale_found(est):
        # The guard of auto.decide without a model: nothing stands above the image's
        # noise, so whatever a threshold cut out of it is noise.
        details.update(auto_choice="empty", auto_reason=auto.EMPTY_REASON)
        return np.zeros_like(seg.labels), None, "classical", None, details
    return seg.labels, None, "classical", None, details


def _classical(
    grey: np.ndarray,
    region: Region,
    opts: AnalysisOptions,
    floor_px: float,
    diameter_px: float | None,
) -> ClassicalSegmentation:
    return segment_classical(
        grey,
        region,
        polarity=opts.polarity,
        split_touching=opts.split_touching,
        min_area_px=max(1.0, floor_px),
        diameter_px=diameter_px,
    )


def _model_labels(
    model: Any,
    grey: np.ndarray,
    region: Region,
    data_bar: Region | None,
    est: ScaleEstimate | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The model's (labels, scores, inference details) at the particles' scale, refined.

    A model exposing ``predict_tiles`` runs scale-normalised (particles reach the network at
    :data:`analysis.segment.scale.TARGET_DIAMETER_PX`); without a scale (empty or
    noise-only field) or such a model, its own ``segment`` (fixed tiles) runs.
    """
    passes = (
        tiling.plan_passes(est.populations_px, scale.TARGET_DIAMETER_PX, bimodal=est.bimodal)
        if est is not None and est.diameter_px is not None
        else []
    )
    if passes and hasattr(model, "predict_tiles"):
        o = model.options
        labels, scores, info = tiling.segment_normalised(
            model,
            grey,
            region,
            passes,
            imgsz=int(o.imgsz or o.tile_px),
            batch=int(o.batch),
            target_px=scale.TARGET_DIAMETER_PX,
        )
        zoom = min(p.zoom for p in passes)
    else:
        labels, scores = model.segment(grey, region)
        info = {"zooms": [], "tiles": None, "network_input_px": None}
        zoom = 1.0
    small = _small_diameter_px(est) if est is not None else None
    opts = RefineOptions(
        snap_band_px=max(3, int(np.ceil(1.5 / zoom))),
        split_diameter_px=small,
    )
    labels, scores = refine(
        labels, np.asarray(scores), grey, region=region, data_bar=data_bar, options=opts
    )
    return labels, np.asarray(scores), info


def _score_dict(scores: np.ndarray) -> dict[int, float]:
    """Model contract: ``scores[k]`` is the confidence of label ``k + 1``."""
    return {k + 1: float(v) for k, v in enumerate(np.asarray(scores).tolist())}


def _load_model(weights: str | None = None) -> tuple[Any | None, str]:
    """The segmentation model (``weights``, else the installed default), or (None, why not).
    The ONE place that touches it."""
    try:
        model = load_model(Path(weights)) if weights else load_default_model()
    except Exception as exc:  # a broken weights file must not take the classical path down
        return None, f"the model could not be loaded ({type(exc).__name__}: {exc})"
    if model is None:
        return None, "no model weights are installed"
    return model, ""


def _postprocess(
    labels: np.ndarray,
    scores: dict[int, float] | None,
    region: Region,
    calibration: Calibration,
    opts: AnalysisOptions,
    floor_px: float,
) -> tuple[np.ndarray, dict[int, float] | None, list[dict[str, Any]]]:
    """Filters shared by the model and classical paths; also returns the excluded marks.

    Each excluded mark carries ``particles_removed``: how many segmented objects it took.
    """
    # Nothing outside the analysed region is a particle (data bar, cropped margins).
    inside = np.zeros(labels.shape, dtype=bool)
    inside[region.y0 : region.y1, region.x0 : region.x1] = True
    labels = np.where(inside, labels, 0)
    # Nor is a burned-in scale bar or its label (both paths: the model can mistake them too).
    h, w = labels.shape
    excluded = burned_in_marks(calibration, w, h)
    for mark in excluded:
        box = Region(mark["x0"], mark["y0"], mark["x1"], mark["y1"])
        labels, mark["particles_removed"] = pp.remove_overlapping(labels, [box], _MARK_MAX_OVERLAP)
    if opts.exclude_edge:
        labels = pp.remove_border_touching(labels, region)
    min_area = float(floor_px)
    ps = calibration.pixel_size_nm
    if opts.min_size_nm is not None and ps is not None:
        # ECD threshold -> area of the disc of that diameter, in px.
        min_area = max(min_area, math.pi / 4.0 * (opts.min_size_nm / ps) ** 2)
    labels = pp.remove_small(labels, min_area)
    old = labels
    labels = pp.relabel_sequential(labels)
    if scores is not None:
        fg = labels > 0
        new_of_old = np.zeros(int(old.max()) + 1, dtype=np.int64)
        new_of_old[old[fg]] = labels[fg]  # relabelling is one-to-one: any pixel will do
        scores = {
            int(new_of_old[prev]): scores.get(int(prev), 1.0)
            for prev in np.flatnonzero(new_of_old).tolist()
        }
    return labels, scores, excluded


def particles_from_labels(
    labels: np.ndarray,
    grey: np.ndarray | None,
    pixel_size_nm: float | None,
    region: Region | None,
    scores: dict[int, float] | None,
) -> list[Particle]:
    """Measure and classify every particle of a label map: the one place that turns masks
    into :class:`Particle` records (the pipeline, re-measurement and manual edits use it)."""
    m = measure_particles(labels, grey, pixel_size_nm, region=region)
    classes = classify(m.columns)  # type: ignore[arg-type]
    touches = m.touches_border.tolist()
    out = []
    for k, label in enumerate(m.labels.tolist()):
        out.append(
            Particle(
                label=int(label),
                polygon_px=m.polygons[k],
                bbox_px=m.bboxes[k],
                measurements=_clean_row(m.row(k)),
                shape_class=classes[k],
                score=1.0 if scores is None else float(scores.get(label, 1.0)),
                touches_border=bool(touches[k]),
            )
        )
    return out


def _clean_row(row: dict[str, float | None]) -> dict[str, float | None]:
    """NaN (e.g. mean intensity without an image) is not JSON: make it None."""
    return {k: (None if v is None or not math.isfinite(v) else v) for k, v in row.items()}
