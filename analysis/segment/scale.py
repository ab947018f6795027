"""Particle scale: how large the particles of one micrograph are, before segmenting it.

Real micrographs put particles anywhere from 4 to 400 px across; the network, the area floor
and the watershed each work at one scale. So the engine first estimates the typical particle
diameter (px) of the image, with a confidence, and everything after follows it:

- the model sees the image resampled so that particles reach it at
  :data:`TARGET_DIAMETER_PX` (the training of the model uses the same constant);
- the minimum particle area and the noise rejection scale with it
  (:func:`analysis.segment.postprocess.adaptive_min_area_px`).

The estimate is a scale-space blob detector: the scale-normalised Laplacian of Gaussian
``-σ² ∇²G_σ * I`` of a disc of diameter ``d`` peaks at its centre for ``σ = d / (2√2)``. Blobs
are the points that are a maximum in space (3 × 3) and across neighbouring scales; their
response must stand clear of the noise (the same filter's response to the image's own noise
level, measured per image). Large scales run on an area-downsampled copy so the whole costs a
few tens of ms on a 1024 × 768 frame. The typical diameter is the strength-weighted median of
the blobs' diameters; when their log-diameter histogram has two separated modes, both are
reported (``bimodal``). Blobs of 24 px and more are then read again on the distance map of
the thresholded particle phase (the inscribed disc at the particle's centre): the LoG alone
reads packed, touching large particles at 0.6–0.8 × their size (hand-masked JEOL spheres:
50 px for 235; with the check 213).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from scipy import ndimage as ndi

from analysis.result import Region
from analysis.segment import classical

__all__ = [
    "TARGET_DIAMETER_PX",
    "ScaleEstimate",
    "estimate_noise_sigma",
    "estimate_particle_scale",
    "resample_factor",
    "user_scale",
]

# CONTRACT with the model training (issue 10): the network sees particles at this typical
# diameter. 32 px sits in the middle of the EMPS training set's per-image median ECDs at
# native resolution (most 15–60 px), so the shipped weights see familiar sizes and a new
# training at this scale starts from the same distribution.
TARGET_DIAMETER_PX = 32.0

# Frames larger than this (px) are estimated on a downsampled copy plus a native window.
_MAX_FULL_PX = 1_000_000
_WINDOW_PX = 768
# Two populations count only when each holds this share of the weight and their blobs are
# about as strong (median response ratio): rims and surface texture of large particles form a
# weaker second group (under half the particles' response on most sweep and SE frames; small real
# particles reach only ~0.55 of large ones of the same contrast, pixelation blurs them).
_BIMODAL_MIN_SHARE = 0.25
_BIMODAL_STRENGTH_RATIO = 0.5
# Correlated noise: below this σ (diameter ≈ 17 px) a blob must also exceed this many
# robust standard deviations of the response over the flattest blocks of the frame. On the
# noisy in-situ TEM frames (msa-tem) the white-noise test alone let thousands of 5-px noise
# blobs outweigh the 40–90 px particles.
_TEXTURE_MAX_SIGMA_PX = 6.0
_TEXTURE_SIGMAS = 4.0
_FLAT_BLOCK_PX = 32
# Diameters probed: 4 per octave from 3 px up to the frame's short side / 1.5.
_MIN_DIAMETER_PX = 3.0
_STEPS_PER_OCTAVE = 4
# σ at which a scale is computed on a 2×-downsampled copy instead (speed; the filter is then
# still ≥ 1.6 px wide at that level, so the discrete Laplacian stays accurate).
_MIN_LEVEL_SIGMA_PX = 1.6
# A blob's response must exceed this many noise standard deviations of the same filter.
_NOISE_SIGMAS = 6.0
# ... and this fraction of the strongest blobs' response (the 95th percentile), which drops
# substrate grain and the side lobes of real particles.
_REL_STRENGTH = 0.25
# ... and a contrast a particle needs to be seen at all: 0.6 × the pixel noise σ (an empty
# substrate's shading blobs reach 0.46 σ, the 4–8 px low-contrast monolayer's particles
# ~1 σ) and 0.015 of the grey range (4 grey levels).
_MIN_STRENGTH_NOISE = 0.6
_MIN_STRENGTH = 0.015
# Blobs at least this large (px) are checked against the thresholded phase's inscribed disc.
_EDT_MIN_DIAMETER_PX = 24.0
_EDT_CLIMB_STEPS = 6
# Share of a smaller population's blobs inside larger particles that makes it their texture.
_TEXTURE_INSIDE = 0.9


@dataclass(frozen=True)
class ScaleEstimate:
    """The typical particle diameter of one image and how sure the engine is of it.

    diameter_px : typical diameter (px of the stored image), or ``None`` when the image shows
        no blob-like structure above its noise (an empty or noise-only field).
    confidence : 0–1; low when few blobs were found or their sizes spread widely.
    source : "estimate" (measured here) or "user" (given with the analysis options).
    populations_px : the diameter of each population found (one, or two when bimodal),
        largest population first.
    bimodal : two separated size populations.
    n_blobs : blobs that passed the noise test.
    noise_sigma : the image's noise standard deviation (grey 0–1).
    polarity : "bright" or "dark": which blobs carried the estimate.
    """

    diameter_px: float | None
    confidence: float
    source: Literal["estimate", "user"] = "estimate"
    populations_px: tuple[float, ...] = ()
    bimodal: bool = False
    n_blobs: int = 0
    noise_sigma: float = 0.0
    polarity: Literal["bright", "dark"] = "bright"
    spread: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    # Where each population's blobs are: one (N, 2) array of (x, y) image px per entry of
    # ``populations_px``; not serialised (the inference skips upsampled tiles without any).
    sites: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("sites", None)
        d["populations_px"] = [round(float(p), 2) for p in self.populations_px]
        if self.diameter_px is not None:
            d["diameter_px"] = round(float(self.diameter_px), 2)
        d["confidence"] = round(float(self.confidence), 3)
        d["noise_sigma"] = round(float(self.noise_sigma), 5)
        d["spread"] = round(float(self.spread), 3)
        return d


def resample_factor(diameter_px: float | None, target_px: float = TARGET_DIAMETER_PX) -> float:
    """Zoom that brings ``diameter_px`` to ``target_px`` (1.0 when the scale is unknown)."""
    if diameter_px is None or not math.isfinite(diameter_px) or diameter_px <= 0:
        return 1.0
    return float(target_px / diameter_px)


def user_scale(
    *,
    diameter_px: float | None = None,
    diameter_nm: float | None = None,
    pixel_size_nm: float | None = None,
) -> ScaleEstimate | None:
    """The typical diameter the user gave, in px (a size in nm needs the pixel size)."""
    if diameter_px is None and diameter_nm is not None and pixel_size_nm:
        diameter_px = diameter_nm / pixel_size_nm
    if diameter_px is None:
        return None
    return ScaleEstimate(
        diameter_px=float(diameter_px),
        confidence=1.0,
        source="user",
        populations_px=(float(diameter_px),),
        n_blobs=0,
    )


def estimate_noise_sigma(grey: np.ndarray) -> float:
    """Standard deviation of the image's pixel noise (Immerkær 1996, robust form).

    The kernel ``[[1,-2,1],[-2,4,-2],[1,-2,1]]`` cancels any locally planar signal, so what is
    left is noise; the median absolute value (rather than the mean) keeps particle edges from
    inflating it. Returns σ in the units of ``grey``.
    """
    g = np.asarray(grey, dtype=np.float32)
    if min(g.shape) < 3:
        return 0.0
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = cv2.filter2D(g, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    # |N(0, 36σ²)| has median 0.6745·6σ.
    return float(np.median(np.abs(r[::2, ::2]))) / (0.6745 * 6.0)


def _diameters(short_side_px: int) -> np.ndarray:
    d_max = max(_MIN_DIAMETER_PX * 2, short_side_px / 1.5)
    n = int(math.floor(_STEPS_PER_OCTAVE * math.log2(d_max / _MIN_DIAMETER_PX))) + 1
    return _MIN_DIAMETER_PX * 2.0 ** (np.arange(n) / _STEPS_PER_OCTAVE)


def _noise_gain(sigma_level_px: float) -> float:
    """Std of the normalised LoG response to unit white noise at level σ (per level pixel).

    Measured numerically once per σ (cached) rather than trusting the continuous formula:
    the discrete Laplacian on a 1.6-px Gaussian departs from it by ~10 %.
    """
    key = round(sigma_level_px, 3)
    if key not in _GAIN_CACHE:
        rng = np.random.default_rng(0)
        size = int(max(96, 12 * sigma_level_px))
        resp = _log_response(rng.standard_normal((size, size)).astype(np.float32), key)
        m = int(3 * key) + 1
        _GAIN_CACHE[key] = float(resp[m:-m, m:-m].std())
    return _GAIN_CACHE[key]


_GAIN_CACHE: dict[float, float] = {}


def _log_response(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """``-σ² ∇²(G_σ * img)``: positive at the centre of bright blobs of diameter ≈ 2√2 σ."""
    blurred = cv2.GaussianBlur(img, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    return -(sigma_px**2) * cv2.Laplacian(blurred, cv2.CV_32F, ksize=1)


@dataclass
class _Blobs:
    diameter_px: np.ndarray
    strength: np.ndarray  # σ²∇²G response at the blob (grey units: ≈ 0.74 × a disc's contrast)
    x: np.ndarray
    y: np.ndarray


def _detect(img: np.ndarray, noise_sigma: float, signs: tuple[float, ...]) -> list[_Blobs]:
    """Scale-space maxima of ``sign · response`` for each sign, above the noise test.

    A blob's diameter is refined between the probed scales by a parabola through the
    log-responses of its scale and the two neighbours (the probes are 19 % apart).
    """
    h, w = img.shape
    diams = _diameters(min(h, w))
    sigmas = diams / (2.0 * math.sqrt(2.0))
    levels: dict[int, np.ndarray] = {1: img}
    flat = _flattest_blocks(img)
    raw: list[np.ndarray] = []
    floors: list[float] = []
    factors: list[int] = []
    for s in sigmas:
        f = 1
        while s / (2 * f) >= _MIN_LEVEL_SIGMA_PX and min(h, w) // (2 * f) >= 16:
            f *= 2
        if f not in levels:
            levels[f] = cv2.resize(
                img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA
            )
        s_level = float(s / f)
        r = _log_response(levels[f], s_level)
        raw.append(r)
        # Noise at level f: area averaging divides white noise's std by f.
        floor = _NOISE_SIGMAS * _noise_gain(s_level) * noise_sigma / f
        if s <= _TEXTURE_MAX_SIGMA_PX and flat is not None:
            # Correlated noise (shot noise through the detector's blur, substrate grain)
            # passes the white-noise test at small scales; its response in the flattest
            # parts of the frame is the measure of it there.
            fm = (
                flat
                if f == 1
                else cv2.resize(
                    flat.astype(np.uint8), (r.shape[1], r.shape[0]), interpolation=cv2.INTER_NEAREST
                ).astype(bool)
            )
            if fm.sum() >= 64:
                vals = r[fm]
                mad = float(np.median(np.abs(vals - np.median(vals))))
                floor = max(floor, _TEXTURE_SIGMAS * 1.4826 * mad)
        floors.append(floor)
        factors.append(f)
    return [_detect_sign(raw, floors, factors, diams, sign, h, w) for sign in signs]


def _flattest_blocks(img: np.ndarray) -> np.ndarray | None:
    """Mask of the 20 % of 32 × 32 blocks with the lowest grey std (bare substrate, mostly).

    ``None`` when those are not clearly flatter than the busy blocks (20th / 80th percentile
    of the block std > 0.8): then every block holds particles (dense 4–8 px monolayer 0.90,
    6-px sweep 0.91, 12-px 0.85) and their response would be taken for noise; the noisy
    msa-tem frames, with bare substrate between particles, give 0.72–0.76.
    """
    h, w = img.shape
    b = _FLAT_BLOCK_PX
    nh, nw = h // b, w // b
    if nh * nw < 10:
        return None
    blocks = img[: nh * b, : nw * b].reshape(nh, b, nw, b)
    std = blocks.std(axis=(1, 3))
    cut, busy = (float(v) for v in np.percentile(std, [20, 80]))
    if cut > 0.8 * busy:
        return None  # no bare substrate to measure on (a uniform field, a dense monolayer)
    keep = std <= cut
    mask = np.zeros((h, w), bool)
    mask[: nh * b, : nw * b] = np.repeat(np.repeat(keep, b, axis=0), b, axis=1)
    return mask


def _detect_sign(
    raw: list[np.ndarray],
    floors: list[float],
    factors: list[int],
    diams: np.ndarray,
    sign: float,
    h: int,
    w: int,
) -> _Blobs:
    kernel = np.ones((3, 3), np.uint8)
    responses = [np.maximum(sign * r, 0.0) for r in raw]
    maxed = [cv2.dilate(r, kernel) for r in responses]
    xs, ys, ds, ss = [], [], [], []
    step = math.log2(diams[1] / diams[0]) if diams.size > 1 else 0.0
    for k, (r, f) in enumerate(zip(responses, factors, strict=True)):
        local_max = (r >= maxed[k]) & (r > floors[k])
        yy, xx = np.nonzero(local_max)
        if yy.size == 0:
            continue
        val = r[yy, xx]
        keep = np.ones(yy.size, bool)
        nb: dict[int, np.ndarray] = {}
        for j in (k - 1, k + 1):
            if 0 <= j < len(responses):
                fj = factors[j]
                # Neighbouring scale at the same place (its own level's coordinates); a 3×3
                # max there so a one-pixel shift of the peak does not break the comparison.
                yj = np.clip((yy * f + f // 2) // fj, 0, responses[j].shape[0] - 1)
                xj = np.clip((xx * f + f // 2) // fj, 0, responses[j].shape[1] - 1)
                nb[j] = maxed[j][yj, xj]
                keep &= val >= nb[j]
        log_d = np.full(yy.size, math.log2(diams[k]))
        if k - 1 in nb and k + 1 in nb:
            a, b, c = (np.log(np.maximum(v, 1e-9)) for v in (nb[k - 1], val, nb[k + 1]))
            denom = a - 2 * b + c
            with np.errstate(divide="ignore", invalid="ignore"):
                off = np.where(denom < 0, 0.5 * (a - c) / denom, 0.0)
            log_d = log_d + step * np.clip(np.nan_to_num(off), -0.5, 0.5)
        d = 2.0**log_d
        # Blobs whose centre lies within a radius of the frame edge are cut by it.
        cy, cx = (yy * f + f / 2.0), (xx * f + f / 2.0)
        inside = keep & (cy >= d / 2) & (cy <= h - d / 2) & (cx >= d / 2) & (cx <= w - d / 2)
        ys.append(cy[inside])
        xs.append(cx[inside])
        ds.append(d[inside])
        ss.append(val[inside])
    if not ds:
        e = np.zeros(0)
        return _Blobs(e, e, e, e)
    return _Blobs(np.concatenate(ds), np.concatenate(ss), np.concatenate(xs), np.concatenate(ys))


def _detect_bounded(crop: np.ndarray, noise: float, sign: float) -> tuple[_Blobs, np.ndarray]:
    """Blobs of ``crop`` at a bounded cost; returns them with a weight factor per blob.

    Frames over :data:`_MAX_FULL_PX` run on an area-downsampled copy (zoom ``z``; the noise
    σ shrinks by ``z`` too) for every size it resolves, plus one native-resolution window in
    the centre for the diameters below ``4 / z`` px that the copy cannot see; the window's
    blobs weigh by the inverse of its share of the frame. A 4096 × 3072 frame then costs
    about what a 1.3 MP one does.
    """
    h, w = crop.shape
    if h * w <= _MAX_FULL_PX:
        (b,) = _detect(crop, noise, (sign,))
        return b, np.ones(b.strength.size)
    z = math.sqrt(_MAX_FULL_PX / (h * w))
    small = cv2.resize(crop, (int(w * z), int(h * z)), interpolation=cv2.INTER_AREA)
    (coarse,) = _detect(small, noise * z, (sign,))
    coarse = _Blobs(coarse.diameter_px / z, coarse.strength, coarse.x / z, coarse.y / z)
    side = min(h, w, _WINDOW_PX)
    y0, x0 = (h - side) // 2, (w - side) // 2
    (fine,) = _detect(crop[y0 : y0 + side, x0 : x0 + side], noise, (sign,))
    cut = 4.0 / z
    f = fine.diameter_px < cut
    c = coarse.diameter_px >= cut
    merged = _Blobs(
        np.concatenate([coarse.diameter_px[c], fine.diameter_px[f]]),
        np.concatenate([coarse.strength[c], fine.strength[f]]),
        np.concatenate([coarse.x[c], fine.x[f] + x0]),
        np.concatenate([coarse.y[c], fine.y[f] + y0]),
    )
    scale = np.concatenate([np.ones(int(c.sum())), np.full(int(f.sum()), h * w / side**2)])
    return merged, scale


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cw = np.cumsum(weights[order])
    return float(values[order][min(int(np.searchsorted(cw, q * cw[-1])), values.size - 1)])


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    return _weighted_quantile(values, weights, 0.5)


def _populations(
    log_d: np.ndarray, weights: np.ndarray, strength: np.ndarray
) -> list[tuple[float, float, np.ndarray]]:
    """Modes of the weighted log-diameter histogram as (diameter px, weight share, members).

    Two modes count only when both hold ≥ 25 % of the weight, sit ≥ 1 octave apart with
    a valley at most half the smaller peak between them, and the blobs of each are about as
    strong (median response ≥ half the other's): a single broad population has neither a
    deep valley nor two heavy, distant groups, and the surface texture and rims of large
    particles make a second group of small but much weaker blobs.
    """
    everyone = [(float(2 ** _weighted_median(log_d, weights)), 1.0, np.ones(log_d.size, bool))]
    bins = np.arange(log_d.min() - 0.25, log_d.max() + 0.5, 0.25)
    if bins.size < 3:
        return everyone
    hist, edges = np.histogram(log_d, bins=bins, weights=weights)
    hist = np.convolve(hist, [0.25, 0.5, 0.25], mode="same")
    total = float(hist.sum()) or 1.0
    peaks = [
        i
        for i in range(len(hist))
        if hist[i] > 0
        and hist[i] >= (hist[i - 1] if i else 0)
        and hist[i] > (hist[i + 1] if i + 1 < len(hist) else 0)
    ]
    centre = 0.5 * (edges[:-1] + edges[1:])
    if len(peaks) >= 2:
        top = sorted(peaks, key=lambda i: -hist[i])[:2]
        a, b = sorted(top)
        valley = float(hist[a : b + 1].min())
        split = a + int(np.argmin(hist[a : b + 1]))
        share_a = float(hist[: split + 1].sum()) / total
        share_b = 1.0 - share_a
        if (
            centre[b] - centre[a] >= 1.0
            and valley <= 0.5 * min(hist[a], hist[b])
            and min(share_a, share_b) >= _BIMODAL_MIN_SHARE
        ):
            lo = log_d <= centre[split]
            s_lo, s_hi = float(np.median(strength[lo])), float(np.median(strength[~lo]))
            if min(s_lo, s_hi) < _BIMODAL_STRENGTH_RATIO * max(s_lo, s_hi):
                return everyone
            pops = [
                (float(2 ** _weighted_median(log_d[lo], weights[lo])), share_a, lo),
                (float(2 ** _weighted_median(log_d[~lo], weights[~lo])), share_b, ~lo),
            ]
            return sorted(pops, key=lambda p: -p[1])
    return everyone


def _drop_texture(
    pops: list[tuple[float, float, np.ndarray]], x: np.ndarray, y: np.ndarray, fg: np.ndarray
) -> list[tuple[float, float, np.ndarray]]:
    """Keep only the larger population when the smaller one is the larger particles' texture.

    Blobs of the smaller population that sit, nearly all (:data:`_TEXTURE_INSIDE`), inside
    components of the particle phase at least as large as a disc of half the larger
    population's diameter are grain, rims and pores on those particles, not particles: on
    the synthetic SEM frame of the speed bench 99 % of 1627 such 16-px blobs, on an EMPS
    frame of 93-px particles 95 % (estimate 16 px before, 92 px after); a real second
    population lies between the large particles (the sparsest real bimodal frames: 58–66 %).
    """
    i_small = int(np.argmin([p for p, _, _ in pops]))
    i_large = 1 - i_small
    m = pops[i_small][2]
    if not m.any():
        return pops
    n, lab, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= math.pi / 4.0 * (0.5 * pops[i_large][0]) ** 2
    big[0] = False
    h, w = fg.shape
    xs = np.clip(x[m].astype(np.int64), 0, w - 1)
    ys = np.clip(y[m].astype(np.int64), 0, h - 1)
    if float(big[lab[ys, xs]].mean()) < _TEXTURE_INSIDE:
        return pops
    p, _, members = pops[i_large]
    return [(p, 1.0, members)]


def _phase(
    crop: np.ndarray, polarity: Literal["auto", "bright", "dark"]
) -> tuple[Literal["bright", "dark"], np.ndarray]:
    """The particle phase (the classical segmenter's rule, one home: phase solidity, else the
    minority phase) and its Otsu mask with holes filled."""
    u8 = classical.denoise(classical.flatten_background(crop)[0])
    t, _ = classical.otsu(u8)
    name = classical.choose_polarity(u8, t) if polarity == "auto" else polarity
    fg = (u8 > t) if name == "bright" else (u8 <= t)
    return name, ndi.binary_fill_holes(fg)


def _inscribed_diameters(blobs: _Blobs, fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diameter of the largest disc inside the particle phase at each blob (0 off the phase),
    and whether that disc lies inside the frame (a particle cut by the edge is no measure).

    The scale-normalised LoG under-reads large particles packed against each other: its
    negative surround falls on the bright neighbours, which moves the response peak to a
    smaller σ (touching 150–400 px spheres read 0.71–0.80 × their median ECD). The
    distance transform of the thresholded phase does not see the neighbours as long as a
    background neck separates them: 2 × its maximum within a quarter diameter of the blob's
    centre is the inscribed diameter, never more than a convex particle's ECD. The mask is
    area-downsampled to ≤ 1 MP for the transform.
    """
    h, w = fg.shape
    z = min(1.0, math.sqrt(_MAX_FULL_PX / (h * w)))
    m = (
        fg
        if z >= 1.0
        else cv2.resize(
            fg.astype(np.uint8), (int(w * z), int(h * z)), interpolation=cv2.INTER_AREA
        ).astype(bool)
    )
    edt = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 5)
    out = np.zeros(blobs.diameter_px.size)
    inside = np.ones(blobs.diameter_px.size, bool)
    hh, ww = edt.shape
    for i, (x, y, d) in enumerate(zip(blobs.x, blobs.y, blobs.diameter_px, strict=True)):
        cx, cy = min(int(x * z), ww - 1), min(int(y * z), hh - 1)
        # Climb the distance map to the particle's centre: the largest value within the
        # inscribed disc of the current point lies nearer the centre (a blob the LoG put
        # off-centre in a large particle, at a smaller scale, ends on the same centre).
        for _ in range(_EDT_CLIMB_STEPS):
            r = max(1, int(max(float(edt[cy, cx]), d * z / 4)))
            y0, x0 = max(0, cy - r), max(0, cx - r)
            win = edt[y0 : cy + r + 1, x0 : cx + r + 1]
            j = int(np.argmax(win))
            ny, nx = y0 + j // win.shape[1], x0 + j % win.shape[1]
            if (ny, nx) == (cy, cx) or edt[ny, nx] <= edt[cy, cx]:
                break
            cy, cx = ny, nx
        out[i] = 2.0 * float(edt[cy, cx]) / z
        r = float(edt[cy, cx])
        inside[i] = r <= min(cy + 0.5, cx + 0.5, hh - cy - 0.5, ww - cx - 0.5)
    return out, inside


