"""The one place the web platform calls the engine.

Workers call :func:`analyze_file`, which resolves ``settings.SEMWEB_ENGINE`` (a dotted path to a
callable ``(path, parameters, *, sidecar_text, progress) -> AnalysisResult``). The default,
:func:`run_pipeline`, turns the run's stored parameters into ``analysis.pipeline.AnalysisOptions``;
tests point the setting at a synthetic engine so a worker can be killed at a known moment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_ENGINE = "semweb.analyses.engine.run_pipeline"

ProgressCallback = Callable[[str, float], None]

# Parameters a run may carry, with their defaults (the "Analyse" form shows these).
DEFAULT_PARAMETERS: dict[str, Any] = {
    "pixel_size_nm": None,  # override; None = read from metadata / scale bar
    "min_size_nm": None,
    "exclude_edge": True,
}


def normalise_parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Known keys only, typed; unknown keys are refused so typos do not pass silently."""
    parameters = dict(parameters or {})
    unknown = set(parameters) - set(DEFAULT_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown analysis parameters: {', '.join(sorted(unknown))}")
    out = dict(DEFAULT_PARAMETERS)
    for key in ("pixel_size_nm", "min_size_nm"):
        value = parameters.get(key)
        if value in (None, ""):
            continue
        value = float(value)
        if not value > 0:
            raise ValueError(f"{key} must be positive")
        out[key] = value
    if "exclude_edge" in parameters:
        out["exclude_edge"] = bool(parameters["exclude_edge"])
    return out


def run_pipeline(
    path: str,
    parameters: dict[str, Any],
    *,
    method: str,
    sidecar_text: str | None = None,
    progress: ProgressCallback | None = None,
):
    """The real engine: ``analysis.pipeline.analyze`` with the run's options."""
    from analysis.pipeline import AnalysisOptions, analyze

    options = AnalysisOptions(
        method=method,
        pixel_size_nm=parameters.get("pixel_size_nm"),
        min_size_nm=parameters.get("min_size_nm"),
        exclude_edge=parameters.get("exclude_edge", True),
    )
    return analyze(path, options, sidecar_text=sidecar_text, progress=progress)


def analyze_file(
    path: str,
    parameters: dict[str, Any],
    *,
    method: str,
    sidecar_text: str | None = None,
    progress: ProgressCallback | None = None,
):
    engine = import_string(getattr(settings, "SEMWEB_ENGINE", None) or DEFAULT_ENGINE)
    return engine(path, parameters, method=method, sidecar_text=sidecar_text, progress=progress)


def engine_version() -> str:
    from analysis import ENGINE_VERSION

    return ENGINE_VERSION
