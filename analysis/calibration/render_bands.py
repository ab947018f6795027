"""Synthetic micrographs with an instrument data band of a named vendor layout, for the bench.

Each layout imitates what its instrument burns under (or over) the micrograph:

- ``zeiss``: SmartSEM's black band, white ``Key = value`` fields in columns (``EHT``, ``WD``,
  ``Mag``, ``Width``, ``Signal A``, ``Store resolution``, ``Date``) and a small ticked "H"
  bar with its label centred above;
- ``fei``: xT's table of cells (``HV``, ``mag``, ``WD``, ``HFW``, ``det``) and a bar drawn
  as alternating segments in a box with its label above;
- ``jeol``: one line ``SEI 15kV X10,000 1µm ├──┤ WD10mm`` (label left of the bar);
- ``hitachi``: ``S-4800 5.0kV 8.0mm x50.0k SE(U)`` and a dotted ruler whose label (e.g.
  ``1.00um``) is its whole length;
- ``tescan``: ``SEM HV: 20.0 kV``, ``View field: 20.8 µm``, ``SEM MAG: 10.0 kx``, ``Det: SE``
  fields and a bar;
- ``phenom``: ``FOV: 26.9 µm``, ``Mag: 10000x`` fields and a bar with the label above;
- ``tem``: a DigitalMicrograph-style export: no band, a thick solid bar in a corner and its
  label (``100.0nm``) to the right, white with a dark outline.

The truth is the pixel size the scene was drawn at. Fonts are those present offline
(DejaVu, Liberation); band heights 40-120 px at widths 640-4096. :func:`degrade` makes the
downscaled and JPEG-compressed copies labs actually share.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from analysis.result import Region

from .render import _background, _font, available_fonts

LAYOUTS = ("zeiss", "fei", "jeol", "hitachi", "tescan", "phenom", "tem")
_WIDTHS = (640, 800, 1024, 1280, 1536, 2048, 3072, 4096)


@dataclass(frozen=True)
class RenderedBand:
    """A synthetic image with a data band (or a TEM export's corner bar) and its truth."""

    image: np.ndarray  # (H, W) float32 in [0, 1]
    layout: str
    pixel_size_nm: float
    band: Region | None
    bar_label: str
    bar_length_px: float
    fields: dict[str, str] = field(default_factory=dict)  # the text drawn, by field
    style: dict[str, Any] = field(default_factory=dict)


def _fmt_length(nm: float, *, digits: int = 4) -> str:
    """7520 -> '7.520 µm' (``digits`` significant), as instruments print field widths."""
    value, unit = (nm / 1e3, "µm") if nm >= 1000 else (nm, "nm")
    if value >= 1000:
        value, unit = value / 1e3, "mm"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(value))))
    return f"{value:.{decimals}f} {unit}"


def _nice_bar(pixel_nm: float, target_px: float) -> tuple[float, str, float]:
    """The round length closest to ``target_px`` pixels: (value, unit, length in px)."""
    best = None
    for exp in range(-1, 7):
        for v in (1, 2, 5):
            nm = v * 10.0**exp
            px = nm / pixel_nm
            score = abs(math.log(px / target_px))
            if best is None or score < best[0]:
                best = (score, nm)
    assert best is not None
    nm = best[1]
    if nm >= 1e6:
        value, unit = nm / 1e6, "mm"
    elif nm >= 1000:
        value, unit = nm / 1000, "µm"
    else:
        value, unit = nm, "nm"
    return round(value, 6), unit, nm / pixel_nm


def _label(
    value: float, unit: str, rng: np.random.Generator, *, spelling: str | None = None
) -> str:
    u = unit if unit != "µm" else spelling or str(rng.choice(["µm", "μm", "um"]))
    return f"{value:g}{' ' if rng.random() < 0.6 else ''}{u}"


