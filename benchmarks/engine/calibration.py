"""``python -m benchmarks.engine.calibration``: how well and how fast pixel sizes are found.

1. Rendered scale bars (:mod:`analysis.calibration.render`, seeds ``seed..seed+n-1``): share
   of images whose pixel size is within 2 % and 5 % of the truth, bar length error in px,
   label read accuracy, and milliseconds per 1024 x 768 image (data bar + bar + OCR).
2. Real files when ``../shared/data`` is present: the five figure crops of ``scalebar/``
   (labels.csv) and the five microscope TIFFs of ``calibration/`` (expected.csv), with the
   time of the metadata path and of the full path (metadata + scale-bar cross-check).
3. Data bands of each instrument layout (:mod:`analysis.calibration.render_bands`): per
   layout the share within 2 %, wrong and uncalibrated counts, OCR ms per image; every other
   image also as a half-size JPEG copy.
4. The 67 real bars labelled by eye and the 23 real negatives (tests/analysis/data), plus
   rendered negatives (panel letters, arrows, words, bars without a number): invented
   calibrations must be 0. The same labelled bars on copies resized 0.5x to 2x, and the
   reads of unlabelled figures checked by eye (how many still agree).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analysis.calibration import calibrate, find_data_bar, find_scale_bar
from analysis.calibration.render import render_scale_bar_image
from analysis.calibration.render_bands import LAYOUTS, degrade, render_band_image, render_negative
from analysis.calibration.units import to_nm
from analysis.io import image_from_array, read_image

_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
_LABELS = Path(__file__).resolve().parents[2] / "tests" / "analysis" / "data"


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def run_rendered(n: int = 60, seed: int = 0) -> dict[str, Any]:
    """Score the scale-bar reader on ``n`` rendered images."""
    within2 = within5 = labels_ok = 0
    length_err: list[float] = []
    times: list[float] = []
    misses: list[dict[str, Any]] = []
    find_scale_bar(render_scale_bar_image(10_000 + seed).image)  # load the OCR model first
    for s in range(seed, seed + n):
        r = render_scale_bar_image(s)
        t0 = time.perf_counter()
        bar = find_scale_bar(r.image, find_data_bar(r.image))
        times.append(_ms(t0))
        found = bar is not None and bar.length_nm is not None
        err = abs(bar.length_nm / bar.length_px - r.pixel_size_nm) / r.pixel_size_nm if found else 1
        within2 += err <= 0.02
        within5 += err <= 0.05
        if bar is not None and abs(bar.bbox.y0 - r.bbox.y0) <= 1:
            length_err.append(abs(bar.length_px - r.length_px))
        labels_ok += found and bar.value == r.value and bar.unit == r.unit
        if err > 0.02:
            misses.append(
                {"seed": s, "label": r.label, "read": bar.label if bar else None, **r.style}
            )
    return {
        "images": n,
        "pixel_size_within_2pct": round(within2 / n, 3),
        "pixel_size_within_5pct": round(within5 / n, 3),
        "label_read_accuracy": round(labels_ok / n, 3),
        "bar_found_where_drawn": len(length_err),
        "bar_length_error_px_median": round(statistics.median(length_err), 2)
        if length_err
        else None,
        "bar_length_error_px_max": round(max(length_err), 2) if length_err else None,
        "ms_per_image_median": round(statistics.median(times), 1),
        "ms_per_image_max": round(max(times), 1),
        "misses": misses,
    }


def run_real_scale_bars(folder: Path = _DATA / "scalebar") -> list[dict[str, Any]] | None:
    labels = folder / "labels.csv"
    if not labels.is_file():
        return None
    out = []
    with labels.open(newline="") as fh:
        for row in csv.DictReader(fh):
            image = read_image(folder / row["file"])
            t0 = time.perf_counter()
            cal = calibrate(image)
            ms = _ms(t0)
            truth_nm = to_nm(float(row["value"]), row["unit"]) / float(row["bar_length_px"])
            bar = cal.scale_bar
            out.append(
                {
                    "file": row["file"],
                    "label": bar.label if bar else None,
                    "length_px": bar.length_px if bar else None,
                    "labelled_length_px": float(row["bar_length_px"]),
                    "pixel_size_nm": cal.pixel_size_nm,
                    "error_pct": round(100 * abs(cal.pixel_size_nm - truth_nm) / truth_nm, 2)
                    if cal.pixel_size_nm
                    else None,
                    "ms": round(ms, 1),
                }
            )
    return out


def run_real_metadata(folder: Path = _DATA / "calibration") -> list[dict[str, Any]] | None:
    expected = folder / "expected.csv"
    if not expected.is_file():
        return None
    out = []
    with expected.open(newline="") as fh:
        for row in csv.DictReader(fh):
            image = read_image(folder / row["file"])
            t0 = time.perf_counter()
            meta_only = calibrate(image, use_scale_bar=False)
            ms_meta = _ms(t0)
            t0 = time.perf_counter()
            full = calibrate(image)
            ms_full = _ms(t0)
            if row["unit"] == "uncalibrated":
                ok = meta_only.pixel_size_nm is None and full.pixel_size_nm is None
            else:
                want = to_nm(float(row["pixel_size_x"]), row["unit"])
                ok = abs(meta_only.pixel_size_nm - want) / want < 1e-4
            out.append(
                {
                    "file": row["file"],
                    "source": full.source,
                    "pixel_size_nm": full.pixel_size_nm,
                    "correct": bool(ok),
                    "scale_bar": full.scale_bar.label if full.scale_bar else None,
                    "metadata_vs_scale_bar": full.details.get("metadata_vs_scale_bar"),
                    "ms_metadata_only": round(ms_meta, 1),
                    "ms_with_scale_bar": round(ms_full, 1),
                }
            )
    return out


def _score(pixel_nm: float | None, truth_nm: float) -> str:
    if pixel_nm is None:
        return "uncalibrated"
    return "within_2pct" if abs(pixel_nm - truth_nm) <= 0.02 * truth_nm else "wrong"


def run_layouts(n: int = 12, seed: int = 0) -> dict[str, Any]:
    """Per layout: ``n`` renders (random width, polarity, top/bottom) + half-size JPEGs."""
    out: dict[str, Any] = {}
    for k, layout in enumerate(LAYOUTS):
        counts = {"within_2pct": 0, "wrong": 0, "uncalibrated": 0}
        ocr_ms: list[float] = []
        total_ms: list[float] = []
        sources: dict[str, int] = {}
        for s in range(seed, seed + n):
            r = render_band_image(layout, 1000 * k + s)
            for v in (r, degrade(r, factor=0.5, jpeg_quality=80)) if s % 2 else (r,):
                t0 = time.perf_counter()
                cal = calibrate(image_from_array(v.image))
                total_ms.append(_ms(t0))
                ocr_ms.append(float((cal.details.get("band_text") or {}).get("ocr_ms", 0.0)))
                counts[_score(cal.pixel_size_nm, v.pixel_size_nm)] += 1
                sources[cal.source] = sources.get(cal.source, 0) + 1
        images = sum(counts.values())
        out[layout] = {
            "images": images,
            **counts,
            "within_2pct_rate": round(counts["within_2pct"] / images, 3),
            "sources": sources,
            "band_ocr_ms_median": round(statistics.median(ocr_ms), 1),
            "band_ocr_ms_max": round(max(ocr_ms), 1),
            "ms_per_image_median": round(statistics.median(total_ms), 1),
        }
    return out


def run_real_labels(images: Path = _DATA / "emps-train" / "images") -> dict[str, Any] | None:
    """The real bars labelled by eye and the real negatives (tests/analysis/data)."""
    if not images.is_dir():
        return None
    counts = {"within_2pct": 0, "wrong": 0, "uncalibrated": 0}
    times: list[float] = []
    for row in _label_rows("real_scale_bars.csv"):
        image = read_image(images / row["file"])
        t0 = time.perf_counter()
        cal = calibrate(image)
        times.append(_ms(t0))
        truth = to_nm(float(row["value"]), row["unit"]) / float(row["length_px"])
        counts[_score(cal.pixel_size_nm, truth)] += 1
    invented = 0
    negatives = _label_rows("real_negatives.csv")
    for row in negatives:
        invented += calibrate(read_image(images / row["file"])).pixel_size_nm is not None
    labelled = sum(counts.values())
    return {
        "labelled_bars": labelled,
        **counts,
        "within_2pct_rate": round(counts["within_2pct"] / labelled, 3),
        "ms_per_image_median": round(statistics.median(times), 1),
        "negatives": len(negatives),
        "negatives_invented": invented,
    }


def run_real_labels_rescaled(
    factors: tuple[float, ...] = (0.5, 0.75, 1.5, 2.0),
    images: Path = _DATA / "emps-train" / "images",
) -> dict[str, Any] | None:
    """The labelled real bars again on copies resized by each factor (area-averaged down,
    cubic up): a figure is exported at any size, and a rule tuned at one size must not
    turn into a wrong value at another."""
    if not images.is_dir():
        return None
    counts = {f: {"within_2pct": 0, "wrong": 0, "uncalibrated": 0} for f in factors}
    for row in _label_rows("real_scale_bars.csv"):
        grey = read_image(images / row["file"]).grey  # read once, resized per factor
        for factor in factors:
            interp = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
            copy = np.clip(cv2.resize(grey, None, fx=factor, fy=factor, interpolation=interp), 0, 1)
            truth = to_nm(float(row["value"]), row["unit"]) / (float(row["length_px"]) * factor)
            cal = calibrate(image_from_array(copy.astype(np.float32)))
            counts[factor][_score(cal.pixel_size_nm, truth)] += 1
    return {f"x{factor:g}": c for factor, c in counts.items()}


def _label_rows(name: str) -> list[dict[str, str]]:
    with (_LABELS / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_checked_reads(images: Path = _DATA / "emps-train" / "images") -> dict[str, Any] | None:
    """The engine's reads of unlabelled real figures that a person checked (see
    tests/analysis/data/README.md): how many still agree within 2 %, changed, or are lost."""
    if not images.is_dir():
        return None
    counts = {"same": 0, "changed": 0, "lost": 0}
    rows = _label_rows("real_checked_reads.csv")
    for row in rows:
        got = calibrate(read_image(images / row["file"])).pixel_size_nm
        checked = float(row["pixel_size_nm"])
        if got is None:
            counts["lost"] += 1
        else:
            counts["same" if abs(got - checked) <= 0.02 * checked else "changed"] += 1
    return {"checked": len(rows), **counts}


def run_rendered_negatives(n: int = 30, seed: int = 0) -> dict[str, int]:
    invented = sum(
        calibrate(image_from_array(render_negative(s))).pixel_size_nm is not None
        for s in range(seed, seed + n)
    )
    return {"images": n, "invented": invented}


def run(n: int = 60, seed: int = 0) -> dict[str, Any]:
    """All calibration figures as one JSON-able dict."""
    return {
        "rendered": run_rendered(n, seed),
        "layouts": run_layouts(max(4, n // 5), seed),
        "real_labels": run_real_labels(),
        "real_checked_reads": run_checked_reads(),
        "real_labels_rescaled": run_real_labels_rescaled(),
        "rendered_negatives": run_rendered_negatives(max(10, n // 2), seed),
        "real_scale_bars": run_real_scale_bars(),
        "real_metadata": run_real_metadata(),
    }


def _print(report: dict[str, Any]) -> None:
    r = report["rendered"]
    print(f"Rendered scale bars ({r['images']} images, 1024 x 768)")
    print(
        f"  pixel size within 2 %: {r['pixel_size_within_2pct']:.1%}   within 5 %: "
        f"{r['pixel_size_within_5pct']:.1%}   label read: {r['label_read_accuracy']:.1%}"
    )
    print(
        f"  bar length error (px): median {r['bar_length_error_px_median']}  max "
        f"{r['bar_length_error_px_max']}  ({r['bar_found_where_drawn']} bars found where drawn)"
    )
    print(f"  ms per image: median {r['ms_per_image_median']}  max {r['ms_per_image_max']}")
    print("Data-band layouts (rendered, widths 640-4096, + half-size JPEG copies)")
    for layout, row in report["layouts"].items():
        print(
            f"  {layout:8s} within 2 %: {row['within_2pct']}/{row['images']} "
            f"({row['within_2pct_rate']:.0%})  wrong {row['wrong']}  uncalibrated "
            f"{row['uncalibrated']}  band OCR {row['band_ocr_ms_median']} ms "
            f"(max {row['band_ocr_ms_max']})  "
            f"total {row['ms_per_image_median']} ms"
        )
    neg = report["rendered_negatives"]
    print(f"Rendered negatives: {neg['invented']} invented of {neg['images']}")
    real = report["real_labels"]
    if real is None:
        print("real labelled bars: ../shared/data not present, skipped")
    else:
        print(
            f"Real bars labelled by eye: {real['within_2pct']}/{real['labelled_bars']} within 2 % "
            f"({real['within_2pct_rate']:.0%}), wrong {real['wrong']}, uncalibrated "
            f"{real['uncalibrated']}; negatives: {real['negatives_invented']} invented of "
            f"{real['negatives']}; {real['ms_per_image_median']} ms per image"
        )
    checked = report["real_checked_reads"]
    if checked is not None:
        print(
            f"Unlabelled real figures, reads checked by eye: {checked['same']}/"
            f"{checked['checked']} unchanged, {checked['changed']} changed, {checked['lost']} lost"
        )
    rescaled = report["real_labels_rescaled"]
    if rescaled is not None:
        for name, c in rescaled.items():
            print(
                f"  the same bars on {name} copies: {c['within_2pct']} within 2 %, wrong "
                f"{c['wrong']}, uncalibrated {c['uncalibrated']}"
            )
    for name in ("real_scale_bars", "real_metadata"):
        rows = report[name]
        if rows is None:
            print(f"{name}: ../shared/data not present, skipped")
            continue
        print(name)
        for row in rows:
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=60, help="rendered images (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    report = run(args.n, args.seed)
    _print(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
