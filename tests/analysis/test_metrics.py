"""Instance-matching metrics with exact answers."""

import numpy as np
import pytest

from analysis.metrics import (
    MatchCounts,
    average_precision,
    f1_score,
    iou_matrix,
    mask_ap,
    match_counts,
    match_instances,
    panoptic_quality,
    score_dataset,
)


@pytest.fixture
def pair():
    gt = np.zeros((10, 20), np.int32)
    gt[0:4, 0:4] = 1  # 16 px
    gt[0:4, 10:14] = 2  # 16 px
    gt[6:10, 0:2] = 3  # 8 px, missed
    pred = np.zeros_like(gt)
    pred[0:4, 0:4] = 7  # exact: IoU 1
    pred[0:4, 11:15] = 9  # shifted by 1: inter 12, union 20 -> IoU 0.6
    pred[8:10, 16:20] = 4  # false positive
    return gt, pred


def test_iou_matrix(pair):
    iou, gt_ids, pred_ids = iou_matrix(*pair)
    assert gt_ids.tolist() == [1, 2, 3] and pred_ids.tolist() == [4, 7, 9]
    assert iou[0, 1] == 1.0 and iou[1, 2] == pytest.approx(0.6) and iou[2].sum() == 0


def test_match_f1_pq(pair):
    g, p, ious = match_instances(*pair)
    assert (
        g.tolist() == [1, 2] and p.tolist() == [7, 9] and ious.tolist() == pytest.approx([1, 0.6])
    )
    c = match_counts(*pair)
    assert (c.tp, c.fp, c.fn) == (2, 1, 1)
    assert f1_score(*pair) == pytest.approx(4 / 6)
    assert panoptic_quality(*pair) == pytest.approx(1.6 / 3)  # 1.6 / (2 + 0.5 + 0.5)
    assert c.sq == pytest.approx(0.8)


def test_average_precision_thresholds(pair):
    ap = average_precision(*pair, thresholds=(0.5, 0.75))
    assert ap == {0.5: pytest.approx(2 / 4), 0.75: pytest.approx(1 / 5)}


def test_low_threshold_uses_optimal_assignment():
    gt = np.zeros((1, 10), np.int32)
    gt[0, 0:4] = 1
    gt[0, 4:8] = 2
    pred = np.zeros_like(gt)
    pred[0, 0:6] = 1  # IoU 4/6 with gt1, 2/6 with gt2
    pred[0, 6:8] = 2  # IoU 2/4 with gt2
    c = match_counts(gt, pred, iou_threshold=0.3)
    assert (c.tp, c.fp, c.fn) == (2, 0, 0)


def test_empty_maps():
    z = np.zeros((5, 5), np.int32)
    assert f1_score(z, z) == 1.0 and panoptic_quality(z, z) == 1.0
    one = z.copy()
    one[1:3, 1:3] = 1
    assert f1_score(one, z) == 0.0 and f1_score(z, one) == 0.0


def test_dataset_pooling(pair):
    total = score_dataset([pair, pair])
    assert total == MatchCounts(tp=4, fp=2, fn=2, iou_sum=pytest.approx(3.2))


def test_mask_ap_with_scores(pair):
    gt, pred = pair
    # The false positive ranked first: precision 0, 1/2, 2/3 at recalls 0, 1/3, 2/3.
    ap = mask_ap([gt], [pred], [{4: 0.9, 7: 0.8, 9: 0.7}])
    points = np.linspace(0, 1, 101)
    expected = np.where(points <= 1 / 3, 2 / 3, np.where(points <= 2 / 3, 2 / 3, 0.0)).mean()
    assert ap == pytest.approx(expected)
    # Ranked last it costs nothing below recall 2/3.
    assert mask_ap([gt], [pred], [{4: 0.1, 7: 0.8, 9: 0.7}]) == pytest.approx(
        (points <= 2 / 3).mean()
    )


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError):
        iou_matrix(np.zeros((2, 2), int), np.zeros((3, 2), int))


def test_mask_ap_is_zero_when_nothing_was_predicted(pair):
    gt, pred = pair
    empty = np.zeros_like(pred)
    assert mask_ap([gt], [empty], [{}]) == 0.0
