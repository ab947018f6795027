"""Scale bars a microscopist reads without thinking and a naive finder misses (issue 11).

Each scene is drawn here with a known bar length, in the style of a TEM/DigitalMicrograph
export (thick black bar, white label with a dark outline to its right) unless said otherwise:

- a bar that ends on a dark particle (the particle must not lengthen the bar);
- a bar drawn across a dark particle narrower than itself (bar and particle merge);
- a bar on ground darker than the image's median (no clean background above/below it);
- an outlined label whose glyph edges are straight, bar-like runs of their own;
- a JEOL band's 1-px ticked bar halved by downscaling (ticks and bar at half contrast);
- an FEI segmented bar (filled and outlined segments) measured to its last outlined one.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _calib_helpers import calibrate_rendered
from PIL import Image, ImageDraw

from analysis.calibration import calibrate, find_data_bar, find_scale_bar
from analysis.calibration.render import _font, available_fonts
from analysis.calibration.render_bands import degrade, render_band_image
from analysis.calibration.scalebar import (
    BarCandidate,
    LabelVote,
    _hollow_segments,
    find_bar_candidates,
    grey_only_length,
    interpret_label,
    label_crops,
)
from analysis.io import image_from_array
from analysis.result import Region


def _bold_font(size: int):
    fonts = [f for f in available_fonts() if "DejaVuSans-Bold.ttf" in f] or available_fonts()
    return _font(fonts[0], size)


def _tem_scene(
    *,
    size: int = 1024,
    ground: int = 150,
    bar_px: int = 300,
    thick: int = 12,
    particles: tuple[tuple[int, int, int, int], ...] = (),
    dark_band: tuple[int, int, int] | None = None,
    label: str = "100 nm",
    seed: int = 0,
) -> tuple[np.ndarray, int, int]:
    """Noisy ground, optional discs ``(cx, cy, r, grey)`` and a darker band ``(y0, y1, grey)``,
    a black bar from x=40 on row ``0.94 * size`` and its outlined label: (image, x0, y)."""
    rng = np.random.default_rng(seed)
    pil = Image.new("L", (size, size), ground)
    d = ImageDraw.Draw(pil)
    if dark_band is not None:
        d.rectangle([0, dark_band[0], size, dark_band[1]], fill=dark_band[2])
    for cx, cy, r, grey in particles:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=grey)
    x0, y = 40, int(0.94 * size)
    d.rectangle([x0, y, x0 + bar_px - 1, y + thick - 1], fill=0)
    f = _bold_font(int(thick * 2.5))
    tb = d.textbbox((0, 0), label, font=f)
    tx, ty = x0 + bar_px + 20 - tb[0], y + thick / 2 - (tb[1] + tb[3]) / 2
    d.text((tx, ty), label, fill=255, font=f, stroke_width=max(1, thick // 4), stroke_fill=0)
    img = np.asarray(pil, dtype=np.float32) / 255.0
    img = np.clip(img + rng.normal(0, 0.02, img.shape).astype(np.float32), 0, 1)
    return img, x0, y


def _length(img: np.ndarray) -> float:
    bar = find_scale_bar(img)
    assert bar is not None and bar.value == 100 and bar.unit == "nm", bar
    return bar.length_px


def test_bar_ending_on_a_dark_particle_stops_at_its_own_end():
    """The particle (grey 0.16) continues past the bar's end: it must not count as bar."""
    y = int(0.94 * 1024)
    img, _x0, _y = _tem_scene(particles=((322, y + 25, 30, 40),))
    assert _length(img) == pytest.approx(300, abs=1.5)


def test_bar_across_a_dark_particle_is_found_and_measured():
    """A disc as dark as the bar under its middle: bar and disc are one blob at any
    threshold; the bar's rows reach past the disc on both sides."""
    img, _x0, _y = _tem_scene(particles=((190, int(0.94 * 1024) + 6, 90, 5),))
    assert _length(img) == pytest.approx(300, abs=1.5)


