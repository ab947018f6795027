"""Compose one synthetic SEM/TEM micrograph with exact instance masks.

The image is built the way a micrograph forms: substrate (level, slow shading, fine texture),
particles painted back to front (later ones occlude earlier ones, so labels hold the *visible*
part), SEM contrast (secondary-electron edge brightening, tilt shading, shadow/charging halos)
or TEM-like mass-thickness contrast (dark particles on bright support), optics (blur), the
detector (Poisson + Gaussian noise, scan-line jitter), then burned-in overlays (data bar, scale
bar, panel letters: negatives whose pixels are background) and JPEG compression.
Everything is drawn from ``numpy.random.default_rng(seed)``: one seed, one micrograph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy import ndimage as ndi

from analysis.result import Region
from analysis.synth import overlays
from analysis.synth.shapes import MORPHOLOGIES, outline

STYLES = ("sem", "tem", "sem_low_contrast")
_MIN_VISIBLE_PX = 8  # fragments smaller than this are not annotated (nor annotatable)


@dataclass
class SynthMicrograph:
    """One synthetic micrograph and its exact ground truth.

    image : (H, W) uint8, grey.
    labels : (H, W) uint16 instance map of visible particle parts, 0 = background.
    classes : label value -> morphology name (``MORPHOLOGIES``).
    data_bar : the instrument data bar region, or ``None`` when the image has none.
    """

    image: np.ndarray
    labels: np.ndarray
    pixel_size_nm: float
    data_bar: Region | None
    classes: dict[int, str]
    seed: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_particles(self) -> int:
        return len(self.classes)


@dataclass
class _Particle:
    poly: np.ndarray  # (K, 2) absolute x, y
    core: np.ndarray | None
    morphology: str


def _smooth_noise(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-filtered noise: substrate texture and slow shading."""
    n = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_px)
    return n / (n.std() + 1e-8)


def _place_particles(
    h: int, w: int, rng: np.random.Generator, p: dict[str, Any]
) -> list[_Particle]:
    """Random positions (free or in agglomerates) with a cap on how much particles overlap."""
    ecds = np.exp(rng.normal(np.log(p["median_ecd_px"]), p["sigma_log"], p["n_target"]))
    ecds = np.clip(ecds, p.get("min_ecd_px", 5.0), min(h, w) * 0.6)
    occupied = np.zeros((h, w), np.uint8)
    placed: list[_Particle] = []
    centres: list[tuple[float, float, float]] = []
    for ecd in ecds:
        morph = str(rng.choice(p["morphologies"], p=p["morph_weights"]))
        for _ in range(12):
            if centres and rng.random() < p["agglomerate_prob"]:
                # Next to an existing particle: touching neighbours, as in agglomerates.
                cx0, cy0, r0 = centres[int(rng.integers(len(centres)))]
                ang = rng.uniform(0, 2 * np.pi)
                dist = (r0 + ecd / 2) * rng.uniform(0.85, 1.08)
                cx, cy = cx0 + dist * np.cos(ang), cy0 + dist * np.sin(ang)
            else:
                cx, cy = rng.uniform(-0.05 * w, 1.05 * w), rng.uniform(-0.05 * h, 1.05 * h)
            poly, core = outline(morph, float(ecd), rng)
            poly = poly + (cx, cy)
            # Rasterise in the polygon's box only (a full-frame mask per try made dense
            # 800-particle fields take minutes); pixels outside the image do not count.
            bx0 = int(np.clip(np.floor(poly[:, 0].min()) - 1, 0, w))
            by0 = int(np.clip(np.floor(poly[:, 1].min()) - 1, 0, h))
            bx1 = int(np.clip(np.ceil(poly[:, 0].max()) + 2, 0, w))
            by1 = int(np.clip(np.ceil(poly[:, 1].max()) + 2, 0, h))
            if bx1 <= bx0 or by1 <= by0:
                continue
            m = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
            local = np.round((poly - (bx0, by0)) * 16).astype(np.int32)
            cv2.fillPoly(m, [local], 1, cv2.LINE_8, shift=4)
            area = int(m.sum())
            if area < _MIN_VISIBLE_PX:
                continue
            window = occupied[by0:by1, bx0:bx1]
            overlap = int((m & window).sum()) / area
            if overlap <= p["max_overlap"]:
                window |= m
                placed.append(_Particle(poly, None if core is None else core + (cx, cy), morph))
                centres.append((cx, cy, float(ecd) / 2))
                break
    return placed


