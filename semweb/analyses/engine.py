"""The one place the web platform calls the engine (a test keeps every other `semweb` module
from importing `analysis`).

Workers call :func:`analyze_file`, which resolves ``settings.SEMWEB_ENGINE`` (a dotted path to a
callable ``(path, parameters, *, method, sidecar_text, progress, model_weights) ->
AnalysisResult``; ``model_weights`` is the local weights file of the run's registry entry, or
None for the engine's installed default). The default,
:func:`run_pipeline`, turns the run's stored parameters into ``analysis.pipeline.AnalysisOptions``;
tests point the setting at a synthetic engine so a worker can be killed at a known moment.

Everything else the platform needs from the engine is named here too, so each measurement and
statistic has one home (`analysis/`) and one door: reading and calibrating uploads, measuring
outlines that were imported or edited (`outline_edits`: the engine's hand-edit geometry),
rescaling measurements after a calibration fix, and
summarising sizes. :func:`json_safe` turns engine values into what a JSONField stores.

Lab models (`semweb.mlmodels`) come through here as well: `training` (the engine's
fine-tuning: YOLO-seg export, resumable training, publishing, held-back scoring), the
built-in weights and their version string, the held-back split, and :func:`annotated_image`
(a micrograph plus approved outlines as the arrays training needs).

Learned styles come through here too: :func:`style_learn` trains (or resumes) the engine's
mask-conditioned generator (``analysis.synth.learned``) on those same annotated images, and
:func:`style_paint` paints one procedural mask in a trained style. Both import torch, so
their engine modules are imported when called, not with this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from analysis import ENGINE_VERSION
from analysis import edit as outline_edits
from analysis.calibration import calibrate
from analysis.edit import GeometryError, Mask
from analysis.io import (
    DeclaredGeometry,
    ImageReadError,
    LoadedImage,
    declared_geometry,
    read_image,
    read_image_bytes,
)
from analysis.measure import polygon_area_px, rescale_to_nm
from analysis.pipeline import AnalysisOptions, analyze, measure_outlines
from analysis.result import Region
from analysis.segment.model import DEFAULT_WEIGHTS as BUILTIN_WEIGHTS
from analysis.segment.model import read_sidecar as read_weights_sidecar
from analysis.segment.model import weights_version
from analysis.stats import (
    REPRESENTATIVE_MIN_COUNT,
    display_fields,
    equal_width_histogram,
    summarize,
)
from analysis.synth import generate as synthetic_micrograph
from analysis.train import finetune as training
from analysis.train.polygons import mask_to_polygon
from analysis.train.split import split_ids
from semweb.core.params import ParameterError, parse_bool, parse_float, parse_pixel_size_nm

__all__ = [
    "BUILTIN_WEIGHTS",
    "REPRESENTATIVE_MIN_COUNT",
    "DeclaredGeometry",
    "GeometryError",
    "ImageReadError",
    "LoadedImage",
    "Mask",
    "Region",
    "analyze_file",
    "calibrate",
    "declared_geometry",
    "display_fields",
    "equal_width_histogram",
    "engine_version",
    "annotated_image",
    "json_safe",
    "mask_to_polygon",
    "measure_outlines",
    "outline_edits",
    "polygon_area_px",
    "read_weights_sidecar",
    "read_image_bytes",
    "rescale_to_nm",
    "split_ids",
    "style_learn",
    "style_paint",
    "summarize_particles",
    "summarize_sizes",
    "synthetic_micrograph",
    "training",
    "weights_version",
]

DEFAULT_ENGINE = "semweb.analyses.engine.run_pipeline"

ProgressCallback = Callable[[str, float], None]

# Parameters a run may carry, with their defaults (the "Analyse" form shows these).
DEFAULT_PARAMETERS: dict[str, Any] = {
    "pixel_size_nm": None,  # override; None = read from metadata / scale bar
    "min_size_nm": None,
    "exclude_edge": True,
    "particle_size_px": None,  # typical particle diameter; None = estimated per image
    "particle_size_nm": None,  # the same in nm (needs a pixel size)
}


# A minimum size beyond 1 mm would discard every particle of any micrograph.
MIN_SIZE_MAX_NM = 1e6
# A typical particle diameter: from under a pixel's worth of detail (0.5 px) to a particle
# filling a 100 000-px frame; in nm the same 1 mm ceiling as the minimum size.
PARTICLE_SIZE_RANGE_PX = (0.5, 1e5)


def normalise_parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Known keys only, strictly typed (`semweb.core.params`); unknown keys are refused so typos
    do not pass silently. Raises `ParameterError` (a ``ValidationError``) naming the key."""
    if parameters is not None and not isinstance(parameters, dict):
        raise ParameterError("parameters", "must be an object of named values")
    parameters = dict(parameters or {})
    unknown = set(parameters) - set(DEFAULT_PARAMETERS)
    if unknown:
        names = ", ".join(sorted(str(k)[:40] for k in unknown)[:10])
        raise ParameterError("parameters", f"unknown analysis parameters: {names}")
    out = dict(DEFAULT_PARAMETERS)
    out["pixel_size_nm"] = parse_pixel_size_nm(parameters.get("pixel_size_nm"))
    out["min_size_nm"] = parse_float(
        parameters.get("min_size_nm"),
        name="min_size_nm",
        positive=True,
        max_value=MIN_SIZE_MAX_NM,
        required=False,
    )
    out["particle_size_px"] = parse_float(
        parameters.get("particle_size_px"),
        name="particle_size_px",
        positive=True,
        min_value=PARTICLE_SIZE_RANGE_PX[0],
        max_value=PARTICLE_SIZE_RANGE_PX[1],
        required=False,
    )
    out["particle_size_nm"] = parse_float(
        parameters.get("particle_size_nm"),
        name="particle_size_nm",
        positive=True,
        max_value=MIN_SIZE_MAX_NM,
        required=False,
    )
    if out["particle_size_px"] is not None and out["particle_size_nm"] is not None:
        raise ParameterError("particle_size_nm", "give the particle size in px or in nm, not both")
    out["exclude_edge"] = parse_bool(
        parameters.get("exclude_edge"),
        name="exclude_edge",
        default=DEFAULT_PARAMETERS["exclude_edge"],
    )
    return out


