"""Manual corrections of a run's outlines: validate a drawn polygon, rasterise it into the
label map, grow a magic-wand outline, split, merge, trim, and re-measure what changed.

Everything here works on the run's instance label map (``(H, W)`` integers, 0 = background,
``1..N`` = particles, the map the pipeline stored) and in its coordinates: a vertex
``(x, y)`` is the centre of pixel ``(row y, column x)``, as in :mod:`analysis.measure`, so a
polygon returned by the engine re-rasterises onto the pixels it came from.

The operations are *pure*: they read the label map and return the new mask of every label
they change (``None`` for a label that disappears), as :class:`Mask` objects that cover only a
small window. :func:`apply_masks` writes such a change into the map, and the caller keeps the
previous masks to undo it. Two rules make every step exactly invertible:

- an edited particle only takes pixels that are background or its own (other particles keep
  theirs; an outline drawn over a neighbour stops at the neighbour's edge);
- a label's pixels are only ever changed through its mask.

Only the window around an edit is touched, so an edit costs the same on a 5 000-particle
4096 × 3072 map as on a small one (see ``benchmarks``).
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from scipy import ndimage as ndi
from shapely.geometry import Polygon
from skimage.segmentation import watershed

from analysis.measure import SUBPIXEL_SHIFT, polygon_mask
from analysis.pipeline import particles_from_labels
from analysis.result import Particle, Region

__all__ = [
    "MAX_VERTICES",
    "MIN_AREA_PX",
    "GeometryError",
    "Mask",
    "add_polygon",
    "apply_masks",
    "clean_polygon",
    "magic_wand",
    "measure_labels",
    "merge",
    "particle_mask",
    "polygon_mask",
    "reshape",
    "split_by_line",
    "split_by_seeds",
    "subtract",
]

MAX_VERTICES = 20_000  # a freehand stroke at screen rate is a few hundred; 20 000 is abuse
# Below 12 px (a 4-px disc) an outline has no measurable shape and is almost always a slip of
# the mouse; the pipeline's own floor (50 px) would refuse small particles people can see.
MIN_AREA_PX = 12
SIMPLIFY_PX = 0.25  # vertices closer than a quarter pixel to the outline carry no information
# A self-crossing is repaired by dropping the smaller loop when it holds at most this share of
# the area (the overshoot at the end of a freehand stroke); otherwise the polygon is refused.
LOOP_REPAIR_MAX_SHARE = 0.1
# Magic wand: window half-size to start with, and the largest it may grow to.
WAND_START_HALF_PX = 96
WAND_MAX_HALF_PX = 768
WAND_SMOOTH_SIGMA_PX = 1.0  # denoise before growing; SEM shot noise otherwise stops the fill
SEED_COMPACTNESS = 0.05  # on the normalised distance; neck of discs r 20 + r 10 off by ≤ 4 px
MERGE_BRIDGE_PX = 2  # gaps of up to ~2 px between particles are bridged when merging
MAX_SEEDS = 64  # pieces of one split; more is a slip (or abuse), not a particle


class GeometryError(ValueError):
    """A polygon, line, seed or edit that cannot be applied; the message is for the user."""


@dataclass(frozen=True)
class Mask:
    """The pixels of one particle: ``bits[r, c]`` is pixel ``(y0 + r, x0 + c)``."""

    x0: int
    y0: int
    bits: np.ndarray  # (h, w) bool

    @property
    def area_px(self) -> int:
        return int(self.bits.sum())

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), half-open, of the window (not tightened)."""
        h, w = self.bits.shape
        return self.x0, self.y0, self.x0 + w, self.y0 + h

    def tight(self) -> Mask:
        """The same pixels in their bounding box."""
        rows = np.flatnonzero(self.bits.any(axis=1))
        cols = np.flatnonzero(self.bits.any(axis=0))
        if rows.size == 0:
            return Mask(self.x0, self.y0, np.zeros((0, 0), bool))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return Mask(self.x0 + int(c0), self.y0 + int(r0), self.bits[r0:r1, c0:c1].copy())

    def to_json(self) -> dict[str, object]:
        """Compact JSON form (packed bits, deflated, base64) for the edit history."""
        t = self.tight()
        h, w = t.bits.shape
        packed = np.packbits(t.bits, axis=None).tobytes()
        data = base64.b64encode(zlib.compress(packed, 6)).decode("ascii")
        return {"x0": t.x0, "y0": t.y0, "w": int(w), "h": int(h), "bits": data}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Mask:
        w, h = int(data["w"]), int(data["h"])  # type: ignore[arg-type]
        packed = np.frombuffer(zlib.decompress(base64.b64decode(str(data["bits"]))), np.uint8)
        bits = np.unpackbits(packed, count=w * h).astype(bool).reshape(h, w)
        return cls(int(data["x0"]), int(data["y0"]), bits)  # type: ignore[arg-type]


