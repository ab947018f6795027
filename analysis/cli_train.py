"""``python -m analysis train``: build the dataset and train (or resume) the particle model.

Default: the scale-normalised dataset (:func:`analysis.train.dataset.build_normalised_dataset`:
EMPS training ids + the msa-tem training half + synthetic, every particle near
``TARGET_DIAMETER_PX``), fine-tuned from the shipped weights. Example (see MODEL_CARD.md for
the command of each published model)::

    nice -n 19 nohup python -m analysis train --out var/training/v2 --hours 1.35 &

``--legacy`` builds the native-resolution dataset of the first model instead.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from analysis.segment.model import train_yolo
from analysis.train.dataset import (
    DatasetSpec,
    NormalisedSpec,
    build_dataset,
    build_normalised_dataset,
)
from analysis.train.split import N_VAL

_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
_DEFAULT_EMPS = _SHARED_DATA / "emps-train"
_DEFAULT_MSA = _SHARED_DATA / "msa-tem-train"
_SHIPPED = Path(__file__).resolve().parent / "models" / "particle-yolov8n-seg.pt"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train or resume the YOLOv8-seg particle model")
    p.add_argument(
        "--emps",
        type=Path,
        default=_DEFAULT_EMPS,
        help="EMPS folder with images/ and labels/ (omit data with --no-real)",
    )
    p.add_argument(
        "--msa", type=Path, default=_DEFAULT_MSA, help="msa-tem folder (its training half is used)"
    )
    p.add_argument("--no-real", action="store_true", help="synthetic data only")
    p.add_argument(
        "--legacy", action="store_true", help="native-resolution dataset of the first model"
    )
    p.add_argument("--emps-copies", type=int, default=2, help="normalised draws per EMPS image")
    p.add_argument("--msa-copies", type=int, default=4, help="normalised draws per msa-tem frame")
    p.add_argument("--out", type=Path, default=Path("var/training/default"))
    p.add_argument("--synthetic", type=int, default=150, help="synthetic training images")
    p.add_argument("--real-aug", type=int, default=0, help="augmented copies per real image")
    p.add_argument("--max-real", type=int, default=None)
    p.add_argument("--n-val", type=int, default=None)
    p.add_argument(
        "--model",
        default=str(_SHIPPED),
        help="start weights (.pt: fine-tune) or an architecture yaml (from scratch)",
    )
    p.add_argument(
        "--zoom", type=float, default=0.2, help="ultralytics scale augmentation (± fraction)"
    )
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--imgsz", type=int, default=512, help="network input size (px)")
    p.add_argument(
        "--tile", type=int, default=512, help="native-resolution tile size of training images (px)"
    )
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cpu", help="cpu, 0 (first CUDA GPU), …")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--hours",
        type=float,
        default=None,
        help="wall-time budget: ultralytics fits the epochs (and LR schedule) to it;"
        " also accepted when resuming",
    )
    p.add_argument(
        "--close-mosaic",
        type=int,
        default=None,
        help="final epochs without mosaic (default: epochs // 6)",
    )
    p.add_argument("--optimizer", default=None, help="ultralytics optimizer (default: auto)")
    p.add_argument("--lr0", type=float, default=None, help="initial learning rate")
    p.add_argument(
        "--warmup-bias-lr",
        type=float,
        default=None,
        help="warm-up LR of the biases (ultralytics' default 0.1 is meant for SGD from scratch)",
    )
    p.add_argument("--val", action="store_true", help="validate every epoch (slower)")
    p.add_argument("--rebuild", action="store_true", help="rewrite the dataset")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out: Path = args.out.resolve()
    data_yaml = out / "data" / "data.yaml"
    if (args.rebuild or not data_yaml.exists()) and not args.legacy:
        nspec = NormalisedSpec(
            out_dir=out / "data",
            emps_dir=None if args.no_real else args.emps,
            msa_dir=None if args.no_real else args.msa,
            emps_copies=args.emps_copies,
            msa_copies=args.msa_copies,
            n_synthetic=args.synthetic,
            canvas_px=args.tile,
            seed=args.seed,
        )
        t = time.monotonic()
        data_yaml = build_normalised_dataset(nspec)
        print(f"dataset {data_yaml} {nspec.counts} in {time.monotonic() - t:.0f} s", flush=True)
    elif args.rebuild or not data_yaml.exists():
        spec = DatasetSpec(
            emps_dir=None if args.no_real else args.emps,
            out_dir=out / "data",
            n_synthetic=args.synthetic,
            real_aug_copies=args.real_aug,
            max_real=args.max_real,
            n_val=args.n_val if args.n_val is not None else N_VAL,
            seed=args.seed,
            synth_size_px=args.tile,
            tile_px=args.tile,
        )
        t = time.monotonic()
        data_yaml = build_dataset(spec)
        print(f"dataset {data_yaml} {spec.counts} in {time.monotonic() - t:.0f} s", flush=True)
    extra: dict[str, float | int | str] = {"scale": args.zoom}
    if args.hours is not None:
        extra["time"] = args.hours
    if args.close_mosaic is not None:
        extra["close_mosaic"] = args.close_mosaic
    for key in ("optimizer", "lr0", "warmup_bias_lr"):
        if getattr(args, key) is not None:
            extra[key] = getattr(args, key)
    t = time.monotonic()
    run_dir = train_yolo(
        data_yaml=data_yaml,
        project=out,
        name="run",
        model_yaml=args.model,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        workers=args.workers,
        seed=args.seed,
        val=args.val,
        extra=extra,
    )
    info = {
        "run_dir": str(run_dir),
        "wall_s": round(time.monotonic() - t, 1),
        "args": {k: str(v) for k, v in vars(args).items() if k != "func"},
    }
    (out / "train_info.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info), flush=True)
    return 0
