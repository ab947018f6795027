"""``--method auto``: per image, keep the model's result only when it is trustworthy.

The model wins where it is confident and broadly agrees with thresholding about where the
particles are (it then separates touching particles and ignores marks better); when it is
unsure, finds nothing that thresholding clearly sees, or disagrees strongly without high
confidence, the classical result is kept. The reason is recorded with the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from analysis import metrics


@dataclass(frozen=True)
class AutoThresholds:
    """Decision thresholds (chosen on the EMPS validation split; see MODEL_CARD.md)."""

    min_mean_score: float = 0.35
    min_foreground_iou: float = 0.2
    confident_score: float = 0.5
    empty_coverage: float = 0.005  # classical foreground fraction still called "nothing"


def foreground_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the particle/background masks of two label maps (1.0 when both are empty)."""
    fa, fb = a > 0, b > 0
    union = int((fa | fb).sum())
    return float((fa & fb).sum()) / union if union else 1.0


def choose_segmentation(
    model_labels: np.ndarray,
    model_scores: np.ndarray,
    classical_labels: np.ndarray,
    thresholds: AutoThresholds | None = None,
) -> tuple[np.ndarray, str, str]:
    """Pick the model's or the classical labels for one image.

    Returns ``(labels, path_name, reason)`` where ``path_name`` is ``"model"`` or
    ``"classical"``.
    """
    t = thresholds or AutoThresholds()
    n_model = int(np.asarray(model_scores).size)
    classical_cover = float((classical_labels > 0).mean()) if classical_labels.size else 0.0
    if n_model == 0:
        if classical_cover <= t.empty_coverage:
            return model_labels, "model", "both find (almost) nothing"
        return classical_labels, "classical", "model found no particles"
    mean_score = float(np.mean(model_scores))
    if mean_score < t.min_mean_score:
        return classical_labels, "classical", f"model unsure (mean score {mean_score:.2f})"
    agree = foreground_iou(model_labels, classical_labels)
    if agree >= t.min_foreground_iou:
        return model_labels, "model", f"model agrees with thresholding (fg IoU {agree:.2f})"
    if mean_score >= t.confident_score:
        return (
            model_labels,
            "model",
            (f"model confident (mean score {mean_score:.2f}) despite low fg IoU {agree:.2f}"),
        )
    return (
        classical_labels,
        "classical",
        (f"model and thresholding disagree (fg IoU {agree:.2f}, mean score {mean_score:.2f})"),
    )


# ---------------------------------------------------------------------------------------
# issue 9: quality signals, a per-instance merge, and the guard against noise


# A result is "noise-blob shaped" when at least half its particles lie within twice the area
# floor and there are many of them: real populations sit well above a floor placed at 30 %
# of their typical diameter; noise blobs pile up right at it.
_NOISE_AT_FLOOR_FRACTION = 0.5
_NOISE_MIN_COUNT = 20
_MIN_POPULATION = 10
_GIANT_AREA_RATIO = 10.0
_GIANT_COVER = 0.3
# Scale consistency: a result whose median diameter is off the (confident) scale estimate by
# more than this factor either way does not describe the particles the image shows.
_SCALE_TOLERANCE = 2.0
_SCALE_CONFIDENT = 0.5
# A classical instance replaces the model's outline when they are the same particle (IoU ≥
# 0.5, a one-to-one match) and the classical outline lies on stronger image edges (mean
# gradient on the boundary): the model's masks come from a coarse prototype grid, a threshold
# follows the particle's own edge where it has one.
_OUTLINE_IOU = 0.5
# Replacing by IoU alone (no edge test) lost at every sweep size once the model ran at the
# particles' scale (PQ 12 px 0.932 vs model 0.957, 48 px 0.978 vs 0.993); on msa-tem the
# threshold's outlines are the better ones (classical 0.80, model 0.57): the edge test decides.
# Below this typical diameter thresholding leads: the network's input is then upsampled
# over 4× and holds no more than the threshold sees (6-px sweep PQ: classical 0.821, model
# 0.811; dense 4–8 px monolayer 0.669 vs 0.253).
_TINY_DIAMETER_PX = 8.0
# Classical instances the model missed (no overlap with any model instance) are added when
# the classical result is trustworthy where both see particles: at least this share of its
# instances are matched by the model at IoU 0.5.
_ADD_MISSED_AGREEMENT = 0.6