# --- polygons ---------------------------------------------------------------------------------


def _as_points(points: object, what: str, min_points: int) -> np.ndarray:
    if not isinstance(points, list | tuple | np.ndarray):
        raise GeometryError(f"{what} must be a list of [x, y] points")
    if len(points) > MAX_VERTICES:
        raise GeometryError(f"{what} has {len(points)} points; at most {MAX_VERTICES} are allowed")
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise GeometryError(f"{what} must be a list of [x, y] number pairs") from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise GeometryError(f"{what} must be a list of [x, y] number pairs")
    if not np.isfinite(arr).all():
        raise GeometryError(f"{what} has coordinates that are not finite numbers (NaN/infinity)")
    if len(arr) < min_points:
        raise GeometryError(f"{what} needs at least {min_points} points, got {len(arr)}")
    return arr


def _check_inside(arr: np.ndarray, region: Region, what: str) -> None:
    """Every vertex within the analysed region (pixel c spans c − 0.5 … c + 0.5)."""
    x_lo, x_hi = region.x0 - 0.5, region.x1 - 0.5
    y_lo, y_hi = region.y0 - 0.5, region.y1 - 0.5
    outside = (arr[:, 0] < x_lo) | (arr[:, 0] > x_hi) | (arr[:, 1] < y_lo) | (arr[:, 1] > y_hi)
    if outside.any():
        x, y = arr[int(np.argmax(outside))]
        raise GeometryError(
            f"{what} point ({x:.1f}, {y:.1f}) lies outside the analysed region "
            f"(x {region.x0}–{region.x1 - 1}, y {region.y0}–{region.y1 - 1})"
        )


def clean_polygon(points: object, *, region: Region) -> np.ndarray:
    """Validate and repair a drawn outline; returns its vertices ``(K, 2)``, K ≥ 3.

    Accepted: a list of ``[x, y]`` pairs, open or closed (a repeated first point is dropped),
    with at most :data:`MAX_VERTICES` finite points, all inside ``region``. Repairs: repeated
    and collinear points are removed (Douglas–Peucker, :data:`SIMPLIFY_PX`), and a crossing
    that cuts off a small loop (at most :data:`LOOP_REPAIR_MAX_SHARE` of the area, e.g. the
    overshoot where a freehand stroke ends) is resolved by dropping that loop. A polygon that
    still crosses itself, or has no area, raises :class:`GeometryError`.
    """
    arr = _as_points(points, "the polygon", 3)
    _check_inside(arr, region, "the polygon's")
    keep = np.ones(len(arr), dtype=bool)
    keep[1:] = np.abs(np.diff(arr, axis=0)).max(axis=1) > 1e-9
    arr = arr[keep]
    if len(arr) > 1 and np.abs(arr[0] - arr[-1]).max() <= 1e-9:
        arr = arr[:-1]
    if len(arr) < 3:
        raise GeometryError("the polygon needs at least 3 distinct points")
    simplified = cv2.approxPolyDP(arr.astype(np.float32).reshape(-1, 1, 2), SIMPLIFY_PX, True)
    if len(simplified) >= 3:
        arr = simplified.reshape(-1, 2).astype(np.float64)
    shape = Polygon(arr)
    if not shape.is_valid:
        shape = _repair(shape)
    if shape.area <= 0.0:
        raise GeometryError("the polygon has no area (all its points lie on a line)")
    out = np.asarray(shape.exterior.coords, dtype=np.float64)[:-1]
    if len(out) < 3:
        raise GeometryError("the polygon needs at least 3 distinct points")
    return out