def render_band_image(
    layout: str,
    seed: int | np.random.Generator = 0,
    *,
    width: int | None = None,
    light: bool | None = None,
    top: bool | None = None,
) -> RenderedBand:
    """Render one ``layout`` image (see the module docstring); random choices from ``seed``."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    width = width or int(rng.choice(_WIDTHS))
    height = int(width * (0.75 if layout != "tem" else 1.0))
    if layout == "tem":
        height = min(height, 2048)
    # Instruments print upright sans (or monospace) text: no serif, italic or hairline cuts.
    fonts = [
        f
        for f in available_fonts()
        if ("Sans" in f or "Mono" in f) and not any(k in f for k in ("Oblique", "Italic", "Light"))
    ]
    font_path = str(rng.choice(fonts)) if fonts else None
    pixel_nm = float(10 ** rng.uniform(-0.5, 2.5))  # 0.3 nm .. 300 nm per pixel
    scale = width / 1024.0  # instruments scale their band with the frame
    light = bool(rng.random() < 0.4) if light is None else light
    top = bool(rng.random() < 0.2) if top is None else top
    if layout == "tem":
        top = False
    band_h = int(np.clip(rng.uniform(0.06, 0.1) * height, 40, 120)) if layout != "tem" else 0
    micro_h = height - band_h
    img = (_background(rng, micro_h, width) * 255).astype(np.uint8)
    bg, fg = (230, 10) if light else (0, 255)
    canvas = Image.new("L", (width, height), bg)
    canvas.paste(Image.fromarray(img, "L"), (0, band_h if top else 0))
    y_band = 0 if top else micro_h
    draw = ImageDraw.Draw(canvas)
    style: dict[str, Any] = {
        "layout": layout,
        "width": width,
        "band_h": band_h,
        "light": light,
        "top": top,
        "font": font_path.rsplit("/", 1)[-1] if font_path else "default",
    }
    field_width_nm = pixel_nm * width
    ctx = _Ctx(draw, rng, font_path, y_band, band_h, width, fg, bg)
    if layout == "tem":
        result = _draw_tem(canvas, rng, font_path, pixel_nm, width, height)
        band = None
        fields: dict[str, str] = {}
        label, length_px = result
    else:
        painter = {
            "zeiss": _draw_zeiss,
            "fei": _draw_fei,
            "jeol": _draw_jeol,
            "hitachi": _draw_hitachi,
            "tescan": _draw_tescan,
            "phenom": _draw_phenom,
        }[layout]
        fields, label, length_px = painter(ctx, pixel_nm, field_width_nm, height)
        band = Region(0, y_band, width, y_band + band_h)
    out = np.asarray(canvas, dtype=np.float32) / 255.0
    style["scale"] = round(scale, 2)
    return RenderedBand(out, layout, pixel_nm, band, label, length_px, fields, style)


@dataclass
class _Ctx:
    draw: Any
    rng: np.random.Generator
    font_path: str | None
    y0: int
    h: int
    w: int
    fg: int
    bg: int

    def font(self, frac: float) -> Any:
        return _font(self.font_path, max(9, int(self.h * frac)))

    def text(self, x: float, y: float, s: str, font: Any) -> float:
        self.draw.text((x, y), s, fill=self.fg, font=font)
        return float(self.draw.textlength(s, font=font))


def _ticked_bar(ctx: _Ctx, x0: float, y: float, length: float, thick: int, tick: int) -> float:
    """An "H" bar from ``x0`` with ticks centred on its ends; returns the centres' distance."""
    d, fg = ctx.draw, ctx.fg
    x0i, x1i = int(round(x0)), int(round(x0 + length))
    d.rectangle([x0i, y, x1i - 1, y + thick - 1], fill=fg)
    tw = max(1, thick // 2 + 1)
    for centre in (x0i, x1i):  # a tick of tw columns centred on the column edge ``centre``
        a = centre - tw // 2 if tw % 2 == 0 else centre - (tw + 1) // 2
        d.rectangle([a, y - tick, a + tw - 1, y + thick - 1 + tick], fill=fg)
    return float(x1i - x0i)  # both ticks are offset alike, so centres are this far apart


def _solid_bar(ctx: _Ctx, x0: float, y: float, length: float, thick: int) -> float:
    x0i, x1i = int(round(x0)), int(round(x0 + length))
    ctx.draw.rectangle([x0i, y, x1i - 1, y + thick - 1], fill=ctx.fg)
    return float(x1i - x0i)


def _draw_zeiss(ctx: _Ctx, pixel_nm: float, fw_nm: float, height: int):
    rng = ctx.rng
    f = ctx.font(0.2)
    value, unit, length = _nice_bar(pixel_nm, rng.uniform(25, 45) * max(1.0, ctx.w / 1024))
    label = _label(value, unit, rng)
    mag = 127e6 / fw_nm  # SmartSEM's Polaroid reference width
    mag_s = f"{mag / 1000:.2f} K X" if mag >= 1000 else f"{mag:.0f} X"
    fields = {
        "EHT": f"EHT = {rng.choice([1.0, 3.0, 5.0, 10.0, 20.0]):.2f} kV",
        "WD": f"WD = {rng.uniform(2, 12):.1f} mm",
        "Mag": f"Mag = {mag_s}",
        "Width": f"Width = {_fmt_length(fw_nm)}",
        "Signal A": f"Signal A = {rng.choice(['InLens', 'SE2'])}",
        "Store resolution": f"Store resolution = {ctx.w} * {int(ctx.w * 0.75)}",
        "Date": f"Date :{int(rng.integers(1, 28))} Jul 2019",
    }
    bar_x = 0.03 * ctx.w
    th = max(2, int(ctx.h * 0.05))
    tick = max(2, int(ctx.h * 0.06))
    tb = ctx.draw.textbbox((0, 0), label, font=f)
    y_bar = ctx.y0 + int(ctx.h * 0.3) + (tb[3] - tb[1]) + tick
    true_len = _ticked_bar(ctx, bar_x, y_bar, length, th, tick)
    ctx.text(bar_x + length / 2 - (tb[2] - tb[0]) / 2 - tb[0], y_bar - tick - 4 - tb[3], label, f)
    cols = [0.2, 0.42, 0.64]
    keys = list(fields)
    for i, k in enumerate(keys[:6]):
        col, row = cols[i // 2], i % 2
        ctx.text(col * ctx.w, ctx.y0 + ctx.h * (0.15 + 0.42 * row), fields[k], f)
    ctx.text(0.82 * ctx.w, ctx.y0 + ctx.h * 0.15, fields["Date"], f)
    return fields, label, true_len


def _draw_fei(ctx: _Ctx, pixel_nm: float, fw_nm: float, height: int):
    rng = ctx.rng
    small, big = ctx.font(0.22), ctx.font(0.28)
    mag = 127e6 / fw_nm
    fields = {
        "HV": f"{rng.choice([2.0, 5.0, 10.0, 15.0, 20.0]):.2f} kV",
        "mag": f"{mag:,.0f} x".replace(",", " "),
        "WD": f"{rng.uniform(3, 12):.1f} mm",
        "HFW": _fmt_length(fw_nm, digits=3),
        "det": str(rng.choice(["ETD", "TLD", "CBS"])),
    }
    x = 0.01 * ctx.w
    cell_w = 0.11 * ctx.w
    d = ctx.draw
    for k, v in fields.items():
        d.rectangle([x, ctx.y0 + 2, x + cell_w, ctx.y0 + ctx.h - 3], outline=ctx.fg, width=1)
        ctx.text(x + 6, ctx.y0 + ctx.h * 0.1, k, small)
        ctx.text(x + 6, ctx.y0 + ctx.h * 0.5, v, big)
        x += cell_w
    value, unit, length = _nice_bar(pixel_nm, rng.uniform(0.12, 0.2) * ctx.w)
    label = _label(value, unit, rng)
    bx = x + 0.04 * ctx.w
    th = max(3, int(ctx.h * 0.12))
    y_bar = ctx.y0 + int(ctx.h * 0.62)
    # segmented bar: alternating filled and hollow cells inside one outline
    x0i, x1i = int(round(bx)), int(round(bx + length))
    d.rectangle([x0i, y_bar, x1i - 1, y_bar + th - 1], outline=ctx.fg, width=1)
    n = 4
    for i in range(0, n, 2):
        a = x0i + (x1i - x0i) * i // n
        b = x0i + (x1i - x0i) * (i + 1) // n
        d.rectangle([a, y_bar, b - 1, y_bar + th - 1], fill=ctx.fg)
    tb = d.textbbox((0, 0), label, font=big)
    ctx.text(bx + length / 2 - (tb[2] - tb[0]) / 2 - tb[0], y_bar - 4 - tb[3], label, big)
    return {k: f"{k} {v}" for k, v in fields.items()}, label, float(x1i - x0i)


def _draw_jeol(ctx: _Ctx, pixel_nm: float, fw_nm: float, height: int):
    rng = ctx.rng
    f = ctx.font(0.45)
    mag = 127e6 / fw_nm
    value, unit, length = _nice_bar(pixel_nm, rng.uniform(0.08, 0.15) * ctx.w)
    label = _label(value, unit, rng, spelling="µm")
    kv = int(rng.choice([5, 10, 15, 20]))
    fields = {
        "det": "SEI",
        "HV": f"{kv}kV",
        "Mag": f"X{mag:,.0f}",
        "WD": f"WD{rng.integers(5, 15)}mm",
    }
    y = ctx.y0 + ctx.h * 0.2
    x = 0.02 * ctx.w
    gap = 0.04 * ctx.w
    for k in ("det", "HV", "Mag"):
        x += ctx.text(x, y, fields[k], f) + gap
    x += ctx.text(x, y, label, f) + 0.015 * ctx.w
    th = max(2, int(ctx.h * 0.06))
    tick = max(2, int(ctx.h * 0.1))
    tb = ctx.draw.textbbox((0, 0), label, font=f)
    y_bar = int(y + (tb[1] + tb[3]) / 2 - th / 2)
    true_len = _ticked_bar(ctx, x, y_bar, length, th, tick)
    x += length + gap
    ctx.text(x, y, fields["WD"], f)
    return fields, label, true_len


def _draw_hitachi(ctx: _Ctx, pixel_nm: float, fw_nm: float, height: int):
    rng = ctx.rng
    f = ctx.font(0.4)
    mag = 127e6 / fw_nm
    mag_s = f"x{mag / 1000:.1f}k" if mag >= 1000 else f"x{mag:.0f}"
    value, unit, length = _nice_bar(pixel_nm, rng.uniform(0.15, 0.25) * ctx.w)
    unit_s = "um" if unit == "µm" else unit
    label = f"{value:.2f}{unit_s}" if value < 10 else f"{value:g}{unit_s}"
    fields = {
        "model": str(rng.choice(["S-4800", "SU8010", "SU-70", "S-5500"])),
        "HV": f"{rng.choice([1.0, 3.0, 5.0, 15.0]):.1f}kV",
        "WD": f"{rng.uniform(2, 15):.1f}mm",
        "Mag": mag_s,
        "det": str(rng.choice(["SE(U)", "SE(L)", "SE(M)"])),
    }
    y = ctx.y0 + ctx.h * 0.3
    x = 0.02 * ctx.w
    for k in ("model", "HV", "WD", "Mag", "det"):
        x += ctx.text(x, y, fields[k], f) + 0.025 * ctx.w
    # dotted ruler: 11 dots, the label is the distance between the outer dots' centres
    x0 = max(x + 0.03 * ctx.w, ctx.w - length - 0.04 * ctx.w)
    dot = max(3, int(ctx.h * 0.08))
    y_r = int(ctx.y0 + ctx.h * 0.7)
    centres = np.linspace(x0 + dot / 2, x0 + dot / 2 + length, 11)
    for c in centres:
        a = int(round(c - dot / 2))
        ctx.draw.rectangle([a, y_r, a + dot - 1, y_r + dot - 1], fill=ctx.fg)
    actual = float(int(round(centres[-1] - dot / 2)) - int(round(centres[0] - dot / 2)))
    tb = ctx.draw.textbbox((0, 0), label, font=f)
    ctx.text(x0 + length - (tb[2] - tb[0]), y_r - 6 - tb[3], label, f)
    return fields, label, actual


def _draw_tescan(ctx: _Ctx, pixel_nm: float, fw_nm: float, height: int):
    rng = ctx.rng
    f = ctx.font(0.22)
    mag = 127e6 / fw_nm
    fields = {
        "SEM HV": f"SEM HV: {rng.choice([5.0, 10.0, 20.0, 30.0]):.1f} kV",
        "WD": f"WD: {rng.uniform(3, 15):.2f} mm",
        "View field": f"View field: {_fmt_length(fw_nm, digits=3)}",
        "SEM MAG": f"SEM MAG: {mag / 1000:.2f} kx",
        "Det": f"Det: {rng.choice(['SE', 'BSE', 'In-Beam SE'])}",
        "Date": f"Date(m/d/y): 0{rng.integers(1, 9)}/1{rng.integers(0, 9)}/19",
    }
    keys = list(fields)
    for i, k in enumerate(keys):
        col, row = i // 2, i % 2
        ctx.text((0.02 + 0.19 * col) * ctx.w, ctx.y0 + ctx.h * (0.12 + 0.45 * row), fields[k], f)
    value, unit, length = _nice_bar(pixel_nm, rng.uniform(0.1, 0.18) * ctx.w)
    label = _label(value, unit, rng)
    bx = 0.6 * ctx.w
    th = max(3, int(ctx.h * 0.1))
    y_bar = int(ctx.y0 + ctx.h * 0.62)
    true_len = _solid_bar(ctx, bx, y_bar, length, th)
    tb = ctx.draw.textbbox((0, 0), label, font=f)
    ctx.text(bx + length / 2 - (tb[2] - tb[0]) / 2 - tb[0], y_bar - 5 - tb[3], label, f)
    ctx.text(0.88 * ctx.w, ctx.y0 + ctx.h * 0.3, "TESCAN", ctx.font(0.3))
    return fields, label, true_len


def _draw_phenom(ctx: _Ctx, pixel_nm: float, fw_nm: float, height: int):
    rng = ctx.rng
    f = ctx.font(0.25)
    mag = 127e6 / fw_nm
    fields = {
        "FOV": f"FOV: {_fmt_length(fw_nm, digits=3)}",
        "Mag": f"Mag: {mag:.0f}x",
        "HV": f"{rng.choice([5, 10, 15])} kV",
        "det": str(rng.choice(["BSD Full", "SED"])),
    }
    x = 0.02 * ctx.w
    for k in fields:
        x += ctx.text(x, ctx.y0 + ctx.h * 0.35, fields[k], f) + 0.04 * ctx.w
    value, unit, length = _nice_bar(pixel_nm, rng.uniform(0.1, 0.18) * ctx.w)
    label = _label(value, unit, rng)
    bx = max(x + 0.04 * ctx.w, 0.7 * ctx.w)
    bx = min(bx, ctx.w - length - 0.02 * ctx.w)
    th = max(3, int(ctx.h * 0.08))
    y_bar = int(ctx.y0 + ctx.h * 0.68)
    true_len = _solid_bar(ctx, bx, y_bar, length, th)
    tb = ctx.draw.textbbox((0, 0), label, font=f)
    ctx.text(bx + length / 2 - (tb[2] - tb[0]) / 2 - tb[0], y_bar - 5 - tb[3], label, f)
    return fields, label, true_len


def _draw_tem(canvas: Any, rng: np.random.Generator, font_path: str | None, pixel_nm: float,
              width: int, height: int) -> tuple[str, float]:  # fmt: skip
    """A DigitalMicrograph export: thick black bar, outlined white label to its right."""
    d = ImageDraw.Draw(canvas)
    value, unit, length = _nice_bar(pixel_nm, rng.uniform(0.12, 0.25) * width)
    label = f"{value:.1f}{'um' if unit == 'µm' and rng.random() < 0.3 else unit}"
    th = max(4, int(rng.uniform(0.008, 0.02) * height))
    x0 = int(0.04 * width)
    y = int(height - 0.06 * height)
    true_len = float(int(round(x0 + length)) - x0)
    d.rectangle([x0, y, int(round(x0 + length)) - 1, y + th - 1], fill=0)
    f = _font(font_path, max(12, int(th * 2.5)))
    tb = d.textbbox((0, 0), label, font=f)
    tx = x0 + length + 0.02 * width - tb[0]
    ty = y + th / 2 - (tb[1] + tb[3]) / 2
    outline = max(1, th // 4)
    d.text((tx, ty), label, fill=255, font=f, stroke_width=outline, stroke_fill=0)
    return label, true_len


def degrade(
    r: RenderedBand, *, factor: float = 1.0, jpeg_quality: int | None = None
) -> RenderedBand:
    """A downscaled (``factor`` < 1) and/or JPEG-compressed copy with the truth rescaled."""
    img = r.image
    if factor != 1.0:
        img = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    if jpeg_quality is not None:
        buf = io.BytesIO()
        Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), "L").save(
            buf, "JPEG", quality=jpeg_quality
        )
        img = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32) / 255.0
    band = r.band
    if band is not None and factor != 1.0:
        band = Region(0, int(round(band.y0 * factor)), img.shape[1], int(round(band.y1 * factor)))
    style = {**r.style, "factor": factor, "jpeg": jpeg_quality}
    return RenderedBand(
        img.astype(np.float32), r.layout, r.pixel_size_nm / factor, band, r.bar_label,
        r.bar_length_px * factor, r.fields, style,
    )  # fmt: skip


