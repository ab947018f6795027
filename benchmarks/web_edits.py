"""Benchmark: server time per manual outline edit on a 5 000-particle run
(`python -m benchmarks.web_edits`, part of `make bench`).

A succeeded run with 5 000 particles on a 4096 × 3072 micrograph (with its label map) is
edited through the REST API in-process (request → view → service → response, no network):
draw, magic wand, split by line, split by seeds, merge, reshape, trim, delete, undo, redo.
Each figure is the median of several edits on different particles, and is reported as a
ratio against the in-run baseline: rejecting one particle through the same API (the cheapest
existing edit that also recomputes the run's statistics). The issue's budget is 300 ms.

Runs in a throwaway folder (SQLite unless DATABASE_URL is set).
"""

# Django must be configured (by `_setup`) before models are imported, hence the
# function-level imports below (the file is exempt from PLC0415 in pyproject.toml).

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BUDGET_MS = 300.0


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return (time.perf_counter() - started) * 1000.0, out


def _labels_for(run) -> None:
    """Give the bench run (built from polygons) its label map, as a real run has."""
    import numpy as np
    from django.core.files.base import ContentFile

    from analysis.edit import polygon_mask
    from analysis.result import Region
    from semweb.analyses.services import _labels_tiff

    m = run.micrograph
    labels = np.zeros((m.height, m.width), dtype=np.uint16)
    for p in run.particles.all().only(
        "index", "polygon", "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"
    ):
        window = Region(
            max(p.bbox_x0 - 1, 0),
            max(p.bbox_y0 - 1, 0),
            min(p.bbox_x1 + 1, m.width),
            min(p.bbox_y1 + 1, m.height),
        )
        mask = polygon_mask(np.asarray(p.polygon, dtype=float), window)
        labels[window.y0 : window.y1, window.x0 : window.x1][mask] = p.index
    run.labels_file.save(f"run-{run.pk}-labels.tif", ContentFile(_labels_tiff(labels)), save=True)


def bench_edits(repeats: int) -> dict[str, list[float]]:
    from rest_framework.test import APIClient

    from benchmarks.web import _big_run, _people
    from semweb.analyses.models import AnalysisRun

    user, sample = _people()
    run = _big_run(user, sample)
    _labels_for(run)
    client = APIClient(HTTP_HOST="localhost")  # in ALLOWED_HOSTS of local settings
    client.force_authenticate(user)
    base = f"/api/v1/runs/{run.pk}/"
    times: dict[str, list[float]] = {}

    def call(name: str, method: str, tail: str, body: dict, expect: int = 200) -> dict:
        body = {**body}
        if "revision" in body:
            body["revision"] = AnalysisRun.objects.values_list("revision", flat=True).get(pk=run.pk)
        ms, response = _timed(lambda: getattr(client, method)(base + tail, body, format="json"))
        if response.status_code != expect:
            raise SystemExit(f"{name}: {response.status_code} {response.content[:300]!r}")
        times.setdefault(name, []).append(ms)
        return response.json()

    particles = list(run.particles.order_by("index").values_list("index", "measurements"))
    centre = {i: (m["centroid_x_px"], m["centroid_y_px"]) for i, m in particles}
    radius = {i: m["ecd_px"] / 2 for i, m in particles}
    step = run.micrograph.width / math.ceil(math.sqrt(5000 * 4096 / 3072))
    # Warm-up: the derived grey image is made on the first wand (once per micrograph).
    warm_ms, _ = _timed(
        lambda: call("warm-up", "post", "particles/wand", {"x": 30, "y": 30, "tolerance": 0.3})
    )
    times.pop("warm-up")
    times["first wand (makes the derived grey image)"] = [warm_ms]
    for k in range(repeats):
        i, j = 100 + 7 * k, 1000 + 13 * k  # different particles each round
        call("reject one (baseline)", "patch", "particles", {"indices": [i], "accepted": False})
        cx, cy = centre[j]
        gx, gy = cx + step / 2, cy + step / 2  # the gap between four particles
        square = [[gx - 5, gy - 5], [gx + 5, gy - 5], [gx + 5, gy + 5], [gx - 5, gy + 5]]
        call("draw", "post", "particles", {"polygon": square, "revision": 0}, expect=201)
        call("wand", "post", "particles/wand", {"x": cx, "y": cy, "tolerance": 0.3})
        line = [[cx, cy - 30], [cx, cy + 30]]
        split = call(
            "split (line)", "post", "particles/split", {"index": j, "line": line, "revision": 0}
        )
        pieces = [p["index"] for p in split["particles"]]
        call("merge", "post", "particles/merge", {"indices": pieces, "revision": 0})
        seeds = [[cx - radius[j] / 2, cy], [cx + radius[j] / 2, cy]]
        call(
            "split (seeds)", "post", "particles/split", {"index": j, "seeds": seeds, "revision": 0}
        )
        rx, ry = centre[j + 1]
        ring = [[rx - 8, ry - 8], [rx + 8, ry - 8], [rx + 8, ry + 8], [rx - 8, ry + 8]]
        call("reshape", "patch", f"particles/{j + 1}", {"polygon": ring, "revision": 0})
        tx, ty = centre[j + 2]
        cut = [[tx - 30, ty - 30], [tx + 30, ty - 30], [tx + 30, ty - 2], [tx - 30, ty - 2]]
        call("trim", "patch", f"particles/{j + 2}", {"erase": cut, "revision": 0})
        call("delete", "delete", f"particles/{j + 3}", {"revision": 0})
        call("undo", "post", "undo", {"revision": 0})
        call("redo", "post", "redo", {"revision": 0})
    return times


def main(argv: list[str] | None = None) -> int:
    from benchmarks.web import _setup

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON line too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="semweb-bench-edits-") as tmp:
        _setup(Path(tmp))
        times = bench_edits(args.repeats)
    baseline = statistics.median(times["reject one (baseline)"])
    print(f"manual edits, 5000 particles on 4096×3072, server time (median of {args.repeats}):")
    print(f"  baseline (reject one particle): {baseline:.0f} ms")
    worst = 0.0
    for name, values in times.items():
        if name.startswith("reject"):
            continue
        median = statistics.median(values)
        if not name.startswith("first"):
            worst = max(worst, median)
        print(f"  {name:<44} {median:6.0f} ms  = {median / baseline:4.1f}× baseline")
    verdict = "within" if worst <= BUDGET_MS else "OVER"
    print(f"  slowest edit {worst:.0f} ms: {verdict} the {BUDGET_MS:.0f} ms budget")
    if args.json:
        print(json.dumps({k: v for k, v in times.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
