"""Classical (no model) particle segmentation of a grey micrograph.

Steps, each a small function so they can be tested and tuned alone:

1. :func:`flatten_background` removes slow shading (detector/charging gradients) by fitting a
   smooth quadratic surface to block medians, so one global threshold fits the whole field.
2. :func:`denoise` applies a 3×3 median (shot noise, scan-line speckle) and a light Gaussian.
3. :func:`choose_threshold` picks Otsu, Li or a local (adaptive) threshold from the image's
   histogram and says why.
4. :func:`choose_polarity` decides whether particles are the bright or the dark phase.
5. Morphological clean-up and hole filling; then :func:`reject_non_particles` drops
   connected components that are substrate texture (low contrast to their surroundings) or
   burned-in text (saturated thin strokes, ragged outlines) before they can be split.
6. The watershed split of touching particles (:mod:`analysis.segment.postprocess`).

The result is an instance label map in the coordinates of the full image (pixels outside the
analysed region are 0), deterministic for a given input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_li

from analysis.result import Region
from analysis.segment import postprocess

Polarity = Literal["auto", "bright", "dark"]

__all__ = [
    "ClassicalSegmentation",
    "Polarity",
    "ThresholdChoice",
    "choose_polarity",
    "choose_threshold",
    "component_features",
    "denoise",
    "flatten_background",
    "otsu",
    "reject_non_particles",
    "segment_classical",
]

# Otsu's effectiveness η (between-class / total variance) below which a histogram has no valley
# and the adaptive branch is used: two phases score > 0.8, one Gaussian 0.64; a 0.64 cut sent
# good EMPS images to the adaptive branch and lost F1.
_BIMODAL_EFFECTIVENESS = 0.5
# Otsu minimises within-class variance, which drags the threshold into the larger class when
# one phase is much smaller; Li's minimum cross-entropy is far less biased there.
_MINORITY_FRACTION = 0.15
# Rejection rules of reject_non_particles (chosen by pooled F1@0.5 on EMPS ids 0-40, checked on
# ids 40-120 and synthetic images; the measurements are in the commit history):
# inside-vs-ring contrast below which a component is substrate texture, dust or grain (grey
# levels of 255 after the robust stretch; higher cuts lose real particles' recall).
_MIN_CONTRAST_U8 = 35.0
# burned-in text: over this saturated fraction AND thin strokes (filled area > this many discs
# of the stroke's inscribed radius); saturation alone also dropped dark saturated TEM particles.
_TEXT_SATURATED = 0.2
_TEXT_THINNESS = 2.0
# ragged small components (broken outlines, letter clusters, fibres): solidity below this under
# this area; a 0.6 cut starts to drop irregular aggregates.
_RAGGED_SOLIDITY = 0.5
_RAGGED_MAX_AREA_PX = 3000
# Below this typical diameter the 3×3 median is skipped: on the dense 4–8 px regime and the
# 6-px sweep, classical PQ 0.56 -> 0.67 and 0.75 -> 0.82 without it (2026-12-01).
_NO_MEDIAN_BELOW_PX = 12.0


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold method used for one image and why it was chosen."""

    method: Literal["otsu", "li", "adaptive"]
    value: float | None  # global threshold in the prepared image's scale; None for adaptive
    reason: str


@dataclass
class ClassicalSegmentation:
    """Output of :func:`segment_classical`.

    labels : (H, W) uint16/uint32 instance map of the whole image, 0 = background.
    foreground : (H, W) bool mask before the split (useful for debugging and overlays).
    """

    labels: np.ndarray
    foreground: np.ndarray
    polarity: Literal["bright", "dark"]
    threshold: ThresholdChoice
    background_flattened: bool
    rejected: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        return {
            "polarity": self.polarity,
            "threshold_method": self.threshold.method,
            "threshold_value": self.threshold.value,
            "threshold_reason": self.threshold.reason,
            "background_flattened": self.background_flattened,
            "rejected_components": dict(self.rejected),
        }


