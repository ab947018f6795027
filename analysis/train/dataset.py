"""Write a YOLO-seg dataset: real EMPS crops (+ augmented copies) and synthetic micrographs.

Layout (ultralytics convention) under ``out_dir``::

    images/{train,val}/<name>.png   labels/{train,val}/<name>.txt   data.yaml   manifest.json

Real training images are cut into tiles of at most ``tile_px`` at native resolution, because
inference tiles full-resolution micrographs rather than shrinking them: the model should see
particles at the pixel scale it will meet. The validation images are written whole.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from analysis.segment.scale import TARGET_DIAMETER_PX
from analysis.synth import generate
from analysis.train import normalise
from analysis.train.polygons import labels_to_yolo_lines
from analysis.train.split import N_VAL, VAL_SEED, emps_splits, msa_splits, split_ids

SYNTH_TRAIN_SEED_BASE = 1_000_000  # synthetic training seeds: base + i; evaluation uses < 1e6


@dataclass
class DatasetSpec:
    """What goes into one training dataset (recorded in the model card)."""

    emps_dir: Path | None
    out_dir: Path
    n_synthetic: int = 100
    synth_size_px: int = 512
    real_aug_copies: int = 0
    tile_px: int = 512
    n_val: int = N_VAL
    val_seed: int = VAL_SEED
    max_real: int | None = None
    seed: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def read_emps_pair(emps_dir: Path, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    """One EMPS image as (H, W) uint8 grey and its (H, W) uint16 instance labels."""
    img = np.asarray(Image.open(emps_dir / "images" / f"{image_id}.png").convert("L"))
    lab = np.asarray(Image.open(emps_dir / "labels" / f"{image_id}.png")).astype(np.uint16)
    return img, lab


def emps_ids(emps_dir: Path) -> list[str]:
    return sorted(p.stem for p in (emps_dir / "images").glob("*.png"))


def tiles(length_px: int, tile_px: int) -> list[int]:
    """Start offsets of the fewest tiles of ``tile_px`` covering ``length_px`` (evenly spread)."""
    if length_px <= tile_px:
        return [0]
    n = int(np.ceil(length_px / tile_px))
    return [int(round(i * (length_px - tile_px) / (n - 1))) for i in range(n)]


def augment_real(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A photometric + geometric variant: 90° turns, flips, gamma, contrast, noise, inversion.

    Ultralytics adds flips, small rotations, zoom, crops and mosaics online; this adds what it
    does not (90° turns, gamma, inverted contrast, extra noise).
    """
    k = int(rng.integers(4))
    img, lab = np.rot90(image, k), np.rot90(labels, k)
    if rng.random() < 0.5:
        img, lab = img[:, ::-1], lab[:, ::-1]
    f = img.astype(np.float32) / 255.0
    f = f ** float(np.exp(rng.uniform(-0.5, 0.5)))
    f = (f - f.mean()) * rng.uniform(0.7, 1.3) + f.mean()
    if rng.random() < 0.15:
        f = 1.0 - f
    f = f + rng.normal(0, rng.uniform(0, 0.04), f.shape)
    out = np.round(np.clip(f, 0, 1) * 255).astype(np.uint8)
    return np.ascontiguousarray(out), np.ascontiguousarray(lab)


