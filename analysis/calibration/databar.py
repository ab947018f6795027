"""Find the instrument's data bar: the text banner most SEMs append below (or above) the image.

What makes it recognisable: a band at the bottom whose rows are dominated by ONE flat
background level (text and boxes cover a minority of each row), ending at a sharp horizontal
edge where the noisy micrograph starts. Rows are summarised by the share of pixels at the
row's modal grey level (64 levels, +-1), computed for all rows at once with one bincount.
A table's ruling (FEI xT draws cells) may interrupt the band for a row or two; such rows are
bridged. Bands at the top are found by running the same test on the image flipped.
"""

from __future__ import annotations

import numpy as np

from analysis.result import Region

_LEVELS = 64
_MIN_ROW_SHARE = 0.35  # text rows of a data bar still show >= 35 % background
_BOTTOM_ROW_SHARE = 0.5
_MIN_HEIGHT_PX = 8
_RULE_ROWS = 3
# Median row share of the band's background. Micrograph texture sits near 0.2-0.3; a dense
# FEI xT table in a large font keeps 0.74 (emps-train 31f17306c8, its band cut by the crop).
_MIN_BAND_FLATNESS = 0.7


def _row_modes(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: modal level and the share of pixels within +-1 level of it."""
    n, w = q.shape
    counts = np.bincount((q + _LEVELS * np.arange(n)[:, None]).ravel(), minlength=n * _LEVELS)
    counts = counts.reshape(n, _LEVELS)
    c3 = counts.copy()
    c3[:, 1:] += counts[:, :-1]
    c3[:, :-1] += counts[:, 1:]
    mode = c3.argmax(axis=1)
    return mode, c3[np.arange(n), mode] / float(w)


def find_data_bar(grey: np.ndarray, *, max_fraction: float = 0.3) -> Region | None:
    """Locate a data bar at the bottom (or else the top) of ``grey`` ((H, W) float in [0, 1]).

    Returns the band as a :class:`Region` spanning the full width, or ``None`` when both ends
    of the image are micrograph. ``max_fraction`` bounds its height relative to the image.
    """
    bottom = _bottom_band(grey, max_fraction)
    if bottom is not None:
        return bottom
    top = _bottom_band(grey[::-1], max_fraction)
    if top is None:
        return None
    h = grey.shape[0]
    return Region(0, h - top.y1, top.x1, h - top.y0)


def _bottom_band(grey: np.ndarray, max_fraction: float) -> Region | None:
    h, w = grey.shape[:2]
    if h < 4 * _MIN_HEIGHT_PX or w < 32:
        return None
    start = max(0, int(h * (1.0 - max_fraction)) - 4)
    band = grey[start:]
    q = np.clip(band * (_LEVELS - 1) + 0.5, 0, _LEVELS - 1).astype(np.int64)
    mode, share = _row_modes(q)
    n = len(mode)
    # Skip a frame line (1-3 flat rows of another level) along the very bottom. The level
    # must not come back two rows up: a band's own edge row under a table rule (FEI xT at
    # the top, downscaled: band, rule, band) is band, not a frame line.
    bottom = n
    for k in range(1, 4):
        if (
            share[n - k] >= 0.9
            and n - k - 2 >= 0
            and abs(int(mode[n - k]) - int(mode[n - k - 1])) > 2
            and abs(int(mode[n - k]) - int(mode[n - k - 2])) > 2
        ):
            bottom = n - k
            break
    if share[bottom - 1] < _BOTTOM_ROW_SHARE:
        return None
    bg = int(np.median(mode[max(0, bottom - 4) : bottom]))
    in_band = (share >= _MIN_ROW_SHARE) & (np.abs(mode.astype(int) - bg) <= 2)
    i = bottom - 1
    while i >= 0:
        if in_band[i]:
            i -= 1
        elif (
            share[i] < 0.9
            and i >= _RULE_ROWS
            and in_band[i - _RULE_ROWS : i].sum() >= _RULE_ROWS - 1
        ):
            # A table rule 1-2 rows high inside the band (FEI xT cells). A full-width flat
            # line is not bridged: it is the band's edge, whatever lies beyond it.
            i -= 1
        else:
            break
    if i < 0:
        return None  # uniform all the way up: a flat image region, not a banner
    top = i + 1
    if (
        bottom - top < max(_MIN_HEIGHT_PX, 0.02 * h)
        or float(np.median(share[top:bottom])) < _MIN_BAND_FLATNESS
    ):
        return None  # too thin, or its background is not flat (micrograph texture)
    separator = False
    line = 0
    while (
        top - line > 1 and share[top - line - 1] >= 0.9 and abs(int(mode[top - line - 1]) - bg) > 2
    ):
        line += 1  # a separator line of another flat level belongs to the bar ...
    if 0 < line <= 3:
        top -= line
        separator = True
    # ... but more than 3 such rows are a flat stretch of micrograph, not a line.
    if start + top < h * (1.0 - max_fraction):
        return None
    if not (separator or _has_sharp_edge(band, top)) or not _has_text(q[top:bottom], bg):
        return None
    return Region(0, start + top, w, h)


def _has_sharp_edge(band: np.ndarray, top: int) -> bool:
    """The step between micrograph and bar exceeds the usual row-to-row change above it."""
    if top < 6:
        return False
    diffs = np.abs(np.diff(band[: top + 1], axis=0)).mean(axis=1)
    above = float(np.median(diffs[:-1]))
    return float(diffs[-1]) > max(2.0 * above, 0.02)


def _has_text(q_bar: np.ndarray, bg: int) -> bool:
    """Some, but not most, pixels differ from the background (text, boxes, a scale bar)."""
    off = np.abs(q_bar - bg) > 4
    frac = float(off.mean())
    return 0.002 <= frac <= 0.6


def edge_spans_width(grey: np.ndarray, band: Region, *, min_share: float = 0.75) -> bool:
    """Whether the band ends at a boundary across the whole frame, as a banner does.

    Just outside a real banner the micrograph differs from the banner's background in almost
    every column (a share of 0.83-1.0 on the rendered layouts, 0.76-1.0 on 28 of the 32 bands
    found in emps-train). A light "band" that is only the figure's own background below a particle
    (emps-train e4268d7502: 0.58) has the same grey beside the particle as inside: a label
    drawn across its top is the figure's, and is not cut at the band.
    """
    h = grey.shape[0]
    outside = (
        grey[max(0, band.y0 - 4) : band.y0 - 1] if band.y0 > 0 else grey[band.y1 + 1 : band.y1 + 4]
    )
    if outside.size == 0:
        return True
    bg = float(np.median(grey[band.y0 : min(h, band.y1)]))
    return float((np.abs(outside.mean(axis=0) - bg) > 0.06).mean()) >= min_share