def flatten_background(grey: np.ndarray, *, grid: int = 8) -> tuple[np.ndarray, bool]:
    """Subtract slow shading when there is any; return the image and whether it changed.

    The background is modelled as a quadratic surface fitted (least squares) to the medians of
    a ``grid × grid`` block grid. Medians ignore particles as long as they cover under half a
    block; a quadratic cannot follow individual particles, so large particles are not eaten
    (unlike a rolling ball or a big Gaussian subtraction). Correction is skipped when the
    fitted surface varies by less than 4 % of the image's range: subtracting a near-flat
    estimate would only add noise.
    """
    h, w = grey.shape
    if h < 2 * grid or w < 2 * grid:
        return grey, False
    # Block medians on an area-downsampled copy (16 x 16 samples per block): same estimate,
    # a fraction of the cost of medians over full-resolution blocks.
    small = cv2.resize(grey, (grid * 16, grid * 16), interpolation=cv2.INTER_AREA)
    med = np.median(small.reshape(grid, 16, grid, 16), axis=(1, 3)).astype(np.float64)
    cy = (np.arange(grid) + 0.5) / grid - 0.5
    cx = cy
    yy, xx = np.meshgrid(cy, cx, indexing="ij")
    design = np.stack([np.ones_like(yy), xx, yy, xx * xx, xx * yy, yy * yy], axis=-1).reshape(-1, 6)
    coef, *_ = np.linalg.lstsq(design, med.ravel(), rcond=None)
    fy = ((np.arange(h) + 0.5) / h - 0.5).astype(np.float32)
    fx = ((np.arange(w) + 0.5) / w - 0.5).astype(np.float32)
    c = coef.astype(np.float32)
    surface = (c[0] + c[1] * fx + c[3] * fx * fx)[None, :] + (c[2] * fy + c[5] * fy * fy)[:, None]
    surface = surface + c[4] * fy[:, None] * fx[None, :]
    lo, hi = np.percentile(grey[::4, ::4], [1, 99])
    if float(surface.max() - surface.min()) < 0.04 * max(float(hi - lo), 1e-6):
        return grey, False
    flat = grey - surface + c[0]
    return flat.astype(np.float32), True


def denoise(grey: np.ndarray, *, median: bool = True) -> np.ndarray:
    """3×3 median then Gaussian σ = 1 px, returned as uint8 with a robust 0.5–99.5 % stretch.

    The median removes isolated hot pixels and scan-line speckle without moving edges; the
    small Gaussian smooths the remaining shot noise that would otherwise fray thresholded
    outlines. uint8 keeps the OpenCV filters fast. ``median=False`` for particles under
    :data:`_NO_MEDIAN_BELOW_PX` across: the median erases their edges and merges neighbours.
    """
    lo, hi = np.percentile(grey[::2, ::2], [0.5, 99.5])
    scale = 255.0 / max(float(hi - lo), 1e-6)
    u8 = np.clip((grey - lo) * scale, 0, 255).astype(np.uint8)
    if median:
        u8 = cv2.medianBlur(u8, 3)
    return cv2.GaussianBlur(u8, (0, 0), 1.0)


