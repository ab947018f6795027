"""Burned-in marks that calibration found inside the picture (the scale bar and its label):
they are ink, not particles, so the pipeline removes whatever it segmented over them and the
review page draws them as "not analysed"."""

from __future__ import annotations

from typing import Any

from analysis.result import Calibration

__all__ = ["MARK_MARGIN_PX", "burned_in_marks"]

MARK_MARGIN_PX = 4  # anti-aliased ink and OCR boxes reach a few px beyond the detected box


def burned_in_marks(calibration: Calibration, width: int, height: int) -> list[dict[str, Any]]:
    """The scale bar and its label as found by calibration, grown by the mark margin.

    Each entry is ``{"kind": "scale_bar" | "scale_bar_label", "x0", "y0", "x1", "y1"}`` in
    pixels of the stored image, clipped to it: what the review page can draw as "not
    analysed". The data bar is not listed: it is already outside the analysed region.
    """
    boxes: list[tuple[str, dict[str, int]]] = []
    if calibration.scale_bar is not None:
        boxes.append(("scale_bar", calibration.scale_bar.bbox.as_dict()))
    label_box = calibration.details.get("scale_bar_label_bbox")
    if isinstance(label_box, dict):
        boxes.append(("scale_bar_label", label_box))
    m = MARK_MARGIN_PX
    out = []
    for kind, b in boxes:
        grown = {
            "x0": max(0, int(b["x0"]) - m),
            "y0": max(0, int(b["y0"]) - m),
            "x1": min(width, int(b["x1"]) + m),
            "y1": min(height, int(b["y1"]) + m),
        }
        if grown["x1"] > grown["x0"] and grown["y1"] > grown["y0"]:
            out.append({"kind": kind, **grown})
    return out
