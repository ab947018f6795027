"""Use a trained generator: paint instance masks, judge stability, write a training set.

Painting is exact by construction: the returned image has the mask's shape and the mask is
returned untouched, so every synthetic training image carries an exact annotation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from analysis.synth import SynthMicrograph
from analysis.synth import generate as procedural
from analysis.synth.learned.labels import class_map, one_hot
from analysis.synth.learned.nets import DOWNSAMPLINGS, Generator
from analysis.synth.learned.stability import StabilityReport, assess
from analysis.train.polygons import labels_to_yolo_lines

PAINT_MARGIN_PX = 16  # about the receptive field lost to zero padding at the border
LEARNED_SEED_BASE = 2_000_000  # mask seeds of learned images; procedural training uses 1e6+


@dataclass
class LearnedModel:
    """A trained generator with the config and mask statistics of its training."""

    generator: Generator
    config: dict[str, Any]
    mask_stats: dict[str, float]

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        ck = torch.load(Path(path), map_location="cpu", weights_only=False)
        g = Generator(ck["config"]["g_channels"])
        g.load_state_dict(ck["g"])
        g.eval()
        return cls(g, ck["config"], ck.get("mask_stats", {}))

    def paint(self, instances: np.ndarray, seed: int) -> np.ndarray:
        """(H, W) instance labels -> (H, W) uint8 micrograph; same seed, same image.

        The class map is extended by ``PAINT_MARGIN_PX`` (edge pixels repeated) and rounded up
        to a multiple of 8 before painting, then cropped back: zero padding inside the network
        otherwise leaves a visible frame along the image border.
        """
        lab = np.asarray(instances)
        h, w = lab.shape
        m, mg = 2**DOWNSAMPLINGS, PAINT_MARGIN_PX
        cls = torch.from_numpy(one_hot(class_map(lab)))[None]
        cls = F.pad(cls, (mg, mg + (-(w + 2 * mg) % m), mg, mg + (-(h + 2 * mg) % m)), "replicate")
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            out = self.generator(cls)[0, 0, mg : mg + h, mg : mg + w]
        return np.round((out.numpy() + 1.0) * 127.5).clip(0, 255).astype(np.uint8)


def procedural_micrograph(
    seed: int, size_px: int, mask_stats: dict[str, float] | None = None
) -> SynthMicrograph:
    """A procedural micrograph (exact mask + procedural rendering), sized like the lab's.

    With ``mask_stats`` (from the training labels) the median ECD (spread 15 %) and particle
    density (spread 20 %) follow the lab's data; without, the procedural generator draws them.
    No data bar, no marks. Its ``labels`` are what :func:`procedural_mask` returns, so the
    procedural and the learned rendering of one seed share the very same mask.
    """
    kw: dict[str, Any] = {}
    if mask_stats and mask_stats.get("median_ecd_px"):
        rng = np.random.default_rng(seed)
        kw["median_ecd_px"] = mask_stats["median_ecd_px"] * float(np.exp(rng.normal(0, 0.15)))
        n = rng.normal(1, 0.2) * mask_stats["particles_per_mpx"] * size_px**2 / 1e6
        kw["n_particles"] = max(1, int(round(n)))
    return procedural(seed, width=size_px, height=size_px, data_bar=False, figure_marks=False, **kw)


def procedural_mask(
    seed: int, size_px: int, mask_stats: dict[str, float] | None = None
) -> np.ndarray:
    """(size_px, size_px) uint16 instance mask of :func:`procedural_micrograph`."""
    return procedural_micrograph(seed, size_px, mask_stats).labels


def assess_model(model: LearnedModel, pairs: list[Any], noise_masks: int = 4) -> StabilityReport:
    """Stability of ``model`` on the masks of real ``pairs`` (objects with image, labels).

    Each real frame is compared with the generator's painting of the same mask; noise variety
    is measured on the first ``noise_masks`` masks painted with two seeds.
    """
    real = [(p.image, p.labels) for p in pairs]
    generated = [(model.paint(p.labels, seed=i), p.labels) for i, p in enumerate(pairs)]
    noise_pairs = [
        (model.paint(p.labels, seed=1000 + i), model.paint(p.labels, seed=2000 + i))
        for i, p in enumerate(pairs[:noise_masks])
    ]
    return assess(real, generated, noise_pairs)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_training_set(
    model_path: Path, n: int, out_dir: Path, *, size_px: int = 512, seed: int = 0
) -> dict[str, Any]:
    """Paint ``n`` procedural masks and write them in the YOLO-seg training layout.

    ``out_dir/images/train/learned_<s>.png`` (grey), ``labels/train/learned_<s>.txt`` (YOLO
    polygons, as :mod:`analysis.train.dataset` writes), ``masks/train/learned_<s>.png``
    (uint16 exact instance maps) and ``manifest.json`` marking the set synthetic and naming
    the generator (path and sha256). Returns the manifest.
    """
    model = LearnedModel.load(model_path)
    out = Path(out_dir)
    dirs = {k: out / k / "train" for k in ("images", "labels", "masks")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    names, instances = [], 0
    for i in range(n):
        s = LEARNED_SEED_BASE + seed * 100_000 + i
        lab = procedural_mask(s, size_px, model.mask_stats)
        img = model.paint(lab, seed=s)
        name = f"learned_{s}"
        cv2.imwrite(str(dirs["images"] / f"{name}.png"), img)
        cv2.imwrite(str(dirs["masks"] / f"{name}.png"), lab.astype(np.uint16))
        lines = labels_to_yolo_lines(lab)
        (dirs["labels"] / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        names.append(name)
        instances += len(lines)
    manifest = {
        "synthetic": True,
        "kind": "learned",
        "generator": str(model_path),
        "generator_sha256": sha256_file(model_path),
        "n": n,
        "size_px": size_px,
        "seed": seed,
        "mask_stats": model.mask_stats,
        "instances": instances,
        "names": names,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
