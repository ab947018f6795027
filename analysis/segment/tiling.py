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