def _repair(shape: Polygon) -> Polygon:
    """Keep the dominant piece of a self-crossing outline if the rest is a small loop."""
    fixed = shapely.make_valid(shape)
    if fixed.area <= 0:
        raise GeometryError("the polygon has no area (all its points lie on a line)")
    pieces = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, Polygon)]
    pieces = [p for p in pieces if p.area > 0]
    if not pieces:
        raise GeometryError("the polygon crosses itself and has no area left after repair")
    pieces.sort(key=lambda p: p.area, reverse=True)
    main, rest = pieces[0], sum(p.area for p in pieces[1:])
    if rest > LOOP_REPAIR_MAX_SHARE * main.area:
        where = _crossing_point(shape)
        near = f" near ({where[0]:.1f}, {where[1]:.1f})" if where else ""
        raise GeometryError(f"the polygon crosses itself{near}")
    main = Polygon(main.exterior)  # holes (from a loop wrapped inside) are not particles
    if not main.is_valid or main.area <= 0:
        raise GeometryError("the polygon crosses itself")
    return main


def _crossing_point(shape: Polygon) -> tuple[float, float] | None:
    reason = shapely.is_valid_reason(shape)
    if "[" in reason:
        try:
            x, y = reason[reason.index("[") + 1 : reason.index("]")].split()[:2]
            return float(x), float(y)
        except ValueError:
            return None
    return None


def _window_of(arr: np.ndarray, shape_hw: tuple[int, int], pad: int = 2) -> Region:
    h, w = shape_hw
    x0 = max(0, int(math.floor(arr[:, 0].min())) - pad)
    y0 = max(0, int(math.floor(arr[:, 1].min())) - pad)
    x1 = min(w, int(math.ceil(arr[:, 0].max())) + pad + 1)
    y1 = min(h, int(math.ceil(arr[:, 1].max())) + pad + 1)
    return Region(x0, y0, x1, y1)


def _region_window(region: Region, window: Region) -> np.ndarray:
    """True where ``window`` pixels lie inside ``region``."""
    inside = np.zeros((window.height, window.width), dtype=bool)
    y0, y1 = max(region.y0 - window.y0, 0), max(region.y1 - window.y0, 0)
    x0, x1 = max(region.x0 - window.x0, 0), max(region.x1 - window.x0, 0)
    inside[y0:y1, x0:x1] = True
    return inside


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def _require_size(mask: np.ndarray, what: str) -> None:
    area = int(mask.sum())
    if area < MIN_AREA_PX:
        raise GeometryError(f"{what} covers {area} px; a particle needs at least {MIN_AREA_PX} px")


# --- masks in the label map -------------------------------------------------------------------


def particle_mask(
    labels: np.ndarray, label: int, bbox: tuple[int, int, int, int] | None = None
) -> Mask:
    """The pixels of ``label``; ``bbox`` (x0, y0, x1, y1) is a hint that avoids scanning the
    whole map (the stored bbox of the particle). Raises when the label has no pixels."""
    h, w = labels.shape
    if bbox is not None:
        x0, y0 = max(0, int(bbox[0]) - 2), max(0, int(bbox[1]) - 2)
        x1, y1 = min(w, int(bbox[2]) + 3), min(h, int(bbox[3]) + 3)
        if x1 > x0 and y1 > y0:
            bits = labels[y0:y1, x0:x1] == label
            edge = bits[0].any() or bits[-1].any() or bits[:, 0].any() or bits[:, -1].any()
            # Trust the window only when the label does not reach its edge.
            if bits.any() and not edge:
                return Mask(x0, y0, bits).tight()
    rows, cols = np.nonzero(labels == label)
    if rows.size == 0:
        raise GeometryError(f"particle {label} has no pixels in the label map")
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    return Mask(int(x0), int(y0), labels[y0:y1, x0:x1] == label)


def apply_masks(
    labels: np.ndarray, remove: Mapping[int, Mask | None], add: Mapping[int, Mask | None]
) -> None:
    """Write a change into ``labels`` in place: clear the pixels of every ``remove`` mask
    (only where they still hold that label), then paint every ``add`` mask with its label."""
    for label, mask in remove.items():
        if mask is None:
            continue
        x0, y0, x1, y1 = mask.bbox
        win = labels[y0:y1, x0:x1]
        win[mask.bits & (win == label)] = 0
    for label, mask in add.items():
        if mask is None:
            continue
        x0, y0, x1, y1 = mask.bbox
        labels[y0:y1, x0:x1][mask.bits] = label


