"""How many approved particles does a lab need before pressing Train pays off? Measures the
gain of a fine-tuned model over its parent as a curve of training-set size, through the app's
own trainer (`semweb.mlmodels.engine.train_and_evaluate`), to set `SEMWEB_TRAIN_MIN_PARTICLES`.

Two lab-like sets, each split so that nothing leaks into the evaluation (data not shipped):

- ``msa``: ../shared/data/msa-tem-train, a material the built-in model has never seen. Frames
  of in-situ series, so neighbouring frames are near-duplicates: the pool is frames 0–9 and the
  evaluation frames 10–19 (issue 10's block split), not the app's hashed quarter.
- ``emps``: the 66 EMPS validation ids (never trained on; the built-in model's own domain, where
  the parent is already good and a tiny fine-tune can do harm): a hashed third evaluates, the
  rest is the pool.

For each target size (approved particles) and each draw (a different order of the pool), it
takes frames until the target is reached, fine-tunes from the built-in model with the app's
default epochs, and scores candidate and parent on the same evaluation frames. The floor is the
smallest size at which every draw of both sets beats the parent.

    DJANGO_SETTINGS_MODULE=semweb.settings.test nice -n 5 \
        python -m benchmarks.train_floor --sets msa,emps --sizes 15,30,50,100,200
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import django
import numpy as np
from django.conf import settings
from PIL import Image

django.setup()

from analysis.segment.model import DEFAULT_WEIGHTS, read_sidecar  # noqa: E402
from analysis.train.finetune import AnnotatedImage  # noqa: E402
from analysis.train.split import emps_splits, msa_splits, split_ids  # noqa: E402
from semweb.mlmodels.engine import TrainingJob, train_and_evaluate  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FOLDERS = {"msa": DATA / "msa-tem-train", "emps": DATA / "emps-train"}
EVAL_SEED = 13


def load(folder: Path, name: str) -> AnnotatedImage:
    grey = np.asarray(Image.open(folder / "images" / f"{name}.png").convert("L"))
    labels = np.asarray(Image.open(folder / "labels" / f"{name}.png")).astype(np.uint32)
    return AnnotatedImage(name, grey, labels)


def pool_and_eval(name: str) -> tuple[list[AnnotatedImage], list[AnnotatedImage]]:
    folder = FOLDERS[name]
    ids = sorted(p.stem for p in (folder / "images").glob("*.png"))
    if name == "msa":
        split = msa_splits(ids)
        pool, held = split["train"], split["held_out"]
    else:
        val = emps_splits(ids)["val"]
        pool, held = split_ids(val, n_val=len(val) // 3, seed=EVAL_SEED)
    return [load(folder, i) for i in pool], [load(folder, i) for i in held]


def take(pool: list[AnnotatedImage], target: int, draw: int) -> list[AnnotatedImage]:
    """Frames in the draw's order until they hold ``target`` particles."""
    order = list(pool)
    random.Random(draw).shuffle(order)
    chosen: list[AnnotatedImage] = []
    for a in order:
        if sum(c.particles for c in chosen) >= target:
            break
        if a.particles:
            chosen.append(a)
    return chosen


def one_run(train, held, out: Path, epochs: int, max_seconds: float) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t0 = time.monotonic()
    outcome = train_and_evaluate(
        TrainingJob(
            out_dir=out.resolve(),
            parent_weights=DEFAULT_WEIGHTS,
            train=train,
            held_back=held,
            epochs=epochs,
            imgsz=int(read_sidecar(DEFAULT_WEIGHTS).get("imgsz", 512)),
            batch=8,
            device="cpu",
            max_seconds=max_seconds,
        ),
        on_epoch=lambda r: None,
        should_stop=lambda: False,
        on_stage=lambda s: None,
    )
    cand, parent = outcome.metrics["candidate"], outcome.metrics["parent"]
    shutil.rmtree(out / "data", ignore_errors=True)
    return {
        "images": len(train),
        "particles": sum(a.particles for a in train),
        "epochs_done": outcome.epochs_done,
        "wall_s": round(time.monotonic() - t0, 1),
        "parent_pq": round(parent["pq"] or 0.0, 3),
        "candidate_pq": round(cand["pq"] or 0.0, 3),
        "gain_pq": round((cand["pq"] or 0.0) - (parent["pq"] or 0.0), 3),
        "parent_f1": round(parent["f1"] or 0.0, 3),
        "candidate_f1": round(cand["f1"] or 0.0, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="msa,emps")
    ap.add_argument("--sizes", default="15,30,50,100,200", help="target approved particles")
    ap.add_argument("--draws", type=int, default=2, help="different frame choices per size")
    ap.add_argument("--epochs", type=int, default=settings.SEMWEB_TRAIN_DEFAULT_EPOCHS)
    ap.add_argument("--max-minutes", type=float, default=15.0, help="per training")
    ap.add_argument("--out", type=Path, default=Path("var/bench-floor"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for set_name in args.sets.split(","):
        pool, held = pool_and_eval(set_name)
        for target in (int(s) for s in args.sizes.split(",")):
            for d in range(args.draws):
                train = take(pool, target, d)
                out = args.out / f"{set_name}-p{target}-d{d}"
                row = one_run(train, held, out, args.epochs, args.max_minutes * 60)
                row.update(
                    set=set_name,
                    target=target,
                    draw=d,
                    eval_images=len(held),
                    eval_particles=sum(a.particles for a in held),
                    frames=[a.name for a in train],
                )
                rows.append(row)
                print(json.dumps(row), flush=True)
                (args.out / "report.json").write_text(
                    json.dumps({"epochs": args.epochs, "runs": rows}, indent=1)
                )
    print("\nset   target particles frames  parent  candidate  gain")
    for r in rows:
        print(
            f"{r['set']:<5} {r['target']:>6} {r['particles']:>9} {r['images']:>6}  "
            f"{r['parent_pq']:.3f}  {r['candidate_pq']:.3f}  {r['gain_pq']:+.3f}"
        )


if __name__ == "__main__":
    main()
