"""Fine-tune the built-in model on lab-like data through the app's own trainer and report the
gain on a held-back split, plus training wall time per epoch per 100 images.

The same path a lab's Train button takes after the database part: the held-back split of
`semweb.mlmodels.services.training_split` (a quarter by hash), images and instance maps handed
to `semweb.mlmodels.engine.train_and_evaluate` (YOLO-seg export, fine-tuning from the parent
with per-epoch checkpoints, publishing, scoring candidate vs parent vs classical with
analysis/evaluate.py). Reads ../shared/data/msa-tem-train (not shipped).

    DJANGO_SETTINGS_MODULE=semweb.settings.test nice -n 10 \
        python benchmarks/finetune_lab_data.py --epochs 20 --train-images 15 --out var/bench-ft
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import django
import numpy as np
from PIL import Image

django.setup()

from analysis.segment.model import DEFAULT_WEIGHTS, read_sidecar  # noqa: E402
from analysis.train.finetune import AnnotatedImage  # noqa: E402
from semweb.mlmodels.engine import TrainingJob, train_and_evaluate  # noqa: E402
from semweb.mlmodels.services import training_split  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "msa-tem-train"


def load(name: str) -> AnnotatedImage:
    grey = np.asarray(Image.open(DATA / "images" / f"{name}.png").convert("L"))
    labels = np.asarray(Image.open(DATA / "labels" / f"{name}.png")).astype(np.uint32)
    return AnnotatedImage(name, grey, labels)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--train-images", type=int, default=None, help="use only the first N")
    ap.add_argument("--out", type=Path, default=Path("var/bench-finetune"))
    args = ap.parse_args()
    names = sorted(p.stem for p in (DATA / "images").glob("*.png"))
    ids = {i: n for i, n in enumerate(names)}
    train_ids, held_ids = training_split(dict.fromkeys(ids, 1))
    train = [load(ids[i]) for i in train_ids][: args.train_images]
    held = [load(ids[i]) for i in held_ids]
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    epochs_s: list[float] = []
    t0 = time.monotonic()
    outcome = train_and_evaluate(
        TrainingJob(
            out_dir=args.out.resolve(),
            parent_weights=DEFAULT_WEIGHTS,
            train=train,
            held_back=held,
            epochs=args.epochs,
            imgsz=int(read_sidecar(DEFAULT_WEIGHTS).get("imgsz", 512)),
            batch=8,
            device="cpu",
            max_seconds=15 * 60,
        ),
        on_epoch=lambda r: epochs_s.append(r.seconds) or print(r.epoch, r.seconds, flush=True),
        should_stop=lambda: False,
        on_stage=lambda s: print("stage", s, flush=True),
    )
    per_epoch = float(np.median(epochs_s[1:] or epochs_s))
    report = {
        "train_images": len(train),
        "train_particles": sum(a.particles for a in train),
        "held_back_images": len(held),
        "held_back_particles": sum(a.particles for a in held),
        "epochs_done": outcome.epochs_done,
        "median_epoch_s": round(per_epoch, 2),
        "epoch_s_per_100_images": round(per_epoch * 100 / len(train), 1),
        "wall_s": round(time.monotonic() - t0, 1),
        "hardware": outcome.hardware,
        "metrics": outcome.metrics,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