def _union_window(masks: Iterable[Mask], shape_hw: tuple[int, int], pad: int) -> Region:
    boxes = np.array([m.bbox for m in masks])
    h, w = shape_hw
    return Region(
        max(0, int(boxes[:, 0].min()) - pad),
        max(0, int(boxes[:, 1].min()) - pad),
        min(w, int(boxes[:, 2].max()) + pad),
        min(h, int(boxes[:, 3].max()) + pad),
    )


def _place(mask: Mask, window: Region) -> np.ndarray:
    """``mask`` painted into a bool array covering ``window`` (which must contain it)."""
    out = np.zeros((window.height, window.width), dtype=bool)
    x0, y0, x1, y1 = mask.bbox
    out[y0 - window.y0 : y1 - window.y0, x0 - window.x0 : x1 - window.x0] = mask.bits
    return out


# --- the operations ---------------------------------------------------------------------------


def add_polygon(
    labels: np.ndarray, polygon: object, *, region: Region, label: int
) -> dict[int, Mask | None]:
    """A new particle ``label`` from a drawn outline: the outline's pixels that are
    background and inside ``region`` (its largest connected piece)."""
    return _fill_outline(
        labels, polygon, region=region, label=label, own_pixels=False, what="the new particle"
    )


def reshape(
    labels: np.ndarray,
    polygon: object,
    *,
    region: Region,
    label: int,
    bbox: tuple[int, int, int, int] | None = None,
) -> dict[int, Mask | None]:
    """Particle ``label`` redrawn: its pixels become the outline's pixels that are
    background or its own (neighbours keep theirs)."""
    particle_mask(labels, label, bbox)  # must exist
    return _fill_outline(
        labels, polygon, region=region, label=label, own_pixels=True, what="the reshaped particle"
    )


def _fill_outline(
    labels: np.ndarray, polygon: object, *, region: Region, label: int, own_pixels: bool, what: str
) -> dict[int, Mask | None]:
    """Particle ``label`` as the outline's pixels inside ``region`` that are background (or,
    with ``own_pixels``, already its own), largest connected piece: an edit never takes a
    neighbour's pixels, so every step can be undone exactly."""
    poly = clean_polygon(polygon, region=region)
    window = _window_of(poly, labels.shape)
    win = labels[window.y0 : window.y1, window.x0 : window.x1]
    free = (win == 0) | (win == label) if own_pixels else win == 0
    mask = polygon_mask(poly, window) & free & _region_window(region, window)
    if not mask.any():
        other = "other" if own_pixels else "existing"
        raise GeometryError(f"the outline covers {other} particles only")
    mask = _largest_component(mask)
    _require_size(mask, what)
    return {label: Mask(window.x0, window.y0, mask).tight()}


def subtract(
    labels: np.ndarray,
    polygon: object,
    *,
    region: Region,
    label: int,
    bbox: tuple[int, int, int, int] | None = None,
) -> dict[int, Mask | None]:
    """Particle ``label`` trimmed: the drawn region removed; what is left is its largest
    connected piece (crumbs cut off by the eraser go with it)."""
    current = particle_mask(labels, label, bbox)
    poly = _as_points(polygon, "the eraser outline", 3)
    if len(poly) > 1 and np.abs(poly[0] - poly[-1]).max() <= 1e-9:
        poly = poly[:-1]
    if len(poly) < 3 or Polygon(poly).area <= 0:
        raise GeometryError("the eraser outline has no area")
    window = Region(*current.bbox)
    cut = polygon_mask(poly, window)
    left = current.bits & ~cut
    if not (cut & current.bits).any():
        raise GeometryError(f"the eraser outline does not overlap particle {label}")
    if not left.any():
        raise GeometryError(f"nothing of particle {label} would be left; delete it instead")
    left = _largest_component(left)
    _require_size(left, "what is left of the particle")
    return {label: Mask(window.x0, window.y0, left).tight()}


