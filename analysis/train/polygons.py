"""Instance masks to YOLO-seg polygons and back.

YOLO-seg stores one polygon per instance. Instances with holes (rings, core–shell shells) or
several visible parts (a particle cut in two by an occluder) need more than one contour, so the
contours are stitched into one polygon through zero-width bridges between their nearest points,
as ultralytics' own converter does. Holes are traced in the opposite orientation, so the
stitched polygon rasterises back with the holes open.
"""

from __future__ import annotations

import cv2
import numpy as np


def _contours(mask: np.ndarray, epsilon_px: float) -> list[np.ndarray]:
    """Outer and hole contours of a binary mask, simplified, each (K, 2) float."""
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    out = []
    for c in found:
        if epsilon_px > 0 and len(c) > 8:
            c = cv2.approxPolyDP(c, epsilon_px, True)
        if len(c) >= 3:
            out.append(c.reshape(-1, 2).astype(np.float64))
    out.sort(key=lambda c: -abs(cv2.contourArea(c.astype(np.float32))))
    return out


def _stitch(contours: list[np.ndarray]) -> np.ndarray:
    """One polygon visiting every contour, entering and leaving each at its nearest point."""
    merged = contours[0]
    for c in contours[1:]:
        d = ((merged[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        loop = np.concatenate([c[j:], c[: j + 1]])
        merged = np.concatenate([merged[: i + 1], loop, merged[i:]])
    return merged


def mask_to_polygon(mask: np.ndarray, epsilon_px: float = 0.7) -> np.ndarray | None:
    """Polygon (K, 2) in pixel x, y tracing ``mask`` (holes and parts stitched); None if empty.

    Contour points sit on the centres of boundary pixels; the polygon is shifted outward by
    half a pixel around its centroid is *not* done: ultralytics rasterises the same way.
    """
    contours = _contours(mask, epsilon_px)
    if not contours:
        return None
    return _stitch(contours)


def labels_to_yolo_lines(labels: np.ndarray, class_id: int = 0, min_area_px: int = 4) -> list[str]:
    """YOLO-seg label lines (``class x1 y1 x2 y2 …``, normalised) for every instance of a map."""
    h, w = labels.shape
    lines = []
    ids = np.unique(labels)
    for lab in ids[ids > 0]:
        ys, xs = np.nonzero(labels == lab)
        if len(xs) < min_area_px:
            continue
        y0, x0 = ys.min(), xs.min()
        crop = labels[y0 : ys.max() + 1, x0 : xs.max() + 1] == lab
        poly = mask_to_polygon(np.pad(crop, 1))
        if poly is None:
            continue
        poly = poly + (x0 - 1, y0 - 1)
        norm = np.clip(poly / (w, h), 0.0, 1.0)
        coords = " ".join(f"{v:.5f}" for v in norm.ravel())
        lines.append(f"{class_id} {coords}")
    return lines


def polygon_to_mask(poly_px: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a polygon (K, 2) in pixels: the inverse of :func:`mask_to_polygon`."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly_px).astype(np.int32)], 1)
    return m.astype(bool)