def test_bar_on_ground_darker_than_the_image():
    """The bar sits in a dark stripe (grey 0.3 on a 0.6 image): no bright rows next to it."""
    y = int(0.94 * 1024)
    img, _x0, _y = _tem_scene(ground=160, dark_band=(y - 30, y + 40, 75))
    assert _length(img) == pytest.approx(300, abs=1.5)


def test_outlined_label_edges_do_not_use_up_the_search():
    """The outline's straight bottom edges look like short bars; the long bar comes first."""
    img, _x0, _y = _tem_scene(size=1024, bar_px=270, thick=17, label="100 nm", ground=170)
    cal = calibrate(image_from_array(img))
    assert cal.source == "scale_bar"
    assert cal.pixel_size_nm == pytest.approx(100 / 270, rel=0.01)


@pytest.mark.parametrize(
    ("layout", "seed", "half"),
    [
        ("tem", 6000, False),
        ("tem", 6002, False),
        ("tem", 6003, False),
        ("tem", 6004, False),
        ("tem", 6011, True),
        ("jeol", 2007, True),
        ("hitachi", 3304, False),
    ],
)
def test_rendered_layouts_that_were_missed(layout, seed, half):
    """Bench cases: TEM bar ending on a particle (6000), on dark ground with a bold "0" read
    as "@" (6002), outline edges outranking the bar (6003), a bar 80 % across a black disc
    (6004), "µ" read as "y" (6011); a JEOL band whose "X11,213" was read "X11.213" and
    vetoed the right bar (2007); a Hitachi ruler's tick tops in its label's crop read as
    dots, ".50um." (0.5 µm, vetoed by the band's magnification) for "50um" (3304)."""
    cal, r = calibrate_rendered(layout, seed, half)
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), cal.reason


def test_small_ticked_band_bar_in_a_downscaled_jeol_export():
    """A 38.5-px ticked bar on a 320-px JEOL copy: measured between the tick centres."""
    r = degrade(render_band_image("jeol", 2001), factor=0.5, jpeg_quality=80)
    cal = calibrate(image_from_array(r.image))
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), cal.reason


def _figure(
    *,
    bar_px: int,
    label: str,
    font_px: int,
    bar_grey: int,
    text_grey: int,
    ground: int = 120,
    white_disc: bool = False,
    gap: int = 8,
    blur: bool = True,
) -> np.ndarray:
    """A 512 x 640 figure crop (as in published panels): a bar at the bottom left and its
    label above it in LiberationSerif-Bold, optionally half over a white particle."""
    pil = Image.new("L", (640, 512), ground)
    d = ImageDraw.Draw(pil)
    if white_disc:
        d.ellipse([0, 390, 300, 690], fill=235)
    x0, y = 20, 470
    d.rectangle([x0, y, x0 + bar_px - 1, y + 6], fill=bar_grey)
    fonts = [f for f in available_fonts() if "LiberationSerif-Bold.ttf" in f] or available_fonts()
    f = _font(fonts[0], font_px)
    tb = d.textbbox((0, 0), label, font=f)
    d.text((x0 - tb[0], y - gap - tb[3]), label, fill=text_grey, font=f)
    img = np.asarray(pil, dtype=np.float32) / 255.0
    if blur:  # a published figure: resampled and compressed
        img = cv2.GaussianBlur(img, (0, 0), 0.8)
    rng = np.random.default_rng(3)
    return np.clip(img + rng.normal(0, 0.015, img.shape).astype(np.float32), 0, 1)


def test_large_serif_label_overhanging_a_small_bar():
    """A 30-px serif "30 nm" over a 40-px bar: the label reaches past the bar and far above
    it (the crop used to cut its top and its "m")."""
    img = _figure(
        bar_px=40, label="30 nm", font_px=44, bar_grey=10, text_grey=10, ground=115, gap=12
    )
    cal = calibrate(image_from_array(img))
    assert cal.source == "scale_bar", cal.reason
    assert cal.pixel_size_nm == pytest.approx(30 / 40, rel=0.03)


