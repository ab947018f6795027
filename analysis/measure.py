"""Per-particle size and shape measurements from an instance label map, in px and nm.

Coordinates are *index coordinates* of the stored image: pixel (row r, column c) has its
centre at (x=c, y=r), as in scikit-image. Outline polygons run through the centres of the
particle's boundary pixels; to draw them over the image in a viewer whose pixel c spans
[c, c+1), add 0.5.

How each quantity is obtained, and why:

- ``area_px``: pixel count. ``ecd_px``: diameter of the disc with that area.
- ``perimeter_px``: length of the outline polygon (pixel-centre contour simplified with
  ``SIMPLIFY_TOLERANCE_PX``) plus π, i.e. the polygon offset outwards by half a pixel to
  the pixels' outer edges. Chain-code perimeters (``skimage.measure.perimeter``) overestimate
  a disc's perimeter by ~5 % (staircase), which caps circularity at ~0.91 for perfect discs;
  this estimate is within 1.5 % for discs of radius ≥ 20 px and exact for axis-aligned
  rectangles.
- ``feret_max_px`` / ``feret_min_px``: largest and smallest caliper widths of the convex hull
  of the particle's pixel *squares* (so a 10×10 px square has Feret min 10 and Feret max
  14.14). Feret min uses the rotating-calipers theorem: the minimum width is attained with
  one caliper flush to a hull edge, so only edge directions are tried. The same pass gives
  the minimum-area bounding rectangle (``rectangularity`` = area / that rectangle).
- ``major_axis_px`` / ``minor_axis_px`` / ``orientation_deg``: the ellipse with the same
  second moments (each pixel a unit square, hence the +1/12 variance term), as in ImageJ's
  "Fit ellipse". ``orientation_deg`` is the major axis' angle from the +x axis,
  counter-clockwise as seen on screen, in (-90, 90].
- ``circularity`` = 4π·area / perimeter² (1 for a disc, π/4 for a square), clipped to 1.
- ``aspect_ratio`` = major / minor axis of that ellipse (≥ 1, ImageJ's AR). Feret max /
  Feret min would call a square 1.41 (diagonal / side); the ellipse ratio calls it 1.
- ``solidity`` = area / convex-hull area; ``convexity`` = convex-hull perimeter / perimeter.
  Both use the hull of the pixel-centre contour offset by half a pixel, so a convex particle
  scores ~1.
- Moments, areas and mean intensities come from ``np.bincount`` over the whole label map in
  one pass; only the contour work loops over particles (OpenCV, ~50 µs each).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy import ndimage as ndi

from analysis.result import Region

__all__ = [
    "LENGTH_COLUMNS",
    "MEASUREMENT_COLUMNS",
    "SIMPLIFY_TOLERANCE_PX",
    "Measurements",
    "caliper_widths",
    "measure_particles",
    "SUBPIXEL_SHIFT",
    "polygon_area_px",
    "polygon_mask",
    "rasterize_polygons",
    "rescale_to_nm",
]

SUBPIXEL_SHIFT = 4  # outlines are drawn with cv2.fillPoly at 1/16 px (2**4) precision
SIMPLIFY_TOLERANCE_PX = 1.0  # Douglas-Peucker tolerance of outlines: light, and perimeters fit

# Quantities in pixels that get an `_nm` twin (lengths) or `area_nm2` (area).
LENGTH_COLUMNS = (
    "perimeter",
    "ecd",
    "feret_max",
    "feret_min",
    "major_axis",
    "minor_axis",
)

MEASUREMENT_COLUMNS = (
    "area_px",
    "area_nm2",
    *(f"{name}_{unit}" for name in LENGTH_COLUMNS for unit in ("px", "nm")),
    "feret_max_angle_deg",
    "orientation_deg",
    "circularity",
    "aspect_ratio",
    "solidity",
    "convexity",
    "rectangularity",
    "centroid_x_px",
    "centroid_y_px",
    "mean_intensity",
)


@dataclass
class Measurements:
    """Measurements of N particles as columns (the layout of a table / CSV).

    ``columns[name]`` is a float array of length N for every name in
    ``MEASUREMENT_COLUMNS``; the ``_nm``/``_nm2`` ones are ``None`` when uncalibrated.
    ``labels[k]`` is the label value of row k; ``bboxes[k]`` is (x0, y0, x1, y1), half-open.
    """

    labels: np.ndarray
    columns: dict[str, np.ndarray | None]
    polygons: list[list[list[float]]]
    bboxes: list[tuple[int, int, int, int]]
    touches_border: np.ndarray
    pixel_size_nm: float | None

    def __len__(self) -> int:
        return int(self.labels.size)

    def row(self, k: int) -> dict[str, float | None]:
        """Measurements of particle ``k`` as a JSON-ready dict (``None`` for missing nm)."""
        out: dict[str, float | None] = {}
        for name in MEASUREMENT_COLUMNS:
            col = self.columns[name]
            out[name] = None if col is None else float(col[k])
        return out


def measure_particles(
    labels: np.ndarray,
    grey: np.ndarray | None = None,
    pixel_size_nm: float | None = None,
    *,
    region: Region | None = None,
) -> Measurements:
    """Measure every particle of ``labels``.

    Parameters
    ----------
    labels : (H, W) integer ndarray, 0 = background
    grey : (H, W) float ndarray, optional
        Intensities for ``mean_intensity`` (NaN when omitted).
    pixel_size_nm : float, optional
        Pixel size of the stored image; ``None`` leaves all ``_nm`` columns ``None``.
    region : Region, optional
        Analysed rectangle; a particle whose bounding box reaches its edge (or the image's
        edge when ``None``) is flagged ``touches_border``.
    """
    if pixel_size_nm is not None and not (pixel_size_nm > 0 and math.isfinite(pixel_size_nm)):
        raise ValueError(f"pixel_size_nm must be a positive number, got {pixel_size_nm!r}")
    h, w = labels.shape
    lab = labels.astype(np.intp, copy=False)
    n_max = int(lab.max()) if lab.size else 0
    slices = ndi.find_objects(lab) if n_max else []
    ids = np.array([i + 1 for i, s in enumerate(slices) if s is not None], dtype=np.int64)

    moments = _moments(lab, grey, n_max)
    n = ids.size
    cols: dict[str, np.ndarray] = {
        name: np.full(n, np.nan)
        for name in (
            "perimeter_px",
            "feret_max_px",
            "feret_min_px",
            "feret_max_angle_deg",
            "hull_area_px",
            "hull_perimeter_px",
            "min_rect_area_px",
        )
    }
    polygons: list[list[list[float]]] = []
    bboxes: list[tuple[int, int, int, int]] = []
    hulls: list[np.ndarray] = []
    for k, label in enumerate(ids.tolist()):
        sl = slices[label - 1]
        y0, x0 = sl[0].start, sl[1].start
        bboxes.append((x0, y0, sl[1].stop, sl[0].stop))
        crop = (lab[sl] == label).view(np.uint8)
        polygon, perimeter, hull = _outline(crop)
        polygons.append((polygon + (x0, y0)).astype(float).tolist())
        hulls.append(hull)
        cols["perimeter_px"][k] = perimeter
        hull_area = cv2.contourArea(hull)
        hull_perim = cv2.arcLength(hull, True) if len(hull) > 1 else 0.0
        # Hull offset outwards by half a pixel: A + P/2 + pi/4 and P + pi.
        cols["hull_area_px"][k] = hull_area + hull_perim / 2.0 + math.pi / 4.0
        cols["hull_perimeter_px"][k] = hull_perim + math.pi
    calipers = _batch_calipers(hulls)
    for j, name in enumerate(
        ("feret_max_px", "feret_min_px", "feret_max_angle_deg", "min_rect_area_px")
    ):
        cols[name] = calipers[:, j]

    area = moments["area"][ids]
    ecd = np.sqrt(4.0 * area / np.pi)
    vxx = moments["vxx"][ids] + 1.0 / 12.0
    vyy = moments["vyy"][ids] + 1.0 / 12.0
    vxy = moments["vxy"][ids]
    root = np.sqrt(((vxx - vyy) / 2.0) ** 2 + vxy**2)
    lam1 = (vxx + vyy) / 2.0 + root
    lam2 = np.maximum((vxx + vyy) / 2.0 - root, 0.0)
    theta = 0.5 * np.arctan2(2.0 * vxy, vxx - vyy)  # from +x towards +y (down on screen)
    orientation = -np.degrees(theta)
    orientation = np.where(orientation <= -90.0, orientation + 180.0, orientation)

    perim = cols["perimeter_px"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out: dict[str, np.ndarray | None] = {
            "area_px": area.astype(np.float64),
            "perimeter_px": perim,
            "ecd_px": ecd,
            "feret_max_px": cols["feret_max_px"],
            "feret_min_px": cols["feret_min_px"],
            "feret_max_angle_deg": cols["feret_max_angle_deg"],
            "major_axis_px": 4.0 * np.sqrt(lam1),
            "minor_axis_px": 4.0 * np.sqrt(lam2),
            "orientation_deg": orientation + 0.0,  # +0.0 turns -0.0 into 0.0
            "circularity": np.minimum(4.0 * np.pi * area / perim**2, 1.0),
            "aspect_ratio": np.sqrt(lam1 / np.maximum(lam2, 1e-12)),
            "solidity": np.minimum(area / cols["hull_area_px"], 1.0),
            "convexity": np.minimum(cols["hull_perimeter_px"] / perim, 1.0),
            "rectangularity": np.minimum(area / cols["min_rect_area_px"], 1.0),
            "centroid_x_px": moments["mx"][ids],
            "centroid_y_px": moments["my"][ids],
            "mean_intensity": moments["mean_intensity"][ids],
        }
    ps = pixel_size_nm
    out["area_nm2"] = None if ps is None else out["area_px"] * ps * ps  # type: ignore[operator]
    for name in LENGTH_COLUMNS:
        px = out[f"{name}_px"]
        out[f"{name}_nm"] = None if ps is None else px * ps  # type: ignore[operator]

    r = region or Region(0, 0, w, h)
    bb = np.array(bboxes, dtype=np.int64).reshape(-1, 4)
    touches = (bb[:, 0] <= r.x0) | (bb[:, 1] <= r.y0) | (bb[:, 2] >= r.x1) | (bb[:, 3] >= r.y1)
    return Measurements(
        labels=ids,
        columns={name: out[name] for name in MEASUREMENT_COLUMNS},
        polygons=polygons,
        bboxes=bboxes,
        touches_border=touches,
        pixel_size_nm=ps,
    )


def _moments(lab: np.ndarray, grey: np.ndarray | None, n_max: int) -> dict[str, np.ndarray]:
    """Area, centroid, central second moments and mean intensity of every label, vectorised."""
    flat = lab.ravel()
    size = n_max + 1
    h, w = lab.shape
    # Only particle pixels matter: in a typical field most pixels are background.
    idx = np.flatnonzero(flat)
    ids = flat[idx]
    ys, xs = np.divmod(idx, w)
    xs = xs.astype(np.float64)
    ys = ys.astype(np.float64)
    area = np.bincount(ids, minlength=size).astype(np.float64)
    safe = np.maximum(area, 1.0)
    mx = np.bincount(ids, weights=xs, minlength=size) / safe
    my = np.bincount(ids, weights=ys, minlength=size) / safe
    # Central moments from raw ones; coordinates < 1e5 keep float64 exact enough.
    vxx = np.bincount(ids, weights=xs * xs, minlength=size) / safe - mx * mx
    vyy = np.bincount(ids, weights=ys * ys, minlength=size) / safe - my * my
    vxy = np.bincount(ids, weights=xs * ys, minlength=size) / safe - mx * my
    if grey is None:
        mean_int = np.full(size, np.nan)
    else:
        g = np.asarray(grey).ravel()[idx].astype(np.float64)
        mean_int = np.bincount(ids, weights=g, minlength=size) / safe
    return {
        "area": area,
        "mx": mx,
        "my": my,
        "vxx": vxx,
        "vyy": vyy,
        "vxy": vxy,
        "mean_intensity": mean_int,
    }


_CORNERS = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], dtype=np.float32)


def _outline(crop: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Outline polygon (K, 2), perimeter and pixel-centre convex hull of one mask crop."""
    contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if len(contours) == 1:
        points = contours[0]
        largest = points
    else:  # a label in several pieces: hull over all, outline of the largest
        largest = max(contours, key=len)
        points = np.concatenate(contours)
    perimeter = 0.0
    for c in contours:
        # Each outer contour, offset by half a pixel, adds pi to its own length.
        perimeter += cv2.arcLength(cv2.approxPolyDP(c, SIMPLIFY_TOLERANCE_PX, True), True)
        perimeter += math.pi
    polygon = cv2.approxPolyDP(largest, SIMPLIFY_TOLERANCE_PX, True).reshape(-1, 2)
    return polygon, perimeter, cv2.convexHull(points)