def _write(split_dir: Path, name: str, image: np.ndarray, labels: np.ndarray) -> int:
    cv2.imwrite(str(split_dir.parent.parent / "images" / split_dir.name / f"{name}.png"), image)
    lines = labels_to_yolo_lines(labels)
    (split_dir / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    return len(lines)


def _make_layout(out: Path) -> tuple[Path, Path]:
    """The YOLO folders ``images/{train,val}`` and ``labels/{train,val}`` under ``out``;
    returns the train and val label folders (images go to their ``images`` twins)."""
    for part in ("train", "val"):
        (out / "images" / part).mkdir(parents=True, exist_ok=True)
        (out / "labels" / part).mkdir(parents=True, exist_ok=True)
    return out / "labels" / "train", out / "labels" / "val"


def build_dataset(spec: DatasetSpec) -> Path:
    """Write the dataset described by ``spec``; returns the path of its ``data.yaml``."""
    out = spec.out_dir
    tr_dir, va_dir = _make_layout(out)
    rng = np.random.default_rng(spec.seed)
    counts = {"real_train_tiles": 0, "real_aug": 0, "synthetic": 0, "val": 0, "instances": 0}
    train_ids: list[str] = []
    val_ids: list[str] = []
    if spec.emps_dir is not None:
        train_ids, val_ids = split_ids(
            emps_ids(spec.emps_dir), n_val=spec.n_val, seed=spec.val_seed
        )
        if spec.max_real is not None:
            train_ids = train_ids[: spec.max_real]
        for image_id in train_ids:
            img, lab = read_emps_pair(spec.emps_dir, image_id)
            h, w = img.shape
            for y in tiles(h, spec.tile_px):
                for x in tiles(w, spec.tile_px):
                    sl = np.s_[y : y + spec.tile_px, x : x + spec.tile_px]
                    name = f"emps_{image_id}_{x}_{y}"
                    counts["instances"] += _write(tr_dir, name, img[sl], lab[sl])
                    counts["real_train_tiles"] += 1
            for c in range(spec.real_aug_copies):
                a_img, a_lab = augment_real(img, lab, rng)
                sl = np.s_[: spec.tile_px, : spec.tile_px]
                counts["instances"] += _write(
                    tr_dir, f"emps_{image_id}_aug{c}", a_img[sl], a_lab[sl]
                )
                counts["real_aug"] += 1
        for image_id in val_ids:
            img, lab = read_emps_pair(spec.emps_dir, image_id)
            _write(va_dir, f"emps_{image_id}", img, lab)
            counts["val"] += 1
    for i in range(spec.n_synthetic):
        seed = SYNTH_TRAIN_SEED_BASE + spec.seed * 100_000 + i
        m = generate(seed, width=spec.synth_size_px, height=spec.synth_size_px)
        counts["instances"] += _write(tr_dir, f"synth_{seed}", m.image, m.labels)
        counts["synthetic"] += 1
    if counts["val"] == 0:
        # Without real data, validate on held-out synthetic seeds (never used for training).
        for i in range(max(4, spec.n_synthetic // 10)):
            m = generate(500_000 + i, width=spec.synth_size_px, height=spec.synth_size_px)
            _write(va_dir, f"synth_{500_000 + i}", m.image, m.labels)
            counts["val"] += 1
    spec.counts = counts
    data_yaml = out / "data.yaml"
    data_yaml.write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: particle\n"
    )
    manifest = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(spec).items()}
    manifest.update(train_ids=train_ids, val_ids=val_ids)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return data_yaml


@dataclass
class NormalisedSpec:
    """A scale-normalised training set (recorded in ``manifest.json`` and the model card).

    Real images (EMPS training ids, the msa-tem training half) are resampled so their median
    particle is ``TARGET_DIAMETER_PX`` × jitter, augmented and packed onto ``canvas_px``
    canvases (:mod:`analysis.train.normalise`), ``*_copies`` independent draws per image.
    Synthetic micrographs are rendered at that scale directly. The ultralytics ``val`` folder
    holds the EMPS *tuning* ids, normalised without jitter or augmentation.
    """

    out_dir: Path
    emps_dir: Path | None = None
    msa_dir: Path | None = None
    emps_copies: int = 2
    msa_copies: int = 4
    n_synthetic: int = 150
    canvas_px: int = 512
    max_pieces: int = 3
    seed: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def read_pair(folder: Path, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) uint8 grey image and (H, W) uint16 labels of ``folder/{images,labels}/<id>.png``."""
    return read_emps_pair(folder, image_id)


def build_normalised_dataset(spec: NormalisedSpec) -> Path:
    """Write the scale-normalised dataset of ``spec``; returns the path of its ``data.yaml``."""
    out = spec.out_dir
    tr_dir, va_dir = _make_layout(out)
    rng = np.random.default_rng(spec.seed)
    counts = {"canvases": 0, "pieces": 0, "synthetic": 0, "val": 0, "instances": 0}
    ids: dict[str, list[str]] = {}
    pieces: list[normalise.Piece] = []
    if spec.emps_dir is not None:
        e = emps_splits(emps_ids(spec.emps_dir))
        ids.update(emps_train=e["train"], emps_tune=e["tune"], emps_val=e["val"])
        for image_id in e["train"]:
            img, lab = read_pair(spec.emps_dir, image_id)
            for _ in range(spec.emps_copies):
                pieces += normalise.normalised_pieces(
                    img,
                    lab,
                    f"emps:{image_id}",
                    rng,
                    canvas_px=spec.canvas_px,
                    max_pieces=spec.max_pieces,
                )
        val_pieces = []
        for image_id in e["tune"]:
            img, lab = read_pair(spec.emps_dir, image_id)
            f = normalise.draw_scale(lab, rng, jitter=(1.0, 1.0))
            s_img, s_lab = normalise.rescale(img, lab, f)
            val_pieces += [
                normalise.Piece(a, b, f"emps:{image_id}")
                for a, b in normalise.cut(s_img, s_lab, spec.canvas_px, rng, 1)
            ]
        for i, (img, lab, _) in enumerate(normalise.pack(val_pieces, spec.canvas_px)):
            counts["val"] += 1
            _write(va_dir, f"tune_{i:04d}", img, lab)
    if spec.msa_dir is not None:
        m = msa_splits(emps_ids(spec.msa_dir))
        ids.update(msa_train=m["train"], msa_held_out=m["held_out"])
        for image_id in m["train"]:
            img, lab = read_pair(spec.msa_dir, image_id)
            for _ in range(spec.msa_copies):
                pieces += normalise.normalised_pieces(
                    img,
                    lab,
                    f"msa:{image_id}",
                    rng,
                    canvas_px=spec.canvas_px,
                    max_pieces=spec.max_pieces,
                )
    counts["pieces"] = len(pieces)
    sources: list[list[str]] = []
    for i, (img, lab, src) in enumerate(normalise.pack(pieces, spec.canvas_px)):
        counts["instances"] += _write(tr_dir, f"real_{i:04d}", img, lab)
        counts["canvases"] += 1
        sources.append(src)
    for i in range(spec.n_synthetic):
        seed = SYNTH_TRAIN_SEED_BASE + spec.seed * 100_000 + i
        j = float(np.exp(rng.uniform(*np.log(normalise.SCALE_JITTER))))
        m = generate(
            seed,
            width=spec.canvas_px,
            height=spec.canvas_px,
            median_ecd_px=TARGET_DIAMETER_PX * j,
        )
        counts["instances"] += _write(tr_dir, f"synth_{seed}", m.image, m.labels)
        counts["synthetic"] += 1
    if counts["val"] == 0:
        for i in range(4):
            m = generate(500_000 + i, width=spec.canvas_px, height=spec.canvas_px)
            _write(va_dir, f"synth_{500_000 + i}", m.image, m.labels)
            counts["val"] += 1
    spec.counts = counts
    data_yaml = out / "data.yaml"
    data_yaml.write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: particle\n"
    )
    manifest = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(spec).items()}
    manifest.update(
        ids=ids,
        canvas_sources=sources,
        target_diameter_px=TARGET_DIAMETER_PX,
        scale_jitter=normalise.SCALE_JITTER,
        synthetic_seeds=[
            SYNTH_TRAIN_SEED_BASE + spec.seed * 100_000,
            SYNTH_TRAIN_SEED_BASE + spec.seed * 100_000 + spec.n_synthetic - 1,
        ],
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return data_yaml