def split_by_line(
    labels: np.ndarray,
    line: object,
    *,
    label: int,
    new_labels: Sequence[int],
    bbox: tuple[int, int, int, int] | None = None,
) -> dict[int, Mask | None]:
    """Particle ``label`` cut along a drawn (poly)line into two or more pieces.

    The line's first and last segments are extended across the particle, so a line drawn
    from just inside one edge to just inside the other still cuts. The largest piece keeps
    ``label``; the others take ``new_labels`` in order of size. Pixels under the cut go to
    the nearest piece; pieces under :data:`MIN_AREA_PX` join their neighbours.
    """
    current = particle_mask(labels, label, bbox)
    pts = _as_points(line, "the cut line", 2)
    window = _union_window([current], labels.shape, 1)
    mask = _place(current, window)
    diag = math.hypot(window.width, window.height)
    pts = _extend_ends(pts, diag)
    cut = np.zeros(mask.shape, dtype=np.uint8)
    local = np.round((pts - (window.x0, window.y0)) * (1 << SUBPIXEL_SHIFT)).astype(np.int32)
    cv2.polylines(cut, [local.reshape(-1, 1, 2)], False, 1, 2, cv2.LINE_8, SUBPIXEL_SHIFT)
    pieces, n = ndi.label(mask & ~cut.astype(bool))  # 4-connected: a 1-px line separates
    pieces = _drop_small_pieces(pieces, n)
    if pieces.max() < 2:
        raise GeometryError(
            f"the line does not cut particle {label} into pieces of at least {MIN_AREA_PX} px"
        )
    pieces = _fill_nearest(pieces, mask)
    return _pieces_to_masks(pieces, window, label, new_labels)


def _extend_ends(pts: np.ndarray, by: float) -> np.ndarray:
    first, last = pts[0] - pts[1], pts[-1] - pts[-2]
    nf, nl = np.hypot(*first), np.hypot(*last)
    out = pts.copy()
    if nf > 0:
        out[0] = pts[0] + first / nf * by
    if nl > 0:
        out[-1] = pts[-1] + last / nl * by
    return out


def split_by_seeds(
    labels: np.ndarray,
    seeds: object,
    *,
    label: int,
    new_labels: Sequence[int],
    bbox: tuple[int, int, int, int] | None = None,
) -> dict[int, Mask | None]:
    """Particle ``label`` split by marker watershed on its distance transform, one piece per
    seed (≥ 2 seeds, each inside the particle, on distinct pixels). When a seed would be left
    with a crumb (it sits off its particle's core), a compact watershed
    (:data:`SEED_COMPACTNESS`) splits by the seeds' positions instead."""
    current = particle_mask(labels, label, bbox)
    pts = _as_points(seeds, "the seeds", 2)
    if len(pts) > MAX_SEEDS:
        raise GeometryError(f"at most {MAX_SEEDS} seeds, got {len(pts)}")
    window = _union_window([current], labels.shape, 1)
    mask = _place(current, window)
    markers = np.zeros(mask.shape, dtype=np.int32)
    for k, (x, y) in enumerate(pts, start=1):
        c, r = int(round(x)) - window.x0, int(round(y)) - window.y0
        if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and mask[r, c]):
            raise GeometryError(f"seed ({x:.1f}, {y:.1f}) is not inside particle {label}")
        if markers[r, c]:
            raise GeometryError(f"two seeds fall on the same pixel ({x:.0f}, {y:.0f})")
        markers[r, c] = k
    distance = ndi.distance_transform_edt(mask)
    landscape = -distance / max(float(distance.max()), 1.0)
    # Plain marker watershed follows the necks between touching particles; but a seed away
    # from its particle's core can lose the core (and everything downhill of it) to another
    # seed. Then a compact watershed, which also weighs the distance to each seed, decides.
    for compactness in (0.0, SEED_COMPACTNESS):
        pieces = watershed(landscape, markers, mask=mask, compactness=compactness)
        pieces = _fill_nearest(pieces, mask)
        sizes = np.bincount(pieces.ravel(), minlength=len(pts) + 1)[1:]
        if sizes.min() >= MIN_AREA_PX:
            break
    if sizes.min() < MIN_AREA_PX:
        k = int(np.argmin(sizes))
        raise GeometryError(
            f"the piece around seed ({pts[k][0]:.0f}, {pts[k][1]:.0f}) would have "
            f"{int(sizes[k])} px; a particle needs at least {MIN_AREA_PX} px"
        )
    return _pieces_to_masks(pieces, window, label, new_labels)


def _drop_small_pieces(pieces: np.ndarray, n: int) -> np.ndarray:
    sizes = np.bincount(pieces.ravel(), minlength=n + 1)
    sizes[0] = 0
    keep = np.flatnonzero(sizes >= MIN_AREA_PX)
    relabel = np.zeros(n + 1, dtype=np.int32)
    relabel[keep] = np.arange(1, keep.size + 1)
    return relabel[pieces]


