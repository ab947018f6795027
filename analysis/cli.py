"""Command line: ``python -m analysis <command> ...``.

Contract (other tools rely on it; see issue 3):

``analyze IMAGE... --out DIR [--pixel-size-nm X] [--method auto|model|classical]`` writes per
input ``DIR/<stem>.json``, ``DIR/<stem>.labels.tif`` (uint16, or uint32 beyond 65 535
particles; exactly the input's H × W; 0 = background), ``DIR/<stem>.particles.csv`` and
``DIR/<stem>.overlay.png``.

``calibrate IMAGE...`` prints one JSON object per image (one per line): ``band_fields`` (what
the data band's text says: field width, pixel size, magnification, store resolution), then
the calibration (pixel size, source, every source found, disagreements).

A failure on one image is reported on stderr and the others are still processed; the exit
status is 1 when any image failed, 2 for usage errors. A progress bar appears only when
stderr is a terminal.

More commands plug in without touching this file: each module named in
:data:`EXTRA_COMMAND_MODULES` that can be imported must define ``register(subparsers)``, which
adds its sub-parser and sets ``func`` (``args -> int`` exit status) as a default.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from tqdm import tqdm

from analysis.calibration import calibrate
from analysis.io import read_image
from analysis.measure import MEASUREMENT_COLUMNS
from analysis.overlay import render_overlay, write_overlay
from analysis.pipeline import AnalysisOptions, analyze

__all__ = ["EXTRA_COMMAND_MODULES", "build_parser", "main"]

EXTRA_COMMAND_MODULES = ("analysis.cli_train", "analysis.cli_evaluate", "analysis.cli_synth")

CSV_LEAD_COLUMNS = (
    "label",
    "shape_class",
    "score",
    "touches_border",
    "bbox_x0_px",
    "bbox_y0_px",
    "bbox_x1_px",
    "bbox_y1_px",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="SEMweb analysis engine: SEM micrographs into particle statistics.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("analyze", help="segment, measure and summarise micrographs")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    p.add_argument("--pixel-size-nm", type=float, default=None, help="manual pixel size (nm)")
    p.add_argument("--method", choices=("auto", "model", "classical"), default="auto")
    p.add_argument("--min-size-nm", type=float, default=None, help="drop smaller particles")
    p.add_argument("--keep-edge", action="store_true", help="keep particles cut by the edge")
    p.add_argument("--no-split", action="store_true", help="do not split touching particles")
    p.add_argument("--polarity", choices=("auto", "bright", "dark"), default="auto")
    p.add_argument(
        "--particle-size",
        type=_particle_size,
        default=(None, None),
        metavar="SIZE",
        help="typical particle diameter, e.g. 40 or 40px or 25nm (default: estimated per image)",
    )
    p.set_defaults(func=_run_analyze)

    p = sub.add_parser("calibrate", help="print the pixel size of each image as JSON")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--pixel-size-nm", type=float, default=None, help="manual pixel size (nm)")
    p.add_argument("--no-scale-bar", action="store_true", help="skip scale-bar detection/OCR")
    p.set_defaults(func=_run_calibrate)

    for name in EXTRA_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # optional command not installed
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


# ---------------------------------------------------------------------------------------


def _progress(items: Sequence[Path], desc: str) -> Iterable[Path]:
    if len(items) > 1 and sys.stderr.isatty():
        return tqdm(items, desc=desc, unit="image", file=sys.stderr)
    return items


def _particle_size(text: str) -> tuple[float | None, float | None]:
    """``"40"`` / ``"40px"`` → (40, None); ``"25nm"`` → (None, 25)."""
    t = text.strip().lower().replace(" ", "")
    unit = "nm" if t.endswith("nm") else "px"
    number = t.removesuffix("nm").removesuffix("px")
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 40, 40px, 25nm)") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"the particle size must be positive, got {text!r}")
    return (None, value) if unit == "nm" else (value, None)


def _fail(path: Path, exc: BaseException) -> None:
    print(f"{path}: {type(exc).__name__}: {exc}", file=sys.stderr)


def _run_analyze(args: argparse.Namespace) -> int:
    try:
        options = AnalysisOptions(
            method=args.method,
            pixel_size_nm=args.pixel_size_nm,
            min_size_nm=args.min_size_nm,
            exclude_edge=not args.keep_edge,
            split_touching=not args.no_split,
            polarity=args.polarity,
            particle_size_px=args.particle_size[0],
            particle_size_nm=args.particle_size[1],
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in _progress(args.images, "analyse"):
        try:
            result = analyze(path, options)
            write_outputs(result, args.out / path.stem, _grey_for_overlay(path, result))
        except Exception as exc:  # one bad image must not stop the batch
            failed += 1
            _fail(path, exc)
    return 1 if failed else 0


def _run_calibrate(args: argparse.Namespace) -> int:
    failed = 0
    for path in _progress(args.images, "calibrate"):
        try:
            cal = calibrate(
                read_image(path),
                manual_pixel_size_nm=args.pixel_size_nm,
                use_scale_bar=not args.no_scale_bar,
            )
            band = cal.details.get("band_text") or {}
            # The data band's fields first, so a reader sees what the band said at a glance.
            record = {"image": str(path), "band_fields": band.get("fields"), **cal.as_dict()}
            print(json.dumps(record, default=_json_default), flush=True)
        except Exception as exc:
            failed += 1
            _fail(path, exc)
    return 1 if failed else 0


def _grey_for_overlay(path: Path, result: Any) -> Any:
    # analyze() does not hand back the pixels; reading again is cheap next to the analysis.

    return read_image(path).grey


def write_outputs(result: Any, stem: Path, grey: Any) -> dict[str, Path]:
    """Write ``<stem>.json``, ``.labels.tif``, ``.particles.csv`` and ``.overlay.png``."""

    paths = {
        "json": stem.with_name(stem.name + ".json"),
        "labels": stem.with_name(stem.name + ".labels.tif"),
        "csv": stem.with_name(stem.name + ".particles.csv"),
        "overlay": stem.with_name(stem.name + ".overlay.png"),
    }
    with paths["json"].open("w", encoding="utf-8") as fh:
        json.dump(result.as_json_dict(), fh, default=_json_default)
    tifffile.imwrite(paths["labels"], result.labels, compression="zlib")
    write_particles_csv(paths["csv"], result.particles)
    classes = {p.label: p.shape_class for p in result.particles}
    write_overlay(
        paths["overlay"], render_overlay(grey, result.labels, classes, result.analysed_region)
    )
    return paths


def write_particles_csv(path: Path, particles: Sequence[Any]) -> None:
    """One row per particle: identity, class, bbox, then every measurement column."""

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*CSV_LEAD_COLUMNS, *MEASUREMENT_COLUMNS])
        for p in particles:
            m = p.measurements
            writer.writerow(
                [
                    p.label,
                    p.shape_class,
                    f"{p.score:.4g}",
                    int(p.touches_border),
                    *p.bbox_px,
                    *("" if m.get(c) is None else repr(float(m[c])) for c in MEASUREMENT_COLUMNS),
                ]
            )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
