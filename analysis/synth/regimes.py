"""Named synthetic regimes with exact masks: the scenes the engine failed on outside EMPS.

Each regime is :func:`analysis.synth.generate` with its random draw pinned where the regime
needs it (``params`` overrides), so every image stays deterministic by seed and is rendered
by the one renderer. Used by the issue-9 evaluation (``python -m benchmarks.engine.scale``) and
available to training.

- ``dense_tiny``: monolayers of 4–8 px particles in low contrast (in-situ TEM frames,
  ~800 particles per 369 × 369 frame).
- ``large_touching``: 150–400 px spheres, many touching (a JEOL frame of large spheres).
- ``se_agglomerates``: edge-bright irregular grains agglomerated along long boundaries, with
  a Zeiss-style data band (an oxide powder on a full-frame SEM).
- ``noise_only`` and ``empty``: no particles at all; noise only / a clean substrate.
- :func:`scale_sweep`: one sphere scene at a given median diameter, the frame grown so it
  holds whole particles (6 to 384 px in the bench).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from analysis.synth.generate import SynthMicrograph, generate

__all__ = ["REGIMES", "render", "scale_sweep", "sweep_frame_px"]


def dense_tiny(seed: int) -> SynthMicrograph:
    """~800 particles of 4–8 px across in a 369 × 369 low-contrast TEM-like frame."""
    return generate(
        seed,
        width=369,
        height=369,
        style="tem",
        morphology="sphere",
        median_ecd_px=5.5,
        n_particles=1100,
        data_bar=False,
        figure_marks=False,
        jpeg=False,
        params={
            "min_ecd_px": 4.0,
            "sigma_log": 0.18,
            "agglomerate_prob": 0.0,
            "max_overlap": 0.0,
            "background": 0.6,
            "particle_level": 0.48,
            "particle_spread": 0.02,
            "thickness_k": 0.05,
            "rim_k": 0.0,
            "halo": 0.0,
            "shading": 0.04,
            "substrate_texture": 0.02,
            "substrate_grain_px": 1.0,
            "blur_sigma_px": 0.6,
            "photons": 120.0,
            "read_noise": 0.02,
            "scan_lines": 0.0,
        },
    )


def large_touching(seed: int) -> SynthMicrograph:
    """150–400 px spheres on a 1280 × 1024 SEM frame, most of them touching a neighbour."""
    return generate(
        seed,
        width=1280,
        height=1024,
        style="sem",
        morphology="sphere",
        median_ecd_px=240.0,
        n_particles=14,
        data_bar=False,
        figure_marks=False,
        jpeg=False,
        params={
            "sigma_log": 0.25,
            "agglomerate_prob": 0.8,
            "max_overlap": 0.03,
            "rim_k": 0.15,
            "rim_frac": 0.08,
            "shade_k": 0.08,
            "halo": 0.0,
            "blur_sigma_px": 1.2,
            "photons": 150.0,
        },
    )


def se_agglomerates(seed: int) -> SynthMicrograph:
    """Edge-bright irregular 30–60 px grains in agglomerates, 1024 × 768 with a data band."""
    return generate(
        seed,
        width=1024,
        height=768,
        style="sem",
        morphology="irregular",
        median_ecd_px=42.0,
        n_particles=260,
        data_bar=True,
        figure_marks=False,
        jpeg=False,
        params={
            "sigma_log": 0.2,
            "agglomerate_prob": 0.85,
            "max_overlap": 0.04,
            "background": 0.15,
            "particle_level": 0.38,
            "particle_spread": 0.04,
            "rim_k": 0.3,
            "rim_frac": 0.12,
            "shade_k": 0.08,
            "halo": 0.0,
            "surface_texture": 0.02,
            "blur_sigma_px": 0.9,
            "photons": 80.0,
        },
    )


def noise_only(seed: int) -> SynthMicrograph:
    """Shot and read noise over a flat substrate, no particles: the answer is 0 particles."""
    return generate(
        seed,
        width=1024,
        height=768,
        style="sem",
        n_particles=0,
        data_bar=False,
        figure_marks=False,
        jpeg=False,
        params={
            "background": 0.3,
            "shading": 0.02,
            "substrate_texture": 0.03,
            "substrate_grain_px": 1.0,
            "photons": 20.0,
            "read_noise": 0.04,
            "scan_lines": 0.01,
        },
    )


def empty(seed: int) -> SynthMicrograph:
    """A clean, slowly shaded substrate with mild noise and no particles."""
    return generate(
        seed,
        width=1024,
        height=768,
        style="sem",
        n_particles=0,
        data_bar=False,
        figure_marks=False,
        jpeg=False,
        params={
            "background": 0.35,
            "shading": 0.08,
            "substrate_texture": 0.01,
            "photons": 400.0,
            "read_noise": 0.005,
            "scan_lines": 0.0,
        },
    )


REGIMES: dict[str, Callable[[int], SynthMicrograph]] = {
    "dense_tiny": dense_tiny,
    "large_touching": large_touching,
    "se_agglomerates": se_agglomerates,
    "noise_only": noise_only,
    "empty": empty,
}


def render(regime: str, seed: int) -> SynthMicrograph:
    """One image of a named regime (:data:`REGIMES`)."""
    try:
        return REGIMES[regime](seed)
    except KeyError:
        raise ValueError(f"unknown regime {regime!r}; expected one of {sorted(REGIMES)}") from None


def sweep_frame_px(median_diameter_px: float) -> tuple[int, int]:
    """(width, height) of a sweep frame: ≥ 6 median diameters across, never under 384 × 288."""
    w = max(384, int(round(6 * median_diameter_px)))
    return w, max(288, int(round(w * 0.75)))


def scale_sweep(median_diameter_px: float, seed: int) -> SynthMicrograph:
    """A sphere scene (SEM, moderate contrast, few touching) at the given median diameter.

    The frame grows with the diameter so it holds several whole particles; coverage is about
    a quarter, so the count is large enough for a stable median at small sizes.
    """
    w, h = sweep_frame_px(median_diameter_px)
    r = median_diameter_px / 2.0
    n = int(max(8, min(1500, 0.25 * w * h / (3.1416 * r * r))))
    params: dict[str, Any] = {
        "min_ecd_px": min(5.0, 0.7 * median_diameter_px),
        "sigma_log": 0.12,
        "agglomerate_prob": 0.15,
        "max_overlap": 0.0,
        "background": 0.25,
        "particle_level": 0.55,
        "particle_spread": 0.02,
        "rim_k": 0.12,
        "rim_frac": 0.1,
        "shade_k": 0.05,
        "halo": 0.0,
        "shading": 0.03,
        "blur_sigma_px": 0.6,
        "photons": 150.0,
        "read_noise": 0.01,
        "scan_lines": 0.0,
        "substrate_texture": 0.02,
        "substrate_grain_px": 1.5,
    }
    return generate(
        seed,
        width=w,
        height=h,
        style="sem",
        morphology="sphere",
        median_ecd_px=median_diameter_px,
        n_particles=n,
        data_bar=False,
        figure_marks=False,
        jpeg=False,
        params=params,
    )