def _fill_nearest(pieces: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Give every mask pixel without a piece the piece of its nearest labelled pixel."""
    if not (mask & (pieces == 0)).any():
        return pieces
    _, (rows, cols) = ndi.distance_transform_edt(pieces == 0, return_indices=True)
    return np.where(mask, pieces[rows, cols], 0)


def _pieces_to_masks(
    pieces: np.ndarray, window: Region, label: int, new_labels: Sequence[int]
) -> dict[int, Mask | None]:
    n = int(pieces.max())
    if len(new_labels) < n - 1:
        raise GeometryError(f"the cut makes {n} pieces; split into at most {len(new_labels) + 1}")
    sizes = np.bincount(pieces.ravel(), minlength=n + 1)[1:]
    order = np.argsort(-sizes, kind="stable") + 1  # largest first
    out: dict[int, Mask | None] = {}
    for target, piece in zip([label, *new_labels], order.tolist(), strict=False):
        out[target] = Mask(window.x0, window.y0, pieces == piece).tight()
    return out


def merge(
    labels: np.ndarray,
    which: Sequence[int],
    *,
    bboxes: Mapping[int, tuple[int, int, int, int]] | None = None,
) -> dict[int, Mask | None]:
    """Particles ``which`` (≥ 2) fused into the lowest label. Touching particles merge as
    they are; when they are apart, background gaps of up to :data:`MERGE_BRIDGE_PX` are
    filled. Refused when the result is not one connected piece (the particles do not touch)."""
    which = sorted({int(v) for v in which})
    if len(which) < 2:
        raise GeometryError("select at least two particles to merge")
    masks = [particle_mask(labels, v, (bboxes or {}).get(v)) for v in which]
    window = _union_window(masks, labels.shape, MERGE_BRIDGE_PX + 1)
    union = np.zeros((window.height, window.width), dtype=bool)
    for m in masks:
        union |= _place(m, window)
    merged = union
    _, n = ndi.label(union, structure=np.ones((3, 3)))
    if n != 1:  # touching particles merge exactly; a thin gap is bridged with background
        win = labels[window.y0 : window.y1, window.x0 : window.x1]
        size = 2 * MERGE_BRIDGE_PX + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        closed = cv2.morphologyEx(union.view(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)
        merged = union | (closed & (win == 0))
        _, n = ndi.label(merged, structure=np.ones((3, 3)))
    if n != 1:
        raise GeometryError(
            "particles " + ", ".join(map(str, which)) + " do not touch; only touching "
            "particles can be merged"
        )
    out: dict[int, Mask | None] = {which[0]: Mask(window.x0, window.y0, merged).tight()}
    out.update({v: None for v in which[1:]})
    return out


def magic_wand(
    grey: np.ndarray,
    x: float,
    y: float,
    tolerance: float,
    *,
    region: Region,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Outline ``(K, 2)`` of the region grown from the click at ``(x, y)``: the connected
    pixels whose (lightly smoothed) intensity is within ``tolerance`` × the local contrast
    of the intensity at the click.

    The local contrast is the 2nd–98th percentile range of a window around the click, so the
    same tolerance works on dim and bright images. The window starts at
    ±:data:`WAND_START_HALF_PX` and doubles while the grown region reaches its edge, up to
    ±:data:`WAND_MAX_HALF_PX`, so the cost follows the particle's size, not the image's
    (a few ms on a 4096 × 3072 image). With ``labels``, other particles are walls.

    Parameters
    ----------
    grey : (H, W) float ndarray, intensities (any range)
    tolerance : 0 < tolerance ≤ 1
    region : the analysed region; the outline stays inside it
    """
    if not (isinstance(tolerance, int | float) and 0.0 < float(tolerance) <= 1.0):
        raise GeometryError("tolerance must be a number in (0, 1]")
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GeometryError("the click must have finite coordinates")
    cx, cy = int(round(x)), int(round(y))
    if not (region.x0 <= cx < region.x1 and region.y0 <= cy < region.y1):
        raise GeometryError(f"({x:.1f}, {y:.1f}) is outside the analysed region")
    half = WAND_START_HALF_PX
    while True:
        window = Region(
            max(region.x0, cx - half),
            max(region.y0, cy - half),
            min(region.x1, cx + half + 1),
            min(region.y1, cy + half + 1),
        )
        grown = _grow(grey, labels, window, cx, cy, float(tolerance))
        leaks = _reaches_open_edge(grown, window, region)
        if not leaks or half >= WAND_MAX_HALF_PX:
            break
        half *= 2
    if leaks:
        raise GeometryError("the region spreads over the whole neighbourhood; lower the tolerance")
    grown = ndi.binary_fill_holes(grown)
    opened = cv2.morphologyEx(grown.view(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    r, c = cy - window.y0, cx - window.x0
    if opened[r, c]:
        lab, _ = ndi.label(opened, structure=np.ones((3, 3)))
        grown = lab == lab[r, c]
    _require_size(grown, "the grown region")
    contours, _ = cv2.findContours(grown.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    poly = cv2.approxPolyDP(contour, 1.0, True).reshape(-1, 2).astype(np.float64)
    if len(poly) < 3:
        raise GeometryError("the grown region is too thin to outline")
    return poly + (window.x0, window.y0)


def _grow(
    grey: np.ndarray, labels: np.ndarray | None, window: Region, cx: int, cy: int, tol: float
) -> np.ndarray:
    g = np.asarray(grey[window.y0 : window.y1, window.x0 : window.x1], dtype=np.float32)
    g = cv2.GaussianBlur(g, (0, 0), WAND_SMOOTH_SIGMA_PX)
    lo, hi = np.percentile(g, (2.0, 98.0))
    contrast = max(float(hi - lo), 1e-6)
    r, c = cy - window.y0, cx - window.x0
    seed_value = float(np.median(g[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]))
    wall = None
    if labels is not None:
        lw = labels[window.y0 : window.y1, window.x0 : window.x1]
        own = lw[r, c]
        wall = (lw != 0) & (lw != own)
    work = g.copy()
    work[r, c] = seed_value
    if wall is not None:
        work[wall] = seed_value + 10.0 * contrast + 1.0  # never within tolerance
    flood = np.zeros((work.shape[0] + 2, work.shape[1] + 2), dtype=np.uint8)
    diff = tol * contrast
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(work, flood, (c, r), 0, diff, diff, flags)
    return flood[1:-1, 1:-1].astype(bool)


def _reaches_open_edge(mask: np.ndarray, window: Region, region: Region) -> bool:
    """Does the grown region touch a window edge that is not the region's edge?"""
    return bool(
        (window.y0 > region.y0 and mask[0].any())
        or (window.y1 < region.y1 and mask[-1].any())
        or (window.x0 > region.x0 and mask[:, 0].any())
        or (window.x1 < region.x1 and mask[:, -1].any())
    )


# --- measuring --------------------------------------------------------------------------------


def measure_labels(
    labels: np.ndarray,
    which: Iterable[int],
    *,
    grey: np.ndarray | None,
    pixel_size_nm: float | None,
    region: Region | None,
    bboxes: Mapping[int, tuple[int, int, int, int]] | None = None,
) -> list[Particle]:
    """Measurements and shape class of particles ``which`` only, with the engine's own code
    (:func:`analysis.pipeline.particles_from_labels`) run on the window around them, so an
    edit costs the same however many particles the run has. Coordinates are of the image.

    ``grey`` may be any array-like supporting 2-D slicing (e.g. a memory map); ``bboxes``
    (label → x0, y0, x1, y1) spare a scan of the whole map for each label.
    """
    which = sorted({int(v) for v in which})
    if not which:
        return []
    h, w = labels.shape
    masks = [particle_mask(labels, v, (bboxes or {}).get(v)) for v in which]
    window = _union_window(masks, (h, w), 1)
    win = labels[window.y0 : window.y1, window.x0 : window.x1]
    sub = np.where(np.isin(win, which), win, 0)
    grey_win = None
    if grey is not None:
        grey_win = np.asarray(grey[window.y0 : window.y1, window.x0 : window.x1])
    full = region or Region(0, 0, w, h)
    shifted = Region(
        full.x0 - window.x0, full.y0 - window.y0, full.x1 - window.x0, full.y1 - window.y0
    )
    particles = particles_from_labels(sub, grey_win, pixel_size_nm, shifted, None)
    dx, dy = window.x0, window.y0
    for p in particles:
        p.polygon_px = [[px + dx, py + dy] for px, py in p.polygon_px]
        x0, y0, x1, y1 = p.bbox_px
        p.bbox_px = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
        for key, shift in (("centroid_x_px", dx), ("centroid_y_px", dy)):
            if p.measurements.get(key) is not None:
                p.measurements[key] = float(p.measurements[key]) + shift  # type: ignore[operator]
    return particles