def _batch_calipers(hulls: list[np.ndarray], max_cells: int = 4_000_000) -> np.ndarray:
    """:func:`caliper_widths` of many pixel-centre hulls at once, on their pixel squares.

    Hulls are grown by the four corners of each vertex pixel, re-hulled, padded to a common
    vertex count (repeating a vertex changes no extreme) and processed in chunks of similar
    size, so thousands of particles cost a few numpy calls instead of thousands.
    """
    out = np.zeros((len(hulls), 4))
    if not hulls:
        return out
    squares = []
    for h in hulls:
        corners = (h.reshape(-1, 1, 2).astype(np.float32) + _CORNERS[None]).reshape(-1, 2)
        squares.append(cv2.convexHull(corners).reshape(-1, 2).astype(np.float64))
    sizes = np.array([len(q) for q in squares])
    order = np.argsort(sizes, kind="stable")
    start = 0
    while start < order.size:
        k_max = sizes[order[start]]
        stop = start
        while stop < order.size and (stop - start + 1) * sizes[order[stop]] ** 2 <= max(
            max_cells, sizes[order[stop]] ** 2
        ):
            k_max = sizes[order[stop]]
            stop += 1
        chunk = order[start:stop]
        pts = np.empty((chunk.size, k_max, 2))
        for row, idx in enumerate(chunk.tolist()):
            q = squares[idx]
            pts[row, : len(q)] = q
            pts[row, len(q) :] = q[-1]
        out[chunk] = _calipers_padded(pts)
        start = stop
    return out


