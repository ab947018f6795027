"""Tiled inference support: cut a large micrograph into overlapping tiles and merge the
instances found in each back into one label map, without duplicates or seam cuts.

Pure numpy (no model here), so the merge is tested with hand-made masks. The rules:

1. An instance touching a tile edge that is *not* the image edge is *cut* by the seam.
2. Cut pieces from different tiles that overlap (in the shared strip) are one particle: they
   are joined into one instance (union of masks, best score).
3. Instances are then painted best first (whole before cut, then by score); one that mostly
   lies on pixels already taken is a duplicate and is dropped, otherwise it gets its free
   pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np


def tile_origins(length_px: int, tile_px: int, overlap_px: int) -> list[int]:
    """Start offsets of tiles of ``tile_px`` covering ``length_px`` with ≥ ``overlap_px`` shared."""
    if length_px <= tile_px:
        return [0]
    stride = max(1, tile_px - overlap_px)
    n = int(np.ceil((length_px - tile_px) / stride)) + 1
    return [int(round(i * (length_px - tile_px) / (n - 1))) for i in range(n)]


def tile_grid(
    height_px: int, width_px: int, tile_px: int, overlap_px: int
) -> list[tuple[int, int, int, int]]:
    """Tiles as ``(x0, y0, x1, y1)``; the last row/column is flush with the image edge."""
    out = []
    for y in tile_origins(height_px, tile_px, overlap_px):
        for x in tile_origins(width_px, tile_px, overlap_px):
            out.append((x, y, min(x + tile_px, width_px), min(y + tile_px, height_px)))
    return out


@dataclass
class Instance:
    """One predicted particle: a boolean crop placed at (x0, y0) in image pixels."""

    x0: int
    y0: int
    mask: np.ndarray  # (h, w) bool
    score: float
    cut: bool = False

    @property
    def x1(self) -> int:
        return self.x0 + self.mask.shape[1]

    @property
    def y1(self) -> int:
        return self.y0 + self.mask.shape[0]

    @property
    def area(self) -> int:
        return int(self.mask.sum())


def instances_from_tile(
    masks: np.ndarray,
    scores: np.ndarray,
    tile: tuple[int, int, int, int],
    image_shape: tuple[int, int],
    edge_px: int = 1,
) -> list[Instance]:
    """Instances of one tile's ``(N, th, tw)`` masks, cropped to their boxes, cut flags set.

    An instance is cut when it comes within ``edge_px`` of a tile edge that is inside the
    image (an image edge is a real edge: the pipeline decides about border particles).
    """
    x0, y0, x1, y1 = tile
    h, w = image_shape
    inner = (x0 > 0, y0 > 0, x1 < w, y1 < h)  # left, top, right, bottom are seams
    out = []
    for m, s in zip(masks, scores, strict=True):
        ys, xs = np.nonzero(m)
        if xs.size == 0:
            continue
        bx0, bx1, by0, by1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        th, tw = m.shape
        cut = (
            (inner[0] and bx0 < edge_px)
            or (inner[1] and by0 < edge_px)
            or (inner[2] and bx1 > tw - edge_px)
            or (inner[3] and by1 > th - edge_px)
        )
        out.append(
            Instance(int(x0 + bx0), int(y0 + by0), m[by0:by1, bx0:bx1].copy(), float(s), bool(cut))
        )
    return out


def _intersection(a: Instance, b: Instance) -> int:
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1, y1 = min(a.x1, b.x1), min(a.y1, b.y1)
    if x1 <= x0 or y1 <= y0:
        return 0
    ma = a.mask[y0 - a.y0 : y1 - a.y0, x0 - a.x0 : x1 - a.x0]
    mb = b.mask[y0 - b.y0 : y1 - b.y0, x0 - b.x0 : x1 - b.x0]
    return int((ma & mb).sum())


def _union(parts: list[Instance]) -> Instance:
    x0, y0 = min(p.x0 for p in parts), min(p.y0 for p in parts)
    x1, y1 = max(p.x1 for p in parts), max(p.y1 for p in parts)
    m = np.zeros((y1 - y0, x1 - x0), bool)
    for p in parts:
        m[p.y0 - y0 : p.y1 - y0, p.x0 - x0 : p.x1 - x0] |= p.mask
    return Instance(x0, y0, m, max(p.score for p in parts), cut=True)


def join_cut_pieces(instances: list[Instance], min_shared: float = 0.2) -> list[Instance]:
    """Union cut pieces that overlap by ≥ ``min_shared`` of the smaller piece (union–find)."""
    cut = [i for i in instances if i.cut]
    whole = [i for i in instances if not i.cut]
    parent = list(range(len(cut)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(cut)):
        for j in range(i + 1, len(cut)):
            inter = _intersection(cut[i], cut[j])
            if inter and inter >= min_shared * min(cut[i].area, cut[j].area):
                parent[find(i)] = find(j)
    groups: dict[int, list[Instance]] = {}
    for i, inst in enumerate(cut):
        groups.setdefault(find(i), []).append(inst)
    return whole + [g[0] if len(g) == 1 else _union(g) for g in groups.values()]


def paint(
    instances: list[Instance],
    shape: tuple[int, int],
    duplicate_frac: float = 0.5,
    min_area_px: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint instances best first into a label map; returns ``(labels uint32, scores)``.

    ``scores[k]`` belongs to label ``k + 1``. An instance whose pixels are more than
    ``duplicate_frac`` already taken is a duplicate; otherwise it keeps its free pixels.
    """
    labels = np.zeros(shape, np.uint32)
    scores: list[float] = []
    order = sorted(instances, key=lambda i: (i.cut, -i.score))
    for inst in order:
        area = inst.area
        if area < min_area_px:
            continue
        view = labels[inst.y0 : inst.y1, inst.x0 : inst.x1]
        free = inst.mask & (view == 0)
        n_free = int(free.sum())
        if n_free < min_area_px or (area - n_free) > duplicate_frac * area:
            continue
        scores.append(inst.score)
        view[free] = len(scores)
    return labels, np.asarray(scores, np.float32)


