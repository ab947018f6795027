"""Is a generator collapsed, and how far are its images from real ones? Plain statistics.

The founding study's GAN collapsed to one image and stopped learning. No pretrained feature
extractor (FID) is available offline, so stability is judged by statistics that need nothing
but the images and masks, each compared with the real set:

- **diversity**: mean pairwise absolute difference between images (grey in [0, 1], after a 4x
  area reduction so shot noise does not pass for variety). Generated images on *different*
  masks must vary about as much as real frames do; a collapsed generator paints the same image
  whatever the mask. Different *noise* on the same mask shows whether the noise input is used.
- **intensity**: 1-D Wasserstein distance between the pooled grey-level distributions.
- **power spectrum**: mean absolute difference of the radially averaged log10 power spectra
  (texture, noise grain and blur live here).
- **edge profile**: mean grey level against signed distance to the particle boundary (the
  rim, fringe or halo a microscope draws), mean absolute difference in grey levels.

Images are (H, W) arrays in [0, 1] (uint8 is divided by 255); labels are instance maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

DIVERSITY_REDUCTION_PX = 4
COLLAPSE_DIVERSITY_RATIO = 0.3  # generated / real mask-to-mask diversity below this: collapsed
FLAT_STD_RATIO = 0.2  # generated / real grey-level std below this: a flat (collapsed) output
NOISE_IGNORED_RATIO = 0.02  # same-mask diversity / real diversity below this: noise unused
SPECTRUM_BINS = 32
EDGE_PROFILE_PX = 6


def as_float(image: np.ndarray) -> np.ndarray:
    """Grey image -> float64 in [0, 1] (uint8 divided by 255, floats taken as they are)."""
    a = np.asarray(image)
    return a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)


def _reduce(image: np.ndarray, k: int = DIVERSITY_REDUCTION_PX) -> np.ndarray:
    a = as_float(image)
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    return a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def pair_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two images after the 4x area reduction."""
    ra, rb = _reduce(a), _reduce(b)
    h, w = min(ra.shape[0], rb.shape[0]), min(ra.shape[1], rb.shape[1])
    return float(np.abs(ra[:h, :w] - rb[:h, :w]).mean())


def diversity(images: Sequence[np.ndarray]) -> float:
    """Mean pairwise difference over all pairs (0 for fewer than two images).

    Frames of different sizes (EMPS figure crops) are compared over their common top-left
    region, as in :func:`pair_difference`; broadcasting them would fail.
    """
    red = [_reduce(i) for i in images]
    diffs = []
    for i in range(len(red)):
        for j in range(i + 1, len(red)):
            h = min(red[i].shape[0], red[j].shape[0])
            w = min(red[i].shape[1], red[j].shape[1])
            diffs.append(float(np.abs(red[i][:h, :w] - red[j][:h, :w]).mean()))
    return float(np.mean(diffs)) if diffs else 0.0