def _calipers_padded(pts: np.ndarray) -> np.ndarray:
    """Columns feret_max, feret_min, feret_max_angle_deg, min_rect_area for (N, K, 2)."""
    n, k, _ = pts.shape
    diff = pts[:, :, None, :] - pts[:, None, :, :]
    d2 = (diff**2).sum(-1).reshape(n, -1)
    best = np.argmax(d2, axis=1)
    feret_max = np.sqrt(d2[np.arange(n), best])
    i, j = np.divmod(best, k)
    vec = pts[np.arange(n), j] - pts[np.arange(n), i]
    angle = -np.degrees(np.arctan2(vec[:, 1], vec[:, 0]))
    angle = (angle + 90.0) % 180.0 - 90.0
    angle = np.where(angle == -90.0, 90.0, angle) + 0.0
    edges = np.roll(pts, -1, axis=1) - pts
    lengths = np.hypot(edges[..., 0], edges[..., 1])
    valid = lengths > 1e-9
    unit = edges / np.where(valid, lengths, 1.0)[..., None]
    normal = np.stack([-unit[..., 1], unit[..., 0]], axis=-1)
    across = np.einsum("nkc,nec->nke", pts, normal)
    along = np.einsum("nkc,nec->nke", pts, unit)
    raw_widths = across.max(1) - across.min(1)
    spans = along.max(1) - along.min(1)
    feret_min = np.where(valid, raw_widths, np.inf).min(1)
    rect = np.where(valid, raw_widths * spans, np.inf).min(1)
    no_edge = ~valid.any(1)
    feret_min[no_edge] = 0.0
    rect[no_edge] = 0.0
    return np.stack([feret_max, feret_min, angle, rect], axis=1)


