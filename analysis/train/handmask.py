"""Hand masks from hand-placed shapes: ground truth for real frames nobody has labelled.

A person places one circle per particle (centre and radius, px of the stored image) while
looking at the frame and at the overlay this module draws, corrects, and repeats. Where two
circles overlap, a pixel belongs to the circle it lies deepest inside (radius minus distance
to the centre): touching spheres then part along the line where their outlines meet, as a
hand tracer would cut them. The annotation is a small JSON file (kept in the repository; the
image itself stays in ``../shared/data``)::

    {"image": "calibration/JEOL_JSM-IT800_A2h_01.tif", "region": [0, 0, 1280, 960],
     "circles": [[cx, cy, r], ...], "annotator": "...", "method": "..."}

``python -m analysis.train.handmask ANNOTATION.json OVERLAY.png`` draws the outlines on the
frame for checking.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from analysis.io import read_image
from analysis.result import Region

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@dataclass
class HandMask:
    """One annotated frame: grey (H, W) float [0, 1], instance labels, analysed region."""

    name: str
    grey: np.ndarray
    labels: np.ndarray
    region: Region


def circles_to_labels(
    shape: tuple[int, int], circles: np.ndarray, region: Region | None = None
) -> np.ndarray:
    """(H, W) uint16 labels, 1..N in the order of ``circles`` (N, 3: cx, cy, r px).

    Overlaps go to the circle the pixel is deepest inside; nothing outside ``region``.
    """
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    best = np.zeros((h, w), np.float32)
    labels = np.zeros((h, w), np.uint16)
    for k, (cx, cy, r) in enumerate(np.asarray(circles, np.float32), start=1):
        depth = r - np.hypot(xx - cx, yy - cy)
        take = depth > best
        labels[take] = k
        best[take] = depth[take]
    if region is not None:
        inside = np.zeros((h, w), bool)
        inside[region.y0 : region.y1, region.x0 : region.x1] = True
        labels[~inside] = 0
    # a circle whose visible part vanished leaves a gap in the numbering: renumber 1..N
    present = np.unique(labels[labels > 0])
    lut = np.zeros(len(circles) + 1, np.uint16)
    lut[present] = np.arange(1, present.size + 1, dtype=np.uint16)
    return lut[labels]


def load(annotation: Path, data_dir: Path = DATA) -> HandMask:
    """The frame named by ``annotation`` with its rendered labels."""
    a = json.loads(Path(annotation).read_text())
    grey = read_image(data_dir / a["image"]).grey.astype(np.float32)
    region = Region(*a["region"])
    labels = circles_to_labels(grey.shape, np.array(a["circles"]), region)
    return HandMask(Path(a["image"]).stem, grey, labels, region)


def overlay(mask: HandMask) -> np.ndarray:
    """(H, W, 3) uint8 BGR: the frame with each instance outlined and numbered."""
    u8 = np.round(np.clip(mask.grey, 0, 1) * 255).astype(np.uint8)
    out = cv2.cvtColor(u8, cv2.COLOR_GRAY2BGR)
    for k in range(1, int(mask.labels.max()) + 1):
        m = (mask.labels == k).astype(np.uint8)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (0, 0, 255), 2)
        ys, xs = np.nonzero(m)
        cv2.putText(out, str(k), (int(xs.mean()), int(ys.mean())), 0, 1.0, (0, 255, 255), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.train.handmask")
    ap.add_argument("annotation", type=Path)
    ap.add_argument("overlay", type=Path, help="PNG to write for checking")
    a = ap.parse_args(argv)
    mask = load(a.annotation)
    cv2.imwrite(str(a.overlay), overlay(mask))
    print(f"{mask.name}: {int(mask.labels.max())} particles -> {a.overlay}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