def test_label_in_the_other_polarity_than_the_bar():
    """A white bar with a black label above it: the label is not of the bar's colour."""
    img = _figure(bar_px=118, label="200nm", font_px=26, bar_grey=250, text_grey=10, ground=140)
    cal = calibrate(image_from_array(img))
    assert cal.source == "scale_bar", cal.reason
    assert cal.pixel_size_nm == pytest.approx(200 / 118, rel=0.02)


def test_label_half_over_a_white_particle():
    """Black text half on grey ground, half on the white particle the bar sits on (a real
    figure, 7f94f4bdab, was missed this way; this drawn one is read either way, a guard)."""
    img = _figure(
        bar_px=90, label="50 nm", font_px=34, bar_grey=10, text_grey=10, ground=90,
        white_disc=True,
    )  # fmt: skip
    cal = calibrate(image_from_array(img))
    assert cal.source == "scale_bar", cal.reason
    assert cal.pixel_size_nm == pytest.approx(50 / 90, rel=0.02)


def test_split_bar_running_into_the_image_edge():
    """``├── 2 um ──┤`` in a black box, the figure cropped right at the right tick: the
    right half touches the border (alone that is a frame line), the label sits in the gap
    on the bar's own line, and a speck above the gap must not be taken for it."""
    pil = Image.new("L", (686, 512), 90)
    d = ImageDraw.Draw(pil)
    d.rectangle([520, 490, 685, 511], fill=0)
    d.rectangle([533, 500, 590, 501], fill=245)  # left half
    d.rectangle([636, 500, 685, 501], fill=245)  # right half, to the last column
    d.rectangle([533, 496, 534, 505], fill=245)  # left tick
    d.rectangle([684, 496, 685, 505], fill=245)  # right tick at the edge
    d.rectangle([606, 470, 609, 473], fill=245)  # a speck above the gap
    fonts = [f for f in available_fonts() if "DejaVuSans.ttf" in f] or available_fonts()
    f = _font(fonts[0], 14)
    tb = d.textbbox((0, 0), "2 um", font=f)
    d.text((594 - tb[0], 501 - (tb[1] + tb[3]) / 2), "2 um", fill=245, font=f)
    img = np.asarray(pil, dtype=np.float32) / 255.0
    bar = find_scale_bar(img)
    assert bar is not None and (bar.value, bar.unit) == (2.0, "µm"), bar
    assert bar.length_px == pytest.approx(685.0 - 533.5, abs=1.5)  # between tick centres


def test_bar_ending_inside_a_particle_as_black_as_itself_is_not_measured():
    """TEM render (held-out seed 6102): the bar's right end lies inside a black particle, so
    where it stops cannot be seen; it was measured 194 px for 169 and, once its label was
    read, gave a value 13 % off. Now no bar, no calibration; a particle merely almost as
    dark still shows the end (seed 6000 above stays calibrated)."""
    r = render_band_image("tem", 6102)
    cal = calibrate(image_from_array(r.image))
    assert cal.pixel_size_nm is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0qm", (10.0, "µm")), ("200.0gm", (200.0, "µm")), ("10.qm", (10.0, "µm"))],
)
def test_outlined_micro_read_as_a_descender_letter(text, expected):
    """An outlined "µ" is read as the letter with a descender it looks like; no unit is
    spelt "qm" or "gm", so the label is a micrometre length."""
    assert interpret_label(text, 141.0) == expected


def test_an_n_whose_right_leg_is_lost_reads_as_nm():
    """A 5-px outlined "n" read as "r": no unit is spelt "rm"."""
    assert interpret_label("50rm", 156.0) == (50.0, "nm")
    assert interpret_label("50 rm", 156.0) == (50.0, "nm")
    assert interpret_label("50 rms", 156.0) is None  # a word, not a unit


