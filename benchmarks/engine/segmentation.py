"""``python -m benchmarks.engine.segmentation``: does segmentation hold away from EMPS? (issue 9)

Every set is scored for four methods side by side, each end to end:

- ``baseline``: what an ImageJ user does — data band cropped by hand, Gaussian σ = 1, Otsu,
  the particles' phase as ImageJ's *Auto* threshold picks it (the histogram mode is
  background: :func:`analysis.segment.imagej.imagej_polarity`; no peeking at the truth),
  fill holes, distance-transform watershed (h = 0.5 px, ImageJ's "Watershed"),
  "exclude on edges", ≥ 5 px;
- ``classical``, ``model``, ``auto``: :func:`analysis.pipeline.analyze` with that method.

Sets: EMPS validation (the model card's 66 ids), ``../shared/data/msa-tem-train`` frames
10–19 (issue 10's held-out block; ``auto``'s rules were tuned on frames 0–9 only), the
synthetic regimes of :mod:`analysis.synth.regimes` (dense tiny, large touching, SE
agglomerates with a data band, noise-only, empty) and the scale sweep (median diameter
6 … 384 px). Truth particles cut by the analysed region's edge are left out, as every method
leaves them out. PQ and F1 at IoU 0.5 are pooled per set; count and median-diameter errors
are per image, then averaged. Speed: ``auto`` on 1024 × 768 and 4096 × 3072 frames, as
multiples of the in-run baseline workload of ``benchmarks.engine``, with the peak resident
memory of a fresh process for the large frame.

``--quick`` takes a few images per set (the default for ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from analysis import metrics
from analysis.evaluate import image_metrics
from analysis.io import read_image
from analysis.pipeline import AnalysisOptions, analyze
from analysis.result import Region
from analysis.segment import postprocess
from analysis.segment.imagej import imagej_polarity
from analysis.synth import generate, regimes
from analysis.train.split import msa_splits, split_ids
from benchmarks.engine.__main__ import baseline_ms

_REPO = Path(__file__).resolve().parents[2]
DATA = _REPO.parent / "shared" / "data"
METHODS = ("baseline", "classical", "model", "auto")
SWEEP_PX = (6, 12, 24, 48, 96, 192, 384)
TARGETS = {"sweep_count_error": 0.15, "sweep_median_error": 0.08, "s_1024": 1.0, "s_4096": 8.0}


@dataclass
class Case:
    """One scored image: the input as the pipeline gets it, its truth, the hand-cropped band."""

    name: str
    source: Any  # path or uint8 array
    truth: np.ndarray
    band: Region | None = None


def baseline_labels(grey: np.ndarray, band: Region | None) -> np.ndarray:
    """ImageJ-style: crop the band, smooth, Otsu, fill holes, EDM watershed, exclude edges.

    The object phase is ImageJ's own default (:func:`imagej_polarity`), as a user who presses
    *Auto* gets it; the truth is never consulted.
    """
    h, w = grey.shape
    y1 = band.y0 if band is not None and band.y0 > 0 else h
    crop = grey[:y1]
    smooth = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), 1.0)
    u8 = np.clip(smooth * 255, 0, 255).astype(np.uint8)
    t, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    fg = u8 > t if imagej_polarity(u8) == "bright" else u8 <= t
    fg = postprocess.binary_fill_holes(fg)
    lab, _ = ndi.label(fg)
    lab = postprocess.split_touching(lab, h_px=0.5, min_peak_px=1.0, peak_window_px=3)
    full = np.zeros((h, w), np.int64)
    full[:y1] = lab
    full = postprocess.remove_border_touching(full, Region(0, 0, w, y1))
    return postprocess.relabel_sequential(postprocess.remove_small(full, 5))


def _grey_of(source: Any) -> np.ndarray:
    if isinstance(source, np.ndarray):
        return source.astype(np.float32) / 255.0
    return read_image(source).grey


def cases_emps(limit: int | None) -> Iterator[Case]:
    root = DATA / "emps-train"
    if not root.is_dir():
        return
    ids = sorted(p.stem for p in (root / "images").glob("*.png"))
    _, val = split_ids(ids)
    for i in val[:limit]:
        truth = np.asarray(Image.open(root / "labels" / f"{i}.png")).astype(np.int64)
        yield Case(f"emps_{i}", root / "images" / f"{i}.png", truth)


def cases_msa(limit: int | None) -> Iterator[Case]:
    root = DATA / "msa-tem-train"
    if not root.is_dir():
        return
    # Issue 10's held-out block (frames 10–19): frames 0–9 are where auto was tuned.
    names = msa_splits(p.stem for p in (root / "images").glob("*.png"))["held_out"]
    for n in names[:limit]:
        truth = np.asarray(Image.open(root / "labels" / f"{n}.png")).astype(np.int64)
        yield Case(f"msa_{n}", root / "images" / f"{n}.png", truth)


def cases_regime(regime: str, seeds: range) -> Iterator[Case]:
    for seed in seeds:
        m = regimes.render(regime, 900_000 + seed)
        yield Case(f"{regime}_{seed}", m.image, m.labels.astype(np.int64), m.data_bar)


def cases_sweep(diameter_px: int, seeds: range) -> Iterator[Case]:
    for seed in seeds:
        m = regimes.scale_sweep(float(diameter_px), 910_000 + seed)
        yield Case(f"sweep{diameter_px}_{seed}", m.image, m.labels.astype(np.int64))


def score_case(case: Case, methods: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each method's per-image figures for one case."""
    out: dict[str, dict[str, Any]] = {}
    grey = _grey_of(case.source)
    for method in methods:
        t0 = time.perf_counter()
        path = reason = ""
        if method == "baseline":
            labels = baseline_labels(grey, case.band)
            h, w = grey.shape
            region = Region(0, 0, w, case.band.y0 if case.band is not None else h)
        else:
            res = analyze(case.source, AnalysisOptions(method=method))  # type: ignore[arg-type]
            labels, region = res.labels, res.analysed_region
            seg = res.options.get("segmentation", {})
            path = str(seg.get("auto_choice", res.method))
            reason = str(seg.get("auto_reason", ""))
        seconds = time.perf_counter() - t0
        truth = postprocess.remove_border_touching(case.truth, region)
        row = image_metrics(truth, labels.astype(np.int64))
        row.update(image=case.name, seconds=seconds, path=path, reason=reason)
        out[method] = row
    return out