def estimate_particle_scale(
    grey: np.ndarray,
    region: Region | None = None,
    *,
    polarity: Literal["auto", "bright", "dark"] = "auto",
) -> ScaleEstimate:
    """Estimate the typical particle diameter (px) of ``grey`` inside ``region``.

    Parameters
    ----------
    grey : (H, W) float ndarray in [0, 1]
    region : the analysed rectangle (image minus data bar); ``None`` = whole image.
    polarity : which blobs are particles; "auto" takes the sign with the stronger blobs.

    Returns
    -------
    ScaleEstimate; ``diameter_px`` is ``None`` when nothing stands above the noise.
    """
    h, w = grey.shape
    r = region or Region(0, 0, w, h)
    crop = np.asarray(grey[r.y0 : r.y1, r.x0 : r.x1], dtype=np.float32)
    noise = estimate_noise_sigma(crop)
    if min(crop.shape) < 8:
        return ScaleEstimate(None, 0.0, noise_sigma=noise)
    name, fg = _phase(crop, polarity)
    blobs, weight_scale = _detect_bounded(crop, noise, 1.0 if name == "bright" else -1.0)
    # A particle's contrast must also stand above a fraction of the pixel noise and a few
    # grey levels: slow shading of an empty substrate makes broad blobs that pass the
    # (scale-dependent, tiny at large σ) noise test but are ~0.01 deep.
    visible = blobs.strength >= max(_MIN_STRENGTH_NOISE * noise, _MIN_STRENGTH)
    blobs = _Blobs(*(getattr(blobs, f)[visible] for f in ("diameter_px", "strength", "x", "y")))
    weight_scale = weight_scale[visible]
    if blobs.strength.size == 0:
        return ScaleEstimate(None, 0.0, noise_sigma=noise, polarity=name)
    # Weight = response × area: one real 250-px sphere outweighs hundreds of grain blobs,
    # while a monolayer of 5-px particles (all alike) is unaffected.
    weight = blobs.strength * blobs.diameter_px**2 * weight_scale
    ref = _weighted_quantile(blobs.strength, weight, 0.75)
    strong = blobs.strength >= _REL_STRENGTH * ref
    d, s = blobs.diameter_px[strong], weight[strong]
    # The populations are found on the LoG's own readings (its bimodality rules were set on
    # them); each population's diameter is then read with the large blobs corrected by the
    # inscribed disc of the thresholded phase, which the LoG under-reads when packed
    # particles touch (small blobs keep the LoG's reading: a threshold frays them).
    raw = _populations(np.log2(d), s, blobs.strength[strong])
    if len(raw) > 1:
        raw = _drop_texture(raw, blobs.x[strong], blobs.y[strong], fg)
        s = np.where(raw[0][2], s, 0.0) if len(raw) == 1 else s  # texture weighs nothing
    big = d >= _EDT_MIN_DIAMETER_PX
    n_edt = 0
    if big.any():
        xs, ys = blobs.x[strong][big], blobs.y[strong][big]
        ins, in_frame = _inscribed_diameters(_Blobs(d[big], s[big], xs, ys), fg)
        grown = np.where(ins > 0, np.clip(ins, 0.5 * d[big], 8.0 * d[big]), d[big])
        n_edt = int((grown != d[big]).sum())
        d, s = d.copy(), s.copy()
        d[big] = grown
        s[np.flatnonzero(big)[~in_frame]] = 0.0  # on a particle the frame edge cuts
        if s.sum() <= 0:
            s = weight[strong]
    log_d = np.log2(d)
    pops = [
        (float(2 ** _weighted_median(log_d[m], s[m])) if s[m].sum() > 0 else p, share)
        for p, share, m in raw
    ]
    xy = np.stack([blobs.x[strong] + r.x0, blobs.y[strong] + r.y0], axis=1)
    sites = tuple(xy[m] for _, _, m in raw)
    if len(pops) > 1 and max(pops)[0] < 2.0 * min(pops)[0]:
        # Two LoG populations that the correction brings within an octave are one: the
        # smaller were off-centre readings of the same packed particles.
        pops = [(float(2 ** _weighted_median(log_d, s)), 1.0)]
        sites = (xy,)
    typical = pops[0][0]
    spread = _weighted_quantile(log_d, s, 0.75) - _weighted_quantile(log_d, s, 0.25)
    # Confidence: enough blobs (saturating at 8, a frame of a few large particles) and most
    # of the weight within half an octave of a population (a tight, unambiguous scale).
    n_term = min(1.0, d.size / 8.0)
    near = np.zeros(d.size, bool)
    for p, _ in pops:
        near |= np.abs(log_d - math.log2(p)) <= 0.5
    concentration = float(s[near].sum() / s.sum())
    spread_term = min(1.0, concentration / 0.7)
    return ScaleEstimate(
        diameter_px=typical,
        confidence=round(n_term * spread_term, 3),
        populations_px=tuple(p for p, _ in pops),
        bimodal=len(pops) > 1,
        n_blobs=int(d.size),
        noise_sigma=noise,
        polarity=name,
        spread=spread,
        details={
            "population_shares": [round(sh, 3) for _, sh in pops],
            "inscribed_corrected": n_edt,
        },
        sites=sites,
    )
