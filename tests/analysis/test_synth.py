"""The synthetic micrograph generator: deterministic, exact labels, negatives unlabeled."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.synth import MORPHOLOGIES, generate


def test_same_seed_gives_identical_micrograph() -> None:
    a = generate(7, width=256, height=192)
    b = generate(7, width=256, height=192)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.labels, b.labels)
    assert a.classes == b.classes
    assert a.pixel_size_nm == b.pixel_size_nm


def test_different_seeds_differ() -> None:
    assert not np.array_equal(
        generate(1, width=128, height=128).image, generate(2, width=128, height=128).image
    )


def test_output_types_and_sequential_labels() -> None:
    m = generate(3, width=320, height=240)
    assert m.image.shape == (240, 320) and m.image.dtype == np.uint8
    assert m.labels.shape == (240, 320) and m.labels.dtype == np.uint16
    present = np.unique(m.labels)
    assert present[0] == 0
    assert list(present[1:]) == list(range(1, m.n_particles + 1))
    assert set(m.classes) == set(range(1, m.n_particles + 1))
    assert set(m.classes.values()) <= set(MORPHOLOGIES)


@pytest.mark.parametrize("morphology", MORPHOLOGIES)
def test_every_morphology_renders_particles(morphology: str) -> None:
    m = generate(
        11,
        width=256,
        height=256,
        morphology=morphology,
        n_particles=6,
        median_ecd_px=30,
        data_bar=False,
        figure_marks=False,
    )
    assert m.n_particles >= 3
    assert set(m.classes.values()) == {morphology}


def test_zero_particles_gives_empty_labels() -> None:
    m = generate(5, width=200, height=150, n_particles=0, data_bar=True, figure_marks=True)
    assert m.n_particles == 0
    assert not m.labels.any()


def test_data_bar_region_is_bottom_strip_without_particles() -> None:
    m = generate(4, width=400, height=300, data_bar=True, n_particles=200, median_ecd_px=20)
    bar = m.data_bar
    assert bar is not None
    assert (bar.x0, bar.x1, bar.y1) == (0, 400, 300)
    assert 18 <= bar.height <= 40
    assert not m.labels[bar.y0 :, :].any()


def test_particle_pixels_contrast_with_background() -> None:
    m = generate(
        9,
        width=256,
        height=256,
        style="sem",
        n_particles=10,
        median_ecd_px=40,
        data_bar=False,
        figure_marks=False,
        jpeg=False,
    )
    inside = m.image[m.labels > 0].mean()
    outside = m.image[m.labels == 0].mean()
    assert inside > outside + 10