def caliper_widths(hull: np.ndarray) -> tuple[float, float, float, float]:
    """Feret max, Feret min, angle of Feret max and min-area bounding rectangle of a convex
    polygon.

    Parameters
    ----------
    hull : (K, 2) float ndarray of convex polygon vertices (x, y) in order, K ≥ 1.

    Returns
    -------
    feret_max, feret_min : float
        Largest distance between two vertices; smallest width between parallel lines
        enclosing the polygon (one of them flush to an edge: rotating calipers).
    feret_max_angle_deg : float
        Direction of the Feret max segment, counter-clockwise on screen from +x, in (-90, 90].
    min_rect_area : float
        Area of the smallest enclosing rectangle (also flush to an edge).
    """
    pts = np.asarray(hull, dtype=np.float64).reshape(1, -1, 2)
    if pts.shape[1] == 0:
        return 0.0, 0.0, 0.0, 0.0
    feret_max, feret_min, angle, rect = _calipers_padded(pts)[0].tolist()
    return feret_max, feret_min, angle, rect


def polygon_area_px(polygon: Sequence[Sequence[float]]) -> float:
    """Shoelace area (px²) of an outline ``[[x, y], ...]`` (e.g. the COCO ``area`` of an
    exported polygon); 0 for fewer than three vertices."""
    pts = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2.0)


