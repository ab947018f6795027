"""Data bands of each instrument layout: detection, OCR of their fields, the bar beside its label,
and the cross-checks between band text, scale bar and metadata."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from _calib_helpers import calibrate_rendered
from PIL import Image, ImageDraw

from analysis.calibration import _sources, _vote_with_magnification, calibrate, find_data_bar
from analysis.calibration.bandbar import _unit_from_magnification, find_band_bar
from analysis.calibration.bandtext import (
    MAG_DISPUTED,
    BandReading,
    band_pixel_size_nm,
    magnification,
    parse_band_fields,
    printed_precision,
)
from analysis.calibration.databar import edge_spans_width
from analysis.calibration.render import _font, available_fonts
from analysis.calibration.render_bands import LAYOUTS, degrade, render_band_image, render_negative
from analysis.io import image_from_array
from analysis.result import Region, ScaleBar


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["EHT = 20.00 kV", "Width = 7.520 µm", "Store resolution = 1024 * 768"],
         {"field_width": "7.520 µm", "store_resolution": "1024 x 768"}),
        (["HFW 10.2 μm", "mag 12 464 x"], {"field_width": "10.2 µm", "mag": "12 464 x"}),
        (["View field: 20.8 um", "SEM MAG: 10.0 kx"],
         {"field_width": "20.8 um", "mag": "10.0 k x"}),
        (["FOV: 26,9 µm"], {"field_width": "26,9 µm"}),
        (["FOV:1280x960nm"], {"field_width": "1280 nm"}),
        (["Pixel Size = 2.345 nm"], {"pixel_size": "2.345 nm"}),
        (["SEI 15kV X10,000 WD10mm"], {"mag": "10,000 x"}),
        (["S-4800 5.0kV 8.0mm x50.0k SE(U)"], {"mag": "50.0 k x"}),
        (["X62.5K"], {"mag": "62.5 K x"}),  # Hitachi's small k read as a capital
        (["WD = 2.8 mm", "Date :18 Jul 2019"], {}),
        (["Width=2.935sm"], {"field_width": "2.935 µm"}),  # small "µ" read as "s"
        (["Midth = 287.5 µm"], {"field_width": "287.5 µm"}),  # small "W" read as "M"
    ],
)  # fmt: skip
def test_band_fields_are_parsed(texts, expected):
    fields = parse_band_fields(texts)
    for key, value in expected.items():
        assert fields[key] == value
    assert ("field_width" in fields) == ("field_width" in expected)


def test_band_pixel_size_from_field_width_and_pixel_size():
    nm, how = band_pixel_size_nm({"field_width": "7.520 µm", "field_width_key": "Width"}, 1024)
    assert nm == pytest.approx(7520 / 1024) and "Width" in how
    # a pixel size printed for the 2048-px store resolution, image exported at 1024 px
    nm, _ = band_pixel_size_nm({"pixel_size": "2.5 nm", "store_resolution": "2048 x 1536"}, 1024)
    assert nm == pytest.approx(5.0)
    nm, how = band_pixel_size_nm({"field_width": "3 nm"}, 1024)  # a 3 nm field: impossible
    assert nm is None and "implausible" in how
    # "µ" lost by the OCR: the magnification says it was µm, not nm
    fields = {"field_width": "53.31 m", "mag": "2.38 K x"}
    assert band_pixel_size_nm(fields, 1024)[0] == pytest.approx(53310 / 1024)
    assert band_pixel_size_nm({"field_width": "53.31 m"}, 1024)[0] is None  # no way to tell
    # ... unless only one reading is a field a microscope images: 2.01 nm across is none
    nm, how = band_pixel_size_nm({"field_width": "2.01 m", "field_width_key": "FW"}, 320)
    assert nm == pytest.approx(2010 / 320) and "no possible field" in how


def test_magnification_parsing():
    assert magnification({"mag": "20.28 K x"}) == pytest.approx(20280)
    assert magnification({"mag": "5,388 x"}) == pytest.approx(5388)
    assert magnification({"mag": "12 464 x"}) == pytest.approx(12464)
    assert magnification({}) is None
    # JEOL's "X11,213" with its comma read as a point: 11.213 or 11 213? Unknown, not a veto.
    assert magnification({"mag": "11.213 x"}) is None
    assert magnification({"mag": "409,.987 x"}) is None  # both separators: a misread
    assert magnification({"mag": "30.0 x"}) is None  # Hitachi's "x30.0k" without its k
    assert magnification({"mag": "1.5 x"}) is None and magnification({"mag": "12,000 x"}) == 12000
    assert magnification({"mag": "20.28 K x"}) == pytest.approx(20280)
    # Hitachi's "x1.3k" at half size, its "k" lost: no microscope images at 1.3x, and taken
    # at its word it vetoed a correct 20 µm bar by a factor of 1000.
    assert magnification({"mag": "1.3 x"}) is None
    assert magnification({"mag": "25 x"}) == pytest.approx(25)
    assert magnification(parse_band_fields(["SU-70 15.0kV 7.2mm x9.0K SE(L)"])) == 9000


@pytest.mark.parametrize("seed", [3101, 3107])
def test_hitachi_ruler_with_a_capital_k_and_merged_dots(seed):
    """Hitachi's "x62.5k" read as "X62.5K" was parsed as 62.5x and vetoed a correct ruler;
    once read right, the half-size copy's ruler (dots merged a pixel apart by the
    downscaling) was measured as one 33-px solid piece of its 50 px: 50 % off."""
    r = render_band_image("hitachi", seed)
    for v in (r, degrade(r, factor=0.5, jpeg_quality=80)):
        cal = calibrate(image_from_array(v.image))
        assert cal.pixel_size_nm == pytest.approx(v.pixel_size_nm, rel=0.02), cal.reason


def test_a_ruler_tick_thinned_by_resampling_still_counts():
    """A Hitachi TEM ruler of 11 ticks whose last one a resampling left 1 px wide (2 px in
    all, emps-train 7ecd3c2ab9): components under 3 px were dropped, and the ruler was
    measured over 10 ticks, 9 of its 10 steps (81.75 px for 90.8)."""
    band = np.zeros((16, 512), np.float32)
    for k in range(11):
        x = 416 + 9 * k
        band[0:2, x : x + 2] = [0.55, 0.25] if k < 10 else [0.1, 0.45]
    band[0:2, 506] = 0.45
    band[0:2, 507] = 0.1
    img = Image.new("L", (512, 60), 90)
    img.paste(Image.fromarray((band * 255).astype(np.uint8)), (0, 44))
    d = ImageDraw.Draw(img)
    d.text((470, 50), "100nm", fill=220, font=_font(available_fonts()[0], 9))
    grey = np.asarray(img, np.float32) / 255.0
    label = Region(466, 48, 512, 60)
    found = find_band_bar(grey, Region(0, 44, 512, 60), ((label, "100nm", 0.99),), [label])
    assert found is not None
    assert found[0].length_px == pytest.approx(90.0, abs=1.0)


# Seeds that exercise each layout at full size, bottom and top, light and dark.
CASES = [(layout, seed) for layout in LAYOUTS for seed in (1, 2)]


@pytest.mark.parametrize(("layout", "seed"), CASES)
def test_rendered_layout_calibrates_within_2_percent(layout, seed):
    r = render_band_image(layout, 7000 + seed, width=1024, light=seed == 2, top=False)
    cal = calibrate(image_from_array(r.image))
    json.dumps(cal.as_dict())  # plain JSON: no numpy scalars reach the web side
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), (
        cal.reason,
        cal.details.get("band_text"),
    )
    if r.band is not None:
        assert cal.data_bar == r.band
        assert cal.source in ("band_text", "scale_bar")


@pytest.mark.parametrize("layout", ["zeiss", "tescan", "hitachi"])
def test_top_bands_are_found(layout):
    r = render_band_image(layout, 11, width=1024, top=True)
    assert find_data_bar(r.image) == r.band


@pytest.mark.parametrize("seed", [7, 11])
def test_downscaled_fei_top_band_is_found(seed):
    """FEI xT's table at the top, half size: the band's edge row, then the table's top rule,
    then band again. The edge row was taken for a frame line and the band was missed."""
    r = render_band_image("fei", 1000 * LAYOUTS.index("fei") + seed)
    half = degrade(r, factor=0.5, jpeg_quality=80)
    band = find_data_bar(half.image)
    assert r.band is not None and r.band.y0 == 0
    assert band is not None and band.y0 == 0
    assert abs(band.y1 - r.band.y1 / 2) <= 2


def test_disagreeing_band_text_and_bar_leave_the_image_uncalibrated():
    """A Zeiss band whose printed Width was doctored to 3x: never pick one silently."""
    r = render_band_image("zeiss", 7001, width=1024, top=False)
    cal = calibrate(image_from_array(r.image))
    assert cal.source == "band_text"
    width_text = r.fields["Width"]
    # Paint a wrong width over the printed one.
    pil = Image.fromarray((r.image * 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    bg = int(np.median(r.image[r.band.y0 : r.band.y1]) * 255)
    fg = 255 - bg
    x, y = int(0.42 * r.image.shape[1]), int(r.band.y0 + r.band.height * 0.57)
    draw.rectangle([x - 2, y - 2, x + 400, y + int(0.3 * r.band.height)], fill=bg)
    value = float(width_text.split("= ")[1].split()[0]) * 3
    unit = width_text.split()[-1]
    font = _font(
        [f for f in available_fonts() if "DejaVuSans.ttf" in f][0], int(r.band.height * 0.2)
    )
    draw.text((x, y), f"Width = {value:.3f} {unit}", fill=fg, font=font)
    doctored = np.asarray(pil, dtype=np.float32) / 255.0
    cal = calibrate(image_from_array(doctored))
    assert cal.pixel_size_nm is None and cal.source == "uncalibrated"
    assert "disagree" in cal.reason
    assert {s["source"] for s in cal.details["sources"]} == {"band text", "scale bar"}


def test_metadata_wins_a_disagreement_and_says_so():
    r = render_band_image("phenom", 7001, width=1024, light=True, top=False)
    base = image_from_array(r.image)
    # An ImageJ calibration claiming pixels twice the true size.
    meta = {
        "tags": {"XResolution": [1000, round(2 * r.pixel_size_nm * 1000)]},
        "vendor": {},
        "text": {},
        "imagej": {"unit": "nm"},
    }
    cal = calibrate(dataclasses.replace(base, metadata=meta))
    assert cal.source == "metadata:imagej"
    assert cal.pixel_size_nm == pytest.approx(2 * r.pixel_size_nm, rel=1e-3)
    assert cal.details["chosen"] == "metadata"
    assert any("band text" in d and "metadata" in d for d in cal.details["disagreements"])
    assert cal.warnings


def test_degraded_copy_is_calibrated_or_honestly_not():
    """Half-size JPEG copies: either within 2 % or uncalibrated, never a wrong value."""
    wrong = 0
    for layout in LAYOUTS:
        r = degrade(render_band_image(layout, 7003, width=1280), factor=0.5, jpeg_quality=80)
        cal = calibrate(image_from_array(r.image))
        if cal.pixel_size_nm is not None:
            wrong += abs(cal.pixel_size_nm - r.pixel_size_nm) > 0.02 * r.pixel_size_nm
    assert wrong == 0


def test_rendered_negatives_invent_nothing():
    """Panel letters, arrows, words and a bar without its number: never a calibration."""
    for seed in range(12):
        cal = calibrate(image_from_array(render_negative(seed)))
        assert cal.pixel_size_nm is None, (seed, cal.reason)


def test_magnification_settles_a_lost_prefix_only_for_a_round_length():
    """ "500 m" over 100 px at 5 nm per pixel by the magnification: nm. "108 m" is a "100"
    whose dotted zero was read as 8; "105 m" is no bar's length in any unit."""
    assert _unit_from_magnification("500 m", 100.0, 5.0) == (500.0, "nm")
    assert _unit_from_magnification("108m", 20.0, 5.0) == (100.0, "nm")
    assert _unit_from_magnification("105 m", 21.0, 5.0) is None