EMPTY_REASON = "no particle-like structure above the image noise (particle-scale estimate)"


@dataclass(frozen=True)
class Signals:
    """Quality signals of one candidate segmentation."""

    n: int
    coverage: float
    median_diameter_px: float | None
    at_floor_fraction: float
    noise_like: bool
    scale_ratio: float | None  # median diameter / scale estimate
    scale_consistent: bool

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("coverage", "median_diameter_px", "at_floor_fraction", "scale_ratio"):
            if d[k] is not None:
                d[k] = round(float(d[k]), 4)
        return d


def signals(
    labels: np.ndarray,
    floor_px: float,
    diameter_px: float | None,
    confidence: float,
) -> Signals:
    """Count, coverage, median diameter, noise-blob signature and scale consistency."""
    areas = np.bincount(labels.ravel().astype(np.int64))[1:]
    areas = areas[areas > 0]
    n = int(areas.size)
    coverage = float((labels > 0).mean()) if labels.size else 0.0
    if n == 0:
        return Signals(0, coverage, None, 0.0, False, None, True)
    med = float(np.median(2.0 * np.sqrt(areas / np.pi)))
    at_floor = float((areas < 2.0 * max(floor_px, 1.0)).mean())
    noise_like = n >= _NOISE_MIN_COUNT and at_floor >= _NOISE_AT_FLOOR_FRACTION
    # Components over 10× the median area that together cover 30 % of the frame are a
    # threshold through shading or the substrate, not members of a population (an empty
    # shaded field: 5 such blobs, 47 %; the largest real sphere of the bench covers 10 %).
    giant = areas[areas > _GIANT_AREA_RATIO * float(np.median(areas))]
    noise_like = noise_like or float(giant.sum()) > _GIANT_COVER * labels.size
    ratio = med / diameter_px if diameter_px else None
    consistent = (
        ratio is None
        or confidence < _SCALE_CONFIDENT
        or 1.0 / _SCALE_TOLERANCE <= ratio <= _SCALE_TOLERANCE
    )
    return Signals(n, coverage, med, at_floor, noise_like, ratio, consistent)


