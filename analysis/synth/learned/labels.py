"""Instance maps -> the class map a learned generator is conditioned on.

Three classes: background (0), particle interior (1) and particle edge (2). The edge class is
what lets the generator paint the bright secondary-electron rim of an SEM particle or the
Fresnel fringe of a TEM one, and it separates touching particles that share no background.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

N_CLASSES = 3
BACKGROUND, INTERIOR, EDGE = 0, 1, 2
EDGE_PX = 2  # rim width; SEM edge brightening and TEM fringes are ~1-3 px at 512-px frames


def class_map(instances: np.ndarray, edge_px: int = EDGE_PX) -> np.ndarray:
    """(H, W) instance labels (0 = background) -> (H, W) uint8 classes 0/1/2.

    A particle pixel is *edge* when another label (background or a neighbour) lies within
    ``edge_px`` pixels (square window), else *interior*.
    """
    lab = np.asarray(instances)
    size = 2 * int(edge_px) + 1
    hi = ndi.maximum_filter(lab, size=size, mode="nearest")
    lo = ndi.minimum_filter(lab, size=size, mode="nearest")
    inside = lab > 0
    out = np.zeros(lab.shape, np.uint8)
    out[inside] = INTERIOR
    out[inside & ((hi != lab) | (lo != lab))] = EDGE
    return out


def one_hot(classes: np.ndarray) -> np.ndarray:
    """(H, W) class map -> (N_CLASSES, H, W) float32 one-hot."""
    return (np.arange(N_CLASSES)[:, None, None] == classes[None]).astype(np.float32)