def _band(fields: dict[str, str], width_px: int) -> BandReading:
    nm, how = band_pixel_size_nm(fields, width_px)
    return BandReading(texts=(), fields=fields, pixel_size_nm=nm, how=how)


def _bar(value_nm: float, length_px: float) -> ScaleBar:
    box = Region(10, 10, 10 + round(length_px), 14)
    return ScaleBar(length_px, box, f"{value_nm:g} nm", value_nm, "nm", value_nm, 0.9)


def test_a_magnification_alone_against_agreeing_band_text_and_bar_is_outvoted():
    """Half-size Zeiss: "Mag = 4.27 K X" for 43.27 K. Width (2.935 µm) and bar (100 nm over
    22 px) agree; the magnification, ten times off both, is the misread."""
    band = _band({"field_width": "2.935 µm", "field_width_key": "Width", "mag": "4.27 K x"}, 640)
    assert band.pixel_size_nm == pytest.approx(2935 / 640) and MAG_DISPUTED in band.how
    sources = _sources(None, band, _bar(100, 22), 640)
    kept, against, said = _vote_with_magnification(band, sources, 640)
    assert kept == sources and against == [] and said and "magnification" in said
    # Without the bar it is one reading against another: the dispute stands.
    kept, against, said = _vote_with_magnification(band, sources[:1], 640)
    assert len(against) == 1 and said is None