def run_pipeline(
    path: str,
    parameters: dict[str, Any],
    *,
    method: str,
    sidecar_text: str | None = None,
    progress: ProgressCallback | None = None,
    model_weights: str | None = None,
):
    """The real engine: ``analysis.pipeline.analyze`` with the run's options."""
    options = AnalysisOptions(
        method=method,
        pixel_size_nm=parameters.get("pixel_size_nm"),
        min_size_nm=parameters.get("min_size_nm"),
        exclude_edge=parameters.get("exclude_edge", True),
        particle_size_px=parameters.get("particle_size_px"),
        particle_size_nm=parameters.get("particle_size_nm"),
        model_weights=model_weights,
    )
    return analyze(path, options, sidecar_text=sidecar_text, progress=progress)


def analyze_file(
    path: str,
    parameters: dict[str, Any],
    *,
    method: str,
    sidecar_text: str | None = None,
    progress: ProgressCallback | None = None,
    model_weights: str | None = None,
):
    engine = import_string(getattr(settings, "SEMWEB_ENGINE", None) or DEFAULT_ENGINE)
    return engine(
        path,
        parameters,
        method=method,
        sidecar_text=sidecar_text,
        progress=progress,
        model_weights=model_weights,
    )


def engine_version() -> str:
    return ENGINE_VERSION


def summarize_particles(particles: list[Any]) -> dict[str, Any]:
    """The summary an analysis stores for its particles (``analysis.stats.summarize``: ECD in
    nm when every particle is calibrated, else in px), JSON-safe."""
    return json_safe(summarize(particles))


def summarize_sizes(values_nm: list[float], classes: list[str] | None = None) -> dict[str, Any]:
    """The engine's statistics (``analysis.stats.summarize``) of sizes in nm, JSON-safe: the
    one summary every run, sample, project and export stores or shows."""
    return json_safe(summarize(list(values_nm), classes, unit="nm"))


