"""Per-run, per-sample and per-project exports: particles as CSV / XLSX (one row per accepted
particle, units in the headers), the summary as JSON, and a printable HTML report."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

from openpyxl import Workbook

from semweb.analyses import engine

FIXED_COLUMNS = [
    ("sample", "sample"),
    ("micrograph_id", "micrograph id"),
    ("micrograph", "micrograph"),
    ("run_id", "run id"),
    ("review_state", "review state"),
    ("pixel_size_nm", "pixel size (nm/px)"),
    ("index", "particle"),
    ("ecd_nm", "ECD (nm)"),
    ("area_px", "area (px²)"),
    ("shape_class", "shape class"),
    ("score", "score"),
    ("touches_border", "touches border"),
    ("manual", "manual"),  # drawn or corrected by a person (provenance)
]
_UNIT = re.compile(r"^(?P<name>.+?)_(?P<unit>nm2|px2|nm|px|um|deg|rad)$")
_UNIT_TEXT = {
    "nm2": "nm²",
    "px2": "px²",
    "nm": "nm",
    "px": "px",
    "um": "µm",
    "deg": "°",
    "rad": "rad",
}


def header_for(key: str) -> str:
    """``feret_max_nm`` → ``feret max (nm)``; unitless keys keep their name with spaces."""
    match = _UNIT.match(key)
    if match is None:
        return key.replace("_", " ")
    return f"{match['name'].replace('_', ' ')} ({_UNIT_TEXT[match['unit']]})"


def measurement_keys(particles: Iterable) -> list[str]:
    keys: dict[str, None] = {}
    for p in particles:
        for key in p.measurements:
            keys.setdefault(key, None)
    return sorted(keys)


def particle_table(particles: list) -> tuple[list[str], Iterator[list]]:
    """Header and rows; `particles` carry `run__micrograph__sample` (see selectors)."""
    keys = measurement_keys(particles)
    header = [label for _, label in FIXED_COLUMNS] + [header_for(k) for k in keys]

    def rows() -> Iterator[list]:
        for p in particles:
            run = p.run
            micrograph = run.micrograph
            yield [
                micrograph.sample.name,
                micrograph.pk,
                micrograph.original_filename,
                run.pk,
                run.review_state,
                run.pixel_size_nm,
                p.index,
                p.ecd_nm,
                p.area_px,
                p.shape_class,
                p.score,
                p.touches_border,
                p.manual,
            ] + [p.measurements.get(k) for k in keys]

    return header, rows()


def _safe_cell(value):
    """Text that a spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(header: list[str], rows: Iterable[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else _safe_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(header: list[str], rows: Iterable[list], *, summary: dict | None = None) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("particles")
    sheet.append(header)
    for row in rows:
        sheet.append([_safe_cell(v) for v in row])
    if summary:
        info = workbook.create_sheet("summary")
        info.append(["statistic", "value"])
        for key, value in summary.items():
            if isinstance(value, int | float | str) or value is None:
                info.append([header_for(key), value])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def histogram(values: list[float], bins: int = 20) -> list[dict]:
    """The engine's equal-width bins laid out for the report's SVG histogram (a 400 × 120 box,
    20 units per bar)."""
    rows = engine.equal_width_histogram(values, bins)
    peak = max((c for _, _, c in rows), default=0) or 1
    bars = []
    for i, (lo, hi, count) in enumerate(rows):
        h = 100.0 * count / peak
        bars.append({"lo": lo, "hi": hi, "count": count, "x": i * 20, "y": 105 - h, "h": h})
    return bars