def test_band_text_off_from_both_bar_and_magnification_is_outvoted():
    """TESCAN "View field: 3.9 µm" for 33.9 µm (a digit lost): the bar (5 µm over 189 px)
    and the magnification (3.74 kx) agree, the band text is dropped and the bar stands."""
    band = _band(
        {"field_width": "3.9 µm", "field_width_key": "View field", "mag": "3.74 k x"}, 1280
    )
    sources = _sources(None, band, _bar(5000, 189), 1280)
    kept, against, said = _vote_with_magnification(band, sources, 1280)
    assert [s.name for s in kept] == ["scale bar"] and against == []
    assert said and "band text" in said
    # A bar ten times off, with band text and magnification agreeing: the bar is dropped.
    band = _band(
        {"field_width": "33.92 µm", "field_width_key": "View field", "mag": "3.74 k x"}, 1280
    )
    sources = _sources(None, band, _bar(500, 189), 1280)
    kept, _against, said = _vote_with_magnification(band, sources, 1280)
    assert [s.name for s in kept] == ["band text"] and said and "scale bar" in said


def test_printed_precision_follows_the_digits():
    assert printed_precision(_band({"field_width": "2.935 µm"}, 640)) == pytest.approx(0.05 / 293.5)
    assert printed_precision(_band({"field_width": "1.6 µm"}, 640)) == pytest.approx(0.05 / 1.6)
    assert printed_precision(_band({"field_width": "26,9 µm"}, 640)) == pytest.approx(0.05 / 26.9)
    assert printed_precision(_band({"field_width": "500 nm"}, 640)) == pytest.approx(0.5 / 500)
    assert printed_precision(_band({}, 640)) is None


