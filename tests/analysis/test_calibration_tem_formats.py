"""Olympus SIS, JEOL SightX and Gatan DigitalMicrograph TIFFs: calibration from their tags.

No sample files of these formats are available to the project, so each test writes a small
TIFF with tifffile carrying the tag layout the format uses (as read by tifffile's own
``read_sis`` and by RosettaSciIO's TIFF reader) and checks the pixel size read back.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
import tifffile

from analysis.calibration import calibrate
from analysis.io import read_image


def _sis_block(pixel_m: float, magnification: float) -> bytes:
    """OlympusSIS tag 33560: ``SIS0`` header, one tag-table entry, the general-data record.

    The record's offset is absolute in the file; it is patched once the file is written.
    """
    header = struct.pack(
        "<4s6xhhhhh6x32sH", b"SIS0", 30, 14, 12, 5, 121, b"iTEM test".ljust(32, b"\0"), 1
    )
    entry = struct.pack("<hhI", 1, 1, 0)  # type 1 = general data, offset patched later
    lenexp = -9
    cal = pixel_m / 10.0**lenexp
    general = struct.pack("<10xhdd8xd2x34s32s", lenexp, cal, cal, magnification, b"Veleta", b"TEM")
    return header + entry + general


def _write_sis(path, pixel_m: float, magnification: float = 50000.0) -> None:
    block = _sis_block(pixel_m, magnification)
    tifffile.imwrite(
        path, np.zeros((256, 320), np.uint8), extratags=[(33560, "B", len(block), block, True)]
    )
    raw = bytearray(path.read_bytes())
    start = raw.index(b"SIS0")
    struct.pack_into("<I", raw, start + 60 + 4, start + 60 + 8)
    path.write_bytes(bytes(raw))


def test_olympus_sis_pixel_size(tmp_path):
    path = tmp_path / "sis.tif"
    _write_sis(path, 0.3456e-9)
    assert tifffile.TiffFile(path).sis_metadata["pixelsizex"] == pytest.approx(0.3456e-9)
    cal = calibrate(read_image(path), use_scale_bar=False)
    assert cal.source == "metadata:olympus_sis"
    assert cal.pixel_size_nm == pytest.approx(0.3456, rel=1e-9)
    assert cal.details["metadata"]["fields"]["magnification"] == 50000.0


_SIGHTX_XML = """<?xml version="1.0" encoding="utf-8"?>
<TemReporter><Instruments>JEM-ARM200F</Instruments>
<Eos><EosMode>eosTEM</EosMode></Eos>
<ElectronGun><AccelerationVoltage>200000</AccelerationVoltage></ElectronGun>
<IlluminationSystem><ImageField>modeBrightField</ImageField></IlluminationSystem>
<ImageFormingSystem><ModeString>{mode}</ModeString><SelectorValue>{value}</SelectorValue>
<SelectorString>{value} x</SelectorString><ImageFormingMode>modeMAG</ImageFormingMode>
</ImageFormingSystem></TemReporter>"""


def _write_sightx(path, *, mode: str, value: float, camera_pixel_cm: float) -> None:
    tifffile.imwrite(
        path,
        np.zeros((256, 256), np.uint16),
        description=_SIGHTX_XML.format(mode=mode, value=value),
        resolution=(1.0 / camera_pixel_cm, 1.0 / camera_pixel_cm),
        resolutionunit="CENTIMETER",
        metadata=None,
        extratags=[(271, "s", 0, "JEOL Ltd.", True)],
    )


def test_jeol_sightx_camera_pixel_over_magnification(tmp_path):
    path = tmp_path / "sightx.tif"
    # 14 µm camera pixels at 100 000 x: 0.14 nm at the specimen.
    _write_sightx(path, mode="MAG", value=100000, camera_pixel_cm=14e-4)
    cal = calibrate(read_image(path), use_scale_bar=False)
    assert cal.source == "metadata:jeol_sightx"
    assert cal.pixel_size_nm == pytest.approx(0.14, rel=1e-4)


def test_jeol_sightx_diffraction_is_uncalibrated(tmp_path):
    path = tmp_path / "diff.tif"
    _write_sightx(path, mode="DIFF", value=80, camera_pixel_cm=14e-4)
    cal = calibrate(read_image(path), use_scale_bar=False)
    assert cal.pixel_size_nm is None and cal.source == "uncalibrated"
    assert "DIFF" in cal.reason


def _write_dm(path, *, unit: str, scale: float) -> None:
    unit_bytes = unit.encode("latin-1")  # DigitalMicrograph writes the micro sign as 0xB5
    tifffile.imwrite(
        path,
        np.zeros((200, 300), np.uint16),
        metadata=None,
        extratags=[
            (65003, "s", 0, unit_bytes, False),
            (65004, "s", 0, unit_bytes, False),
            (65006, "d", 1, 0.0, False),
            (65007, "d", 1, 0.0, False),
            (65009, "d", 1, scale, False),
            (65010, "d", 1, scale, False),
        ],
    )


@pytest.mark.parametrize(
    ("unit", "scale", "expected_nm"),
    [("nm", 0.0512, 0.0512), ("µm", 0.0125, 12.5), ("um", 0.002, 2.0)],
)
def test_gatan_digitalmicrograph_tags(tmp_path, unit, scale, expected_nm):
    path = tmp_path / "dm.tif"
    _write_dm(path, unit=unit, scale=scale)
    cal = calibrate(read_image(path), use_scale_bar=False)
    assert cal.source == "metadata:gatan"
    assert cal.pixel_size_nm == pytest.approx(expected_nm, rel=1e-9)


def test_gatan_reciprocal_units_are_uncalibrated(tmp_path):
    path = tmp_path / "dm_diff.tif"
    _write_dm(path, unit="1/nm", scale=0.01)
    cal = calibrate(read_image(path), use_scale_bar=False)
    assert cal.pixel_size_nm is None and "reciprocal" in cal.reason