def intensity_distance(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """1-D Wasserstein distance between pooled grey levels (grey units, [0, 1])."""
    q = np.linspace(0.005, 0.995, 199)
    qa = np.quantile(np.concatenate([as_float(i).ravel() for i in a]), q)
    qb = np.quantile(np.concatenate([as_float(i).ravel() for i in b]), q)
    return float(np.abs(qa - qb).mean())


def radial_log_spectrum(image: np.ndarray, bins: int = SPECTRUM_BINS) -> np.ndarray:
    """(bins,) mean log10 power per radial frequency band, 0..0.5 cycles/px (DC excluded)."""
    a = as_float(image)
    a = a - a.mean()
    power = np.abs(np.fft.fftshift(np.fft.fft2(a))) ** 2 / a.size
    h, w = a.shape
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    r = np.hypot(*np.meshgrid(fy, fx, indexing="ij"))
    idx = np.minimum((r / 0.5 * bins).astype(int), bins)  # beyond Nyquist radius: dropped
    sums = np.bincount(idx.ravel(), power.ravel(), minlength=bins + 1)[:bins]
    counts = np.bincount(idx.ravel(), minlength=bins + 1)[:bins]
    spec = sums / np.maximum(counts, 1)
    spec[0] = spec[1]  # the DC-adjacent band holds ~1 sample; keep it from dominating
    return np.log10(spec + 1e-12)


def spectrum_distance(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Mean |difference| of the set-averaged log10 radial power spectra (decades)."""
    sa = np.mean([radial_log_spectrum(i) for i in a], axis=0)
    sb = np.mean([radial_log_spectrum(i) for i in b], axis=0)
    return float(np.abs(sa - sb).mean())


def edge_profile(
    images: Sequence[np.ndarray], labels: Sequence[np.ndarray], max_px: int = EDGE_PROFILE_PX
) -> np.ndarray:
    """(2 * max_px + 1,) mean grey at signed distance -max_px..max_px (negative = inside).

    NaN where no pixel lies at that distance (e.g. no particles at all).
    """
    n = 2 * max_px + 1
    sums, counts = np.zeros(n), np.zeros(n)
    for img, lab in zip(images, labels, strict=True):
        inside = np.asarray(lab) > 0
        if not inside.any() or inside.all():
            continue
        signed = ndi.distance_transform_edt(~inside) - ndi.distance_transform_edt(inside)
        # Inside pixels next to the boundary sit at -1, outside ones at +1: round to bins.
        d = np.round(signed).astype(int)
        sel = np.abs(d) <= max_px
        np.add.at(sums, d[sel] + max_px, as_float(img)[sel])
        np.add.at(counts, d[sel] + max_px, 1)
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def edge_profile_distance(
    a: Sequence[np.ndarray],
    a_labels: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    b_labels: Sequence[np.ndarray],
) -> float:
    """Mean |difference| of the two edge profiles (grey units); NaN without particles."""
    pa, pb = edge_profile(a, a_labels), edge_profile(b, b_labels)
    ok = ~(np.isnan(pa) | np.isnan(pb))
    return float(np.abs(pa[ok] - pb[ok]).mean()) if ok.any() else float("nan")


@dataclass
class StabilityReport:
    """Statistics of one generator against the real set; ``collapsed`` is the alarm."""

    n_real: int
    n_generated: int
    diversity_real: float
    diversity_masks: float  # generated images on different masks
    diversity_noise: float  # generated images on the same mask, different noise
    diversity_ratio: float  # diversity_masks / diversity_real
    noise_ratio: float  # diversity_noise / diversity_real
    std_ratio: float  # generated / real grey-level std
    intensity_distance: float
    spectrum_distance: float
    edge_profile_distance: float
    collapsed: bool
    noise_ignored: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def assess(
    real: Sequence[tuple[np.ndarray, np.ndarray]],
    generated: Sequence[tuple[np.ndarray, np.ndarray]],
    noise_pairs: Sequence[tuple[np.ndarray, np.ndarray]] = (),
) -> StabilityReport:
    """Compare generated (image, labels) pairs with real ones.

    ``generated`` should be painted on *different* masks (about as many as ``real``);
    ``noise_pairs`` are two images painted on the same mask with different noise.
    """
    r_img = [as_float(i) for i, _ in real]
    g_img = [as_float(i) for i, _ in generated]
    div_real = diversity(r_img)
    div_masks = diversity(g_img)
    div_noise = (
        float(np.mean([pair_difference(a, b) for a, b in noise_pairs])) if noise_pairs else 0.0
    )
    eps = 1e-12
    ratio = div_masks / (div_real + eps)
    noise_ratio = div_noise / (div_real + eps)
    std_ratio = float(np.mean([i.std() for i in g_img]) / (np.mean([i.std() for i in r_img]) + eps))
    reasons = []
    if ratio < COLLAPSE_DIVERSITY_RATIO:
        reasons.append(
            f"outputs on different masks vary {ratio:.2f}x as much as real frames"
            f" (< {COLLAPSE_DIVERSITY_RATIO})"
        )
    if std_ratio < FLAT_STD_RATIO:
        reasons.append(f"outputs are flat: grey std {std_ratio:.2f}x the real one")
    noise_ignored = bool(noise_pairs) and noise_ratio < NOISE_IGNORED_RATIO
    return StabilityReport(
        n_real=len(real),
        n_generated=len(generated),
        diversity_real=div_real,
        diversity_masks=div_masks,
        diversity_noise=div_noise,
        diversity_ratio=float(ratio),
        noise_ratio=float(noise_ratio),
        std_ratio=std_ratio,
        intensity_distance=intensity_distance(r_img, g_img),
        spectrum_distance=spectrum_distance(r_img, g_img),
        edge_profile_distance=edge_profile_distance(
            r_img, [lab for _, lab in real], g_img, [lab for _, lab in generated]
        ),
        collapsed=bool(reasons),
        noise_ignored=noise_ignored,
        reason="; ".join(reasons),
    )