def json_safe(value: Any, depth: int = 0) -> Any:
    """Engine values (summaries, calibration, file metadata) as PostgreSQL's jsonb accepts them:
    numpy scalars and arrays become Python numbers and lists, tuples lists, keys strings;
    NaN/infinite floats become None and NUL characters are dropped (jsonb refuses both);
    anything else, or nesting deeper than 12, becomes its string."""
    if depth > 12:
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic | np.ndarray):
        return json_safe(value.tolist(), depth + 1)
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value]
    return json_safe(str(value), depth + 1)


def annotated_image(path: str, polygons: list, name: str) -> training.AnnotatedImage:
    """A stored micrograph (grey, uint8) and its accepted outlines (pixels) as the instance map
    the engine's training writes out."""
    grey = training.to_uint8(read_image(path).grey)
    return training.AnnotatedImage(name, grey, training.labels_from_polygons(polygons, grey.shape))


# --- learned styles (analysis.synth.learned) ---------------------------------------------------

STYLE_SIDE_FILES = ("samples.png", "losses.csv", "stability.json")


def style_side_file(checkpoint: Path, kind: str) -> Path:
    """Where the trainer writes ``kind`` (one of `STYLE_SIDE_FILES`) beside its checkpoint."""
    return checkpoint.with_name(f"{checkpoint.name}.{kind}")


@dataclass
class StyleLearnResult:
    steps: int  # all sessions together
    seconds: float  # training time of all sessions
    session_steps: int
    crop_px: int
    stability: dict[str, Any]


def style_crop_px(images: list[training.AnnotatedImage], wanted_px: int) -> int:
    """The training crop: ``wanted_px``, shrunk to the smallest image side, a multiple of 8
    (the generator halves its input three times)."""
    side = min([wanted_px, *(min(im.grey.shape) for im in images)])
    return max(8, side - side % 8)


def style_learn(
    images: list[training.AnnotatedImage],
    checkpoint: Path,
    *,
    seconds: float,
    crop_px: int,
    max_steps: int | None,
    checkpoint_every_s: float,
    on_step: Callable[[int, dict[str, float], bool], None],
    should_stop: Callable[[], bool],
) -> StyleLearnResult:
    """Train the mask-conditioned generator on (micrograph, instance map) pairs for at most
    ``seconds`` (this session), resuming ``checkpoint`` when it exists (its crop then wins)."""
    # torch: only workers that learn a style load it.
    from analysis.synth.learned import train as learned  # noqa: PLC0415

    pairs = [learned.Pair(im.name, im.grey, im.labels.astype(np.int32)) for im in images]
    crop = style_crop_px(images, crop_px)
    config = learned.TrainConfig(crop_px=crop, checkpoint_every_s=checkpoint_every_s)
    result = learned.train(
        pairs,
        checkpoint,
        hours=seconds / 3600.0,
        config=config,
        max_steps=max_steps,
        on_step=on_step,
        should_stop=should_stop,
    )
    return StyleLearnResult(
        steps=result.steps,
        seconds=round(result.seconds, 1),
        session_steps=result.session_steps,
        crop_px=crop,
        stability=json_safe(result.stability),
    )


def style_load(checkpoint: Path) -> Any:
    """A trained style (``analysis.synth.learned.sample.LearnedModel``) ready to paint."""
    from analysis.synth.learned.sample import LearnedModel  # noqa: PLC0415  (torch)

    return LearnedModel.load(checkpoint)


def style_paint(style: Any, index: int, *, size_px: int, seed: int = 0) -> tuple[bytes, list]:
    """Procedural mask number ``index`` (sized like the style's training data), painted in
    ``style``: (PNG bytes of the grey micrograph, one pixel polygon per particle). The same
    index and seed always give the same mask and image, so an interrupted generation resumes
    where it stopped."""
    from analysis.synth.learned.sample import (  # noqa: PLC0415  (torch)
        LEARNED_SEED_BASE,
        procedural_mask,
    )

    s = LEARNED_SEED_BASE + seed * 100_000 + index
    labels = procedural_mask(s, size_px, style.mask_stats)
    image = style.paint(labels, seed=s)
    polygons = []
    for k in np.unique(labels):
        if k == 0:
            continue
        polygon = mask_to_polygon(labels == k)
        if polygon is not None and len(polygon) >= 3:
            polygons.append([[float(x), float(y)] for x, y in polygon])
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("could not encode the painted micrograph")
    return png.tobytes(), polygons
