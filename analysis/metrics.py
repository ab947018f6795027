"""Instance-segmentation quality: IoU matching, F1 at an IoU threshold, panoptic quality, AP.

Pure numpy/scipy on label maps (``(H, W)`` integer ndarrays, 0 = background), so the
classical benchmark and the model evaluation score exactly the same way.

Definitions (as in the instance-segmentation literature):

- A predicted and a ground-truth instance *match* when their IoU is at least the threshold;
  each instance matches at most once (optimal one-to-one assignment maximising total IoU;
  for thresholds ≥ 0.5 matches are unique anyway, since two instances cannot both overlap
  one instance by more than half).
- ``F1 = 2 TP / (2 TP + FP + FN)``.
- Panoptic quality ``PQ = sum(IoU of matches) / (TP + FP/2 + FN/2)`` at IoU 0.5, which is
  segmentation quality (mean IoU of matches) times recognition quality (F1) (Kirillov et
  al., 2019).
- :func:`average_precision` without scores is the cellpose / DSB 2018 definition
  ``TP / (TP + FP + FN)``; :func:`mask_ap` with scores is the COCO-style area under the
  101-point interpolated precision–recall curve at one IoU threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "MatchCounts",
    "average_precision",
    "f1_score",
    "iou_matrix",
    "mask_ap",
    "match_instances",
    "panoptic_quality",
    "score_dataset",
]


_DENSE_MAX = 4_000_000  # label pairs for the direct-indexed contingency table (32 MB)


def iou_matrix(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every ground-truth instance with every predicted instance.

    Returns
    -------
    iou : (G, P) float ndarray
        ``iou[i, j]`` is the IoU of ``gt_ids[i]`` and ``pred_ids[j]``.
    gt_ids, pred_ids : 1-D int ndarrays of the label values present (background excluded).
    """
    if gt.shape != pred.shape:
        raise ValueError(f"label maps differ in shape: {gt.shape} vs {pred.shape}")
    g = gt.ravel().astype(np.int64)
    p = pred.ravel().astype(np.int64)
    m_g, m_p = int(g.max(initial=0)), int(p.max(initial=0))
    if g.size and g.min() >= 0 and p.min() >= 0 and (m_g + 1) * (m_p + 1) <= _DENSE_MAX:
        # Label values index the table directly: no sort or hash of the whole frame (the
        # auto path compares full-frame label maps several times per image).
        area_g = np.bincount(g, minlength=m_g + 1)
        area_p = np.bincount(p, minlength=m_p + 1)
        both = (g > 0) & (p > 0)
        table = np.bincount(g[both] * (m_p + 1) + p[both], minlength=(m_g + 1) * (m_p + 1))
        gt_ids = np.flatnonzero(area_g[1:]) + 1
        pred_ids = np.flatnonzero(area_p[1:]) + 1
        inter = table.reshape(m_g + 1, m_p + 1)[np.ix_(gt_ids, pred_ids)].astype(np.float64)
        union = area_g[gt_ids][:, None] + area_p[pred_ids][None, :] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, inter / union, 0.0)
        return iou, gt_ids, pred_ids
    gt_ids = np.unique(g)
    gt_ids = gt_ids[gt_ids > 0]
    pred_ids = np.unique(p)
    pred_ids = pred_ids[pred_ids > 0]
    # Compact ids 0..G / 0..P (0 = background) so the contingency table stays small.
    gi = np.searchsorted(np.concatenate([[0], gt_ids]), g)
    pi = np.searchsorted(np.concatenate([[0], pred_ids]), p)
    n_g, n_p = gt_ids.size + 1, pred_ids.size + 1
    inter = np.bincount(gi * n_p + pi, minlength=n_g * n_p).reshape(n_g, n_p)
    area_g = inter.sum(axis=1)
    area_p = inter.sum(axis=0)
    inter = inter[1:, 1:].astype(np.float64)
    union = area_g[1:, None] + area_p[None, 1:] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou, gt_ids, pred_ids


