"""The command-line contract of issue 3, run as a real subprocess."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from analysis.calibration.render_bands import render_band_image
from analysis.cli import CSV_LEAD_COLUMNS
from analysis.measure import MEASUREMENT_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def images(tmp_path):
    m = np.full((150, 200), 50, np.uint8)
    for k in range(3):
        cv2.circle(m, (40 + 60 * k, 70), 15, 200, -1)
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), m)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    other = tmp_path / "other.tif"
    tifffile.imwrite(other, (m.astype(np.uint16) * 256)[:, :180])
    return good, bad, other


def test_analyze_writes_contract_files_and_survives_a_bad_image(images, tmp_path):
    good, bad, other = images
    out = tmp_path / "out"
    proc = _run("analyze", str(good), str(bad), str(other), "--out", str(out),
                "--method", "classical", "--pixel-size-nm", "1.5")  # fmt: skip
    assert proc.returncode == 1
    assert "bad.png" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}{ext}"
        for stem in ("good", "other")
        for ext in (".json", ".labels.tif", ".particles.csv", ".overlay.png")
    )
    labels = tifffile.imread(out / "good.labels.tif")
    assert labels.shape == (150, 200) and labels.dtype == np.uint16
    assert tifffile.imread(out / "other.labels.tif").shape == (150, 180)
    data = json.loads((out / "good.json").read_text())
    for key in ("pixel_size_nm", "calibration", "analysed_region", "particles", "summary",
                "timings_ms"):  # fmt: skip
        assert key in data
    assert data["pixel_size_nm"] == 1.5 and data["calibration"]["source"] == "manual"
    assert len(data["particles"]) == 3 == int(labels.max())
    with (out / "good.particles.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [*CSV_LEAD_COLUMNS, *MEASUREMENT_COLUMNS]
    assert len(rows) == 4
    overlay = cv2.imread(str(out / "good.overlay.png"))
    assert overlay.shape == (150, 200, 3)


def test_all_good_exits_zero(images, tmp_path):
    good, _, _ = images
    proc = _run("analyze", str(good), "--out", str(tmp_path / "o"), "--method", "classical")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "o" / "good.json").read_text())["pixel_size_nm"] is None


def test_calibrate_prints_one_json_per_image(images):
    good, bad, _ = images
    proc = _run("calibrate", str(good), str(bad), "--pixel-size-nm", "3")
    assert proc.returncode == 1 and "bad.png" in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["pixel_size_nm"] == 3.0 and record["source"] == "manual"


def test_calibrate_prints_the_data_band_fields(tmp_path):
    r = render_band_image("zeiss", 7001, width=1024, light=False, top=False)
    path = tmp_path / "zeiss.png"
    cv2.imwrite(str(path), (r.image * 255).astype(np.uint8))
    proc = _run("calibrate", str(path))
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    # "Width = 53.31 µm": the OCR may drop the micro sign; the magnification restores it.
    printed = r.fields["Width"].split("= ")[1].split()[0]
    assert record["band_fields"]["field_width"].split()[0] == printed
    assert record["band_fields"]["store_resolution"] == "1024 x 768"
    assert record["source"] == "band_text"
    assert record["pixel_size_nm"] == pytest.approx(r.pixel_size_nm, rel=0.01)
    chosen = [s for s in record["details"]["sources"] if s["chosen"]]
    assert [s["source"] for s in chosen] == ["band text"]


def test_usage_error():
    assert _run("analyze").returncode == 2
