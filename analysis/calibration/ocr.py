"""Offline OCR of scale-bar labels with rapidocr-onnxruntime (its ONNX models ship in the wheel).

Only the recognition model is used, on a crop that holds the label and nothing else: measured
here (ENVIRONMENT.md) that gives 100 % on rendered labels at ~14 ms, while a crop that still
contains the bar line degrades badly. Crops are upscaled 2x (3x below 16 px, 4x below 12 px)
and padded, as the model was trained on text with margins. The detection model of the same
wheel only finds label lines that no threshold isolates (:func:`find_text_lines`). Each model
is created lazily and reused (loading costs ~0.3 s); a lock makes them safe to share between
threads.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from .units import normalise_micro

_PAD_PX = 16
_lock = threading.Lock()
_recognizer: Any = None
_detector: Any = None
_unavailable: str | None = None


def _get_recognizer() -> Any:
    global _recognizer, _unavailable
    if _recognizer is not None or _unavailable is not None:
        return _recognizer
    try:
        # Lazy import: heavy optional (rapidocr loads onnxruntime); only OCR needs it.
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer  # noqa: PLC0415
        from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH  # noqa: PLC0415
        from rapidocr_onnxruntime.utils import read_yaml, update_model_path  # noqa: PLC0415
    except Exception as exc:  # noqa: BLE001 - any import failure means "no OCR here"
        _unavailable = f"OCR unavailable ({exc})"
        return None
    config = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Rec"]
    # One thread: labels are tiny, and workers already run one analysis per core.
    config["intra_op_num_threads"] = 1
    config["inter_op_num_threads"] = 1
    _recognizer = TextRecognizer(config)
    _recognizer.postprocess_op = _LatinDecode(_recognizer.postprocess_op)
    return _recognizer


class _LatinDecode:
    """The recogniser's CTC decoding restricted to what a label or a data band can hold.

    The wheel's model reads Chinese and Latin text (6 625 symbols): a 5-px "µm" or "W" came
    out as "厦" or "丽", the best guess among thousands of glyphs no instrument prints. Only
    the blank, ASCII and a few signs (µ, Å, ×, °, ·) keep their probabilities, so the
    decoding picks the likeliest character among those; its score falls when the model
    preferred another script, as it should.
    """

    _EXTRA = "μµÅ×°·"  # the wheel's dictionary has μ, ×, ° and · (no µ or Å)

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        chars = list(inner.character)
        self._mask = np.array(
            [i == 0 or (len(c) == 1 and (32 <= ord(c) < 127 or c in self._EXTRA))
             for i, c in enumerate(chars)],
            dtype=np.float32,
        )  # fmt: skip

    @property
    def character(self) -> list[str]:
        return list(self._inner.character)

    def __call__(self, preds: np.ndarray, return_word_box: bool = False, **kwargs: Any) -> Any:
        return self._inner(preds * self._mask, return_word_box, **kwargs)


def _get_detector() -> Any:
    """The text-line detector (DB, PP-OCRv4) that ships in the same wheel, created once."""
    global _detector
    if _detector is not None or _unavailable is not None:
        return _detector
    if _get_recognizer() is None:
        return None
    from rapidocr_onnxruntime.ch_ppocr_det import TextDetector  # noqa: PLC0415 - as above
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH  # noqa: PLC0415
    from rapidocr_onnxruntime.utils import read_yaml, update_model_path  # noqa: PLC0415

    config = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Det"]
    # The window is small; the default ("min" side up to 736 px) would blow it up 5-10x.
    config.update(
        intra_op_num_threads=1, inter_op_num_threads=1, limit_type="max", limit_side_len=960
    )
    _detector = TextDetector(config)
    return _detector


def find_text_lines(window: np.ndarray, *, scale: int = 2) -> list[tuple[int, int, int, int]]:
    """Axis-aligned boxes ``(x0, y0, x1, y1)`` of the text lines the detector finds in a grey
    window ((H, W) in [0, 1]), in the window's pixels; ``[]`` when OCR is unavailable.

    Used where the label's glyphs cannot be told from what lies under them by a threshold
    (white text half over a white particle): the detector was trained on text in scenes.
    """
    if window.size == 0 or min(window.shape[:2]) < 8:
        return []
    u8 = (np.clip(window, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    img = cv2.resize(
        cv2.cvtColor(u8, cv2.COLOR_GRAY2BGR), None, fx=scale, fy=scale,
        interpolation=cv2.INTER_CUBIC,
    )  # fmt: skip
    with _lock:
        det = _get_detector()
        if det is None:
            return []
        boxes, _elapsed = det(img)
    out = []
    for quad in boxes if boxes is not None else []:
        (x0, y0), (x1, y1) = quad.min(axis=0) / scale, quad.max(axis=0) / scale
        out.append((int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))))
    return out


def ocr_available() -> bool:
    with _lock:
        return _get_recognizer() is not None


def default_scale(height_px: int) -> int:
    """The upscaling a crop of this height is read at. 2x even for large text: measured better
    on serif "1" (not "[" or "l"); 4x below 12 px: the 5-6 px glyphs of half-size band exports
    (33 of 42 read, 31 at 3x)."""
    return 4 if height_px < 12 else 3 if height_px < 16 else 2


def prepare_crop(
    crop: np.ndarray, *, scale: int | None = None, binarise: bool = False
) -> np.ndarray:
    """(H, W) grey in [0, 1] -> (H', W', 3) uint8 BGR: dark text on light, upscaled, padded.

    ``binarise`` thresholds the upscaled crop (Otsu): pure black glyphs on white, which drops
    anti-aliasing, JPEG halos and a thin outline of the other polarity around the glyphs.
    """
    g = np.asarray(crop, dtype=np.float32)
    lo, hi = float(g.min()), float(g.max())
    g = (g - lo) / (hi - lo) if hi > lo else np.zeros_like(g)
    # Background is the majority: make it white so every crop looks like printed text.
    if float(np.median(g)) < 0.5:
        g = 1.0 - g
    u8 = (g * 255.0 + 0.5).astype(np.uint8)
    if scale is None:
        scale = default_scale(crop.shape[0])
    if scale != 1:
        u8 = cv2.resize(u8, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if binarise:
        _t, u8 = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    u8 = cv2.copyMakeBorder(u8, _PAD_PX, _PAD_PX, _PAD_PX, _PAD_PX, cv2.BORDER_CONSTANT, value=255)
    return cv2.cvtColor(u8, cv2.COLOR_GRAY2BGR)


def read_text(
    crop: np.ndarray, *, scale: int | None = None, binarise: bool = False
) -> tuple[str, float]:
    """Recognise one line of text in a grey crop; returns (text, score in [0, 1]).

    The micro prefix is normalised to U+00B5 (the model emits Greek mu). Returns ``("", 0.0)``
    when OCR is unavailable or the crop is empty.
    """
    if crop.size == 0 or min(crop.shape[:2]) < 4:
        return "", 0.0
    img = prepare_crop(crop, scale=scale, binarise=binarise)
    with _lock:
        rec = _get_recognizer()
        if rec is None:
            return "", 0.0
        result, _elapsed = rec(img)
    text, score = result[0] if result else ("", 0.0)
    return normalise_micro(str(text)).strip(), float(score)