def match_instances(
    gt: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matches with IoU ≥ ``iou_threshold``.

    Returns
    -------
    gt_matched, pred_matched : 1-D int ndarrays of matched label values (pairwise).
    ious : 1-D float ndarray, the IoU of each pair.
    """
    iou, gt_ids, pred_ids = iou_matrix(gt, pred)
    rows, cols = _assign(iou, iou_threshold)
    return gt_ids[rows], pred_ids[cols], iou[rows, cols]


def _assign(iou: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    if iou.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    eligible = iou >= threshold
    if threshold > 0.5:
        # Unique anyway: no assignment problem to solve.
        rows, cols = np.nonzero(eligible)
        return rows, cols
    # Restrict the assignment to rows/cols that have any candidate (keeps it small).
    r_any = np.flatnonzero(eligible.any(axis=1))
    c_any = np.flatnonzero(eligible.any(axis=0))
    if r_any.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    sub = np.where(eligible[np.ix_(r_any, c_any)], iou[np.ix_(r_any, c_any)], 0.0)
    rr, cc = linear_sum_assignment(sub, maximize=True)
    ok = sub[rr, cc] >= threshold
    return r_any[rr[ok]], c_any[cc[ok]]


@dataclass
class MatchCounts:
    """Counts behind F1 and PQ; add them over images to score a whole dataset."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    iou_sum: float = 0.0

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.iou_sum + other.iou_sum
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 1.0

    @property
    def sq(self) -> float:
        """Segmentation quality: mean IoU of the matched pairs."""
        return self.iou_sum / self.tp if self.tp else 0.0

    @property
    def pq(self) -> float:
        d = self.tp + 0.5 * self.fp + 0.5 * self.fn
        return self.iou_sum / d if d else 1.0

    def as_dict(self) -> dict[str, float]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "sq": self.sq,
            "pq": self.pq,
        }


def match_counts(gt: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5) -> MatchCounts:
    """TP / FP / FN and the IoU sum of the matches for one image."""
    iou, gt_ids, pred_ids = iou_matrix(gt, pred)
    rows, cols = _assign(iou, iou_threshold)
    tp = int(rows.size)
    return MatchCounts(
        tp=tp,
        fp=int(pred_ids.size) - tp,
        fn=int(gt_ids.size) - tp,
        iou_sum=float(iou[rows, cols].sum()),
    )


def f1_score(gt: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5) -> float:
    """F1 of instance detection at ``iou_threshold`` (1.0 when both maps are empty)."""
    return match_counts(gt, pred, iou_threshold).f1


def panoptic_quality(gt: np.ndarray, pred: np.ndarray) -> float:
    """Panoptic quality (single 'particle' class, IoU 0.5); 1.0 when both maps are empty."""
    return match_counts(gt, pred, 0.5).pq


def average_precision(
    gt: np.ndarray, pred: np.ndarray, thresholds: Sequence[float] = (0.5, 0.75, 0.9)
) -> dict[float, float]:
    """``TP / (TP + FP + FN)`` at each IoU threshold (cellpose / DSB 2018 'AP')."""
    iou, gt_ids, pred_ids = iou_matrix(gt, pred)
    out: dict[float, float] = {}
    for t in thresholds:
        rows, _ = _assign(iou, t)
        tp = rows.size
        d = gt_ids.size + pred_ids.size - tp
        out[float(t)] = tp / d if d else 1.0
    return out


def mask_ap(
    gts: Iterable[np.ndarray],
    preds: Iterable[np.ndarray],
    scores: Iterable[dict[int, float] | np.ndarray],
    iou_threshold: float = 0.5,
) -> float:
    """COCO-style average precision over a set of images, at one IoU threshold.

    ``scores[k]`` gives the confidence of each predicted label of image ``k``: a dict
    ``{label: score}`` or an array indexed by label value. Predictions are ranked by score
    over the whole set; a prediction is a true positive when it matches a ground-truth
    instance (the one-to-one matching of :func:`match_instances`). Precision is made
    monotone and sampled at 101 recall points, as in pycocotools.
    """
    all_scores: list[float] = []
    all_tp: list[bool] = []
    n_gt = 0
    for gt, pred, sc in zip(gts, preds, scores, strict=True):
        iou, gt_ids, pred_ids = iou_matrix(gt, pred)
        _, cols = _assign(iou, iou_threshold)
        matched = np.zeros(pred_ids.size, dtype=bool)
        matched[cols] = True
        n_gt += gt_ids.size
        for j, lab in enumerate(pred_ids):
            all_scores.append(float(sc[int(lab)]))
            all_tp.append(bool(matched[j]))
    if n_gt == 0:
        return 1.0 if not all_scores else 0.0
    if not all_scores:  # particles exist but nothing was predicted: no precision to sample
        return 0.0
    order = np.argsort(-np.asarray(all_scores), kind="stable")
    tp = np.asarray(all_tp, dtype=np.float64)[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(1.0 - tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    precision = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    points = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, points, side="left")
    sampled = np.where(idx < precision.size, precision[np.minimum(idx, precision.size - 1)], 0.0)
    return float(sampled.mean())


def score_dataset(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], iou_threshold: float = 0.5
) -> MatchCounts:
    """Pooled counts over ``(gt, pred)`` pairs: dataset F1 / PQ weight every particle alike."""
    total = MatchCounts()
    for gt, pred in pairs:
        total = total + match_counts(gt, pred, iou_threshold)
    return total
