"""The ImageJ-style baseline: what a microscopist gets from Fiji in a few clicks.

Gaussian blur (σ 2 px, the smoothing every ImageJ tutorial applies to noisy frames first, and
the same workload as the timing baseline of ``python -m benchmarks.engine``), Otsu threshold on
the analysed region (the data band cropped away, as a user crops it by hand), *Fill Holes*,
then *Watershed* (distance transform of the binary mask, one marker per ultimate eroded point
with ImageJ's 0.5-px tolerance). Every evaluation set reports it beside the engine's figures,
so "better than thresholding" has one in-run meaning.

Polarity: the user picks the particle phase by eye. Without a user, ``polarity="minority"``
takes the phase covering less of the frame (right for most micrographs, wrong for dense
packings such as touching spheres); the benchmarks pass the phase a user would pick, read off
the ground truth (:func:`user_polarity`), so the baseline is never weaker than a person.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from analysis.result import Region

Polarity = Literal["minority", "bright", "dark"]

EDM_TOLERANCE_PX = 0.5  # ImageJ's binary watershed: maxima of the EDM within 0.5 px merge
MIN_AREA_PX = 4  # "Analyze Particles" size floor a user would leave near 0
SMOOTH_SIGMA_PX = 2.0


def segment_imagej(
    grey: np.ndarray, region: Region | None = None, polarity: Polarity = "minority"
) -> np.ndarray:
    """Instance labels (H, W) uint32 of the baseline; 0 outside ``region`` and on background.

    Parameters
    ----------
    grey : (H, W) float ndarray in [0, 1]
    region : the analysed rectangle (image minus data bar); ``None`` = whole image.
    """
    h, w = grey.shape
    r = region or Region(0, 0, w, h)
    crop = np.asarray(grey[r.y0 : r.y1, r.x0 : r.x1], dtype=np.float32)
    out = np.zeros((h, w), np.uint32)
    if crop.size == 0 or float(crop.max()) <= float(crop.min()):
        return out
    smooth = ndi.gaussian_filter(crop, SMOOTH_SIGMA_PX)
    fg = smooth > threshold_otsu(smooth)
    if polarity == "dark" or (polarity == "minority" and fg.mean() > 0.5):
        fg = ~fg
    fg = ndi.binary_fill_holes(fg)
    dist = ndi.distance_transform_edt(fg)
    markers, _ = ndi.label(h_maxima(dist, EDM_TOLERANCE_PX))
    labels = watershed(-dist, markers, mask=fg)
    areas = np.bincount(labels.ravel())
    keep = areas >= MIN_AREA_PX
    keep[0] = False
    lut = np.zeros(areas.size, np.uint32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
    out[r.y0 : r.y1, r.x0 : r.x1] = lut[labels]
    return out


def user_polarity(grey: np.ndarray, truth: np.ndarray) -> Polarity:
    """The phase a user would call "particles": brighter or darker than the background."""
    inside = truth > 0
    if not inside.any() or inside.all():
        return "minority"
    return "bright" if float(grey[inside].mean()) >= float(grey[~inside].mean()) else "dark"