def merge_instances(
    instances: list[Instance], shape: tuple[int, int], duplicate_frac: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Join seam-cut pieces, suppress duplicates, paint: the whole tile merge in one call."""
    return paint(join_cut_pieces(instances), shape, duplicate_frac)


# ---------------------------------------------------------------------------------------
# scale-normalised inference


class TileModel(Protocol):
    """What :func:`segment_normalised` needs of a model (``ParticleModel`` satisfies it)."""

    def predict_tiles(
        self, tiles: list[np.ndarray], imgsz: int
    ) -> list[tuple[np.ndarray, np.ndarray]]: ...


# Zoom limits: upsampling costs zoom² × the frame in network tiles, and below 8-px particles
# auto lets thresholding lead anyway, so beyond 4× (an 8-px particle at 32 px) buys nothing;
# downsampling below 1/16 would need tiles far larger than any frame here.
_MIN_ZOOM, _MAX_ZOOM = 1.0 / 16.0, 4.0
# Seam overlap in network pixels: three typical diameters, so every particle of up to ~3×
# the typical size lies whole inside at least one tile.
_OVERLAP_DIAMETERS = 3.0


@dataclass(frozen=True)
class ScalePass:
    """One inference pass: the zoom and the band of particle diameters (native px) it keeps."""

    zoom: float
    min_diameter_px: float = 0.0
    max_diameter_px: float = float("inf")


def plan_passes(
    populations_px: tuple[float, ...], target_px: float, *, bimodal: bool = False
) -> list[ScalePass]:
    """One pass per size population, each zoomed so that population reaches ``target_px``.

    With two populations each pass keeps the instances on its side of the geometric mean
    of the two diameters, so the small particles come from the upsampled pass and the large
    ones from the downsampled pass.
    """
    pops = sorted(float(p) for p in populations_px if p and p > 0)
    if not pops:
        return []
    if not bimodal or len(pops) < 2:
        typical = float(populations_px[0])
        return [ScalePass(float(np.clip(target_px / typical, _MIN_ZOOM, _MAX_ZOOM)))]
    small, large = pops[0], pops[-1]
    cut = float(np.sqrt(small * large))
    return [
        ScalePass(float(np.clip(target_px / small, _MIN_ZOOM, _MAX_ZOOM)), 0.0, cut),
        ScalePass(float(np.clip(target_px / large, _MIN_ZOOM, _MAX_ZOOM)), cut, float("inf")),
    ]


def _native_instances(
    masks: np.ndarray,
    scores: np.ndarray,
    tile: tuple[int, int, int, int],
    zoomed_shape: tuple[int, int],
    image_shape: tuple[int, int],
    keep: ScalePass,
) -> list[Instance]:
    """Instances of one zoomed tile mapped back to native pixels (box crop, then resize)."""
    x0, y0, x1, y1 = tile
    tw, th = x1 - x0, y1 - y0
    zh, zw = zoomed_shape
    sy, sx = th / zh, tw / zw  # native px per zoomed px
    h, w = image_shape
    inner = (x0 > 0, y0 > 0, x1 < w, y1 < h)
    out = []
    for m, s in zip(masks, scores, strict=True):
        m = m[:zh, :zw]
        ys, xs = np.nonzero(m)
        if xs.size == 0:
            continue
        bx0, bx1, by0, by1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        cut = (
            (inner[0] and bx0 < 1)
            or (inner[1] and by0 < 1)
            or (inner[2] and bx1 > zw - 1)
            or (inner[3] and by1 > zh - 1)
        )
        nx0, ny0 = max(int(np.floor(bx0 * sx)) - 1, 0), max(int(np.floor(by0 * sy)) - 1, 0)
        nx1 = min(int(np.ceil(bx1 * sx)) + 1, tw)
        ny1 = min(int(np.ceil(by1 * sy)) + 1, th)
        if nx1 <= nx0 or ny1 <= ny0:
            continue
        # Sample the zoomed mask at the native pixel centres of the box (the inverse of the
        # tile's resize, pixel-centre aligned), so a 7-px particle keeps its outline.
        to_zoomed = np.array(
            [[1.0 / sx, 0.0, (nx0 + 0.5) / sx - 0.5], [0.0, 1.0 / sy, (ny0 + 0.5) / sy - 0.5]]
        )
        native = (
            cv2.warpAffine(
                m.astype(np.float32),
                to_zoomed,
                (nx1 - nx0, ny1 - ny0),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
            )
            >= 0.5
        )
        area = int(native.sum())
        if area == 0:
            continue
        d = 2.0 * np.sqrt(area / np.pi)
        if not keep.min_diameter_px <= d < keep.max_diameter_px:
            continue
        out.append(Instance(x0 + nx0, y0 + ny0, native, float(s), bool(cut)))
    return out


def segment_normalised(
    model: TileModel,
    grey: np.ndarray,
    region: Any,
    passes: list[ScalePass],
    *,
    imgsz: int,
    batch: int = 4,
    target_px: float = 32.0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Tiled inference with particles brought to the network at ``target_px``.

    For each pass the region is cut into native tiles of ``imgsz / zoom`` px (overlap
    :data:`_OVERLAP_DIAMETERS` typical diameters), each tile is resampled to ``imgsz`` on
    its own (area averaging down, bilinear up), so the zoomed frame never exists in memory:
    peak memory is one batch of tiles and their masks, whatever the zoom. Masks are cropped
    to their boxes and resized back to native pixels; seam pieces are joined and duplicates
    dropped by :func:`merge_instances`.

    Returns ``(labels (H, W) uint32, scores (N,), details)``; ``region`` is an
    :class:`analysis.result.Region` (or ``None`` for the whole image).
    """
    h_img, w_img = grey.shape
    x_off, y_off = (region.x0, region.y0) if region is not None else (0, 0)
    x_end, y_end = (region.x1, region.y1) if region is not None else (w_img, h_img)
    crop = np.asarray(grey[y_off:y_end, x_off:x_end], dtype=np.float32)
    u8 = np.round(np.clip(crop, 0.0, 1.0) * 255).astype(np.uint8)
    h, w = u8.shape
    instances: list[Instance] = []
    n_tiles = 0
    for p in passes:
        tile_native = max(8, int(round(imgsz / p.zoom)))
        overlap_native = int(round(_OVERLAP_DIAMETERS * target_px / p.zoom))
        overlap_native = min(overlap_native, tile_native // 2)
        grid = tile_grid(h, w, tile_native, overlap_native)
        n_tiles += len(grid)
        for i in range(0, len(grid), max(1, batch)):
            chunk = grid[i : i + max(1, batch)]
            tiles, shapes = [], []
            for x0, y0, x1, y1 in chunk:
                zw = max(1, int(round((x1 - x0) * p.zoom)))
                zh = max(1, int(round((y1 - y0) * p.zoom)))
                interp = cv2.INTER_AREA if p.zoom < 1 else cv2.INTER_LINEAR
                z = cv2.resize(u8[y0:y1, x0:x1], (zw, zh), interpolation=interp)
                tiles.append(np.ascontiguousarray(np.repeat(z[:, :, None], 3, axis=2)))
                shapes.append((zh, zw))
            for t, shape, (masks, scores) in zip(
                chunk, shapes, model.predict_tiles(tiles, imgsz), strict=True
            ):
                instances += _native_instances(masks, scores, t, shape, (h, w), p)
    labels, scores = merge_instances(instances, (h, w))
    full = np.zeros((h_img, w_img), np.uint32)
    full[y_off:y_end, x_off:x_end] = labels
    details = {
        "zooms": [round(p.zoom, 4) for p in passes],
        "tiles": n_tiles,
        "network_input_px": imgsz,
    }
    return full, scores, details
