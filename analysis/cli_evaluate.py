"""``python -m analysis evaluate``: score methods against ground truth, side by side.

Examples::

    python -m analysis evaluate --images ../shared/data/emps-train/images \\
        --labels ../shared/data/emps-train/labels --split val --method classical model model+post
    python -m analysis evaluate --synthetic 20 --method model+post classical
"""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path

from analysis import evaluate
from analysis.segment.model import ParticleModel, load_default_model
from analysis.segment.refine import RefineOptions
from analysis.train.split import split_ids


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="score segmentation against ground truth")
    p.add_argument("--images", type=Path, help="folder of micrographs")
    p.add_argument("--labels", type=Path, help="folder of instance label maps (same stems)")
    p.add_argument(
        "--split",
        choices=("all", "val", "train"),
        default="all",
        help="EMPS only: restrict to the fixed validation (or training) split",
    )
    p.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="score N synthetic micrographs (seeds from --seed) instead",
    )
    p.add_argument("--seed", type=int, default=900_000, help="first synthetic seed")
    p.add_argument("--size", default="1024x768", help="synthetic image size WxH")
    p.add_argument(
        "--method",
        nargs="+",
        default=["classical", "model", "model+post", "auto"],
        choices=("classical", "model", "model+post", "auto"),
    )
    p.add_argument("--weights", type=Path, default=None, help="model weights (.pt or .onnx)")
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    p.add_argument("--conf", type=float, default=None, help="model score threshold")
    for step in ("drop-marks", "snap-edges", "fill-holes"):
        p.add_argument(f"--no-{step}", action="store_true", help=f"refine: skip {step}")
    p.add_argument("--split-merged", action="store_true", help="refine: watershed split")
    p.add_argument("--out", type=Path, default=None, help="write the full report as JSON")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.synthetic:
        w, h = (int(v) for v in args.size.lower().split("x"))
        samples = evaluate.synthetic_samples(range(args.seed, args.seed + args.synthetic), w, h)
    elif args.images and args.labels:
        ids = None
        if args.split != "all":
            stems = sorted(p.stem for p in args.images.iterdir() if p.is_file())
            train, val = split_ids(stems)
            ids = set(val if args.split == "val" else train)
        samples = evaluate.load_samples(args.images, args.labels, ids)
    else:
        raise SystemExit("give --images and --labels, or --synthetic N")
    if args.limit:
        samples = islice(samples, args.limit)
    model = None
    if any(m != "classical" for m in args.method):
        model = ParticleModel(args.weights) if args.weights else load_default_model()
        if model is None:
            raise SystemExit("no model weights found; train one or pass --weights")
        if args.conf is not None:
            model.options.conf = args.conf
    options = RefineOptions(
        drop_marks=not args.no_drop_marks,
        snap_edges=not args.no_snap_edges,
        fill_holes=not args.no_fill_holes,
        split_merged=args.split_merged,
    )
    reports = evaluate.run_methods(
        samples,
        args.method,
        model=model,
        refine_options=options,
        progress=None if args.quiet else print,
    )
    if model is not None:
        print(f"model {model.version} ({model.backend})")
    print(evaluate.format_table(reports))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {m: {"overall": r.overall, "per_image": r.per_image} for m, r in reports.items()}
        payload["model_version"] = model.version if model else None
        args.out.write_text(json.dumps(payload, indent=1, default=float))
    return 0
