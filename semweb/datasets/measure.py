"""Measurements of an imported polygon (annotations made elsewhere carry only outlines).

Pure functions on ``[[x, y], ...]`` in pixels of the stored image.
"""

from __future__ import annotations

import math


def polygon_area_px(polygon: list[list[float]]) -> float:
    """Shoelace area in px²."""
    n = len(polygon)
    if n < 3:
        return 0.0
    twice = 0.0
    for i in range(n):
        x0, y0 = polygon[i]
        x1, y1 = polygon[(i + 1) % n]
        twice += x0 * y1 - x1 * y0
    return abs(twice) / 2.0


def polygon_perimeter_px(polygon: list[list[float]]) -> float:
    n = len(polygon)
    return sum(math.dist(polygon[i], polygon[(i + 1) % n]) for i in range(n)) if n > 1 else 0.0


def polygon_measurements(polygon: list[list[float]], pixel_size_nm: float | None) -> dict:
    """Area, perimeter, equivalent circle diameter and bbox size; `_nm` twins when calibrated."""
    area = polygon_area_px(polygon)
    perimeter = polygon_perimeter_px(polygon)
    xs = [p[0] for p in polygon] or [0.0]
    ys = [p[1] for p in polygon] or [0.0]
    out = {
        "area_px2": area,
        "perimeter_px": perimeter,
        "ecd_px": 2.0 * math.sqrt(area / math.pi),
        "bbox_width_px": max(xs) - min(xs),
        "bbox_height_px": max(ys) - min(ys),
        "circularity": (4 * math.pi * area / perimeter**2) if perimeter else 0.0,
    }
    if pixel_size_nm:
        for key in ("perimeter_px", "ecd_px", "bbox_width_px", "bbox_height_px"):
            out[key[:-3] + "_nm"] = out[key] * pixel_size_nm
        out["area_nm2"] = area * pixel_size_nm**2
    return out
