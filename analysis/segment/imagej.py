"""The ImageJ-style baseline: what a microscopist gets from Fiji in a few clicks.

Gaussian blur (σ 2 px, the smoothing every ImageJ tutorial applies to noisy frames first, and
the same workload as the timing baseline of ``python -m benchmarks.engine``), Otsu threshold on
the analysed region (the data band cropped away, as a user crops it by hand), *Fill Holes*,
then *Watershed* (distance transform of the binary mask, one marker per ultimate eroded point
with ImageJ's 0.5-px tolerance). Every evaluation set reports it beside the engine's figures,
so "better than thresholding" has one in-run meaning.

Polarity: ``polarity="imagej"`` is what ImageJ itself does when the user presses *Auto* in
Image ▸ Adjust ▸ Threshold with the default settings (and what *Make Binary* does): the
histogram's mode is taken for background, and the particles are the side of the threshold
with the longer tail — bright when ``max − mode > mode − min``, else dark
(:func:`imagej_polarity`; ImageJ 1.x ``ThresholdAdjuster.autoSetLevels``). That is the
baseline an ImageJ user gets without correcting the phase by hand, and the one the
segmentation benchmark reports. ``"minority"`` takes the phase covering less of the frame;
:func:`user_polarity` reads the phase off the ground truth (a user who corrects it by eye).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from analysis.result import Region

Polarity = Literal["imagej", "minority", "bright", "dark"]

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
    if polarity == "imagej":
        polarity = imagej_polarity(smooth)
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


def imagej_polarity(values: np.ndarray) -> Literal["bright", "dark"]:
    """ImageJ's default choice of the object phase for an auto-threshold.

    The mode of the 256-bin histogram is background; objects lie on the side of the longer
    tail: bright when ``max − mode > mode − min``, else dark. ``values`` is the (smoothed)
    analysed region, any range (binned between its min and max like ImageJ's 8-bit view).
    """
    v = np.asarray(values, np.float64)
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return "bright"
    hist, edges = np.histogram(v, bins=256, range=(lo, hi))
    mode = 0.5 * (edges[int(np.argmax(hist))] + edges[int(np.argmax(hist)) + 1])
    return "bright" if (hi - mode) > (mode - lo) else "dark"


def user_polarity(grey: np.ndarray, truth: np.ndarray) -> Polarity:
    """The phase a user would call "particles": brighter or darker than the background."""
    inside = truth > 0
    if not inside.any() or inside.all():
        return "minority"
    return "bright" if float(grey[inside].mean()) >= float(grey[~inside].mean()) else "dark"