def test_a_lost_prefix_is_the_one_that_leaves_a_field_a_microscope_can_image():
    """ "0.5 m" over 127 px: 0.5 nm gives a 0.004-nm pixel, a microscope's at the limit, so
    the bar alone cannot tell; over a 664-px figure that is a 2.6-nm field, which calibrate
    refuses anyway, so the label is 0.5 µm. Where both fields are possible it stays
    unread: "500m" over 198 px of a 579-px figure is a 1.5-µm or a 1.5-mm field."""
    assert interpret_label("0.5 m", 127.0) is None
    assert interpret_label("0.5 m", 127.0, width_px=664) == (0.5, "µm")
    assert interpret_label("500m", 197.6, width_px=579) is None
    # Not when the number is a guess too: "Im" read twice from a speck beside "500nm"
    # (emps-train ca780314cd) is no "1 µm".
    assert interpret_label("Im", 146.6, width_px=732) is None


def test_a_length_only_the_grey_crop_read_is_a_near_miss_to_confirm():
    """Only when both thresholded reads read no length at all: one that reads another
    length, or a vote already won, is no near miss."""
    vote = LabelVote(None, "50rm", 0.68, 3, [("50rm", 0.68), ("29. rin", 0.49), ("2in", 0.6)])
    assert grey_only_length(vote, 156.0) == (50.0, "nm")
    against = vote._replace(reads=[("50rm", 0.68), ("20 nm", 0.5), ("2in", 0.6)])
    assert grey_only_length(against, 156.0) is None
    not_round = vote._replace(reads=[("52rm", 0.68), ("", 0.0), ("", 0.0)])
    assert grey_only_length(not_round, 156.0) is None
    assert grey_only_length(vote._replace(parsed=(50.0, "nm")), 156.0) is None


@pytest.mark.parametrize(("seed", "half"), [(6106, False), (6201, True), (6111, True)])
def test_outlined_tem_labels_that_were_left_unread(seed, half):
    """Held-out TEM renders whose bar was found and label not read: "10.0qm" (6106) and
    "100.0gm" (6201 at half size) are µm lengths; at 640 px the colour crop of 6111 lost
    its "nm" to a dark particle and the ink crop that kept it was skipped as the same crop."""
    cal, r = calibrate_rendered("tem", seed, half)
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), cal.reason


def test_the_outline_under_a_label_is_not_its_bar():
    """Held-out TEM render 6309 at half size: the dark outline of the white "20.0µm" merges
    into a one-row line along the glyphs' feet, 72.7 px, ranked level with the 62.5-px bar
    beside it and read with the label above it (14 % off). A one-row line along the label's
    own edge and within its width is the label's outline; the bar comes next."""
    cal, r = calibrate_rendered("tem", 6309, True)
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), cal.reason


def test_bar_standing_on_a_flat_strip_taken_for_a_data_bar():
    """Held-out TEM render 6100: the plain ground under the bar is flat enough to pass for
    a data bar, and the region above that "band" cut the bar at its lower edge. The frame's
    own bottom band is searched after the band's regions."""
    r = render_band_image("tem", 6100)
    cal = calibrate(image_from_array(r.image))
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), cal.reason


def test_bar_mostly_across_a_particle_as_dark_as_itself():
    """A black disc under 80 % of the bar, its rim 20 px from one end: the bar has edges on
    both sides only where it sticks out, too little for the edge test alone, but no
    one-sided edge (what a particle's straight rim would have) and both ends are seen."""
    y = int(0.94 * 1024)
    img, _x0, _y = _tem_scene(particles=((180, y + 6, 120, 5),))
    assert _length(img) == pytest.approx(300, abs=1.5)


@pytest.mark.parametrize("half", [False, True])
def test_bar_ending_in_a_particle_almost_as_dark_as_itself(half):
    """Held-out TEM render 6108: a black bar ends inside a dark grey disc (0.18 on 0.56
    ground). At both thresholds bar and disc are one speckled blob whose bar rows are not
    filled enough to stand out; at the bar's own extreme level the bar is alone, and its
    end on the disc is still seen (the disc is not as dark as the bar)."""
    r = render_band_image("tem", 6108)
    if half:
        r = degrade(r, factor=0.5, jpeg_quality=80)
    cal = calibrate(image_from_array(r.image))
    assert cal.pixel_size_nm == pytest.approx(r.pixel_size_nm, rel=0.02), cal.reason


