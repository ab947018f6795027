"""Scale-normalised training pieces: rescale, augment, cut and pack onto fixed-size canvases.

Inference resamples each micrograph so that its typical particle reaches the network at
``TARGET_DIAMETER_PX`` (:mod:`analysis.segment.scale`); training must show the network the
same scale. Each real image is therefore resampled by ``target × jitter / median ECD`` of its
ground truth (jitter log-uniform in ``SCALE_JITTER``), augmented, and cut into pieces of at
most ``canvas_px``. Ultralytics resizes every training image so that its long side equals
``imgsz``, which would undo the normalisation for small pieces, so pieces are shelf-packed
onto ``canvas_px`` square canvases (gaps filled with a flat grey) and every written image is
exactly ``imgsz`` wide and high. Packing also keeps the CPU cost per epoch down: a typical
EMPS figure panel (median ECD 110 px) shrinks to ~200 px, and six of them share one canvas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from analysis.segment.scale import TARGET_DIAMETER_PX

SCALE_JITTER = (0.7, 1.4)  # × TARGET_DIAMETER_PX, log-uniform: the spread inference may leave
MIN_PIECE_PX = 48  # smaller pieces (tiny panels of huge particles) carry too little context


@dataclass
class Piece:
    """An image piece and its instance labels, both (H, W), ready to pack."""

    image: np.ndarray  # uint8
    labels: np.ndarray  # uint16 / uint32, 0 = background
    source: str


def median_ecd_px(labels: np.ndarray) -> float | None:
    """Median equivalent-circle diameter of the instances of ``labels`` (px); None if empty."""
    areas = np.bincount(labels.ravel().astype(np.int64))[1:]
    areas = areas[areas > 0]
    return float(np.median(2.0 * np.sqrt(areas / np.pi))) if areas.size else None


def draw_scale(
    labels: np.ndarray, rng: np.random.Generator, jitter: tuple[float, float] = SCALE_JITTER
) -> float:
    """Resampling factor that brings the median particle to the target diameter × jitter."""
    ecd = median_ecd_px(labels)
    j = float(np.exp(rng.uniform(np.log(jitter[0]), np.log(jitter[1]))))
    return 1.0 if ecd is None else TARGET_DIAMETER_PX * j / ecd


def rescale(image: np.ndarray, labels: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample an image (area-averaged when shrinking) and its labels (nearest) by ``factor``."""
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    img = cv2.resize(image, size, interpolation=interp)
    lab = cv2.resize(labels.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    return img, lab.astype(np.uint32)


def augment(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """90° turn, flip, gamma, contrast, inversion, blur or noise, JPEG: one random variant.

    Ultralytics adds flips, small rotations, zoom, translation and mosaics online; these are
    what it does not do, chosen from how micrographs differ between labs (detector gamma,
    TEM-vs-SEM contrast, focus, dose, compression of published figures).
    """
    k = int(rng.integers(4))
    img, lab = np.rot90(image, k), np.rot90(labels, k)
    if rng.random() < 0.5:
        img, lab = img[:, ::-1], lab[:, ::-1]
    f = img.astype(np.float32) / 255.0
    f = f ** float(np.exp(rng.uniform(-0.5, 0.5)))
    f = (f - f.mean()) * rng.uniform(0.6, 1.3) + f.mean()
    if rng.random() < 0.2:
        f = 1.0 - f
    r = rng.random()
    if r < 0.25:
        f = cv2.GaussianBlur(f, (0, 0), float(rng.uniform(0.5, 1.5)))
    elif r < 0.6:
        f = f + rng.normal(0, rng.uniform(0.01, 0.08), f.shape).astype(np.float32)
    out = np.round(np.clip(f, 0, 1) * 255).astype(np.uint8)
    if rng.random() < 0.3:
        q = int(rng.integers(30, 90))
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return np.ascontiguousarray(out), np.ascontiguousarray(lab)


def cut(
    image: np.ndarray,
    labels: np.ndarray,
    canvas_px: int,
    rng: np.random.Generator,
    max_pieces: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """At most ``max_pieces`` random windows of ≤ ``canvas_px`` (all of a smaller image)."""
    h, w = image.shape[:2]
    if h <= canvas_px and w <= canvas_px:
        return [(image, labels)]
    ys = [min(i * canvas_px, h - canvas_px) for i in range(int(np.ceil(h / canvas_px)))]
    xs = [min(i * canvas_px, w - canvas_px) for i in range(int(np.ceil(w / canvas_px)))]
    cells = [(max(0, y), max(0, x)) for y in ys for x in xs]
    # Windows are drawn in proportion to the particles they hold: an upsampled sparse field
    # would otherwise spend whole canvases on empty substrate.
    n_inst = np.array(
        [np.unique(labels[y : y + canvas_px, x : x + canvas_px]).size - 1 for y, x in cells],
        np.float64,
    )
    weights = (n_inst + 0.1) / (n_inst + 0.1).sum()
    k = min(max_pieces, len(cells))
    out = []
    for c in rng.choice(len(cells), size=k, replace=False, p=weights):
        y, x = cells[int(c)]
        sl = np.s_[y : y + canvas_px, x : x + canvas_px]
        out.append((image[sl], labels[sl]))
    return out


def normalised_pieces(
    image: np.ndarray,
    labels: np.ndarray,
    source: str,
    rng: np.random.Generator,
    *,
    canvas_px: int = 512,
    max_pieces: int = 3,
) -> list[Piece]:
    """One real image → scale-normalised, augmented pieces that still contain particles."""
    img, lab = rescale(image, labels, draw_scale(labels, rng))
    img, lab = augment(img, lab, rng)
    pieces = []
    for p_img, p_lab in cut(img, lab, canvas_px, rng, max_pieces):
        if min(p_img.shape) < MIN_PIECE_PX and max(p_img.shape) < 2 * MIN_PIECE_PX:
            continue
        if not p_lab.any():
            continue
        pieces.append(Piece(p_img, p_lab, source))
    return pieces


def pack(
    pieces: list[Piece], canvas_px: int = 512, gap_px: int = 4
) -> Iterator[tuple[np.ndarray, np.ndarray, list[str]]]:
    """Shelf-pack pieces (tallest first) onto square canvases: (image, labels, sources) each.

    Labels stay distinct across pieces (offset per piece); gaps take the median grey of the
    canvas's pieces, a flat field with no particle in it.
    """
    order = sorted(pieces, key=lambda p: -p.image.shape[0])
    canvases: list[list[tuple[int, int, Piece]]] = []
    shelves: list[tuple[int, int, int, int]] = []  # (canvas, y, height, next free x)
    next_y: list[int] = []
    for piece in order:
        h, w = piece.image.shape
        placed = False
        for s, (ci, y, sh, x) in enumerate(shelves):
            if h <= sh and x + w <= canvas_px:
                canvases[ci].append((y, x, piece))
                shelves[s] = (ci, y, sh, x + w + gap_px)
                placed = True
                break
        if placed:
            continue
        for ci in range(len(canvases)):
            if next_y[ci] + h <= canvas_px:
                break
        else:
            canvases.append([])
            next_y.append(0)
            ci = len(canvases) - 1
        y = next_y[ci]
        canvases[ci].append((y, 0, piece))
        shelves.append((ci, y, h, w + gap_px))
        next_y[ci] = y + h + gap_px
    for placed_pieces in canvases:
        fill = int(np.median(np.concatenate([p.image.ravel() for _, _, p in placed_pieces])))
        img = np.full((canvas_px, canvas_px), fill, np.uint8)
        lab = np.zeros((canvas_px, canvas_px), np.uint32)
        offset = 0
        for y, x, p in placed_pieces:
            h, w = p.image.shape
            img[y : y + h, x : x + w] = p.image
            pl = p.labels.astype(np.uint32)
            lab[y : y + h, x : x + w] = np.where(pl > 0, pl + offset, 0)
            offset += int(pl.max())
        yield img, lab, [p.source for _, _, p in placed_pieces]
