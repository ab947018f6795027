"""Train the mask-conditioned GAN on (micrograph, instance mask) pairs; resumable, time-boxed.

Losses (pix2pixHD / SPADE family, sized for tens of images on a CPU):

- hinge adversarial loss on a two-scale spectrally normalised PatchGAN (:mod:`.nets`);
- feature matching: L1 between discriminator features of the real and the generated image on
  the same mask (stabilises training and carries most of the realism signal early on);
- low-pass reconstruction: L1 between 8x-averaged real and generated images on the same mask.
  It fixes the slow layout (which side is dark, how bright particles are) quickly, and leaves
  grain, texture and rims to the adversarial terms, so it does not suppress variety;
- mode seeking (Mao et al. 2019): two latents on the same mask must give different images,
  the direct counter to the collapse the founding study hit;
- differentiable augmentation of every discriminator input (:func:`.nets.diff_augment`).

A training is one checkpoint file (``torch.save`` of a dict holding both networks, both
optimiser states, the step, the wall time spent, the loss history and the mask statistics);
training again with the same ``out`` resumes it. Beside it: ``<out>.losses.csv`` (one row per
step), ``<out>.samples.png`` (latest real | mask | two generated) and, at the end of each
session, ``<out>.stability.json`` (:mod:`.stability`).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from analysis.synth.learned import sample as sample_mod
from analysis.synth.learned.labels import class_map, one_hot
from analysis.synth.learned.nets import Discriminator, Generator, diff_augment

CHECKPOINT_FORMAT = 1
# What a caller is told after each step: (step, losses of the step, side files rewritten now
# and the checkpoint written once the callback returns).
StepCallback = Callable[[int, dict[str, float], bool], None]
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


@dataclass
class TrainConfig:
    """Everything that shapes a training (stored in the checkpoint; fixed once started)."""

    crop_px: int = 128
    batch_masks: int = 2  # masks per step; each is painted with two latents (mode seeking)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    g_channels: int = 32
    d_channels: int = 32
    d_scales: int = 2
    lambda_fm: float = 10.0
    lambda_lowpass: float = 10.0
    lambda_ms: float = 1.0
    lowpass_px: int = 8
    checkpoint_every_s: float = 120.0
    seed: int = 0


@dataclass
class Pair:
    """One training pair: (H, W) uint8 grey micrograph and its (H, W) instance labels."""

    name: str
    image: np.ndarray
    labels: np.ndarray


@dataclass
class TrainResult:
    out: Path
    steps: int
    seconds: float
    session_steps: int
    session_seconds: float
    stability: dict[str, Any] = field(default_factory=dict)


def load_pairs(images_dir: Path, labels_dir: Path, names: list[str] | None = None) -> list[Pair]:
    """Pairs ``images_dir/<stem>.*`` with ``labels_dir/<stem>.*`` (EMPS / msa-tem layout).

    ``names`` restricts to those stems (in that order). Images become grey; labels keep their
    integer values (0 = background).
    """
    labels = {p.stem: p for p in Path(labels_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    images = {p.stem: p for p in Path(images_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    stems = names if names is not None else sorted(set(images) & set(labels))
    pairs = []
    for stem in stems:
        img = np.asarray(Image.open(images[stem]).convert("L"))
        lab = np.asarray(Image.open(labels[stem])).astype(np.int64)
        if lab.ndim == 3:
            lab = lab[..., 0]
        if img.shape != lab.shape:
            raise ValueError(f"{stem}: image {img.shape} and labels {lab.shape} differ")
        pairs.append(Pair(stem, img, lab.astype(np.int32)))
    if not pairs:
        raise ValueError(f"no image/label pairs in {images_dir} and {labels_dir}")
    return pairs


def mask_statistics(pairs: list[Pair]) -> dict[str, float]:
    """Median particle ECD (px) and particles per megapixel: defaults for procedural masks."""
    ecds, count, area = [], 0, 0
    for p in pairs:
        sizes = np.bincount(p.labels.ravel())[1:]
        sizes = sizes[sizes > 0]
        ecds.extend(np.sqrt(4 * sizes / np.pi))
        count += len(sizes)
        area += p.labels.size
    return {
        "median_ecd_px": float(np.median(ecds)) if ecds else 0.0,
        "particles_per_mpx": float(count / area * 1e6) if area else 0.0,
    }


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32) / 127.5 - 1.0)[None]


def _batch(
    pairs: list[Pair], cfg: TrainConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops, 90-degree turns and flips: (B, 1, c, c) images and (B, 3, c, c) classes."""
    imgs, clss = [], []
    c = cfg.crop_px
    for _ in range(cfg.batch_masks):
        p = pairs[int(rng.integers(len(pairs)))]
        h, w = p.image.shape
        if h < c or w < c:
            raise ValueError(f"{p.name}: {h}x{w} is smaller than the {c}-px crop")
        y, x = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
        img, lab = p.image[y : y + c, x : x + c], p.labels[y : y + c, x : x + c]
        k = int(rng.integers(4))
        img, lab = np.rot90(img, k), np.rot90(lab, k)
        if rng.random() < 0.5:
            img, lab = img[:, ::-1], lab[:, ::-1]
        imgs.append(_to_tensor(np.ascontiguousarray(img)))
        clss.append(torch.from_numpy(one_hot(class_map(np.ascontiguousarray(lab)))))
    return torch.stack(imgs), torch.stack(clss)


