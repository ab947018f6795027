"""`make bench`: every engine benchmark in one run, timings also as ratios to a baseline.

The machine is noisy (2 shared cores), so absolute seconds drift from run to run. Each run
first times a fixed *baseline* workload on a 1024 × 768 synthetic micrograph — Gaussian
smoothing, global Otsu threshold, connected-component labelling and areas, i.e. ImageJ's
"smooth, threshold, analyze particles" — and reports the engine's timings as multiples of
it. Ratios are comparable across runs and machines; absolute figures are printed beside them.

Usage: ``python -m benchmarks.engine [--quick] [--only calibration,classical,model]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from analysis.synth import generate


def baseline_ms(repeats: int = 7) -> float:
    """Median ms of smooth + Otsu + label + areas on a 1024 × 768 synthetic micrograph."""

    grey = np.asarray(generate(12345, width=1024, height=768).image, dtype=np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        smooth = ndimage.gaussian_filter(grey, 2.0)
        labels, _ = ndimage.label(smooth > threshold_otsu(smooth))
        np.bincount(labels.ravel())
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)


def _run_module(name: str, argv: list[str]) -> dict[str, Any] | list[Any] | None:
    """Run `benchmarks.engine.<name>.main(argv + --json/--out FILE)`; return its JSON report."""

    module = importlib.import_module(f"benchmarks.engine.{name}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.json"
        flag = "--out" if name == "model" else "--json"
        print(f"\n=== {name} ===", flush=True)
        code = module.main([*argv, flag, str(out)])
        if code != 0 or not out.exists():
            print(f"[{name}] exited {code}; no report")
            return None
        return json.loads(out.read_text())


def _ratios(base_ms: float, reports: dict[str, Any]) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    classical = reports.get("classical") or []
    for rep in classical if isinstance(classical, list) else []:
        if "seconds_per_image_median" in rep:
            label = f"classical pipeline per image ({rep.get('set')})"
            rows.append((label, rep["seconds_per_image_median"] * 1000))
    cal = reports.get("calibration") or {}
    rendered = cal.get("rendered") if isinstance(cal, dict) else None
    if isinstance(rendered, dict) and "ms_per_image_median" in rendered:
        rows.append(("scale-bar calibration per image", rendered["ms_per_image_median"]))
    seg = reports.get("segmentation") if isinstance(reports.get("segmentation"), dict) else {}
    for size, speed in (seg.get("speed") or {}).items():
        if isinstance(speed, dict) and "median_s" in speed:
            rows.append(
                (f"auto end to end (scale-normalised model), {size}", speed["median_s"] * 1000)
            )
    model = reports.get("model") if isinstance(reports.get("model"), dict) else {}
    for backend, speed in (model.get("speed_1024x768") or {}).items():
        if "median_s" in speed:
            rows.append((f"model segment+refine ({backend}), 1024x768", speed["median_s"] * 1000))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine")
    parser.add_argument("--quick", action="store_true", help="fewer images everywhere")
    parser.add_argument("--only", default="calibration,classical,model,segmentation")
    args = parser.parse_args(argv)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]

    base = baseline_ms()
    print(f"baseline (smooth + Otsu + label + areas, 1024x768): {base:.1f} ms")
    module_args = {
        "calibration": ["-n", "20"] if args.quick else [],
        "classical": ["--synth", "4", "--emps", "10"] if args.quick else [],
        "model": ["--quick"] if args.quick else [],
        # Issue 9's sets are run quick in `make bench` (a few images each; CPU is shared).
        "segmentation": ["--quick"],
    }
    reports = {name: _run_module(name, module_args.get(name, [])) for name in wanted}
    print("\n=== timings as multiples of the baseline measured in this run ===")
    for label, ms in _ratios(base, reports):
        print(f"  {label}: {ms:.0f} ms = {ms / base:.1f} x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