def merge_outlines(
    model_labels: np.ndarray,
    model_scores: np.ndarray,
    classical_labels: np.ndarray,
    *,
    add_missed: bool,
    classical_outlines: bool = True,
    grey: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The model's instances, with the classical outline where the two agree closely.

    Every model instance stays one particle (the model separates touching particles and
    ignores marks better); where a classical instance matches it at IoU ≥ 0.75 the classical
    pixels are used instead (``classical_outlines``: when the model's masks are coarse).
    With ``add_missed``, classical instances that touch no model instance at all are added
    (score 0.5: found by thresholding only).
    Returns ``(labels uint32 1..N, scores (N,), counts)``.
    """
    iou, m_ids, c_ids = metrics.iou_matrix(model_labels, classical_labels)
    out = np.zeros(model_labels.shape, np.uint32)
    scores: list[float] = []
    lut_m = np.zeros(int(model_labels.max(initial=0)) + 1, np.int64)
    replaced = 0
    best_c = iou.argmax(axis=1) if iou.shape[1] else np.zeros(len(m_ids), np.int64)
    best_iou = iou.max(axis=1) if iou.shape[1] else np.zeros(len(m_ids))
    take_c = np.zeros(int(classical_labels.max(initial=0)) + 1, np.int64)
    if grey is not None:
        edges = edge_strength(grey)
        edge_m, edge_c = boundary_edge(model_labels, edges), boundary_edge(classical_labels, edges)
    for k, mid in enumerate(m_ids.tolist()):
        scores.append(float(model_scores[mid - 1]) if mid - 1 < len(model_scores) else 1.0)
        new = len(scores)
        better = classical_outlines
        if grey is not None and iou.shape[1]:
            # The outline that sits on the stronger image edge wins (per particle).
            better = edge_c[c_ids[best_c[k]]] > edge_m[mid]
        if better and best_iou[k] >= _OUTLINE_IOU:
            take_c[c_ids[best_c[k]]] = new
            replaced += 1
        else:
            lut_m[mid] = new
    out = lut_m[model_labels.astype(np.int64)].astype(np.uint32)
    from_c = take_c[classical_labels.astype(np.int64)]
    # A replaced particle: drop its model pixels, paint the classical ones (not over others).
    replaced_ids = np.flatnonzero(take_c)
    if replaced_ids.size:
        out[(from_c > 0) & (out == 0)] = from_c[(from_c > 0) & (out == 0)]
    added = 0
    if add_missed and iou.shape[1]:
        untouched = c_ids[~(iou > 0).any(axis=0)] if iou.shape[0] else c_ids
        lut_add = np.zeros(int(classical_labels.max(initial=0)) + 1, np.int64)
        for cid in untouched.tolist():
            scores.append(0.5)
            lut_add[cid] = len(scores)
            added += 1
        extra = lut_add[classical_labels.astype(np.int64)]
        out[(extra > 0) & (out == 0)] = extra[(extra > 0) & (out == 0)]
    present = np.unique(out)
    present = present[present > 0]
    remap = np.zeros(len(scores) + 1, np.uint32)
    remap[present] = np.arange(1, present.size + 1, dtype=np.uint32)
    sc = np.asarray(scores, np.float32)[present - 1] if present.size else np.zeros(0, np.float32)
    return remap[out], sc, {"outlines_from_classical": replaced, "added_from_classical": added}


def edge_strength(grey: np.ndarray) -> np.ndarray:
    """Gradient magnitude of the lightly smoothed image: where real outlines lie."""
    smooth = cv2.GaussianBlur(np.asarray(grey, np.float32), (0, 0), 1.0)
    return np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))


def boundary_edge(labels: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean edge strength on each label's boundary pixels, indexed by label value."""
    lab = labels.astype(np.int64)
    b = np.zeros(lab.shape, bool)
    for a, c, sa, sc in (
        (lab[:, 1:], lab[:, :-1], np.s_[:, 1:], np.s_[:, :-1]),
        (lab[1:, :], lab[:-1, :], np.s_[1:, :], np.s_[:-1, :]),
    ):
        diff = a != c
        b[sa] |= diff & (a > 0)
        b[sc] |= diff & (c > 0)
    n = int(lab.max(initial=0)) + 1
    total = np.bincount(lab[b], weights=edges[b], minlength=n)
    count = np.bincount(lab[b], minlength=n)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


@dataclass
class AutoDecision:
    labels: np.ndarray
    scores: np.ndarray | None  # None: classical labels (no model scores)
    path: str  # "model", "classical", "merged", "empty"
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def decide(
    model_labels: np.ndarray,
    model_scores: np.ndarray,
    classical_labels: np.ndarray,
    *,
    floor_px: float,
    diameter_px: float | None,
    confidence: float,
    scale_found: bool = True,
    grey: np.ndarray | None = None,
    thresholds: AutoThresholds | None = None,
) -> AutoDecision:
    """``auto`` for one image: choose or merge the model's and the classical result.

    1. Nothing above the noise (the scale estimate found no blob) and an unsure model: the
       image is empty (noise-only or bare substrate) — whatever thresholding "finds" there
       is noise.
    2. Each candidate is judged plausible when it is not noise-blob shaped (many particles
       piled at the area floor, or giant blobs covering 30 % of the frame; when the model
       found nothing, classical also needs ≥ 10 particles) and its median
       diameter is consistent with the scale
       estimate (within 2× when the estimate is confident).
    3. Both plausible: the historic trust rule (:func:`choose_segmentation`: model score and
       foreground agreement) decides whether the model leads; when it does, the model's
       instances with classical outlines where they agree (:func:`merge_outlines`), plus
       classical particles the model missed when thresholding agrees with the model on most
       of its particles. One plausible: that one. Neither: empty when the model found
       nothing, else the historic rule alone.
    """
    t = thresholds or AutoThresholds()
    n_model = int(np.asarray(model_scores).size)
    mean_score = float(np.mean(model_scores)) if n_model else 0.0
    sm = signals(model_labels, floor_px, diameter_px, confidence)
    sc = signals(classical_labels, floor_px, diameter_px, confidence)
    details: dict[str, Any] = {"model": sm.as_dict(), "classical": sc.as_dict()}
    empty = np.zeros(model_labels.shape, np.uint32)
    if not scale_found and (n_model == 0 or mean_score < t.confident_score):
        return AutoDecision(
            empty,
            np.zeros(0, np.float32),
            "empty",
            EMPTY_REASON + ", and the model is not confident",
            details,
        )
    ok_m = n_model > 0 and not sm.noise_like and sm.scale_consistent
    # When the model (at the particles' scale) sees nothing, a handful of thresholded blobs
    # is texture more often than particles: a population is needed to overrule it.
    min_c = _MIN_POPULATION if n_model == 0 else 1
    ok_c = sc.n >= min_c and not sc.noise_like and sc.scale_consistent
    if ok_m and ok_c and diameter_px is not None and diameter_px < _TINY_DIAMETER_PX:
        reason = f"particles of {diameter_px:.1f} px: thresholding leads below 8 px"
        return AutoDecision(classical_labels, None, "classical", reason, details)
    if ok_m and ok_c:
        _, path, reason = choose_segmentation(model_labels, model_scores, classical_labels, t)
        if path == "classical":
            details.update(seg_rule=reason)
            return AutoDecision(classical_labels, None, "classical", reason, details)
        _, c_matched, _ = metrics.match_instances(model_labels, classical_labels, 0.5)
        agreement = c_matched.size / sc.n
        labels, scores, counts = merge_outlines(
            model_labels,
            np.asarray(model_scores),
            classical_labels,
            add_missed=agreement >= _ADD_MISSED_AGREEMENT,
            grey=grey,
        )
        details.update(counts, agreement=round(agreement, 3))
        return AutoDecision(
            labels,
            scores,
            "merged",
            f"both plausible: model instances, {counts['outlines_from_classical']} outlines "
            f"and {counts['added_from_classical']} missed particles from thresholding "
            f"(agreement {agreement:.2f})",
            details,
        )
    if ok_m:
        why = "noise-blob shaped" if sc.noise_like else "inconsistent with the particle scale"
        if sc.n == 0:
            why = "empty"
        return AutoDecision(
            model_labels, np.asarray(model_scores), "model", f"classical result {why}", details
        )
    if ok_c:
        why = "found nothing" if n_model == 0 else "inconsistent with the particle scale"
        if n_model == 0:
            why += f" but thresholding finds a population ({sc.n} particles)"
        if sm.noise_like:
            why = "noise-blob shaped"
        return AutoDecision(classical_labels, None, "classical", f"model {why}", details)
    if n_model == 0:
        return AutoDecision(
            empty,
            np.zeros(0, np.float32),
            "empty",
            "the model finds nothing and thresholding's result is not a plausible population",
            details,
        )
    labels, path, reason = choose_segmentation(model_labels, model_scores, classical_labels, t)
    return AutoDecision(
        labels,
        np.asarray(model_scores) if path == "model" else None,
        path,
        f"no candidate passes the quality signals; {reason}",
        details,
    )
