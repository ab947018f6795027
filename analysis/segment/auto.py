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
# 0.4 with its best match, each classical instance used once) and the classical outline has
# the higher rim contrast (:func:`rim_contrast`): the model's masks come from a coarse
# prototype grid, a threshold follows the particle's own edge where it has one. The rule
# picked the truer outline of a matched pair 1030 times out of 1253 on the bench's tuning
# cases (EMPS val 8, msa-tem 0–9, regimes, sweep), mean boundary gradient 882 (a coin flip
# on the 12/24-px sweep). IoU 0.4 rather than 0.5 lets a classical outline win over a model
# mask that is off the same particle by a margin (msa-tem, sweep 24 px).
_OUTLINE_IOU = 0.4
_RIM_PX = 2
# Below this typical diameter thresholding leads: the network's input is then upsampled
# over 4× and holds no more than the threshold sees (6-px sweep PQ: classical 0.821, model
# 0.811; dense 4–8 px monolayer 0.669 vs 0.253).
_TINY_DIAMETER_PX = 8.0
# ... and there the model's outline (from a ≥ 4× upsampled input) replaces the threshold's
# only when its rim contrast is 10 % higher (any higher: dense 4–8 px 0.667 < classical
# 0.669; 10 %: 0.669, and the 6-px sweep 0.830 > baseline 0.828 > classical 0.823).
_TINY_OUTLINE_MARGIN = 1.1
# Classical instances the model missed (at most a fifth of their pixels under model
# instances) are added when the classical result is trustworthy where both see particles:
# at least 60 % of its instances are matched by the model at IoU 0.5, or it confirms at
# least 90 % of the model's instances (the model finds fewer particles than are there, but
# thresholding agrees with every one it finds: msa-tem, where the network misses half the
# particles of an unfamiliar noisy TEM series, PQ 0.759 → 0.779 on frames 0–9).
_ADD_MISSED_AGREEMENT = 0.6
_ADD_MISSED_CONFIRMED = 0.9
_MISSED_MAX_COVERED = 0.2


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
    outline_margin: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The model's instances, with the classical outline where it is the better one.

    Every model instance stays one particle (the model separates touching particles and
    ignores marks better); where its best classical match reaches IoU 0.4, the classical
    pixels are used instead when ``grey`` is given and their rim contrast is higher
    (``outline_margin`` × the model's), or
    always (``classical_outlines``) without ``grey``; and always when only the model's
    outline reaches the frame edge (a bleeding mask must not get a complete particle
    dropped as cut by the frame). With ``add_missed``, classical
    instances at most a fifth under model instances are added on the free pixels (score
    0.5: found by thresholding only). The roles can be swapped (classical instances first,
    the model's outlines where better): ``auto`` does so below 8 px.
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
        con_m, con_c = rim_contrast(model_labels, grey), rim_contrast(classical_labels, grey)
    edge_m, edge_c = touches_frame_edge(model_labels), touches_frame_edge(classical_labels)
    for k, mid in enumerate(m_ids.tolist()):
        scores.append(float(model_scores[mid - 1]) if mid - 1 < len(model_scores) else 1.0)
        new = len(scores)
        better = classical_outlines
        if grey is not None and iou.shape[1]:
            # The outline with the higher rim contrast wins (per particle).
            better = con_c[c_ids[best_c[k]]] > outline_margin * con_m[mid]
        if iou.shape[1] and edge_m[mid] and not edge_c[c_ids[best_c[k]]]:
            # The same particle, but only this outline reaches the frame edge: a mask that
            # bleeds there (large_touching: a 145 000-px sphere's model mask runs 20 px on to
            # the edge) would have the complete particle dropped as cut by the frame.
            better = True
        if better and best_iou[k] >= _OUTLINE_IOU and not take_c[c_ids[best_c[k]]]:
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
        # "Missed": at most a fifth of the classical particle lies under model particles (a
        # neighbour's outline grazing it does not make it the same particle); it is painted
        # on the pixels still free only.
        c_all = classical_labels.ravel().astype(np.int64)
        n_c = int(classical_labels.max(initial=0)) + 1
        area_c = np.bincount(c_all, minlength=n_c)
        covered = np.bincount(c_all[model_labels.ravel() > 0], minlength=n_c)
        frac = covered[c_ids] / np.maximum(area_c[c_ids], 1)
        untouched = c_ids[(frac <= _MISSED_MAX_COVERED) & (take_c[c_ids] == 0)]
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


def touches_frame_edge(labels: np.ndarray) -> np.ndarray:
    """Boolean by label: the instance has a pixel on the first/last row or column."""
    lab = labels.astype(np.int64)
    out = np.zeros(int(lab.max(initial=0)) + 1, bool)
    if lab.size:
        out[np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])] = True
    out[0] = False
    return out


def rim_contrast(labels: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """|mean grey of a band just inside each outline − of a band just outside|, by label.

    The band is :data:`_RIM_PX` wide on each side; outside counts background pixels only.
    An outline on the particle's true edge maximises it: drawn too small, its outer band
    holds particle; too large, its inner band holds background.
    """
    lab = labels.astype(np.int64)
    n = int(lab.max(initial=0)) + 1
    k = np.ones((2 * _RIM_PX + 1,) * 2, np.uint8)
    f = lab.astype(np.float32)
    mx, mn = cv2.dilate(f, k), cv2.erode(f, k)
    g = np.asarray(grey, np.float64)
    inner = (lab > 0) & ((mx != f) | (mn != f))
    outer = (lab == 0) & (mx > 0)
    ids_o = mx[outer].astype(np.int64)
    s_in = np.bincount(lab[inner], weights=g[inner], minlength=n)
    c_in = np.bincount(lab[inner], minlength=n)
    s_out = np.bincount(ids_o, weights=g[outer], minlength=n)
    c_out = np.bincount(ids_o, minlength=n)
    ok = (c_in > 0) & (c_out > 0)
    return np.where(ok, np.abs(s_in / np.maximum(c_in, 1) - s_out / np.maximum(c_out, 1)), 0.0)


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
        labels, _, counts = merge_outlines(
            classical_labels,
            np.ones(sc.n, np.float32),
            model_labels,
            add_missed=False,
            grey=grey,
            outline_margin=_TINY_OUTLINE_MARGIN,
        )
        details.update(counts)
        reason = (
            f"particles of {diameter_px:.1f} px: thresholding leads below 8 px "
            f"({counts['outlines_from_classical']} outlines from the model)"
        )
        return AutoDecision(labels, None, "classical", reason, details)
    if ok_m and ok_c:
        _, path, reason = choose_segmentation(model_labels, model_scores, classical_labels, t)
        if path == "classical":
            details.update(seg_rule=reason)
            return AutoDecision(classical_labels, None, "classical", reason, details)
        _, c_matched, _ = metrics.match_instances(model_labels, classical_labels, 0.5)
        agreement = c_matched.size / sc.n
        # Thresholding confirms the model's particles: all but one, or 90 % of them.
        confirmed = c_matched.size / max(sm.n, 1)
        labels, scores, counts = merge_outlines(
            model_labels,
            np.asarray(model_scores),
            classical_labels,
            add_missed=agreement >= _ADD_MISSED_AGREEMENT or confirmed >= _ADD_MISSED_CONFIRMED,
            grey=grey,
        )
        details.update(counts, agreement=round(agreement, 3), confirmed=round(confirmed, 3))
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
