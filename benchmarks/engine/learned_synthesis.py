"""``python -m benchmarks.engine.learned_synthesis``: does learned synthesis help the model?

Two data sets (``--data``), each as a lab's few annotated frames and frames held back:

- ``msa``: msa-tem-train (20 in-situ TEM frames; the block split of issue 10: ``image_0``-
  ``image_7`` are the lab's frames, ``image_8``/``image_9`` the fine-tune's val set,
  ``image_10``-``image_19`` are held back);
- ``emps``: the 66 EMPS validation ids (the shipped model never trained on them), split like
  ``benchmarks/train_floor.py``: a hashed third (22) is held back; of the rest (the pool), the
  first 8 in sorted order with >= 5 particles are the lab's frames and the next 2 such ids the
  fine-tune's val set. EMPS frames are crops of figures from many papers, so the "lab" is a
  mix of styles.

With a generator trained on the lab's frames (``synth learn --names``):

1. ``stability``: the generator's statistics on the held-back frames (painting their own
   masks) next to the procedural generator's on the same frames' statistics;
2. ``gallery``: a small PNG, real | learned (same mask) | learned (procedural mask) |
   procedural, one held-back frame per row;
3. ``downstream``: fine-tune the shipped particle model briefly on (the lab's frames +
   procedural) and (the same frames + learned paintings of the *same* procedural masks), plus
   (frames only) as the reference, and score PQ / F1 on the held-back frames (raw model and
   model+post). The shipped model without fine-tuning is scored too.

Everything runs on the CPU at whatever priority the caller sets (use ``nice -n 19``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analysis import evaluate
from analysis.segment.refine import refine
from analysis.synth.learned.labels import class_map
from analysis.synth.learned.sample import (
    LEARNED_SEED_BASE,
    LearnedModel,
    procedural_micrograph,
)
from analysis.synth.learned.stability import assess
from analysis.synth.learned.train import Pair, load_pairs
from analysis.train.polygons import labels_to_yolo_lines
from analysis.train.split import emps_splits, split_ids

_REPO = Path(__file__).resolve().parents[2]
DATA = _REPO.parent / "shared" / "data"
EVAL_SEED = 13  # benchmarks/train_floor.py's hashed third of the EMPS validation ids
STABILITY_PX = 512  # held frames are cropped to this square (EMPS sizes vary; msa is 512)


@dataclass(frozen=True)
class Spec:
    """A data set as a lab sees it: its frames, a fine-tune val set, frames held back."""

    folder: Path
    lab: list[str]
    val: list[str]
    held: list[str]


def spec(name: str) -> Spec:
    if name == "msa":
        return Spec(
            DATA / "msa-tem-train",
            [f"image_{i}" for i in range(8)],
            ["image_8", "image_9"],
            [f"image_{i}" for i in range(10, 20)],
        )
    folder = DATA / "emps-train"
    ids = sorted(p.stem for p in (folder / "images").glob("*.png"))
    val = emps_splits(ids)["val"]
    pool, held = split_ids(val, n_val=len(val) // 3, seed=EVAL_SEED)
    rich = [
        p.name
        for p in load_pairs(folder / "images", folder / "labels", pool)
        if len(np.unique(p.labels)) - 1 >= 5
    ]
    return Spec(folder, rich[:8], rich[8:10], held)


def _procedural_pairs(n: int, size_px: int, stats: dict[str, float], seed0: int) -> list[Pair]:
    """Procedural (image, mask) pairs: the masks the learned arm paints, rendered procedurally."""
    out = []
    for s in range(seed0, seed0 + n):
        m = procedural_micrograph(s, size_px, stats)
        out.append(Pair(f"proc_{s}", m.image, m.labels.astype(np.int32)))
    return out


def stability(model: LearnedModel, held: list[Pair]) -> dict[str, Any]:
    held = [
        Pair(p.name, p.image[:STABILITY_PX, :STABILITY_PX], p.labels[:STABILITY_PX, :STABILITY_PX])
        for p in held
    ]
    real = [(p.image, p.labels) for p in held]
    learned = [(model.paint(p.labels, seed=i), p.labels) for i, p in enumerate(held)]
    noise = [
        (model.paint(p.labels, seed=100 + i), model.paint(p.labels, seed=200 + i))
        for i, p in enumerate(held[:4])
    ]
    proc = _procedural_pairs(len(held), held[0].image.shape[0], model.mask_stats, 3_000_000)
    return {
        "learned": assess(real, learned, noise).as_dict(),
        "procedural": assess(real, [(p.image, p.labels) for p in proc]).as_dict(),
    }


def gallery(model: LearnedModel, held: list[Pair], out: Path, crop_px: int = 256) -> Path:
    """Rows of real | learned on its mask | mask outline | learned + procedural on a new mask."""
    rows = []
    stats = model.mask_stats
    rich = [p for p in held if len(np.unique(p.labels[:crop_px, :crop_px])) - 1 >= 5]
    for i, p in enumerate(rich[:3]):
        img, lab = p.image[:crop_px, :crop_px], p.labels[:crop_px, :crop_px]
        learned_same = model.paint(lab, seed=i)
        s = LEARNED_SEED_BASE + 900 + i
        proc = procedural_micrograph(s, crop_px, stats)
        new_mask = proc.labels
        learned_new = model.paint(new_mask, seed=i)
        edges = (class_map(new_mask) == 2).astype(np.uint8) * 255
        tiles = [img, learned_same, learned_new, proc.image, edges]
        rows.append(np.hstack([np.pad(t, 2, constant_values=255) for t in tiles]))
    grid = np.vstack(rows)
    head = np.full((22, grid.shape[1]), 255, np.uint8)
    titles = [
        "real (held out)",
        "learned, same mask",
        "learned, new mask",
        "procedural",
        "new mask",
    ]
    for k, t in enumerate(titles):
        cv2.putText(head, t, (k * (crop_px + 4) + 4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0, 1)
    img = np.vstack([head, grid])
    img = cv2.resize(img, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return out


def _write_yolo(root: Path, split: str, pairs: list[Pair]) -> None:
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for p in pairs:
        cv2.imwrite(str(root / "images" / split / f"{p.name}.png"), p.image)
        lines = labels_to_yolo_lines(p.labels)
        (root / "labels" / split / f"{p.name}.txt").write_text("\n".join(lines) + "\n")


def _finetune(root: Path, train_pairs: list[Pair], val_pairs: list[Pair], args: Any) -> Path:
    # Heavy, optional: ultralytics is only needed for this stage.
    from analysis.segment.model import DEFAULT_WEIGHTS, train_yolo  # noqa: PLC0415

    if root.exists():
        shutil.rmtree(root)
    _write_yolo(root / "data", "train", train_pairs)
    _write_yolo(root / "data", "val", val_pairs)
    (root / "data" / "data.yaml").write_text(
        f"path: {(root / 'data').resolve()}\ntrain: images/train\nval: images/val\n"
        "names:\n  0: particle\n"
    )
    run = train_yolo(
        data_yaml=root / "data" / "data.yaml",
        project=root,
        name="run",
        model_yaml=str(DEFAULT_WEIGHTS),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        workers=0,
        seed=args.seed,
        resume=False,
        # From the shipped weights (a .pt model alone trains from scratch with pretrained=False);
        # no warmup: its 0.1 bias learning rate wrecks a trained head within a few steps.
        extra={
            "pretrained": str(DEFAULT_WEIGHTS),
            "close_mosaic": max(1, args.epochs // 4),
            "warmup_epochs": 0,
        },
    )
    return run / "weights" / "last.pt"


CONF_SWEEP = (0.05, 0.1, 0.2, 0.35, 0.5)


def _keep_above(labels: np.ndarray, scores: np.ndarray, conf: float) -> tuple[np.ndarray, Any]:
    """Drop instances scoring below ``conf`` and renumber the rest 1..N."""
    keep = np.flatnonzero(scores >= conf) + 1
    lut = np.zeros(int(labels.max(initial=0)) + 1, np.int64)
    lut[keep] = np.arange(1, keep.size + 1)
    return lut[labels], scores[keep - 1]


def _score(weights: Path, data: Spec, args: Any) -> dict[str, Any]:
    """PQ / F1 of the raw model at each threshold of ``CONF_SWEEP``, and model+post at --conf.

    The model runs once per frame at the lowest threshold; higher ones filter its instances
    (NMS only ever lets a higher score suppress a lower one, so this equals re-running).
    A fine-tune on a style unlike the held-out frames can lower every score, so a fixed
    threshold alone would mistake a calibration shift for lost detections.
    """
    # Heavy, optional: ultralytics is only needed for this stage.
    from analysis.segment.model import InferenceOptions, ParticleModel  # noqa: PLC0415

    model = ParticleModel(weights, InferenceOptions(imgsz=args.imgsz, conf=min(CONF_SWEEP)))
    raw = []
    for smp in evaluate.load_samples(data.folder / "images", data.folder / "labels", data.held):
        t = time.perf_counter()
        lab, sc = model.segment(smp.grey, smp.region)
        raw.append((smp, lab, sc, time.perf_counter() - t))
    truths = [smp.truth for smp, *_ in raw]
    keep = ("f1", "pq", "sq", "ap50", "count_error")
    out: dict[str, Any] = {}
    for conf in (*CONF_SWEEP, "post"):
        rows, preds = [], []
        for smp, lab, sc, sec in raw:
            lab_c, sc_c = _keep_above(lab, sc, args.conf if conf == "post" else conf)
            if conf == "post":
                lab_c, sc_c = refine(lab_c, sc_c, smp.grey, region=smp.region)
            rows.append(evaluate.image_metrics(smp.truth, lab_c))
            preds.append(evaluate.Prediction(lab_c, sc_c, sec))
        overall = evaluate.summarise(rows, truths, preds)
        key = f"model+post@{args.conf}" if conf == "post" else f"model@{conf}"
        out[key] = {k: overall[k] for k in keep}
    return out


def downstream(model: LearnedModel, data: Spec, args: Any) -> dict[str, Any]:
    from analysis.segment.model import DEFAULT_WEIGHTS  # noqa: PLC0415

    frames = args.real_frames.split(",") if args.real_frames else data.lab
    lab = load_pairs(data.folder / "images", data.folder / "labels", frames)
    val = load_pairs(data.folder / "images", data.folder / "labels", data.val)
    proc = _procedural_pairs(args.n_synth, 512, model.mask_stats, LEARNED_SEED_BASE)
    learned = [
        Pair(f"learned_{p.name}", model.paint(p.labels, seed=i), p.labels)
        for i, p in enumerate(proc)
    ]
    arms = {"real_only": lab, "real+procedural": lab + proc, "real+learned": lab + learned}
    out: dict[str, Any] = {}
    for arm in args.arms.split(","):
        if arm == "shipped":
            out[arm] = {"score": _score(DEFAULT_WEIGHTS, data, args)}
            print(arm, json.dumps(out[arm]), flush=True)
            continue
        t = time.monotonic()
        weights = args.work / arm / "run" / "weights" / "last.pt"
        if not (args.reuse and weights.exists()):
            weights = _finetune(args.work / arm, arms[arm], val, args)
        train_s = time.monotonic() - t
        out[arm] = {
            "train_s": round(train_s, 1),
            "images": len(arms[arm]),
            "score": _score(weights, data, args),
        }
        print(arm, json.dumps(out[arm]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="generator checkpoint")
    ap.add_argument("--stages", default="stability,gallery,downstream")
    ap.add_argument("--gallery", type=Path, help="PNG (default: docs/, suffixed but for msa)")
    ap.add_argument("--out", type=Path, help="JSON report (default: var/bench/)")
    ap.add_argument("--work", type=Path, help="fine-tune folder (default: var/bench/)")
    ap.add_argument("--data", choices=("msa", "emps"), default="msa")
    ap.add_argument("--real-frames", default="", help="lab frames (default: the data set's)")
    ap.add_argument("--n-synth", type=int, default=24)
    ap.add_argument("--arms", default="shipped,real_only,real+procedural,real+learned")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--imgsz", type=int, default=384)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--conf", type=float, default=0.35, help="threshold of model+post")
    ap.add_argument("--seed", type=int, default=0, help="fine-tuning seed (replicates)")
    ap.add_argument("--reuse", action="store_true", help="score existing fine-tunes again")
    args = ap.parse_args(argv)
    sfx = "" if args.data == "msa" else f"_{args.data}"
    args.gallery = args.gallery or _REPO / f"docs/learned_synthesis_gallery{sfx}.png"
    args.out = args.out or _REPO / f"var/bench/learned_synthesis{sfx}.json"
    args.work = args.work or _REPO / f"var/bench/learned_synthesis{sfx}"
    model = LearnedModel.load(args.model)
    data = spec(args.data)
    held = load_pairs(data.folder / "images", data.folder / "labels", data.held)
    report: dict[str, Any] = {
        "model": str(args.model),
        "data": args.data,
        "lab": data.lab,
        "val": data.val,
        "held_out": data.held,
    }
    if args.out.exists():
        report = {**json.loads(args.out.read_text()), **report}
    stages = args.stages.split(",")
    if "stability" in stages:
        report["stability"] = stability(model, held)
        print(json.dumps(report["stability"], indent=1), flush=True)
    if "gallery" in stages:
        report["gallery"] = str(gallery(model, held, args.gallery))
    if "downstream" in stages:
        report["downstream"] = {**report.get("downstream", {}), **downstream(model, data, args)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
