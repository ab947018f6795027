"""The named evaluation regimes: deterministic, the sizes and counts each regime promises."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.synth import regimes


def _median_ecd_px(labels: np.ndarray) -> float:
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas > 0]
    return float(np.median(2 * np.sqrt(areas / np.pi)))


def test_dense_tiny_is_hundreds_of_4_to_8_px_particles() -> None:
    m = regimes.render("dense_tiny", 1)
    assert m.image.shape == (369, 369)
    assert m.n_particles > 600
    assert 4.0 <= _median_ecd_px(m.labels) <= 8.0


def test_large_touching_spheres_are_150_to_400_px() -> None:
    m = regimes.render("large_touching", 1)
    assert 150.0 <= _median_ecd_px(m.labels) <= 400.0
    assert m.n_particles >= 5


def test_se_agglomerates_have_a_data_band_with_no_particles_in_it() -> None:
    m = regimes.render("se_agglomerates", 1)
    assert m.data_bar is not None
    assert not m.labels[m.data_bar.y0 :, :].any()
    assert 30.0 <= _median_ecd_px(m.labels) <= 60.0


@pytest.mark.parametrize("name", ["noise_only", "empty"])
def test_particle_free_regimes_have_no_labels(name: str) -> None:
    m = regimes.render(name, 3)
    assert m.n_particles == 0 and not m.labels.any()


def test_regimes_are_deterministic_by_seed() -> None:
    a, b = regimes.render("dense_tiny", 5), regimes.render("dense_tiny", 5)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)


def test_unknown_regime_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown regime"):
        regimes.render("moon_dust", 1)


@pytest.mark.parametrize("diameter_px", [6.0, 24.0])
def test_scale_sweep_hits_its_median_diameter(diameter_px: float) -> None:
    m = regimes.scale_sweep(diameter_px, 1)
    assert m.image.shape[::-1] == regimes.sweep_frame_px(diameter_px)
    assert _median_ecd_px(m.labels) == pytest.approx(diameter_px, rel=0.2)


def test_sweep_frame_grows_with_the_diameter() -> None:
    w, h = regimes.sweep_frame_px(192.0)
    assert w >= 6 * 192 and h >= 4 * 192
