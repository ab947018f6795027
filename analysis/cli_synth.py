"""``python -m analysis synth learn|generate|assess``: learned synthesis from the command line.

Example (a lab's style from eight annotated frames, 30 minutes of CPU, then 200 images)::

    nice -n 19 python -m analysis synth learn --images ../shared/data/msa-tem-train/images \\
        --labels ../shared/data/msa-tem-train/labels --names image_0,image_1,... \\
        --out var/learned/msa.pt --hours 0.5
    python -m analysis synth generate --model var/learned/msa.pt --n 200 --out var/learned/set

``learn`` resumes when ``--out`` exists (``--hours`` is then another budget). Each training
prints its stability report (:mod:`analysis.synth.learned.stability`) as JSON and warns on
stderr when the generator has collapsed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("synth", help="learned synthesis: learn a lab's style, generate")
    sub = p.add_subparsers(dest="synth_command", required=True, metavar="SYNTH_COMMAND")

    q = sub.add_parser("learn", help="train (or resume) a mask-conditioned generator")
    q.add_argument("--images", required=True, type=Path, metavar="DIR")
    q.add_argument("--labels", required=True, type=Path, metavar="DIR", help="instance maps")
    q.add_argument("--names", default=None, help="comma-separated stems to use (default: all)")
    q.add_argument("--out", required=True, type=Path, metavar="MODEL", help="checkpoint file")
    q.add_argument("--hours", required=True, type=float, help="wall-time budget of this run")
    q.add_argument("--max-steps", type=int, default=None)
    q.add_argument("--crop-px", type=int, default=128, help="training crop side (new training)")
    q.add_argument("--channels", type=int, default=32, help="generator base width (new training)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    q.set_defaults(func=_run_learn)

    q = sub.add_parser("generate", help="paint procedural masks in a learned style")
    q.add_argument("--model", required=True, type=Path, metavar="MODEL")
    q.add_argument("--n", required=True, type=int)
    q.add_argument("--out", required=True, type=Path, metavar="DIR")
    q.add_argument("--size-px", type=int, default=512)
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_run_generate)

    q = sub.add_parser("assess", help="stability of a generator on held-out image/mask pairs")
    q.add_argument("--model", required=True, type=Path, metavar="MODEL")
    q.add_argument("--images", required=True, type=Path, metavar="DIR")
    q.add_argument("--labels", required=True, type=Path, metavar="DIR")
    q.add_argument("--names", default=None, help="comma-separated stems to use (default: all)")
    q.set_defaults(func=_run_assess)


def _names(arg: str | None) -> list[str] | None:
    return [n.strip() for n in arg.split(",") if n.strip()] if arg else None


def _run_learn(args: argparse.Namespace) -> int:
    # torch is heavy and optional for the rest of the CLI: imported only when a command runs.
    import torch  # noqa: PLC0415

    from analysis.synth.learned.train import TrainConfig, load_pairs, train  # noqa: PLC0415

    if not args.hours >= 0:
        print("error: --hours must be a non-negative number", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        pairs = load_pairs(args.images, args.labels, _names(args.names))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = TrainConfig(crop_px=args.crop_px, g_channels=args.channels, seed=args.seed)
    result = train(pairs, args.out, hours=args.hours, config=config, max_steps=args.max_steps)
    print(
        json.dumps(
            {
                "model": str(result.out),
                "steps": result.steps,
                "train_seconds": round(result.seconds, 1),
                "session_steps": result.session_steps,
                "stability": result.stability,
            }
        )
    )
    if result.stability.get("collapsed"):
        print(f"warning: generator collapsed: {result.stability['reason']}", file=sys.stderr)
    return 0


def _run_generate(args: argparse.Namespace) -> int:
    # torch is heavy and optional for the rest of the CLI: imported only when a command runs.
    from analysis.synth.learned.sample import write_training_set  # noqa: PLC0415

    manifest = write_training_set(
        args.model, args.n, args.out, size_px=args.size_px, seed=args.seed
    )
    print(json.dumps({k: manifest[k] for k in ("n", "instances", "generator_sha256")}))
    return 0


def _run_assess(args: argparse.Namespace) -> int:
    # torch is heavy and optional for the rest of the CLI: imported only when a command runs.
    from analysis.synth.learned.sample import LearnedModel, assess_model  # noqa: PLC0415
    from analysis.synth.learned.train import load_pairs  # noqa: PLC0415

    pairs = load_pairs(args.images, args.labels, _names(args.names))
    report = assess_model(LearnedModel.load(args.model), pairs)
    print(json.dumps(report.as_dict()))
    return 0