def polygon_mask(polygon: np.ndarray, window: Region) -> np.ndarray:
    """Pixels of ``window`` covered by ``polygon`` (its outline's pixels included), as
    ``(window.height, window.width)`` bool: a contour traced through pixel centres
    re-rasterises onto exactly the pixels it came from. The one rule by which imported and
    hand-drawn outlines become pixels."""
    img = np.zeros((window.height, window.width), dtype=np.uint8)
    pts = np.round((polygon - (window.x0, window.y0)) * (1 << SUBPIXEL_SHIFT)).astype(np.int32)
    cv2.fillPoly(img, [pts.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=SUBPIXEL_SHIFT)
    return img.astype(bool)


def rasterize_polygons(
    polygons: Sequence[Sequence[Sequence[float]]], height: int, width: int
) -> np.ndarray:
    """Outlines drawn elsewhere (imported, edited) as a label map for :func:`measure_particles`.

    Returns an (H, W) int32 label map, 0 = background, polygon ``k`` filled as label ``k + 1``
    by :func:`polygon_mask`. Larger outlines are drawn first so one lying over another keeps
    its own pixels; an outline covering no pixel centre leaves its label absent.
    """
    h, w = int(height), int(width)
    labels = np.zeros((h, w), dtype=np.int32)
    arrays = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons]
    for k in sorted(range(len(arrays)), key=lambda k: -polygon_area_px(arrays[k])):
        pts = arrays[k]
        if len(pts) < 3:
            continue
        x0, y0 = max(0, math.floor(pts[:, 0].min())), max(0, math.floor(pts[:, 1].min()))
        x1, y1 = min(w, math.ceil(pts[:, 0].max()) + 1), min(h, math.ceil(pts[:, 1].max()) + 1)
        if x1 > x0 and y1 > y0:
            window = Region(x0, y0, x1, y1)
            labels[y0:y1, x0:x1][polygon_mask(pts, window)] = k + 1
    return labels


def rescale_to_nm(measurements: dict[str, Any], pixel_size_nm: float) -> dict[str, Any]:
    """A particle's measurements at a new pixel size: each ``x_px`` of ``LENGTH_COLUMNS`` gives
    ``x_nm``, ``area_px`` gives ``area_nm2``. Pixel values and shape ratios do not depend on
    the pixel size, so a calibration fix needs no re-segmentation or re-measurement."""
    out = dict(measurements)
    for name in LENGTH_COLUMNS:
        px = measurements.get(f"{name}_px")
        if px is not None:
            out[f"{name}_nm"] = float(px) * pixel_size_nm
    if measurements.get("area_px") is not None:
        out["area_nm2"] = float(measurements["area_px"]) * pixel_size_nm**2
    return out
