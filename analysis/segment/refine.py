"""Classical post-processing of the model's instances, each step switchable and measurable.

The network's masks come from a 128×128 prototype grid upsampled to the tile, so their edges
are soft and can sit a pixel or two off the particle; burned-in scale bars, text and panel
letters are occasionally taken for particles; merged neighbours and holes happen. Each step
below fixes one of these and can be turned off (``RefineOptions``) so its effect is measured
alone (``python -m analysis evaluate --method model+post`` with ``--no-<step>``).

Scores travel with the labels: ``scores[k]`` belongs to label ``k + 1`` before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.segmentation import watershed

from analysis.result import Region
from analysis.segment import postprocess


@dataclass
class RefineOptions:
    """Which steps run. Defaults are the ones that helped on the EMPS validation split."""

    drop_marks: bool = True  # scale bars, text, panel letters, data-bar content
    snap_edges: bool = True  # local threshold inside each box
    split_merged: bool = False  # distance watershed on each instance
    fill_holes: bool = True
    drop_border: bool = False  # particles cut by the region edge (the pipeline may do it)
    reshape_touching: bool = True  # boundaries between touching instances follow the image
    min_area_px: int = 6
    snap_band_px: int = 3  # how far snap_edges may move an edge (≥ the mask's pixel step)
    split_diameter_px: float | None = None  # typical diameter for split_merged's settings

    @classmethod
    def none(cls) -> RefineOptions:
        return cls(**{f.name: False for f in fields(cls) if f.type == "bool"}, min_area_px=0)


def reshape_touching(labels: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Redraw the boundary between touching instances along the image's own edges.

    Where the model's instances touch, the line between them comes from its coarse masks
    and the tile merge (often straight). Each group of touching instances is flooded again
    by a marker-controlled watershed: markers are the instances' cores (each eroded to about
    half its inscribed radius, so the contested band is free), the relief is the gradient
    magnitude of the lightly smoothed image (the gap or the bright SE rims between two
    particles are edges), and the flood stays inside the group's union. The number of
    particles never changes; only who owns the pixels near the contact does.
    """
    h, w = labels.shape
    lab = labels.astype(np.int64)
    touching = postprocess._inter_label_boundary(lab)
    if not touching.any():
        return labels.copy()
    groups, n_groups = ndi.label(lab > 0)
    hit = np.unique(groups[touching])
    hit = hit[hit > 0]
    out = lab.copy()
    slices = ndi.find_objects(groups)
    for g in hit.tolist():
        sl = slices[g - 1]
        y0, y1 = max(sl[0].start - 2, 0), min(sl[0].stop + 2, h)
        x0, x1 = max(sl[1].start - 2, 0), min(sl[1].stop + 2, w)
        win = lab[y0:y1, x0:x1]
        mask = groups[y0:y1, x0:x1] == g
        markers = np.zeros(win.shape, np.int64)
        for k in np.unique(win[mask]).tolist():
            m = ((win == k) & mask).astype(np.uint8)
            dist = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
            core = dist >= 0.5 * float(dist.max())
            markers[core] = k
        smooth = cv2.GaussianBlur(grey[y0:y1, x0:x1].astype(np.float32), (0, 0), 1.0)
        gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
        relief = np.hypot(gx, gy)
        flooded = watershed(relief, markers, mask=mask)
        out[y0:y1, x0:x1][mask] = flooded[mask]
    return out.astype(labels.dtype)


def _score_lut(scores: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.asarray(scores, np.float32)])