@pytest.mark.parametrize(
    ("layout", "seed", "half"),
    [
        ("zeiss", 9, True),  # "Mag =4.27KX" for 43.27 K: outvoted by Width and bar
        ("zeiss", 108, False),  # bar label "500 nm" read "500 mm" and "600 m" (score 0.63)
        ("tescan", 4105, False),  # "View field: 1.6 µm" for 1.66: the 77-px bar is finer
        ("tescan", 4204, False),  # "View field: 3.9 µm" for 33.9: bar and magnification agree
        ("phenom", 5003, True),  # "108m" at 0.91: a dotted zero and a lost "n"; the mag: nm
    ],
)
def test_band_readings_vote(layout, seed, half):
    """Three readings of one band (field width, bar, magnification): the odd one out is the
    misread, and the more precise of two that agree wins. Zeiss 9 and 108 were uncalibrated,
    TESCAN 4105 3.7 % off; TESCAN 4204 pins that band text the magnification disputes does
    not block a bar it confirms."""
    cal, r = calibrate_rendered(layout, seed, half)
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), cal.reason


def test_a_band_edge_spans_the_frame_and_a_background_strip_does_not():
    """A banner differs from the micrograph just above it in nearly every column; a strip of
    the figure's own light background under a particle differs only under the particle."""
    img = np.full((200, 300), 0.8, np.float32)
    img[20:170, 60:240] = 0.3  # a dark particle that ends 10 rows above the strip
    strip = Region(0, 180, 300, 200)
    assert not edge_spans_width(img, strip)
    textured = np.random.default_rng(0).uniform(0.2, 0.7, (200, 300)).astype(np.float32)
    textured[180:] = 0.05  # a black banner under a micrograph
    assert edge_spans_width(textured, strip)
    textured[:20] = textured[180:200].copy()  # ... and at the top
    assert edge_spans_width(textured, Region(0, 0, 300, 20))
