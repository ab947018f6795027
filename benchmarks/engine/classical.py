"""``python -m benchmarks.engine.classical``: speed and quality of the classical pipeline.

1. **Synthetic** micrographs (``analysis.synth.generate``, 1024 × 768, exact masks), written
   to PNG and analysed end to end through :func:`analysis.pipeline.analyze` (read, calibrate,
   segment, measure, stats): seconds per megapixel, the median 1024 × 768 time and the time
   per stage, and segmentation quality against the ground truth.
2. **Real** EMPS micrographs (``../shared/data/emps-train``, the first ``--emps`` ids in
   sorted order) with their hand-made instance labels: the same quality figures.

Quality is scored on the particles the pipeline is meant to report: ground-truth particles
cut by the edge of the analysed region are left out of the truth, as the pipeline leaves them
out of its output (ISO 13322-1 practice). F1 at IoU 0.5 and panoptic quality are pooled over
all particles of the set (:func:`analysis.metrics.score_dataset`).

The first analysis runs once untimed (imports, OpenCV/ONNX warm-up), as in a warm worker.
Wall time depends on what else runs on the machine; the process CPU time (all threads
summed) is printed next to it as the load-independent figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from analysis.metrics import MatchCounts, match_counts
from analysis.pipeline import AnalysisOptions, analyze
from analysis.segment.postprocess import remove_border_touching
from analysis.synth import generate

_REPO = Path(__file__).resolve().parents[2]
EMPS_DIR = _REPO.parent / "shared" / "data" / "emps-train"
TARGET_1024x768_S = 1.0


def bench_synthetic(n: int, *, width: int = 1024, height: int = 768) -> dict[str, Any]:
    """Analyse ``n`` synthetic micrographs (seeds 10 000 + k) from PNG files."""

    opts = AnalysisOptions(method="classical")
    rows = []
    total = MatchCounts()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        truths = []
        for k in range(n):
            s = generate(10_000 + k, width=width, height=height)
            path = Path(tmp) / f"synth_{k}.png"
            cv2.imwrite(str(path), s.image)
            paths.append(path)
            truths.append(s.labels)
        analyze(paths[0], opts)  # warm-up, untimed
        for path, gt in zip(paths, truths, strict=True):
            t0, c0 = time.perf_counter(), time.process_time()
            result = analyze(path, opts)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            counts = match_counts(remove_border_touching(gt, result.analysed_region), result.labels)
            total = total + counts
            rows.append(_row(path.name, width * height, seconds, cpu, result, counts))
    return _report("synthetic", rows, total)


def bench_emps(n: int, root: Path = EMPS_DIR) -> dict[str, Any] | None:
    """Analyse the first ``n`` EMPS images (sorted ids); ``None`` when the data is absent."""

    images = sorted((root / "images").glob("*.png"))[:n]
    if not images:
        return None
    opts = AnalysisOptions(method="classical")
    analyze(images[0], opts)  # warm-up
    rows = []
    total = MatchCounts()
    for path in images:
        gt = np.asarray(Image.open(root / "labels" / path.name))
        t0, c0 = time.perf_counter(), time.process_time()
        result = analyze(path, opts)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        counts = match_counts(remove_border_touching(gt, result.analysed_region), result.labels)
        total = total + counts
        rows.append(_row(path.name, gt.size, seconds, cpu, result, counts))
    return _report("emps", rows, total)


def _row(
    name: str, pixels: int, seconds: float, cpu: float, result: Any, counts: MatchCounts
) -> dict:
    return {
        "image": name,
        "megapixels": pixels / 1e6,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stages_ms": result.timings_ms,
        "n_pred": len(result.particles),
        "calibration": result.calibration.source,
        "threshold": result.options.get("segmentation", {}).get("threshold_method"),
        **counts.as_dict(),
    }


def _report(name: str, rows: list[dict], total: MatchCounts) -> dict[str, Any]:
    s_per_mp = [r["seconds"] / r["megapixels"] for r in rows]
    stages = {
        stage: statistics.median(r["stages_ms"][stage] for r in rows)
        for stage in rows[0]["stages_ms"]
    }
    return {
        "set": name,
        "images": len(rows),
        "seconds_per_megapixel_median": statistics.median(s_per_mp),
        "seconds_per_image_median": statistics.median(r["seconds"] for r in rows),
        "seconds_per_image_max": max(r["seconds"] for r in rows),
        "cpu_seconds_per_image_median": statistics.median(r["cpu_seconds"] for r in rows),
        "stage_ms_median": stages,
        "pooled": total.as_dict(),
        "per_image": rows,
    }


def _print(report: dict[str, Any], out: Any = sys.stdout) -> None:
    p = report["pooled"]
    print(f"[{report['set']}] {report['images']} images", file=out)
    print(
        f"  speed: {report['seconds_per_megapixel_median']:.3f} s/MP (median), "
        f"{report['seconds_per_image_median']:.3f} s/image median, "
        f"{report['seconds_per_image_max']:.3f} s max; CPU time "
        f"{report['cpu_seconds_per_image_median']:.3f} s/image median (all threads)",
        file=out,
    )
    stages = ", ".join(f"{k} {v:.0f}" for k, v in report["stage_ms_median"].items())
    print(f"  stage medians (ms): {stages}", file=out)
    print(
        f"  quality: F1@0.5 {p['f1']:.3f}  PQ {p['pq']:.3f}  (precision {p['precision']:.3f}, "
        f"recall {p['recall']:.3f}, SQ {p['sq']:.3f}; TP {p['tp']} FP {p['fp']} FN {p['fn']})",
        file=out,
    )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", type=int, default=8, help="synthetic images (default 8)")
    parser.add_argument("--emps", type=int, default=40, help="EMPS images (default 40, 0 = off)")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    args = parser.parse_args(list(argv) if argv is not None else None)

    reports = []
    if args.synth:
        synth = bench_synthetic(args.synth)
        _print(synth)
        ok = synth["seconds_per_image_median"] < TARGET_1024x768_S
        print(
            f"  1024x768 end to end: {synth['seconds_per_image_median']:.3f} s median "
            f"(target < {TARGET_1024x768_S:.0f} s: {'met' if ok else 'NOT met'})"
        )
        reports.append(synth)
    if args.emps:
        emps = bench_emps(args.emps)
        if emps is None:
            print(f"[emps] skipped: {EMPS_DIR} not found")
        else:
            _print(emps)
            reports.append(emps)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