def _compact(labels: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber present labels 1..N in increasing value; scores follow."""
    present = np.unique(labels)
    present = present[present > 0]
    remap = np.zeros(int(labels.max()) + 1 if labels.size else 1, np.uint32)
    remap[present] = np.arange(1, present.size + 1, dtype=np.uint32)
    return remap[labels], lut[present].astype(np.float32)


def _saturated_fraction(pixels: np.ndarray) -> float:
    return float(((pixels <= 0.03) | (pixels >= 0.97)).mean()) if pixels.size else 0.0


def drop_marks(labels: np.ndarray, grey: np.ndarray, data_bar: Region | None = None) -> np.ndarray:
    """Remove instances on the data bar and ones that look like burned-in marks.

    A mark is (nearly) pure black or white ink — scale bars and lettering are drawn at the
    extremes of the grey range — and sits near the image edge, where figures put them;
    particles, even bright charging ones, carry noise and shading.
    """
    h, w = labels.shape
    out = labels.copy()
    if data_bar is not None:
        on_bar = np.unique(labels[data_bar.y0 : data_bar.y1, data_bar.x0 : data_bar.x1])
        out[np.isin(out, on_bar[on_bar > 0])] = 0
    margin_y, margin_x = 0.2 * h, 0.2 * w
    for lab, sl in enumerate(ndi.find_objects(out), start=1):
        if sl is None:
            continue
        y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
        near_edge = y0 < margin_y or y1 > h - margin_y or x0 < margin_x or x1 > w - margin_x
        if not near_edge:
            continue
        m = out[sl] == lab
        if _saturated_fraction(grey[sl][m]) > 0.8:
            out[sl][m] = 0
    return out


def snap_edges(
    labels: np.ndarray, grey: np.ndarray, band_px: int = 3, min_iou: float = 0.7
) -> np.ndarray:
    """Move each instance's edge to the local Otsu threshold within ``band_px`` of it.

    The threshold and polarity (particle brighter or darker than its surroundings) are taken
    from the instance's own neighbourhood, so uneven shading does not matter. A snapped mask
    that differs much from the model's (IoU < ``min_iou``) is rejected: the model knows the
    particle better than a threshold when contrast is poor.
    """

    h, w = labels.shape
    out = labels.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1, 2 * band_px + 1))
    for lab, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        y0, x0 = max(sl[0].start - band_px, 0), max(sl[1].start - band_px, 0)
        y1, x1 = min(sl[0].stop + band_px, h), min(sl[1].stop + band_px, w)
        lab_win = out[y0:y1, x0:x1]
        g = grey[y0:y1, x0:x1]
        m = (lab_win == lab).astype(np.uint8)
        area = int(m.sum())
        if area < 16:
            continue
        grown = cv2.dilate(m, kernel).astype(bool)
        core = cv2.erode(m, kernel).astype(bool)
        ring = grown & ~m.astype(bool) & (lab_win == 0)
        if ring.sum() < 8 or not core.any():
            continue
        vals = g[grown & ((lab_win == 0) | (lab_win == lab))]
        if np.ptp(vals) < 1e-3:
            continue
        t = threshold_otsu(vals)
        bright = g[m.astype(bool)].mean() > g[ring].mean()
        side = g > t if bright else g <= t
        cand = grown & side & ((lab_win == 0) | (lab_win == lab))
        comp, _ = ndi.label(cand)
        keep_ids = np.unique(comp[core & cand])
        cand = np.isin(comp, keep_ids[keep_ids > 0])
        cand = ndi.binary_fill_holes(cand | core)
        mb = m.astype(bool)
        iou = (cand & mb).sum() / max((cand | mb).sum(), 1)
        if iou >= min_iou:
            lab_win[mb & ~cand] = 0
            lab_win[cand & (lab_win == 0)] = lab
    return out


def _split(
    labels: np.ndarray, lut: np.ndarray, diameter_px: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Watershed split of merged instances; pieces inherit their parent's score."""
    split = postprocess.split_touching(
        labels.astype(np.int64), **postprocess.split_params(diameter_px)
    )
    parent = np.zeros(int(split.max()) + 1, np.int64)
    np.maximum.at(parent, split.ravel(), labels.ravel().astype(np.int64))
    return split, lut[parent]


def refine(
    labels: np.ndarray,
    scores: np.ndarray,
    grey: np.ndarray,
    *,
    region: Region | None = None,
    data_bar: Region | None = None,
    options: RefineOptions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the enabled steps; returns ``(labels uint32 1..N, scores (N,))``."""
    o = options or RefineOptions()
    lut = _score_lut(scores)
    out = labels.astype(np.uint32)
    if o.drop_marks:
        out = drop_marks(out, grey, data_bar)
    if o.snap_edges:
        out = snap_edges(out, grey, band_px=o.snap_band_px)
    if o.split_merged:
        out, lut = _split(out, lut, o.split_diameter_px)
    if o.reshape_touching:
        out = reshape_touching(out, grey)
    if o.fill_holes:
        out = postprocess.fill_holes(out)
    if o.drop_border:
        out = postprocess.remove_border_touching(out, region)
    if o.min_area_px:
        out = postprocess.remove_small(out, o.min_area_px)
    return _compact(out, lut)
