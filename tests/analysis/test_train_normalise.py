"""Scale-normalised training data: the splits, the rescale to the target diameter, the packing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from analysis.segment.scale import TARGET_DIAMETER_PX
from analysis.train import normalise
from analysis.train.dataset import NormalisedSpec, build_normalised_dataset
from analysis.train.split import N_TUNE, N_VAL, emps_splits, msa_splits, split_ids


def _discs(shape: tuple[int, int], diameter_px: float, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lab = np.zeros(shape, np.uint16)
    r = int(round(diameter_px / 2))
    for k in range(1, n + 1):
        x = int(rng.integers(r, shape[1] - r))
        y = int(rng.integers(r, shape[0] - r))
        cv2.circle(lab, (x, y), r, k, -1)
    return lab


def test_emps_splits_are_disjoint_and_keep_the_published_validation_ids() -> None:
    ids = [f"{i:010x}" for i in range(366)]
    s = emps_splits(ids)
    assert (len(s["train"]), len(s["tune"]), len(s["val"])) == (366 - N_VAL - N_TUNE, N_TUNE, N_VAL)
    assert not set(s["train"]) & set(s["tune"]) and not set(s["tune"]) & set(s["val"])
    assert s["val"] == split_ids(ids)[1]  # the model card's validation ids stay the same
    assert emps_splits(reversed(ids)) == s  # listing order does not matter


def test_msa_split_is_a_block_by_frame_number() -> None:
    s = msa_splits([f"image_{i}" for i in range(20)])
    assert s["train"] == sorted(f"image_{i}" for i in range(10))
    assert s["held_out"] == sorted(f"image_{i}" for i in range(10, 20))


def test_rescale_brings_the_median_particle_to_the_target_within_the_jitter() -> None:
    lab = _discs((600, 800), 100.0, 6)
    img = np.where(lab > 0, 200, 60).astype(np.uint8)
    rng = np.random.default_rng(1)
    for _ in range(5):
        f = normalise.draw_scale(lab, rng)
        _, small = normalise.rescale(img, lab, f)
        d = normalise.median_ecd_px(small)
        lo, hi = normalise.SCALE_JITTER
        assert lo * TARGET_DIAMETER_PX * 0.9 <= d <= hi * TARGET_DIAMETER_PX * 1.1
    no_jitter = normalise.draw_scale(lab, rng, jitter=(1.0, 1.0))
    assert abs(no_jitter * normalise.median_ecd_px(lab) - TARGET_DIAMETER_PX) < 1e-6


def test_augment_keeps_every_instance_and_the_shape() -> None:
    lab = _discs((120, 200), 30.0, 3)
    img = np.where(lab > 0, 180, 40).astype(np.uint8)
    for seed in range(8):
        a_img, a_lab = normalise.augment(img, lab, np.random.default_rng(seed))
        assert a_img.dtype == np.uint8 and a_img.shape == a_lab.shape
        assert sorted(a_img.shape) == [120, 200]
        assert set(np.unique(a_lab)) == set(np.unique(lab))


def test_pack_puts_pieces_on_square_canvases_with_distinct_labels() -> None:
    rng = np.random.default_rng(0)
    pieces = []
    for k in range(7):
        h, w = int(rng.integers(60, 250)), int(rng.integers(60, 250))
        lab = _discs((h, w), 20.0, 2, seed=k)
        pieces.append(normalise.Piece(np.full((h, w), 100, np.uint8), lab, f"p{k}"))
    out = list(normalise.pack(pieces, canvas_px=256))
    assert 2 <= len(out) < 7
    n_in = sum(int(np.unique(p.labels).size - 1) for p in pieces)
    n_out = sum(int(np.unique(lab).size - 1) for _, lab, _ in out)
    assert n_out == n_in
    assert all(img.shape == (256, 256) and lab.shape == (256, 256) for img, lab, _ in out)
    assert sorted(s for _, _, src in out for s in src) == sorted(p.source for p in pieces)


def test_cut_never_exceeds_the_canvas_and_prefers_windows_with_particles() -> None:
    lab = np.zeros((1500, 1500), np.uint16)
    lab[1100:1130, 1200:1230] = 1
    img = np.zeros_like(lab, np.uint8)
    got = normalise.cut(img, lab, 512, np.random.default_rng(0), max_pieces=1)
    assert len(got) == 1 and got[0][0].shape == (512, 512)
    assert got[0][1].any()


def test_normalised_dataset_is_written_at_the_canvas_size(tmp_path: Path) -> None:
    for sub in ("images", "labels"):
        (tmp_path / "real" / sub).mkdir(parents=True)
    for i in range(3):
        lab = _discs((300, 400), 60.0, 5, seed=i)
        cv2.imwrite(str(tmp_path / "real" / "labels" / f"image_{i}.png"), lab)
        img = np.where(lab > 0, 200, 50).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "real" / "images" / f"image_{i}.png"), img)
    spec = NormalisedSpec(
        out_dir=tmp_path / "ds", msa_dir=tmp_path / "real", n_synthetic=2, canvas_px=256
    )
    data_yaml = build_normalised_dataset(spec)
    assert data_yaml.is_file()
    written = sorted((tmp_path / "ds" / "images" / "train").glob("*.png"))
    assert spec.counts["synthetic"] == 2 and spec.counts["canvases"] >= 1
    assert all(cv2.imread(str(p), 0).shape == (256, 256) for p in written)