def pool(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled PQ/F1 and mean per-image errors of one method over one set."""
    total = metrics.MatchCounts()
    for r in rows:
        total = total + metrics.MatchCounts(
            tp=r["tp"], fp=r["fp"], fn=r["fn"], iou_sum=r["iou_sum"]
        )

    def mean(key: str) -> float | None:
        v = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(v)) if v else None

    return {
        "images": len(rows),
        "pq": total.pq,
        "f1": total.f1,
        "count_error": mean("count_error"),
        "median_ecd_error": mean("median_ecd_error"),
        "n_pred": int(sum(r["n_pred"] for r in rows)),
        "n_true": int(sum(r["n_true"] for r in rows)),
        "seconds_per_image": mean("seconds"),
        "paths": sorted({r["path"] for r in rows if r.get("path")}),
    }


def run_sets(quick: bool, sets: list[str], methods: tuple[str, ...]) -> dict[str, Any]:
    n_real = 8 if quick else None
    seeds = range(1 if quick else 3)
    plan: dict[str, Iterator[Case]] = {}
    if "emps" in sets:
        plan["emps_val"] = cases_emps(n_real)
    if "msa" in sets:
        plan["msa_tem_held_out"] = cases_msa(None)
    if "regimes" in sets:
        for name in regimes.REGIMES:
            plan[name] = cases_regime(name, seeds)
    if "sweep" in sets:
        for d in SWEEP_PX:
            plan[f"sweep_{d}"] = cases_sweep(d, range(1))
    report: dict[str, Any] = {}
    for set_name, cases in plan.items():
        per_method: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        for case in cases:
            for m, row in score_case(case, methods).items():
                per_method[m].append(row)
        if not per_method[methods[0]]:
            print(f"[{set_name}] skipped: no data", flush=True)
            continue
        report[set_name] = {
            m: {"overall": pool(rows), "per_image": rows} for m, rows in per_method.items()
        }
        line = "  ".join(
            f"{m} PQ {report[set_name][m]['overall']['pq']:.3f}"
            f" n {report[set_name][m]['overall']['n_pred']}"
            for m in methods
        )
        print(f"[{set_name}] {line}", flush=True)
    return report


def _time_auto(width: int, height: int, repeats: int) -> dict[str, float]:
    img = generate(12345, width=width, height=height).image
    analyze(img[:256, :256], AnalysisOptions(method="auto"))  # warm-up: model load
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        analyze(img, AnalysisOptions(method="auto"))
        times.append(time.perf_counter() - t0)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"median_s": statistics.median(times), "peak_rss_mib": peak_mib}


def speed(base_ms: float) -> dict[str, Any]:
    """``auto`` end to end at 1024 × 768 and 4096 × 3072, each in a fresh process."""
    out: dict[str, Any] = {"baseline_ms": base_ms}
    for w, h, n in ((1024, 768, 3), (4096, 3072, 1)):
        code = (
            "import json; from benchmarks.engine.segmentation import _time_auto; "
            f"print(json.dumps(_time_auto({w}, {h}, {n})))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=_REPO, check=False
        )
        try:
            got = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            out[f"{w}x{h}"] = {"error": done.stderr[-500:]}
            continue
        got["ratio_to_baseline"] = got["median_s"] * 1000.0 / base_ms
        out[f"{w}x{h}"] = got
    return out


def summary_table(report: dict[str, Any], methods: tuple[str, ...]) -> str:
    """Markdown: set × method PQ (and particles found where the truth has none)."""
    head = "| set | " + " | ".join(f"{m} PQ" for m in methods) + " | auto ≥ both | auto path |"
    lines = [head, "|" + "---|" * (len(methods) + 3)]
    for set_name, by_m in report.items():
        o = {m: by_m[m]["overall"] for m in methods}
        if o[methods[0]]["n_true"] == 0:
            cells = [f"{o[m]['n_pred']} found" for m in methods]
            ok = o.get("auto", {}).get("n_pred", 1) == 0
        else:
            cells = [f"{o[m]['pq']:.3f}" for m in methods]
            ok = all(o["auto"]["pq"] >= o[m]["pq"] - 1e-9 for m in ("baseline", "classical"))
        paths = ",".join(o.get("auto", {}).get("paths", []))
        lines.append(
            f"| {set_name} | " + " | ".join(cells) + f" | {'met' if ok else 'NOT met'} | {paths} |"
        )
    return "\n".join(lines)


def sweep_table(report: dict[str, Any]) -> str:
    lines = ["| median px | auto count err | auto median-diameter err | met |", "|---|---|---|---|"]
    for d in SWEEP_PX:
        o = report.get(f"sweep_{d}", {}).get("auto", {}).get("overall")
        if not o:
            continue
        ce, me = o["count_error"], o["median_ecd_error"] or 0.0
        ok = ce <= TARGETS["sweep_count_error"] and me <= TARGETS["sweep_median_error"]
        lines.append(f"| {d} | {ce:.1%} | {me:.1%} | {'met' if ok else 'NOT met'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine.segmentation")
    parser.add_argument("--quick", action="store_true", help="a few images per set")
    parser.add_argument("--sets", default="emps,msa,regimes,sweep")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--json", type=Path, help="write the full report here")
    args = parser.parse_args(argv)
    methods = tuple(m for m in args.methods.split(",") if m)
    report: dict[str, Any] = {"sets": run_sets(args.quick, args.sets.split(","), methods)}
    print("\n" + summary_table(report["sets"], methods))
    print("\n" + sweep_table(report["sets"]))
    if not args.no_speed:
        report["speed"] = speed(baseline_ms())
        for size, s in report["speed"].items():
            if isinstance(s, dict) and "median_s" in s:
                print(
                    f"auto {size}: {s['median_s']:.2f} s = {s['ratio_to_baseline']:.0f} x "
                    f"baseline, peak RSS {s['peak_rss_mib']:.0f} MiB"
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
