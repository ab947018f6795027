"""Particle-scale estimate: the typical diameter of a field, its confidence, the user's word."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from analysis.io import read_image
from analysis.result import Region
from analysis.segment import scale


def _disc_field(diameter_px: float, size_px: int = 256, *, bright: bool = True) -> np.ndarray:
    """Discs on a grid (spacing 2 diameters) with mild noise, grey 0.3 / 0.7."""
    rng = np.random.default_rng(0)
    img = np.full((size_px, size_px), 0.3 if bright else 0.7, np.float32)
    step = int(2 * diameter_px)
    for cy in range(step // 2, size_px - step // 2 + 1, step):
        for cx in range(step // 2, size_px - step // 2 + 1, step):
            cv2.circle(img, (cx, cy), int(round(diameter_px / 2)), 0.7 if bright else 0.3, -1)
    return np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32)


def test_target_diameter_is_one_constant_the_training_can_import() -> None:
    assert scale.TARGET_DIAMETER_PX == 32.0
    assert scale.resample_factor(8.0) == pytest.approx(4.0)
    assert scale.resample_factor(None) == 1.0


@pytest.mark.parametrize("diameter_px", [6.0, 16.0, 40.0])
def test_disc_fields_give_their_diameter(diameter_px: float) -> None:
    est = scale.estimate_particle_scale(_disc_field(diameter_px))
    assert est.diameter_px == pytest.approx(diameter_px, rel=0.15)
    assert est.confidence > 0.5 and not est.bimodal


def test_touching_large_spheres_are_not_under_read() -> None:
    """Rows of 200-px spheres each touching its neighbours (a JEOL frame of large spheres):
    the LoG's surround falls on the neighbours and alone read them at ~0.75 × their size;
    the inscribed disc of the thresholded phase brings the estimate back."""
    rng = np.random.default_rng(1)
    img = np.full((800, 1000), 0.25, np.float32)
    for row, cy in enumerate((150, 340, 530)):
        for cx in range(120 + 95 * (row % 2), 900, 190):
            cv2.circle(img, (cx, cy), 100, 0.75, -1)
    img = cv2.GaussianBlur(img, (0, 0), 1.5) + rng.normal(0, 0.04, img.shape)
    est = scale.estimate_particle_scale(np.clip(img, 0, 1).astype(np.float32))
    assert est.diameter_px == pytest.approx(200.0, rel=0.15)
    assert est.details["inscribed_corrected"] > 0


def test_dark_particles_are_found_with_dark_polarity() -> None:
    est = scale.estimate_particle_scale(_disc_field(12.0, bright=False))
    assert est.polarity == "dark"
    assert est.diameter_px == pytest.approx(12.0, rel=0.15)


def test_two_populations_are_reported_as_bimodal() -> None:
    img = _disc_field(8.0, 256)
    big = _disc_field(48.0, 256)
    both = np.hstack([img, big])
    est = scale.estimate_particle_scale(both)
    assert est.bimodal
    small, large = sorted(est.populations_px)
    assert small == pytest.approx(8.0, rel=0.2) and large == pytest.approx(48.0, rel=0.2)


def test_small_blobs_on_large_particles_are_their_texture_not_a_population() -> None:
    """Large particles with a grainy surface: the grain passes the LoG's tests as a second,
    smaller population, but it lies inside the large particles — one population remains."""
    rng = np.random.default_rng(2)
    img = np.full((384, 384), 0.25, np.float32)
    for cy in (96, 288):
        for cx in (96, 288):
            cv2.circle(img, (cx, cy), 72, 0.6, -1)
    grain = cv2.GaussianBlur(rng.normal(0, 1, img.shape).astype(np.float32), (0, 0), 2.0)
    img = np.where(img > 0.5, img + 0.15 * grain / grain.std(), img)
    img = img + rng.normal(0, 0.01, img.shape)
    est = scale.estimate_particle_scale(np.clip(img, 0, 1).astype(np.float32))
    assert not est.bimodal  # without the rule: populations 121 and 23 px
    assert est.diameter_px == pytest.approx(144.0, rel=0.2)
    assert len(est.sites) == 1 and "sites" not in est.as_dict()


def test_noise_and_flat_fields_have_no_confident_scale() -> None:
    rng = np.random.default_rng(1)
    noise = np.clip(0.4 + rng.normal(0, 0.1, (256, 256)), 0, 1).astype(np.float32)
    for img in (noise, np.full((256, 256), 0.5, np.float32)):
        est = scale.estimate_particle_scale(img)
        assert est.diameter_px is None or est.confidence < 0.3


def test_noise_sigma_ignores_edges() -> None:
    rng = np.random.default_rng(2)
    img = _disc_field(20.0) * 0 + 0.5
    img[:, 128:] = 0.9  # a hard edge: no noise
    noisy = img + rng.normal(0, 0.05, img.shape).astype(np.float32)
    assert scale.estimate_noise_sigma(noisy) == pytest.approx(0.05, rel=0.15)


def test_region_limits_the_estimate() -> None:
    img = np.hstack([_disc_field(10.0), np.full((256, 256), 0.3, np.float32)])
    est = scale.estimate_particle_scale(img, Region(0, 0, 256, 256))
    assert est.diameter_px == pytest.approx(10.0, rel=0.15)


def test_user_size_in_nm_needs_the_pixel_size() -> None:
    got = scale.user_scale(diameter_nm=50.0, pixel_size_nm=2.0)
    assert got is not None and got.diameter_px == 25.0 and got.source == "user"
    assert scale.user_scale(diameter_nm=50.0) is None
    assert scale.user_scale(diameter_px=7.0).as_dict()["diameter_px"] == 7.0


def test_noisy_tem_frames_are_not_read_as_5_px_noise(shared_data):
    """msa-tem: strong shot noise through the detector blur makes 5-px blobs everywhere."""
    root = shared_data / "msa-tem-train"
    grey = read_image(root / "images" / "image_2.png").grey
    areas = np.bincount(np.asarray(Image.open(root / "labels" / "image_2.png")).ravel())[1:]
    true_px = float(np.median(2 * np.sqrt(areas[areas > 0] / np.pi)))
    est = scale.estimate_particle_scale(grey)
    assert not est.bimodal
    assert 0.8 * true_px <= est.diameter_px <= 1.5 * true_px
