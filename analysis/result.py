"""Plain dataclasses that the engine returns: the contract between the engine and its callers.

Workers, the CLI and the web platform only ever see these types (and numpy arrays), never
ultralytics, OpenCV or scikit-image objects. Units are in the field names (`_px`, `_nm`);
a missing pixel size is ``None`` with a reason, never 1.0 pretending to be nm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Region:
    """An axis-aligned rectangle in pixels of the stored image (half-open: x1, y1 excluded)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ScaleBar:
    """A scale bar found in the image: its length in pixels and the label read next to it."""

    length_px: float
    bbox: Region
    label: str | None  # text as read, e.g. "200 nm"
    value: float | None  # 200.0
    unit: str | None  # "nm", "µm", "mm"
    length_nm: float | None  # value converted to nm
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bbox"] = self.bbox.as_dict()
        return d


def _plain(value: Any) -> Any:
    """numpy scalars and arrays inside dicts/lists → Python numbers and lists (JSON-safe)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Calibration:
    """Pixel size of the stored image and where it came from.

    ``source`` is one of ``"manual"``, ``"metadata:<vendor>"``, ``"scale_bar"`` or
    ``"uncalibrated"``. ``pixel_size_nm`` is ``None`` exactly when uncalibrated.
    """

    pixel_size_nm: float | None
    source: str
    confidence: float
    reason: str = ""
    metadata_pixel_size_nm: float | None = None
    scale_bar: ScaleBar | None = None
    data_bar: Region | None = None
    warnings: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only (calibration code may hand numpy scalars in)."""
        return _plain(
            {
                "pixel_size_nm": self.pixel_size_nm,
                "source": self.source,
                "confidence": self.confidence,
                "reason": self.reason,
                "metadata_pixel_size_nm": self.metadata_pixel_size_nm,
                "scale_bar": self.scale_bar.as_dict() if self.scale_bar else None,
                "data_bar": self.data_bar.as_dict() if self.data_bar else None,
                "warnings": list(self.warnings),
                "details": self.details,
            }
        )


@dataclass
class Particle:
    """One measured particle.

    ``polygon_px`` is the outer contour as ``[[x, y], ...]`` in pixels of the stored image;
    ``measurements`` maps names with units (``ecd_nm``, ``area_px`` …) to floats, the ``_nm``
    ones being ``None`` when the image is uncalibrated.
    """

    label: int  # value in the label map
    polygon_px: list[list[float]]
    bbox_px: tuple[int, int, int, int]  # x0, y0, x1, y1
    measurements: dict[str, float | None]
    shape_class: str
    score: float = 1.0  # model confidence; 1.0 for classical segmentation
    touches_border: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AnalysisResult:
    """Everything one analysis of one micrograph produced."""

    width: int
    height: int
    calibration: Calibration
    analysed_region: Region
    labels: np.ndarray  # (H, W) uint16/uint32 instance map, 0 = background
    particles: list[Particle]
    summary: dict[str, Any]
    method: str  # the path that actually ran: "classical", "model", "model+classical"…
    engine_version: str
    model_version: str | None
    timings_ms: dict[str, float]
    options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_json_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the label map, which is written as a TIFF)."""
        return {
            "width": self.width,
            "height": self.height,
            "pixel_size_nm": self.calibration.pixel_size_nm,
            "calibration": self.calibration.as_dict(),
            "analysed_region": self.analysed_region.as_dict(),
            "method": self.method,
            "engine_version": self.engine_version,
            "model_version": self.model_version,
            "options": self.options,
            "particles": [p.as_dict() for p in self.particles],
            "summary": self.summary,
            "timings_ms": self.timings_ms,
            "warnings": self.warnings,
        }