def _render_particle(
    canvas: np.ndarray,
    labels: np.ndarray,
    part: _Particle,
    label: int,
    rng: np.random.Generator,
    p: dict[str, Any],
) -> None:
    """Paint one particle over ``canvas`` inside its bounding box and write its label."""
    h, w = canvas.shape
    pad = 3
    x0 = max(int(np.floor(part.poly[:, 0].min())) - pad, 0)
    y0 = max(int(np.floor(part.poly[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(part.poly[:, 0].max())) + pad, w)
    y1 = min(int(np.ceil(part.poly[:, 1].max())) + pad, h)
    if x1 <= x0 or y1 <= y0:
        return
    local = np.round((part.poly - (x0, y0)) * 16).astype(np.int32)
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(m, [local], 1, cv2.LINE_8, shift=4)
    if not m.any():
        return
    dist = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    r = max(float(dist.max()), 1.0)
    hn = np.clip(dist / r, 0, 1)
    dome = np.sqrt(1.0 - (1.0 - hn) ** 2)
    gy, gx = np.gradient(dome)
    shade = (gx * p["light"][0] + gy * p["light"][1]) * r
    shade = np.clip(shade, -1.5, 1.5)
    base = p["particle_level"] + rng.normal(0, p["particle_spread"])
    if p["style"] == "tem":
        # Mass-thickness: darker where thicker; a thin bright Fresnel fringe at the edge.
        val = base - p["thickness_k"] * dome + p["rim_k"] * 0.3 * np.exp(-dist / 1.2)
    else:
        rim_w = max(1.0, r * p["rim_frac"])
        val = base + p["rim_k"] * np.exp(-dist / rim_w) + p["shade_k"] * shade + 0.05 * dome
    if part.core is not None:
        cm = np.zeros_like(m)
        cv2.fillPoly(
            cm, [np.round((part.core - (x0, y0)) * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4
        )
        val = val + p["core_delta"] * cm
    if p["surface_texture"] > 0:
        val = val + p["surface_texture"] * _smooth_noise(m.shape, 1.5, rng)
    sel = m.astype(bool)
    canvas[y0:y1, x0:x1][sel] = val[sel]
    labels[y0:y1, x0:x1][sel] = label


def _draw_params(rng: np.random.Generator, h: int, w: int, **over: Any) -> dict[str, Any]:
    """All random choices that shape one micrograph, drawn up front (and recorded)."""
    style = over.get("style") or str(rng.choice(STYLES, p=[0.55, 0.32, 0.13]))
    dominant = over.get("morphology") or str(
        rng.choice(MORPHOLOGIES, p=[0.3, 0.12, 0.14, 0.07, 0.1, 0.17, 0.1])
    )
    if rng.random() < 0.25 and not over.get("morphology"):
        other = str(rng.choice(MORPHOLOGIES))
        morphs, weights = [dominant, other], [0.7, 0.3]
    else:
        morphs, weights = [dominant], [1.0]
    median = over.get("median_ecd_px") or float(np.exp(rng.uniform(np.log(10), np.log(130))))
    median = min(median, min(h, w) / 3.5)
    coverage = over.get("coverage", rng.uniform(0.04, 0.5))
    n_target = int(np.clip(coverage * h * w / (np.pi * (median / 2) ** 2), 1, 400))
    if over.get("n_particles") is not None:
        n_target = int(over["n_particles"])
    bg = rng.uniform(0.08, 0.45) if style.startswith("sem") else rng.uniform(0.55, 0.85)
    contrast = {
        "sem": rng.uniform(0.2, 0.45),
        "sem_low_contrast": rng.uniform(0.06, 0.15),
        "tem": -rng.uniform(0.15, 0.45),
    }[style]
    ang = rng.uniform(0, 2 * np.pi)
    return {
        "style": style,
        "morphologies": morphs,
        "morph_weights": weights,
        "median_ecd_px": median,
        "sigma_log": rng.uniform(0.06, 0.35),
        "n_target": n_target,
        "agglomerate_prob": rng.choice([0.0, 0.3, 0.7], p=[0.4, 0.35, 0.25]),
        "max_overlap": rng.choice([0.0, 0.08, 0.2], p=[0.5, 0.3, 0.2]),
        "background": bg,
        "particle_level": float(np.clip(bg + contrast, 0.03, 0.92)),
        "particle_spread": rng.uniform(0.0, 0.05),
        "thickness_k": rng.uniform(0.0, 0.2),
        "rim_k": rng.uniform(0.05, 0.35) if style.startswith("sem") else rng.uniform(0.0, 0.15),
        "rim_frac": rng.uniform(0.06, 0.25),
        "shade_k": rng.uniform(0.0, 0.12),
        "light": (float(np.cos(ang)), float(np.sin(ang))),
        "core_delta": rng.choice([-1, 1]) * rng.uniform(0.1, 0.25),
        "surface_texture": rng.choice([0.0, rng.uniform(0.01, 0.04)]),
        "substrate_texture": rng.uniform(0.0, 0.06),
        "substrate_grain_px": rng.uniform(0.7, 4.0),
        "shading": rng.uniform(0.0, 0.12),
        "halo": rng.choice([0.0, rng.uniform(-0.08, 0.12)], p=[0.6, 0.4]),
        "blur_sigma_px": rng.uniform(0.3, 1.6),
        "photons": float(np.exp(rng.uniform(np.log(15), np.log(400)))),
        "read_noise": rng.uniform(0.003, 0.04),
        "scan_lines": rng.choice([0.0, rng.uniform(0.005, 0.03)], p=[0.6, 0.4]),
        "jpeg_quality": int(rng.integers(30, 92)) if rng.random() < 0.5 else None,
        "pixel_size_nm": float(np.exp(rng.uniform(np.log(0.5), np.log(50.0)))),
    }


def generate(
    seed: int,
    *,
    width: int = 640,
    height: int = 512,
    style: str | None = None,
    morphology: str | None = None,
    median_ecd_px: float | None = None,
    n_particles: int | None = None,
    data_bar: bool | None = None,
    figure_marks: bool | None = None,
    jpeg: bool | None = None,
    params: dict[str, Any] | None = None,
) -> SynthMicrograph:
    """One synthetic micrograph; identical inputs give identical outputs.

    Parameters left ``None`` are drawn from the seed. ``data_bar`` adds an instrument data bar
    (bottom strip with text and a scale bar); ``figure_marks`` burns a scale bar and a panel
    letter into the image. ``n_particles=0`` gives an empty substrate (the model must return
    nothing on it). ``params`` overrides any drawn parameter by name (after the draw, so
    the rest of the seed's choices stay the same); ``analysis.synth.regimes`` builds its
    evaluation regimes this way.
    """
    rng = np.random.default_rng(seed)
    h, w = int(height), int(width)
    over = {
        "style": style,
        "morphology": morphology,
        "median_ecd_px": median_ecd_px,
        "n_particles": n_particles,
    }
    p = _draw_params(rng, h, w, **over)
    p.update(params or {})
    if jpeg is False:
        p["jpeg_quality"] = None
    elif jpeg is True and p["jpeg_quality"] is None:
        p["jpeg_quality"] = 60

    canvas = np.full((h, w), p["background"], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.normal(0, 1, 2)
    canvas += p["shading"] * (
        _smooth_noise((h, w), max(h, w) / 6, rng) * 0.5
        + (tilt[0] * xx / w + tilt[1] * yy / h) * 0.5
    )
    canvas += p["substrate_texture"] * _smooth_noise((h, w), p["substrate_grain_px"], rng)

    labels = np.zeros((h, w), np.uint16)
    parts = _place_particles(h, w, rng, p)
    if parts and p["halo"] != 0:
        # Charging glow (positive) or shadowing (negative) on the substrate around particles.
        occ = np.zeros((h, w), np.float32)
        for part in parts:
            cv2.fillPoly(occ, [np.round(part.poly * 16).astype(np.int32)], 1.0, shift=4)
        canvas += p["halo"] * ndi.gaussian_filter(occ, p["median_ecd_px"] / 4)
    classes_by_label: dict[int, str] = {}
    for i, part in enumerate(parts, start=1):
        _render_particle(canvas, labels, part, i, rng, p)
        classes_by_label[i] = part.morphology

    img = ndi.gaussian_filter(canvas, p["blur_sigma_px"])
    img = np.clip(img, 0, 1)
    img = rng.poisson(img * p["photons"]).astype(np.float32) / p["photons"]
    img += rng.normal(0, p["read_noise"], img.shape).astype(np.float32)
    if p["scan_lines"] > 0:
        img += rng.normal(0, p["scan_lines"], (h, 1)).astype(np.float32)
    img = np.clip(img, 0, 1)

    marks = np.zeros((h, w), np.uint8)
    want_bar = data_bar if data_bar is not None else rng.random() < 0.3
    bar_region = overlays.draw_data_bar(img, marks, p["pixel_size_nm"], rng) if want_bar else None
    want_marks = figure_marks if figure_marks is not None else rng.random() < 0.45
    if want_marks:
        bright = float(np.median(img)) < 0.5
        bottom = bar_region.y0 if bar_region else h
        overlays.draw_scale_bar(img, marks, p["pixel_size_nm"], bright, rng, bottom)
        if rng.random() < 0.7:
            overlays.draw_panel_letter(img, marks, bright, rng)
    labels[marks.astype(bool)] = 0

    out = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    if p["jpeg_quality"] is not None:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, p["jpeg_quality"]])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)

    labels, classes = _relabel_visible(labels, classes_by_label)
    p.update(data_bar=bool(bar_region), figure_marks=bool(want_marks))
    return SynthMicrograph(out, labels, p["pixel_size_nm"], bar_region, classes, seed, p)


def _relabel_visible(
    labels: np.ndarray, classes: dict[int, str]
) -> tuple[np.ndarray, dict[int, str]]:
    """Drop fragments too small to see and number the rest 1..N (classes follow)."""
    counts = np.bincount(labels.ravel(), minlength=max(classes, default=0) + 1)
    keep = [lab for lab in sorted(classes) if counts[lab] >= _MIN_VISIBLE_PX]
    lut = np.zeros(len(counts), np.uint16)
    for new, old in enumerate(keep, start=1):
        lut[old] = new
    return lut[labels], {new: classes[old] for new, old in enumerate(keep, start=1)}
