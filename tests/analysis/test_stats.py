"""Statistics against values computed by hand."""

import math

import numpy as np
import pytest

from analysis.result import Particle
from analysis.stats import (
    REPRESENTATIVE_MIN_COUNT,
    display_fields,
    equal_width_histogram,
    freedman_diaconis_edges,
    summarize,
)


def test_hand_computed_values():
    s = summarize([1.0, 2.0, 3.0, 4.0, 10.0], ["sphere", "sphere", "rod", "sphere", "rod"])
    assert s["count"] == 5 and s["n_dropped"] == 0
    assert s["mean"] == 4.0
    assert s["sd"] == pytest.approx(math.sqrt(12.5))  # squares 9+4+1+0+36 = 50, / 4
    assert s["median"] == s["d50"] == 3.0
    assert s["d10"] == pytest.approx(1.4)  # linear: 1 + 0.4 * (2 - 1)
    assert s["d90"] == pytest.approx(7.6)  # 4 + 0.6 * (10 - 4)
    half = 2.7764451051977987 * math.sqrt(12.5) / math.sqrt(5)  # t(0.975, 4)
    assert s["ci95_mean"] == pytest.approx([4.0 - half, 4.0 + half])
    logs = [math.log(v) for v in (1, 2, 3, 4, 10)]
    mu = sum(logs) / 5
    assert s["geometric_mean"] == pytest.approx(math.exp(mu))
    sd_log = math.sqrt(sum((v - mu) ** 2 for v in logs) / 4)
    assert s["geometric_sd"] == pytest.approx(math.exp(sd_log))
    assert s["lognormal"]["mu"] == pytest.approx(mu)
    assert s["lognormal"]["sigma"] == pytest.approx(sd_log * math.sqrt(4 / 5))  # MLE: / n
    assert s["class_counts"] == {"rod": 2, "sphere": 3}
    assert s["representative"] is False
    # FD: IQR = 4 - 2 = 2, width = 4 / 5^(1/3) = 2.339 -> ceil(9 / 2.339) = 4 bins
    assert s["histogram"]["edges"] == pytest.approx([1.0, 3.25, 5.5, 7.75, 10.0])
    assert s["histogram"]["counts"] == [3, 1, 0, 1]


def test_invalid_values_dropped_and_empty_and_single():
    s = summarize([None, float("nan"), -1.0, 0.0, 5.0])
    assert (s["count"], s["n_dropped"], s["mean"], s["sd"], s["ci95_mean"]) == (
        1,
        4,
        5.0,
        None,
        None,
    )
    empty = summarize([])
    assert empty["count"] == 0 and empty["mean"] is None and empty["histogram"]["counts"] == []


def test_representative_flag_at_250():
    assert summarize([1.0] * (REPRESENTATIVE_MIN_COUNT - 1))["representative"] is False
    assert summarize([1.0] * REPRESENTATIVE_MIN_COUNT)["representative"] is True


def test_particles_use_nm_when_all_calibrated_else_px():
    def p(ecd_nm, ecd_px, cls):
        return Particle(1, [], (0, 0, 1, 1), {"ecd_nm": ecd_nm, "ecd_px": ecd_px}, cls)

    s = summarize([p(10.0, 2.0, "sphere"), p(20.0, 4.0, "cube")])
    assert (s["unit"], s["mean"], s["class_counts"]) == ("nm", 15.0, {"cube": 1, "sphere": 1})
    s = summarize([p(None, 2.0, "sphere"), p(None, 4.0, "sphere")])
    assert (s["unit"], s["mean"]) == ("px", 3.0)


def test_fd_bins_capped_for_outliers():
    edges = freedman_diaconis_edges([1.0] * 100 + [1.1] * 100 + [1e6])
    assert len(edges) == 101


def test_mismatched_classes_rejected():
    with pytest.raises(ValueError):
        summarize([1.0, 2.0], ["sphere"])


def test_display_fields_span_relative_ci_and_curve_scaled_to_counts():
    values = [10.0, 12.0, 14.0, 20.0, 30.0, 11.0, 13.0]
    s = summarize(values)
    d = display_fields(s)
    assert d["span"] == pytest.approx((s["d90"] - s["d10"]) / s["d50"])
    lo, hi = s["ci95_mean"]
    assert d["ci95_rel"] == pytest.approx((hi - lo) / 2 / s["mean"])
    hist = d["histogram"]
    assert hist["counts"] == s["histogram"]["counts"]  # the bars are the summary's own
    x, y = np.asarray(hist["fit_x"]), np.asarray(hist["fit_y"])
    width = (hist["edges"][-1] - hist["edges"][0]) / (len(hist["edges"]) - 1)
    # the curve integrates to (about) the number of particles per bin width, inside the range
    assert np.trapezoid(y, x) / width == pytest.approx(len(values), rel=0.25)


def test_display_fields_without_a_fit_have_no_curve_or_spread():
    d = display_fields(summarize([5.0]))
    assert (d["ci95_rel"], d["histogram"]["fit_x"], d["histogram"]["fit_y"]) == (None, [], [])


def test_equal_width_histogram_counts_every_value_once():
    rows = equal_width_histogram([1.0, 2.0, 3.0, 4.0, 4.0], bins=3)
    assert [c for _, _, c in rows] == [1, 1, 3]
    assert (rows[0][0], rows[-1][1]) == (1.0, 4.0)
    assert equal_width_histogram([], bins=3) == []
    assert sum(c for _, _, c in equal_width_histogram([7.0, 7.0], bins=4)) == 2
