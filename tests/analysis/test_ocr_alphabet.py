"""The recogniser's decoding is restricted to what a scale-bar label or a data band prints."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.calibration import ocr


@pytest.fixture
def recognizer():
    rec = ocr._get_recognizer()
    if rec is None:
        pytest.skip("OCR unavailable")
    return rec


def test_a_chinese_best_guess_gives_way_to_the_likeliest_latin_one(recognizer):
    """A 5-px "W" came out as "丽" from the wheel's Chinese-and-Latin model; the decoding now
    picks the best of the symbols an instrument prints, with a score that says it was not
    the model's first choice."""
    chars = recognizer.postprocess_op.character
    han = next(i for i, c in enumerate(chars) if c == "丽")
    w = chars.index("W")
    preds = np.zeros((1, 3, len(chars)), dtype=np.float32)
    preds[0, :, 0] = 1.0  # blank, blank ...
    preds[0, 1, 0] = 0.0
    preds[0, 1, han], preds[0, 1, w] = 0.7, 0.3  # ... then Han first, W second
    ((text, score),) = recognizer.postprocess_op(preds)
    assert text == "W"
    assert score == pytest.approx(0.3)


def test_micro_and_times_signs_survive(recognizer):
    chars = recognizer.postprocess_op.character
    for sign in ("μ", "×"):
        i = chars.index(sign)
        preds = np.zeros((1, 1, len(chars)), dtype=np.float32)
        preds[0, 0, i] = 0.9
        assert recognizer.postprocess_op(preds)[0][0] == sign