def test_glyphs_standing_on_a_thin_line_near_its_end_are_not_its_ticks():
    """emps-train 3a8af6d3f4: "50 nm" set on the 1-px outline of a white bar, its "5" and
    "0" 3-9 px in from the line's end. They touched the line there and were dropped as its
    end ticks, so the label crop held "nm" alone. A tick crosses the end column; these do
    not, and the crop now holds the whole label. A tick that does is still dropped."""
    img = np.full((200, 300), 0.6, np.float32)
    img[150, 40:200] = 0.05  # the 1-px line
    img[141:150, 48:54] = 0.05  # two glyph-sized blocks standing on it, off its end
    img[141:150, 57:63] = 0.05
    img[141:150, 67:80] = 0.05  # the rest of the label, clear of the line
    img[143:158, 199:201] = 0.05  # a tick across the right end
    cand = BarCandidate(x0_px=40.0, x1_px=200.0, y0=150, y1=151, bright=False, score=1.0,
                        bar_level=0.95, bg_level=0.4)  # fmt: skip
    above = label_crops(img, Region(0, 0, 300, 200), cand)[0]
    assert above.x0 <= 48 and above.x1 >= 80
    assert above.x1 < 199  # the tick is not a glyph of the label


def _segmented_bar(x0: int, segments: int, seg_px: int, y: int = 15) -> tuple[np.ndarray, float]:
    """An FEI-style segmented bar, 3 px thick, filled and outlined segments in turn (the last
    one outlined and closed by a 1-px end column), on a light band, softened a little."""
    g = np.full((60, 400), 0.9, np.float32)
    x1 = x0 + segments * seg_px
    g[y, x0:x1] = g[y + 2, x0:x1] = 0.0  # the outline, end to end
    for k in range(0, segments, 2):
        g[y : y + 3, x0 + k * seg_px : x0 + (k + 1) * seg_px] = 0.0
    g[y : y + 3, x1 - 1] = 0.0
    return cv2.GaussianBlur(g, (3, 3), 0.6), float(x1 - x0)


@pytest.mark.parametrize("segments, seg_px", [(4, 16), (4, 24), (6, 12)])
def test_segmented_bar_is_measured_to_its_last_outlined_segment(segments, seg_px):
    """Half-size FEI bars (fei 1011, 1101 at 0.5x) came out at ~75 % of their length: the
    middle rows stop at the last filled segment and an outlined one was taken for a label's
    gap. Measured along the outline, no candidate has a gap."""
    grey, length = _segmented_bar(100, segments, seg_px)
    cands = find_bar_candidates(grey, Region(0, 0, 400, 60))
    assert any(c.length_px == pytest.approx(length, rel=0.02) for c in cands), cands
    assert all(c.gap is None for c in cands)
    assert all(c.length_px == pytest.approx(length, rel=0.02) for c in cands if c.y0 < 20)


@pytest.mark.parametrize("seed", [1011, 1101])
def test_half_size_fei_segmented_bar_found_at_its_length(seed):
    r = render_band_image("fei", seed)
    v = degrade(r, factor=0.5, jpeg_quality=80)
    band = find_data_bar(v.image)
    lengths = [c.length_px for c in find_bar_candidates(v.image, band)]
    assert any(n == pytest.approx(r.bar_length_px / 2, rel=0.02) for n in lengths), lengths


def test_solid_bar_into_bright_ground_or_split_by_a_dark_column_is_not_segmented():
    """Only an outlined segment inside the bar makes it segmented: not a solid bar whose
    last columns fade into a bright area (emps-train 85a5d4d8b9), nor two solid pieces
    parted by a dark column the outline does not bridge (ae001af29f)."""
    solid = np.ones((8, 60), np.float32)
    solid[1:-1, -4:] = 0.2  # middle rows fall off at the very end: no filled column after
    assert not _hollow_segments(solid, 0.1)
    split = np.ones((8, 60), np.float32)
    split[:, 30:33] = 0.1
    assert not _hollow_segments(split, 0.1)
    hollow = np.ones((8, 60), np.float32)
    hollow[1:-1, 20:40] = 0.1
    assert _hollow_segments(hollow, 0.1)