def otsu(u8: np.ndarray) -> tuple[float, float]:
    """Otsu threshold of a uint8 image and its effectiveness η = σ_between² / σ_total²."""
    hist = np.bincount(u8.ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    levels = np.arange(256, dtype=np.float64)
    omega = np.cumsum(p)
    mu = np.cumsum(p * levels)
    mu_t = mu[-1]
    var_t = float((p * (levels - mu_t) ** 2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        var_b = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    var_b = np.nan_to_num(var_b, nan=0.0, posinf=0.0)
    t = int(np.argmax(var_b))
    eta = float(var_b[t] / var_t) if var_t > 0 else 0.0
    # Pixels <= t form the dark class; report the threshold between t and t+1.
    return t + 0.5, eta


def choose_threshold(u8: np.ndarray) -> ThresholdChoice:
    """Pick the thresholding method for this image; the reason is returned with it.

    - **Otsu** when the histogram is clearly bimodal (η ≥ 0.5) and both phases are
      substantial: it is then the maximum-likelihood split and very stable.
    - **Li** (minimum cross-entropy) when one phase is a small minority (< 15 % of pixels at
      the Otsu split): sparse particles on a large substrate, where Otsu's threshold drifts
      into the substrate's tail and fattens or merges particles.
    - **Adaptive** (local mean over a window of ~1/8 of the image) when the histogram has no
      usable valley (η < 0.5, below even a single Gaussian's 0.64): the phases overlap
      globally, typically through residual shading or faint particles on a noisy substrate,
      and only a local comparison separates them.
    """
    t_otsu, eta = otsu(u8)
    if eta < _BIMODAL_EFFECTIVENESS:
        return ThresholdChoice(
            "adaptive", None, f"histogram not bimodal (Otsu effectiveness {eta:.2f} < 0.5)"
        )
    frac_bright = float((u8 > t_otsu).mean())
    minority = min(frac_bright, 1.0 - frac_bright)
    if minority < _MINORITY_FRACTION:
        t_li = float(threshold_li(u8[::2, ::2], initial_guess=t_otsu))
        return ThresholdChoice(
            "li",
            t_li,
            f"one phase is a minority ({minority:.1%} of pixels at Otsu): Li is unbiased there",
        )
    return ThresholdChoice("otsu", t_otsu, f"bimodal histogram (Otsu effectiveness {eta:.2f})")


def choose_polarity(u8: np.ndarray, threshold: float) -> Literal["bright", "dark"]:
    """Decide whether particles are brighter (SEM secondary electrons) or darker (TEM, BSE of
    light particles on a heavy substrate) than their background.

    Particles are compact convex blobs; in a dense field the substrate is left as concave
    pockets between them. So when the two phases' area-weighted solidities differ clearly
    (by more than 0.2), the more convex phase is the particles. Otherwise the minority phase
    is taken as the particles (the usual sparse field). Measured with the ground-truth masks
    (2026-11-28): right on 83 % of 150 EMPS micrographs (area alone 75 %, image frame 72 %,
    texture 71 %) and on 39 of 40 synthetic ones. A 0.3 margin scored 85 % but the same
    pooled F1 on EMPS 40–150 (0.30) and a lower one on EMPS 0–40 (0.23 vs 0.33). Known
    failure: a field of crossing wires leaves convex substrate pockets between them and is
    read inverted; pass the polarity explicitly there.
    """
    bright = u8 > threshold
    s_bright = _phase_solidity(bright)
    s_dark = _phase_solidity(~bright)
    if abs(s_bright - s_dark) > 0.2:
        return "bright" if s_bright > s_dark else "dark"
    return "bright" if float(bright.mean()) < 0.5 else "dark"


def _phase_solidity(mask: np.ndarray, *, min_area_px: int = 30, max_components: int = 64) -> float:
    """Area-weighted mean solidity (area / convex-hull area) of a phase's largest components."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas, kind="stable")[:max_components]
    total = weighted = 0.0
    for k in order:
        area = float(areas[k])
        if area < min_area_px:
            break
        x, y, w, h = stats[k + 1, :4]
        crop = (lab[y : y + h, x : x + w] == k + 1).astype(np.uint8)
        contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        points = np.concatenate(contours).reshape(-1, 2)
        hull_area = _corner_hull_area(points)
        weighted += area * min(1.0, area / hull_area)
        total += area
    return weighted / total if total else 0.0


def _corner_hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of the pixel SQUARES centred on ``points`` (x, y)."""
    offsets = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], dtype=np.float32)
    corners = (points[:, None, :].astype(np.float32) + offsets[None]).reshape(-1, 2)
    return float(cv2.contourArea(cv2.convexHull(corners)))


def _adaptive_foreground(u8: np.ndarray, polarity: Literal["bright", "dark"]) -> np.ndarray:
    h, w = u8.shape
    block = max(15, (min(h, w) // 8) | 1)
    local = cv2.blur(u8.astype(np.float32), (block, block))
    # A pixel must differ from its neighbourhood by a few grey levels to count: without the
    # offset, flat substrate splits into noise-driven halves.
    offset = max(2.0, 0.5 * float(np.std(u8)))
    if polarity == "bright":
        return u8.astype(np.float32) > local + offset
    return u8.astype(np.float32) < local - offset


def segment_classical(
    grey: np.ndarray,
    region: Region | None = None,
    *,
    polarity: Polarity = "auto",
    split_touching: bool = True,
    min_area_px: float = 10,
    diameter_px: float | None = None,
) -> ClassicalSegmentation:
    """Segment particles in ``grey`` inside ``region`` with a classical pipeline.

    Parameters
    ----------
    grey : (H, W) float ndarray in [0, 1]
    region : Region, optional
        The analysed rectangle (image minus data bar); ``None`` = whole image.
    polarity : "auto", "bright" or "dark"
        Whether particles are brighter or darker than the substrate; "auto" decides per image
        (:func:`choose_polarity`).
    split_touching : bool
        Run the distance-transform watershed (:func:`postprocess.split_touching`).
    min_area_px : float
        Blobs smaller than this are treated as noise before the split.
    diameter_px : float, optional
        The typical particle diameter (:mod:`analysis.segment.scale`): small particles skip
        the median filter, and the watershed's neck depth follows the size
        (:func:`postprocess.split_params`). ``None`` keeps the fixed settings.

    Returns
    -------
    ClassicalSegmentation with labels in full-image coordinates. Particles touching the
    region's edge are kept here; removing them is the caller's choice
    (:func:`postprocess.remove_border_touching`).
    """
    h, w = grey.shape
    r = region or Region(0, 0, w, h)
    crop = np.asarray(grey[r.y0 : r.y1, r.x0 : r.x1], dtype=np.float32)
    flat, flattened = flatten_background(crop)
    small = diameter_px is not None and diameter_px < _NO_MEDIAN_BELOW_PX
    u8 = denoise(flat, median=not small)
    choice = choose_threshold(u8)
    t_for_polarity = choice.value if choice.value is not None else otsu(u8)[0]
    pol: Literal["bright", "dark"] = (
        choose_polarity(u8, t_for_polarity) if polarity == "auto" else polarity
    )
    if choice.method == "adaptive":
        fg = _adaptive_foreground(u8, pol)
    else:
        fg = u8 > choice.value if pol == "bright" else u8 <= choice.value
    fg, strokes = _clean(fg)
    labels, _ = ndi.label(fg)
    labels = postprocess.remove_small(labels.astype(np.int32), min_area_px)
    labels, rejected = reject_non_particles(labels, u8, crop, strokes)
    labels = postprocess.fill_holes(labels)
    if split_touching:
        labels = postprocess.split_touching(labels, **postprocess.split_params(diameter_px))
        labels = postprocess.remove_small(labels, min_area_px)
    full = np.zeros((h, w), dtype=np.int64)
    full[r.y0 : r.y1, r.x0 : r.x1] = labels
    fg_full = np.zeros((h, w), dtype=bool)
    fg_full[r.y0 : r.y1, r.x0 : r.x1] = fg
    return ClassicalSegmentation(
        labels=postprocess.relabel_sequential(full),
        foreground=fg_full,
        polarity=pol,
        threshold=choice,
        background_flattened=flattened,
        rejected=rejected,
    )


def component_features(
    labels: np.ndarray, u8: np.ndarray, grey: np.ndarray, strokes: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-component evidence for :func:`reject_non_particles`, each array indexed by label.

    contrast : |mean inside − mean of a 3 px ring outside|, in grey levels of ``u8`` (the
        denoised, 0.5–99.5 %-stretched image), so it is comparable between images.
    saturated : fraction of pixels at the ends of the raw range (≤ 0.03 or ≥ 0.97 of
        ``grey``): burned-in text and symbols are drawn pure black or white.
    thinness : area / (π r²) with r the largest inscribed radius (distance transform of
        ``strokes``, the mask before hole filling; default ``labels > 0``): 1 for a disc,
        ~2 for a 3:1 rod, 3–20 for letters (whose filled counters do not count in r).
        Computed only where ``saturated`` exceeds the text rule's cut (NaN elsewhere).
    solidity : area / area of the convex hull of the pixel squares; computed only below
        ``_RAGGED_MAX_AREA_PX`` (NaN elsewhere).

    Only vectorised passes over the image plus short loops over the candidates of the
    shape rules: the whole costs ~10 ms on a 1024 × 768 field of 300 particles.
    """
    n = int(labels.max())
    flat = labels.ravel()
    area = np.bincount(flat, minlength=n + 1).astype(np.float64)
    u8_flat = u8.ravel().astype(np.float64)
    inside = np.bincount(flat, weights=u8_flat, minlength=n + 1)
    ring_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
    grown = cv2.dilate(labels.astype(np.float32), ring_kernel).ravel()
    ring = np.flatnonzero((flat == 0) & (grown > 0))
    ring_ids = grown[ring].astype(np.int64)
    ring_n = np.bincount(ring_ids, minlength=n + 1).astype(np.float64)
    ring_sum = np.bincount(ring_ids, weights=u8_flat[ring], minlength=n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        contrast = np.abs(inside / area - ring_sum / ring_n)
        extreme = (grey <= 0.03) | (grey >= 0.97)
        saturated = np.nan_to_num(np.bincount(flat[extreme.ravel()], minlength=n + 1) / area)
    contrast = np.where(ring_n > 0, np.nan_to_num(contrast, nan=np.inf), np.inf)
    contrast[0] = np.inf
    thinness = np.full(n + 1, np.nan)
    text_candidates = np.flatnonzero(saturated > _TEXT_SATURATED)
    if text_candidates.size:
        slices = ndi.find_objects(labels)
        ink = labels > 0 if strokes is None else strokes
        for k in text_candidates[text_candidates > 0].tolist():
            sl = slices[k - 1]
            mask = ((labels[sl] == k) & ink[sl]).astype(np.uint8)
            dist = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 3)
            thinness[k] = area[k] / (np.pi * max(float(dist.max()), 0.5) ** 2)
    solidity = np.full(n + 1, np.nan)
    # One contour pass over the filled mask: an outer contour is one component, except where
    # components touch only diagonally (4-connected labels, 8-connected contours): those are
    # redone one by one, or the merged hull would make both look ragged.
    contours, _ = cv2.findContours(
        (labels > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    merged: set[int] = set()
    for contour in contours:
        ids = labels[contour[:, 0, 1], contour[:, 0, 0]]
        k = int(ids[0])
        if not 0 < area[k] < _RAGGED_MAX_AREA_PX:
            continue
        if (ids != k).any():
            merged.update(int(i) for i in np.unique(ids))
            continue
        solidity[k] = area[k] / _pixel_hull_area(contour)
    if merged:
        slices = ndi.find_objects(labels)
        for k in sorted(merged):
            if not 0 < area[k] < _RAGGED_MAX_AREA_PX:
                continue
            crop = np.pad((labels[slices[k - 1]] == k).astype(np.uint8), 1)
            found, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            solidity[k] = area[k] / _pixel_hull_area(np.concatenate(found))
    return {
        "area": area,
        "contrast": contrast,
        "saturated": saturated,
        "thinness": thinness,
        "solidity": solidity,
    }


def _pixel_hull_area(points: np.ndarray) -> float:
    """Hull of the pixel centres plus half its perimeter + 1: ≈ hull of the pixel squares."""
    hull = cv2.convexHull(points)
    return float(cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True) + 1.0)


def reject_non_particles(
    labels: np.ndarray, u8: np.ndarray, grey: np.ndarray, strokes: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """Drop components that are not particles: substrate texture and burned-in text.

    Returns the label map without them and how many each rule removed. Run on the connected
    components BEFORE the watershed split, so a letter is judged whole (its pieces after a
    split would look like small particles) and a clump of touching particles is judged by
    its contrast only.
    """
    f = component_features(labels, u8, grey, strokes)
    low_contrast = f["contrast"] < _MIN_CONTRAST_U8
    text = (f["saturated"] > _TEXT_SATURATED) & (np.nan_to_num(f["thinness"]) > _TEXT_THINNESS)
    ragged = np.nan_to_num(f["solidity"], nan=1.0) < _RAGGED_SOLIDITY
    text = text & ~low_contrast
    ragged = ragged & ~low_contrast & ~text
    drop = low_contrast | text | ragged
    drop[0] = False
    counts = {
        "low_contrast": int(low_contrast[1:].sum()),
        "text_like": int(text[1:].sum()),
        "ragged": int(ragged[1:].sum()),
    }
    return postprocess.keep_labels(labels, ~drop), counts


def _clean(fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open with a 3×3 cross (drops 1-px spurs and speckle) and fill enclosed holes.

    Returns the filled mask and the opened one before filling (its strokes are what tells a
    letter "a" or "o" from a solid particle once the letter's counter is filled).
    """
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    opened = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, cross).astype(bool)
    return postprocess.binary_fill_holes(opened), opened
