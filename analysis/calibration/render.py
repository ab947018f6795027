"""Synthetic micrographs with a scale bar of known length, for tests and the benchmark.

Each image draws a textured "micrograph", then either an instrument-style data bar along the
bottom (label right of the bar as JEOL does, above it as Zeiss does, or inside it as FEI
does) or a bar burned into a corner (optionally on a contrasting box). Fonts, sizes, bar
thickness, end ticks, polarity, unit spellings and blur vary; the ground truth follows the
convention the reader uses: outer length for plain bars, tick centre to tick centre for
ticked ones. Only fonts available offline are used (DejaVu and STIX from the system or from
matplotlib's bundled data, and Pillow's default font).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from analysis.result import Region

from .units import to_nm

_FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/TTF", "/usr/share/fonts")
_FONT_PREFIXES = ("DejaVu", "STIXGeneral", "Liberation")  # these carry the micro sign
_VALUES = (1, 2, 5, 10, 20, 50, 100, 200, 500)
_UNIT_SPELLINGS = {"nm": ("nm",), "µm": ("µm", "μm", "um")}


@dataclass(frozen=True)
class RenderedBar:
    """A synthetic image and the truth about its scale bar."""

    image: np.ndarray  # (H, W) float32 in [0, 1]
    label: str
    value: float
    unit: str
    length_px: float
    pixel_size_nm: float
    bbox: Region
    data_bar: Region | None
    style: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def available_fonts() -> tuple[str, ...]:
    """Paths of usable TrueType fonts found offline (empty -> Pillow's default font only)."""
    dirs = [Path(d) for d in _FONT_DIRS]
    try:
        # Lazy import: matplotlib is optional (it comes with ultralytics); only its font is used.
        import matplotlib  # noqa: PLC0415

        dirs.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    seen: dict[str, str] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for p in sorted(d.rglob("*.ttf")):
            # "Display" cuts of DejaVu hold only a few glyphs (matplotlib's math digits).
            usable = p.name.startswith(_FONT_PREFIXES) and "Display" not in p.name
            if usable and p.name not in seen:
                seen[p.name] = str(p)
    return tuple(seen.values())


def _font(path: str | None, size: int) -> Any:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A grey, noisy field with blurred blobs: enough texture to fool a naive detector."""

    base = rng.uniform(0.15, 0.75)
    img = np.full((h, w), base, np.float32)
    for _ in range(int(rng.integers(5, 25))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(8, min(h, w) / 6)
        level = float(np.clip(base + rng.choice([-1, 1]) * rng.uniform(0.15, 0.4), 0, 1))
        cv2.circle(img, (int(cx), int(cy)), int(r), level, -1)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(1.0, 3.0))
    img += rng.normal(0, rng.uniform(0.01, 0.06), img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def render_scale_bar_image(
    seed: int | np.random.Generator = 0,
    *,
    width: int = 1024,
    height: int = 768,
    placement: str | None = None,
) -> RenderedBar:
    """Render one image; ``placement`` is ``"databar"``, ``"corner"`` or random."""

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    placement = placement or ("databar" if rng.random() < 0.5 else "corner")
    fonts = available_fonts()
    font_path = str(rng.choice(fonts)) if fonts and rng.random() > 0.1 else None
    font_px = int(rng.integers(12, 34))
    font = _font(font_path, font_px)
    value = int(rng.choice(_VALUES))
    unit = "nm" if rng.random() < 0.55 else "µm"
    spelling = str(rng.choice(_UNIT_SPELLINGS[unit]))
    if font_path is None:
        spelling = "nm" if unit == "nm" else "um"  # Pillow's default font has no micro sign
    label = f"{value}{' ' if rng.random() < 0.7 else ''}{spelling}"
    length = int(rng.integers(50, min(320, width // 3)))
    thick = int(rng.integers(2, 12))
    ticked = rng.random() < 0.35
    tick_w = int(rng.integers(1, 4)) if ticked else 0
    tick_ext = int(rng.integers(3, 9)) if ticked else 0

    img = (_background(rng, height, width) * 255).astype(np.uint8)
    pil = Image.fromarray(img, "L")
    draw = ImageDraw.Draw(pil)
    data_bar = None
    style: dict[str, Any] = {
        "placement": placement,
        "font": Path(font_path).name if font_path else "pillow-default",
        "font_px": font_px,
        "thickness_px": thick,
        "ticked": ticked,
    }
    tb = draw.textbbox((0, 0), label, font=font)
    text_w, text_h = tb[2] - tb[0], tb[3] - tb[1]

    if placement == "databar":
        style_label = str(rng.choice(["right", "above", "inside"]))
        need = text_h + thick + 2 * tick_ext + (30 if style_label == "above" else 16)
        bar_h = max(int(height * rng.uniform(0.06, 0.12)), need)
        y_top = height - bar_h
        bg_val, fg_val = (0, 255) if rng.random() < 0.6 else (255, 0)
        draw.rectangle([0, y_top, width, height], fill=bg_val)
        if rng.random() < 0.5:  # separator line
            draw.line([0, y_top, width, y_top], fill=fg_val, width=1)
        data_bar = Region(0, y_top, width, height)
        info = ["HV 5.00 kV", "WD 4.1 mm", "Mag 20 000 x", "SE", "det ETD", "HFW 12.7 µm"]
        small = _font(font_path, max(10, int(font_px * 0.8)))
        label_room = text_w + 40 if style_label == "right" else 20
        x_max = width - length - label_room  # the bar must start at or before this column
        x = 10
        for t in rng.permutation(info)[:3]:
            t = str(t) if font_path else str(t).replace("µ", "u")
            t_w = int(draw.textlength(t, font=small))
            if x + t_w + 30 >= x_max:
                break
            draw.text((x, y_top + 6), t, fill=fg_val, font=small)
            x += t_w + 25
        x0 = int(rng.integers(min(x + 20, x_max), x_max + 1))
        y_bar = y_top + bar_h // 2 - thick // 2
        if style_label == "above":
            y_bar = y_top + 10 + text_h + 8 + tick_ext
    else:
        corner = str(rng.choice(["br", "bl", "tr", "tl"]))
        style["corner"] = corner
        margin = int(rng.integers(10, 40))
        x0 = width - margin - length - 10 if corner[1] == "r" else margin + 10
        top = corner[0] == "t"
        y_bar = (margin + text_h + 16 + tick_ext) if top else height - margin - thick - tick_ext
        local = img[max(0, y_bar - 60) : y_bar + 20, x0 : x0 + length]
        boxed = rng.random() < 0.4
        if boxed:
            bg_val = 0 if rng.random() < 0.5 else 255
            draw.rectangle(
                [
                    x0 - 10,
                    y_bar - text_h - 18 - tick_ext,
                    x0 + length + 10,
                    y_bar + thick + tick_ext + 8,
                ],
                fill=bg_val,
            )
        else:
            bg_val = int(np.median(local))
        fg_val = 255 if bg_val < 128 else 0
        style_label = "above"
        style["boxed"] = boxed
    style["label_position"] = style_label
    style["bright"] = fg_val > 128

    # The bar, its ticks and its label.
    x1 = x0 + length  # exclusive: the bar covers columns x0..x1-1
    if style_label == "inside":
        gap = text_w + 16
        seg = (length - gap) // 2
        if seg < 12:
            style_label = style["label_position"] = "right"
    if style_label == "inside":
        draw.rectangle([x0, y_bar, x0 + seg - 1, y_bar + thick - 1], fill=fg_val)
        draw.rectangle([x1 - seg, y_bar, x1 - 1, y_bar + thick - 1], fill=fg_val)
        tx = x0 + (length - text_w) // 2 - tb[0]
        ty = y_bar + thick // 2 - text_h // 2 - tb[1]
    else:
        draw.rectangle([x0, y_bar, x1 - 1, y_bar + thick - 1], fill=fg_val)
        if style_label == "right":
            tx = x1 + 12 - tb[0]
            ty = y_bar + thick // 2 - text_h // 2 - tb[1]
        else:  # above, centred on the bar
            tx = x0 + (length - text_w) // 2 - tb[0]
            ty = y_bar - tick_ext - 6 - text_h - tb[1]
    draw.text((tx, ty), label, fill=fg_val, font=font)
    true_len = float(length)
    if ticked:
        for tx0 in (x0, x1 - tick_w):
            draw.rectangle(
                [tx0, y_bar - tick_ext, tx0 + tick_w - 1, y_bar + thick - 1 + tick_ext], fill=fg_val
            )
        true_len = float(length - tick_w)  # centre to centre
    out = np.asarray(pil, dtype=np.float32) / 255.0
    blur = float(rng.uniform(0.0, 0.8)) if rng.random() < 0.5 else 0.0
    if blur > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    style["blur_sigma"] = round(blur, 2)
    value_nm = to_nm(value, unit)
    return RenderedBar(
        image=np.clip(out, 0, 1).astype(np.float32),
        label=label,
        value=float(value),
        unit=unit,
        length_px=true_len,
        pixel_size_nm=value_nm / true_len,
        bbox=Region(x0, y_bar, x1, y_bar + thick),
        data_bar=data_bar,
        style=style,
    )
