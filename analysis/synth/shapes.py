"""Particle outlines for synthetic micrographs: one function per morphology.

Each function returns a polygon (K, 2) in float pixels centred on (0, 0). Polygons rather than
bitmaps so one renderer rasterises every shape the same way (anti-aliasing, sub-pixel shift),
and a particle's outline is exact by construction.
"""

from __future__ import annotations

import numpy as np

MORPHOLOGIES = ("sphere", "cube", "rod", "wire", "plate", "irregular", "core_shell")


def _rotate(poly: np.ndarray, angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return poly @ np.array([[c, s], [-s, c]])


def ellipse(radius_px: float, aspect: float, angle_rad: float, n: int = 64) -> np.ndarray:
    """Ellipse of mean radius ``radius_px`` and axis ratio ``aspect`` (≥ 1)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    a = radius_px * np.sqrt(aspect)
    b = radius_px / np.sqrt(aspect)
    return _rotate(np.stack([a * np.cos(t), b * np.sin(t)], axis=1), angle_rad)


def rounded_rect(
    half_length_px: float, half_width_px: float, corner_px: float, angle_rad: float
) -> np.ndarray:
    """Rectangle with rounded corners: cubes (small corners) and rods (corner = half width)."""
    corner = min(corner_px, half_width_px, half_length_px)
    cx, cy = half_length_px - corner, half_width_px - corner
    pts = []
    for qx, qy, start in ((cx, cy, 0.0), (-cx, cy, 90.0), (-cx, -cy, 180.0), (cx, -cy, 270.0)):
        t = np.deg2rad(np.linspace(start, start + 90.0, 8))
        pts.append(np.stack([qx + corner * np.cos(t), qy + corner * np.sin(t)], axis=1))
    return _rotate(np.concatenate(pts), angle_rad)


def regular_polygon(radius_px: float, sides: int, angle_rad: float) -> np.ndarray:
    """Plates: triangles and hexagons."""
    t = np.linspace(0, 2 * np.pi, sides, endpoint=False) + angle_rad
    return np.stack([radius_px * np.cos(t), radius_px * np.sin(t)], axis=1)


def irregular(radius_px: float, rng: np.random.Generator, roughness: float = 0.18) -> np.ndarray:
    """Irregular grain: a circle whose radius carries a few random low-order harmonics."""
    n = 72
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 7):
        r += rng.normal(0, roughness / k) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.45, 1.8) * radius_px
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def outline(
    morphology: str, ecd_px: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """Outline of one particle of the given morphology and roughly the given ECD.

    Returns ``(polygon, core_polygon)``; the core is only set for core–shell particles.
    """
    r = ecd_px / 2.0
    angle = rng.uniform(0, np.pi)
    if morphology == "sphere":
        return ellipse(r, rng.uniform(1.0, 1.15), angle), None
    if morphology == "core_shell":
        poly = ellipse(r, rng.uniform(1.0, 1.1), angle)
        return poly, ellipse(r * rng.uniform(0.35, 0.7), 1.0, angle)
    if morphology == "cube":
        # Equal-area square: side = sqrt(pi) r.
        half = 0.886 * r * rng.uniform(0.95, 1.05)
        return rounded_rect(half, half * rng.uniform(0.9, 1.0), half * 0.15, angle), None
    if morphology in ("rod", "wire"):
        aspect = rng.uniform(2.0, 5.0) if morphology == "rod" else rng.uniform(6.0, 14.0)
        # Keep the area of a circle of radius r: 4 hl hw = pi r^2, hl = aspect hw.
        hw = r * np.sqrt(np.pi / (4 * aspect))
        return rounded_rect(hw * aspect, hw, hw * rng.uniform(0.3, 1.0), angle), None
    if morphology == "plate":
        sides = int(rng.choice([3, 6, 6]))
        return regular_polygon(r * (1.35 if sides == 3 else 1.1), sides, angle), None
    if morphology == "irregular":
        return irregular(r, rng), None
    raise ValueError(f"unknown morphology {morphology!r}; expected one of {MORPHOLOGIES}")
