"""analysis.calibration.units: the length spellings of labels and metadata, in nanometres."""

from __future__ import annotations

import pytest

from analysis.calibration.units import (
    canonical_unit,
    is_reciprocal_unit,
    parse_length,
    parse_length_nm,
    to_nm,
)


@pytest.mark.parametrize(
    ("text", "value", "unit", "nm"),
    [
        ("200 nm", 200.0, "nm", 200.0),
        ("200nm", 200.0, "nm", 200.0),
        ("1 µm", 1.0, "µm", 1000.0),  # micro sign U+00B5
        ("1 μm", 1.0, "µm", 1000.0),  # Greek mu U+03BC (what OCR emits)
        ("1 um", 1.0, "µm", 1000.0),
        ("1um", 1.0, "µm", 1000.0),
        ("0.5 µm", 0.5, "µm", 500.0),
        ("0,5 µm", 0.5, "µm", 500.0),
        ("2 mm", 2.0, "mm", 2_000_000.0),
        ("500 pm", 500.0, "pm", 0.5),
        ("10 Å", 10.0, "Å", 1.0),
        ("5 microns", 5.0, "µm", 5000.0),
        ("1.00nm/pixel", 1.0, "nm", 1.0),
        ("2.614514e-006 m", 2.614514e-6, "m", 2614.514),
        ("HV 5 kV  20 µm", 20.0, "µm", 20_000.0),
        ("3 \\u00B5m", 3.0, "µm", 3000.0),
    ],
)
def test_parse_length(text, value, unit, nm):
    parsed = parse_length(text)
    assert parsed is not None
    assert parsed[0] == pytest.approx(value) and parsed[1] == unit
    assert parse_length_nm(text) == pytest.approx(nm)


@pytest.mark.parametrize("text", ["", None, "HV 5.00 kV", "mag 20 000 x", "nm", "12"])
def test_no_length(text):
    assert parse_length(text) is None
    assert parse_length_nm(text) is None


@pytest.mark.parametrize(
    ("unit", "canon"),
    [("micron", "µm"), ("μm", "µm"), ("UM", "µm"), ("nanometre", "nm"), ("kV", None), ("px", None)],
)
def test_canonical_unit(unit, canon):
    assert canonical_unit(unit) == canon


def test_reciprocal_units():
    assert is_reciprocal_unit("1/nm") and is_reciprocal_unit("nm^-1") and is_reciprocal_unit("1/µm")
    assert not is_reciprocal_unit("nm") and not is_reciprocal_unit("micron")


def test_to_nm_rejects_non_lengths():
    assert to_nm(3, "um") == 3000.0
    with pytest.raises(ValueError, match="not a length unit"):
        to_nm(1, "kV")
