"""Calibration from instrument metadata: real vendor files, sidecars, and the decision rules."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import tifffile
from _calib_helpers import CALIBRATION_DIR

from analysis.calibration import calibrate
from analysis.calibration.units import to_nm
from analysis.io import image_from_array, read_image


def _expected_rows():
    path = CALIBRATION_DIR / "expected.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    "row", _expected_rows() or [None], ids=lambda r: r["file"] if r else "absent"
)
def test_real_file_gives_expected_calibration(row):
    if row is None:
        pytest.skip("../shared/data/calibration not present")
    image = read_image(CALIBRATION_DIR / row["file"])
    cal = calibrate(image, use_scale_bar=False)
    if row["unit"] == "uncalibrated":
        assert cal.pixel_size_nm is None
        assert cal.source == "uncalibrated"
        assert "uncalibrated" in cal.reason
    else:
        expected_nm = to_nm(float(row["pixel_size_x"]), row["unit"])
        assert cal.pixel_size_nm == pytest.approx(expected_nm, rel=1e-4)
        assert cal.source.startswith("metadata:")
    json.dumps(cal.as_dict())


EXPECTED_SOURCES = {
    "FEI-Helios-Ebeam-8bits.tif": ("metadata:fei", 29),
    "test_tiff_Zeiss_SEM_1k.tif": ("metadata:zeiss", None),
    "JEOL_JSM-IT800_A2h_01.tif": ("metadata:jeol", 66),
    "test_loading_image_saved_with_imageJ.tif": ("metadata:imagej", None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SOURCES))
def test_vendor_and_data_bar_from_metadata(name):
    path = CALIBRATION_DIR / name
    if not path.is_file():
        pytest.skip("../shared/data/calibration not present")
    cal = calibrate(read_image(path), use_scale_bar=False)
    source, bar_rows = EXPECTED_SOURCES[name]
    assert cal.source == source
    assert cal.details["metadata"]["fields"]  # the vendor fields used are reported
    if bar_rows is not None:
        assert cal.data_bar is not None and cal.data_bar.height == bar_rows


def test_real_files_cross_check_with_their_scale_bar():
    """FEI, Zeiss and JEOL burn a scale bar into the data bar: it must agree within 1 %."""
    names = [
        "FEI-Helios-Ebeam-8bits.tif",
        "test_tiff_Zeiss_SEM_1k.tif",
        "JEOL_JSM-IT800_A2h_01.tif",
    ]
    if not all((CALIBRATION_DIR / n).is_file() for n in names):
        pytest.skip("../shared/data/calibration not present")
    labels = {}
    for name in names:
        cal = calibrate(read_image(CALIBRATION_DIR / name))
        assert cal.scale_bar is not None and cal.warnings == ()
        assert cal.details["metadata_vs_scale_bar"] < 0.01
        labels[name] = (cal.scale_bar.value, cal.scale_bar.unit)
    assert labels == {
        "FEI-Helios-Ebeam-8bits.tif": (500.0, "µm"),
        "test_tiff_Zeiss_SEM_1k.tif": (200.0, "µm"),
        "JEOL_JSM-IT800_A2h_01.tif": (100.0, "nm"),
    }


def _blank(width=64, height=48, **meta):
    return image_from_array(np.full((height, width), 0.5, np.float32), metadata=meta)


def test_manual_always_wins_and_disagreement_is_flagged():
    img = _blank(vendor={"FEI_HELIOS": {"Scan": {"PixelWidth": 2e-9}}})
    cal = calibrate(img, manual_pixel_size_nm=3.0)
    assert (cal.pixel_size_nm, cal.source, cal.metadata_pixel_size_nm) == (3.0, "manual", 2.0)
    assert any("manual pixel size" in w for w in cal.warnings)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_manual_must_be_positive(bad):
    with pytest.raises(ValueError):
        calibrate(_blank(), manual_pixel_size_nm=bad)


def test_nothing_known_is_uncalibrated():
    cal = calibrate(_blank())
    assert cal.pixel_size_nm is None and cal.source == "uncalibrated" and cal.confidence == 0.0
    assert "no calibration in the file's metadata" in cal.reason


def test_fei_falls_back_to_hfw_over_resolution():
    img = _blank(
        width=100,
        vendor={
            "FEI_HELIOS": {
                "Beam": {"Beam": "EBeam"},
                "EBeam": {"HFW": 1e-5},
                "Image": {"ResolutionX": 100},
            }
        },
    )
    cal = calibrate(img, use_scale_bar=False)
    assert cal.source == "metadata:fei" and cal.pixel_size_nm == pytest.approx(100.0)


def test_fei_resampled_image_is_rescaled():
    img = _blank(
        width=512,
        vendor={"FEI_HELIOS": {"Scan": {"PixelWidth": 1e-9}, "Image": {"ResolutionX": 1024}}},
    )
    cal = calibrate(img, use_scale_bar=False)
    assert cal.pixel_size_nm == pytest.approx(2.0)
    assert any("rescaled" in w for w in cal.warnings)


@pytest.mark.parametrize(
    ("width", "ref_m", "field_mm", "expected_nm"),
    [
        (2048, 2e-6, 2.048, 1000.0),  # reference refers to 1024 px: x 1024 / 2048
        (1024, 2e-6, 2.048, 2000.0),  # both interpretations coincide
        (2048, 1e-6, 2.048, 1000.0),  # reference already for the stored width
    ],
)
def test_zeiss_reference_width_is_cross_checked(width, ref_m, field_mm, expected_nm):
    cz = {"": [0, 0, 0, ref_m], "ap_width": ["Width", field_mm, "mm"]}
    cal = calibrate(_blank(width=width, vendor={"CZ_SEM": cz}), use_scale_bar=False)
    assert cal.source == "metadata:zeiss" and cal.pixel_size_nm == pytest.approx(expected_nm)


JEOL_SIDECAR = """$CM_FORMAT JEOL/SEM
$CM_FULL_SIZE 1280 960
$CM_MAG 5000
$$SM_MICRON_BAR 180
$$SM_MICRON_MARKER 5um
"""

HITACHI_SIDECAR = """[SemImageFile]
InstructName=S-4800
DataSize=1280x960
PixelSize=19.84375
"""

TESCAN_SIDECAR = """[MAIN]
Device=MIRA3
[SEM]
PixelSizeX=4.5e-09
PixelSizeY=4.5e-09
"""


@pytest.mark.parametrize(
    ("sidecar", "source", "expected_nm", "bar_rows"),
    [
        (JEOL_SIDECAR, "metadata:jeol", 5000 / 180, 64),
        (HITACHI_SIDECAR, "metadata:hitachi", 19.84375, 64),
        (TESCAN_SIDECAR, "metadata:tescan", 4.5, None),
    ],
)
def test_sidecar_text(sidecar, source, expected_nm, bar_rows):
    img = _blank(width=1280, height=1024)
    cal = calibrate(img, sidecar_text=sidecar, use_scale_bar=False)
    assert cal.source == source and cal.pixel_size_nm == pytest.approx(expected_nm)
    assert (cal.data_bar.height if cal.data_bar else None) == bar_rows


def test_sidecar_file_next_to_the_image_is_found(tmp_path):
    path = tmp_path / "s4800.tif"
    tifffile.imwrite(path, np.zeros((960, 1280), np.uint8))
    path.with_suffix(".txt").write_text(HITACHI_SIDECAR)
    cal = calibrate(read_image(path), use_scale_bar=False)
    assert cal.source == "metadata:hitachi" and cal.details["sidecar"]


def _imagej_tiff(tmp_path, unit, px_per_unit=4.0):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(
        path,
        np.zeros((8, 8), np.uint8),
        imagej=True,
        resolution=(px_per_unit, px_per_unit),
        metadata={"unit": unit},
    )
    return read_image(path)


def test_imagej_length_unit(tmp_path):
    cal = calibrate(_imagej_tiff(tmp_path, "nm", 0.5), use_scale_bar=False)
    assert cal.source == "metadata:imagej" and cal.pixel_size_nm == pytest.approx(2.0)


@pytest.mark.parametrize("unit", ["1/nm", "pixel"])
def test_imagej_reciprocal_or_pixel_units_are_uncalibrated(tmp_path, unit):
    cal = calibrate(_imagej_tiff(tmp_path, unit), use_scale_bar=False)
    assert cal.pixel_size_nm is None and cal.source == "uncalibrated"


def test_generic_tiff_resolution_only_when_it_can_be_a_micrograph(tmp_path):
    print_dpi = tmp_path / "print.tif"
    tifffile.imwrite(
        print_dpi, np.zeros((8, 8), np.uint8), resolution=(300, 300), resolutionunit="INCH"
    )
    assert calibrate(read_image(print_dpi), use_scale_bar=False).source == "uncalibrated"
    microscope = tmp_path / "cm.tif"
    tifffile.imwrite(
        microscope, np.zeros((8, 8), np.uint8), resolution=(1e5, 1e5), resolutionunit="CENTIMETER"
    )
    cal = calibrate(read_image(microscope), use_scale_bar=False)
    assert cal.source == "metadata:tiff" and cal.pixel_size_nm == pytest.approx(100.0)
    assert cal.confidence <= 0.5


def test_fei_without_pixel_size_does_not_fall_back_to_dpi():
    img = _blank(
        vendor={"FEI_HELIOS": {"Beam": {"Beam": "IRBeam"}}},
        tags={"XResolution": [10000, 1], "ResolutionUnit": "INCH"},
    )
    img.format = "TIFF"
    cal = calibrate(img, use_scale_bar=False)
    assert cal.source == "uncalibrated" and "FEI" in cal.reason