def render_negative(seed: int | np.random.Generator = 0, *, width: int = 800) -> np.ndarray:
    """A figure panel with no usable scale: panel letter, arrows, words, maybe a bare bar.

    What published figures carry besides a scale bar — ``(a)``, ``B``, an arrow pointing at
    a particle, a compound name, sometimes a bar whose number is in the caption — none of
    which may become a calibration. Returns (H, W) float32 in [0, 1].
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    height = int(width * 0.75)
    img = (_background(rng, height, width) * 255).astype(np.uint8)
    pil = Image.fromarray(img, "L")
    draw = ImageDraw.Draw(pil)
    fonts = [f for f in available_fonts() if "Italic" not in f and "Oblique" not in f]
    font_path = str(rng.choice(fonts)) if fonts else None
    fg = 255 if float(np.median(img)) < 128 else 0
    big = _font(font_path, int(rng.integers(24, 48)))
    letter = str(rng.choice(["a", "(a)", "B", "(c)", "d", "E"]))
    draw.text((int(0.03 * width), int(0.03 * height)), letter, fill=fg, font=big)
    words = str(rng.choice(["Au NPs", "SiO2@Ag", "PS-b-P2VP", "ZIF-8", "after 24 h", "x 2"]))
    draw.text((int(0.6 * width), int(0.05 * height)), words, fill=fg, font=_font(font_path, 22))
    # an arrow: shaft and head
    x0, y0 = int(rng.uniform(0.2, 0.6) * width), int(rng.uniform(0.3, 0.7) * height)
    length = int(rng.uniform(40, 120))
    draw.line([x0, y0, x0 + length, y0], fill=fg, width=4)
    draw.polygon([(x0 + length, y0 - 10), (x0 + length + 18, y0), (x0 + length, y0 + 10)], fill=fg)
    if rng.random() < 0.6:  # a bar whose number is given in the caption, not on the image
        bx = int(rng.uniform(0.05, 0.6) * width)
        by = int(height - rng.uniform(0.04, 0.1) * height)
        draw.rectangle(
            [bx, by, bx + int(rng.uniform(60, 250)), by + int(rng.integers(3, 10))], fill=fg
        )
    return np.asarray(pil, dtype=np.float32) / 255.0