def _hinge_d(outs: list[tuple[torch.Tensor, list[torch.Tensor]]], real: bool) -> torch.Tensor:
    sign = -1.0 if real else 1.0
    return sum(F.relu(1.0 + sign * logits).mean() for logits, _ in outs) / len(outs)


def _new_state(cfg: TrainConfig, stats: dict[str, float], names: list[str]) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    g = Generator(cfg.g_channels)
    d = Discriminator(cfg.d_channels, cfg.d_scales)
    return {
        "format": CHECKPOINT_FORMAT,
        "config": asdict(cfg),
        "g": g,
        "d": d,
        "opt_g": torch.optim.Adam(g.parameters(), cfg.lr_g, betas=(0.0, 0.99)),
        "opt_d": torch.optim.Adam(d.parameters(), cfg.lr_d, betas=(0.0, 0.99)),
        "step": 0,
        "seconds": 0.0,
        "history": [],
        "mask_stats": stats,
        "train_names": names,
        "torch_rng": None,
    }


def _load_state(path: Path) -> dict[str, Any]:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if ck.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: checkpoint format {ck.get('format')}, need {CHECKPOINT_FORMAT}")
    cfg = TrainConfig(**ck["config"])
    g = Generator(cfg.g_channels)
    d = Discriminator(cfg.d_channels, cfg.d_scales)
    g.load_state_dict(ck["g"])
    d.load_state_dict(ck["d"])
    opt_g = torch.optim.Adam(g.parameters(), cfg.lr_g, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), cfg.lr_d, betas=(0.0, 0.99))
    opt_g.load_state_dict(ck["opt_g"])
    opt_d.load_state_dict(ck["opt_d"])
    return {**ck, "g": g, "d": d, "opt_g": opt_g, "opt_d": opt_d}


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write atomically (temp file + rename): a kill mid-write never loses the last good one."""
    ck = {
        **state,
        "g": state["g"].state_dict(),
        "d": state["d"].state_dict(),
        "opt_g": state["opt_g"].state_dict(),
        "opt_d": state["opt_d"].state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ck, tmp)
    os.replace(tmp, path)


def _step(state: dict[str, Any], pairs: list[Pair]) -> dict[str, float]:
    cfg = TrainConfig(**state["config"])
    g, d, opt_g, opt_d = state["g"], state["d"], state["opt_g"], state["opt_d"]
    rng = np.random.default_rng([cfg.seed, state["step"]])
    real, cls = _batch(pairs, cfg, rng)
    b = real.shape[0]
    cls2, real2 = cls.repeat(2, 1, 1, 1), real.repeat(2, 1, 1, 1)
    z = torch.randn(2 * b, g.z_dim)

    # Discriminator.
    with torch.no_grad():
        fake = g(cls2, z)
    d_real = _hinge_d(d(diff_augment(torch.cat([real, cls], 1))), real=True)
    d_fake = _hinge_d(d(diff_augment(torch.cat([fake, cls2], 1))), real=False)
    opt_d.zero_grad(set_to_none=True)
    (d_real + d_fake).backward()
    opt_d.step()

    # Generator: the same augmentation for real and fake so their features are comparable.
    fake = g(cls2, z)
    aug_seed = int(rng.integers(2**31))
    outs_fake = d(diff_augment(torch.cat([fake, cls2], 1), torch.Generator().manual_seed(aug_seed)))
    with torch.no_grad():
        outs_real = d(
            diff_augment(torch.cat([real2, cls2], 1), torch.Generator().manual_seed(aug_seed))
        )
    adv = -sum(logits.mean() for logits, _ in outs_fake) / len(outs_fake)
    fm = sum(
        F.l1_loss(ff, fr)
        for (_, f_fake), (_, f_real) in zip(outs_fake, outs_real, strict=True)
        for ff, fr in zip(f_fake, f_real, strict=True)
    ) / sum(len(f) for _, f in outs_fake)
    k = cfg.lowpass_px
    lowpass = F.l1_loss(F.avg_pool2d(fake, k), F.avg_pool2d(real2, k))
    spread = (fake[:b] - fake[b:]).abs().mean() / (z[:b] - z[b:]).abs().mean()
    ms = 1.0 / (spread + 1e-5)
    loss = adv + cfg.lambda_fm * fm + cfg.lambda_lowpass * lowpass + cfg.lambda_ms * ms
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return {
        "d_real": d_real.item(),
        "d_fake": d_fake.item(),
        "g_adv": adv.item(),
        "g_fm": fm.item(),
        "g_lowpass": lowpass.item(),
        "g_ms": ms.item(),
    }


def _write_side_files(state: dict[str, Any], out: Path, pairs: list[Pair]) -> None:
    hist = state["history"]
    if hist:
        with out.with_name(out.name + ".losses.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(hist[0]))
            writer.writeheader()
            writer.writerows(hist)
    cfg = TrainConfig(**state["config"])
    model = sample_mod.LearnedModel(state["g"], state["config"], state["mask_stats"])
    rows = []
    for i, p in enumerate(pairs[:3]):
        c = min(cfg.crop_px * 2, *p.image.shape)
        img, lab = p.image[:c, :c], p.labels[:c, :c]
        mask_view = (class_map(lab) * 120).astype(np.uint8)
        gens = [model.paint(lab, seed=10 * i + j) for j in range(2)]
        rows.append(np.hstack([img, mask_view, *gens]))
    cv2.imwrite(str(out.with_name(out.name + ".samples.png")), np.vstack(rows))


def train(
    pairs: list[Pair],
    out: Path,
    *,
    hours: float,
    config: TrainConfig | None = None,
    max_steps: int | None = None,
    assess: bool = True,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train (or resume ``out``) for at most ``hours`` of wall time or ``max_steps`` steps.

    A new training uses ``config`` (default :class:`TrainConfig`); a resumed one keeps the
    config it was started with. The checkpoint is written every ``checkpoint_every_s`` seconds
    and at the end; ``hours`` is this session's budget, so resuming buys another ``hours``.

    ``on_step(step, losses, saved)`` follows each step. ``saved``: the loss curve and sample
    image were just rewritten (a caller can publish them) and the checkpoint holding ``step``
    is written as soon as ``on_step`` returns. A caller that records steps elsewhere (a
    database) therefore records a saved step in ``on_step``: the checkpoint never runs ahead
    of that record, so a process killed at any point resumes from a step its record holds
    (and replaces the recorded steps after it). An ``on_step`` that raises leaves the
    checkpoint as it was. The last step of a session (deadline or ``max_steps``) is always
    reported saved. ``should_stop()`` is asked after each step's ``on_step`` and ends the
    session early; steps not yet reported saved are then not written to the checkpoint (a
    caller stops when the job is no longer its own and could not record them), though the
    result counts them.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        state = _load_state(out)
        if state["torch_rng"] is not None:
            torch.set_rng_state(state["torch_rng"])
    else:
        cfg = config or TrainConfig()
        state = _new_state(cfg, mask_statistics(pairs), [p.name for p in pairs])
    cfg = TrainConfig(**state["config"])
    state["g"].train()
    state["d"].train()
    t0 = time.monotonic()
    deadline = t0 + hours * 3600.0
    last_save = t0
    session_steps = 0

    def done() -> bool:
        return time.monotonic() >= deadline or (
            max_steps is not None and session_steps >= max_steps
        )

    last = done()
    while not last:
        t = time.monotonic()
        losses = _step(state, pairs)
        now = time.monotonic()
        state["seconds"] += now - t
        state["step"] += 1
        session_steps += 1
        state["history"].append(
            {"step": state["step"], "seconds": round(state["seconds"], 2), **losses}
        )
        last = done()
        saved = last or now - last_save >= cfg.checkpoint_every_s
        if saved:
            _write_side_files(state, out, pairs)
        # Reported before the checkpoint holds the step, never after (see the docstring).
        if on_step is not None:
            on_step(state["step"], losses, saved)
        if saved:
            save_checkpoint(state, out)
            last_save = now
        if should_stop is not None and should_stop():
            break
    if session_steps == 0:  # nothing trained: the checkpoint and side files as they stand
        save_checkpoint(state, out)
        _write_side_files(state, out, pairs)
    stability: dict[str, Any] = {}
    if assess:
        model = sample_mod.LearnedModel(state["g"], state["config"], state["mask_stats"])
        report = sample_mod.assess_model(model, pairs[:16])
        stability = {
            "step": state["step"],
            "seconds": state["seconds"],
            "masks": "training frames (use `synth assess` on held-out frames)",
            **report.as_dict(),
        }
        out.with_name(out.name + ".stability.json").write_text(json.dumps(stability, indent=1))
    return TrainResult(
        out=out,
        steps=state["step"],
        seconds=state["seconds"],
        session_steps=session_steps,
        session_seconds=time.monotonic() - t0,
        stability=stability,
    )
