"""Overlay image: particle outlines coloured by shape class over the grey micrograph.

The analysed region is framed in cyan and everything outside it (the data bar, cut margins)
is dimmed, so a reviewer sees at a glance what was and was not analysed. Outlines are drawn
from the label map (inner boundary pixels), not from the simplified polygons, so the overlay
shows exactly the pixels that were measured.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from analysis.result import Region

__all__ = ["CLASS_COLOURS", "render_overlay", "write_overlay"]

# RGB; colour-blind-friendly (Okabe–Ito palette).
CLASS_COLOURS: dict[str, tuple[int, int, int]] = {
    "sphere": (0, 158, 115),
    "cube": (0, 114, 178),
    "rod": (230, 159, 0),
    "plate": (204, 121, 167),
    "irregular": (240, 228, 66),
    "agglomerate": (213, 94, 0),
}
_DEFAULT_COLOUR = (255, 255, 255)
_REGION_COLOUR = (86, 180, 233)


def render_overlay(
    grey: np.ndarray,
    labels: np.ndarray,
    classes: dict[int, str] | None = None,
    region: Region | None = None,
) -> np.ndarray:
    """RGB uint8 (H, W, 3) overlay.

    Parameters
    ----------
    grey : (H, W) float ndarray in [0, 1]
    labels : (H, W) integer ndarray, 0 = background
    classes : label value -> shape class (colour); unknown labels are drawn white
    region : analysed region; outside is dimmed and the region is framed
    """
    h, w = labels.shape
    g8 = (np.clip(np.asarray(grey, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    rgb = np.repeat(g8[:, :, None], 3, axis=2)
    if region is not None:
        outside = np.ones((h, w), dtype=bool)
        outside[region.y0 : region.y1, region.x0 : region.x1] = False
        rgb[outside] = (rgb[outside] * 0.4).astype(np.uint8)
    n = int(labels.max()) if labels.size else 0
    lut = np.tile(np.array(_DEFAULT_COLOUR, dtype=np.uint8), (n + 1, 1))
    for label, name in (classes or {}).items():
        if 0 < label <= n:
            lut[label] = CLASS_COLOURS.get(name, _DEFAULT_COLOUR)
    edge = _inner_boundary(labels)
    rgb[edge] = lut[labels[edge]]
    if region is not None and (region.width, region.height) != (w, h):
        cv2.rectangle(
            rgb,
            (region.x0, region.y0),
            (region.x1 - 1, region.y1 - 1),
            _REGION_COLOUR,
            thickness=max(1, min(h, w) // 400),
        )
    return rgb


def write_overlay(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB overlay as PNG (OpenCV wants BGR)."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write overlay {path}")


def _inner_boundary(labels: np.ndarray) -> np.ndarray:
    """Particle pixels with a 4-neighbour of another value (or the image edge)."""
    lab = labels
    edge = np.zeros(lab.shape, dtype=bool)
    diff = lab[:, 1:] != lab[:, :-1]
    edge[:, 1:] |= diff
    edge[:, :-1] |= diff
    diff = lab[1:, :] != lab[:-1, :]
    edge[1:, :] |= diff
    edge[:-1, :] |= diff
    edge[0, :] = edge[-1, :] = True
    edge[:, 0] |= True
    edge[:, -1] |= True
    return edge & (lab > 0)
