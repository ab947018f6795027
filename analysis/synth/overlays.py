"""Things burned into micrographs that are *not* particles: instrument data bars, scale bars
and panel letters. The model must learn to ignore them, so the generator draws them on top of
the particles and clears the labels underneath.
"""

from __future__ import annotations

import cv2
import numpy as np

from analysis.result import Region

_NICE_NM = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000)
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)


def nice_scale_nm(pixel_size_nm: float, target_px: float) -> float:
    """Largest round length (nm) whose bar fits in ``target_px`` (else the smallest)."""
    fits = [v for v in _NICE_NM if v / pixel_size_nm <= target_px]
    return float(fits[-1] if fits else _NICE_NM[0])


def format_length(value_nm: float) -> str:
    if value_nm >= 1000:
        v = value_nm / 1000
        return f"{v:g} um"
    return f"{value_nm:g} nm"


def _text(
    canvas: np.ndarray,
    mask: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float,
    value: float,
    font: int,
    thickness: int,
) -> None:
    """Anti-aliased text onto a float canvas (OpenCV 5 draws text on 8-bit images only)."""
    alpha = np.zeros(canvas.shape, np.uint8)
    cv2.putText(alpha, text, org, font, scale, 255, thickness, cv2.LINE_AA)
    a = alpha.astype(np.float32) / 255.0
    canvas *= 1.0 - a
    canvas += a * float(value)
    cv2.putText(mask, text, org, font, scale, 1, thickness + 2, cv2.LINE_8)


def draw_data_bar(
    canvas: np.ndarray, mask: np.ndarray, pixel_size_nm: float, rng: np.random.Generator
) -> Region:
    """Instrument data bar across the bottom: dark strip, white text, scale bar. Returns it."""
    h, w = canvas.shape
    bar_h = int(np.clip(h * rng.uniform(0.06, 0.11), 24, 120))
    y0 = h - bar_h
    shade = rng.uniform(0.0, 0.12)
    canvas[y0:, :] = shade
    mask[y0:, :] = 1
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    scale = bar_h / 60.0
    ink = rng.uniform(0.85, 1.0)
    kv = rng.choice([1.0, 2.0, 5.0, 10.0, 15.0, 20.0])
    mag = int(rng.choice([5000, 20000, 50000, 100000, 200000]))
    fields = [f"HV {kv:.2f} kV", f"WD {rng.uniform(3, 12):.1f} mm", f"mag {mag:,} x", "SE"]
    rng.shuffle(fields)
    x = int(w * 0.02)
    ty = y0 + int(bar_h * 0.62)
    thick = max(1, int(scale * 1.5))
    for f in fields[:3]:
        tw = cv2.getTextSize(f, font, scale, thick)[0][0]
        if x + tw > w * 0.76:
            break
        _text(canvas, mask, f, (x, ty), scale, ink, font, thick)
        x += tw + int(w * 0.04)
    length_nm = nice_scale_nm(pixel_size_nm, w * 0.18)
    length_px = int(round(length_nm / pixel_size_nm))
    bx = int(w * 0.78)
    by = y0 + int(bar_h * 0.35)
    cv2.rectangle(canvas, (bx, by), (bx + length_px, by + max(2, bar_h // 10)), float(ink), -1)
    _text(
        canvas,
        mask,
        format_length(length_nm),
        (bx, y0 + int(bar_h * 0.85)),
        scale * 0.9,
        ink,
        font,
        max(1, int(scale * 1.5)),
    )
    return Region(0, y0, w, h)


def draw_scale_bar(
    canvas: np.ndarray,
    mask: np.ndarray,
    pixel_size_nm: float,
    bright: bool,
    rng: np.random.Generator,
    bottom_px: int,
) -> None:
    """Figure-style burned-in scale bar with its label, in a bottom corner."""
    h, w = canvas.shape
    length_nm = nice_scale_nm(pixel_size_nm, w * rng.uniform(0.12, 0.3))
    length_px = max(8, int(round(length_nm / pixel_size_nm)))
    thick = max(2, int(h * rng.uniform(0.008, 0.02)))
    ink = rng.uniform(0.9, 1.0) if bright else rng.uniform(0.0, 0.08)
    left = rng.random() < 0.3
    x0 = int(w * 0.04) if left else w - int(w * 0.04) - length_px
    y0 = bottom_px - int(h * rng.uniform(0.05, 0.1))
    if rng.random() < 0.35:  # a contrasting box behind, as many figures have
        pad = int(h * 0.02)
        box = 1.0 - ink
        cv2.rectangle(
            canvas,
            (x0 - pad, y0 - int(h * 0.09)),
            (x0 + length_px + pad, y0 + thick + pad),
            float(box),
            -1,
        )
        cv2.rectangle(
            mask, (x0 - pad, y0 - int(h * 0.09)), (x0 + length_px + pad, y0 + thick + pad), 1, -1
        )
    cv2.rectangle(canvas, (x0, y0), (x0 + length_px, y0 + thick), float(ink), -1)
    cv2.rectangle(mask, (x0 - 1, y0 - 1), (x0 + length_px + 1, y0 + thick + 1), 1, -1)
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    scale = h / 600.0 * rng.uniform(0.8, 1.4)
    label = format_length(length_nm)
    tw = cv2.getTextSize(label, font, scale, max(1, int(scale * 2)))[0][0]
    tx = int(np.clip(x0, 2, max(2, w - tw - 2)))
    _text(canvas, mask, label, (tx, y0 - int(h * 0.015)), scale, ink, font, max(1, int(scale * 2)))


def draw_panel_letter(
    canvas: np.ndarray, mask: np.ndarray, bright: bool, rng: np.random.Generator
) -> None:
    """'(a)', 'b', 'IV' … in the top-left corner, as in figure panels."""
    h, w = canvas.shape
    letter = str(rng.choice(["a", "b", "c", "d", "e", "f", "A", "B", "C", "D", "II", "IV"]))
    text = f"({letter})" if rng.random() < 0.5 else letter
    ink = rng.uniform(0.9, 1.0) if bright else rng.uniform(0.0, 0.08)
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    scale = h / 400.0 * rng.uniform(0.8, 1.5)
    _text(
        canvas,
        mask,
        text,
        (int(w * 0.02), int(h * 0.02 + 25 * scale)),
        scale,
        ink,
        font,
        max(1, int(scale * 2)),
    )
