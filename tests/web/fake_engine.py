"""A small, exact engine for web tests: bright discs on a dark background → one particle each.

It returns the engine's real `AnalysisResult` dataclasses, so the web code path is the
production one, but its answers are known in advance (a disc of radius r has ECD ≈ 2r px).
Behaviour switches come from the environment so a worker *subprocess* can be told to hold a
run in "segmenting" long enough to be killed:

- ``FAKE_ENGINE_HOLD_S``: seconds to spend in the segmenting stage (default 0).
- ``FAKE_ENGINE_FAIL``: raise ValueError with this text.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from analysis.result import AnalysisResult, Calibration, Particle, Region

DEFAULT_PIXEL_SIZE_NM = 2.0


def disc_image(path, discs: list[tuple[int, int, int]], size: tuple[int, int] = (320, 240)):
    """Write a PNG with white discs (cx, cy, r) on black; returns the path."""
    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    for cx, cy, r in discs:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    img.save(path)
    return path


def analyze(path, parameters, *, method, sidecar_text=None, progress=None, model_weights=None):
    progress = progress or (lambda stage, fraction: None)
    t0 = time.perf_counter()
    progress("reading", 0.0)
    grey = np.asarray(Image.open(path).convert("L"))
    progress("calibrating", 0.0)
    ps = parameters.get("pixel_size_nm") or DEFAULT_PIXEL_SIZE_NM
    progress("segmenting", 0.0)
    hold = float(os.environ.get("FAKE_ENGINE_HOLD_S", "0"))
    end = time.monotonic() + hold
    while time.monotonic() < end:
        time.sleep(0.1)
    if os.environ.get("FAKE_ENGINE_FAIL"):
        raise ValueError(os.environ["FAKE_ENGINE_FAIL"])
    labels, n = ndi.label(grey > 127)
    progress("measuring", 0.0)
    h, w = grey.shape
    particles = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        mask = labels[sl] == i
        area = float(mask.sum())
        ecd_px = 2 * math.sqrt(area / math.pi)
        y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
        cy, cx = ndi.center_of_mass(labels == i)
        particles.append(
            Particle(
                label=i,
                polygon_px=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                bbox_px=(x0, y0, x1, y1),
                measurements={
                    "area_px": area,
                    "ecd_px": ecd_px,
                    "ecd_nm": ecd_px * ps,
                    "area_nm2": area * ps * ps,
                    "feret_max_px": float(max(x1 - x0, y1 - y0)),
                    "feret_max_nm": float(max(x1 - x0, y1 - y0)) * ps,
                    "aspect_ratio": (x1 - x0) / max(1, y1 - y0),
                    "centroid_x_px": float(cx),
                    "centroid_y_px": float(cy),
                },
                shape_class="sphere",
                score=1.0,
                touches_border=x0 == 0 or y0 == 0 or x1 == w or y1 == h,
            )
        )
    progress("summarising", 0.0)
    progress("done", 1.0)
    return AnalysisResult(
        width=w,
        height=h,
        calibration=Calibration(pixel_size_nm=ps, source="manual", confidence=1.0),
        analysed_region=Region(0, 0, w, h),
        labels=labels.astype(np.uint16),
        particles=particles,
        summary={"n": n},
        method="classical",
        engine_version="fake-1",
        model_version=None,
        timings_ms={"total": (time.perf_counter() - t0) * 1000},
    )
