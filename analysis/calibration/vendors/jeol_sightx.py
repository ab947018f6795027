"""JEOL TEM TIFF written by SightX (``Make = JEOL Ltd.``, XML ``<TemReporter>`` description).

SightX states the magnification (``ImageFormingSystem/SelectorValue`` while ``ModeString``
is ``MAG``) and stores the camera's pixel pitch as the TIFF resolution; the specimen pixel
is the camera pixel divided by the magnification (the rule RosettaSciIO applies). In
diffraction (``DIFF``) the image is in reciprocal space: no length calibration.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from analysis.io import LoadedImage

from .base import MetadataReading, positive
from .imagej import rational

VENDOR = "jeol_sightx"
_NM_PER_UNIT = {"INCH": 2.54e7, "2": 2.54e7, "CENTIMETER": 1e7, "3": 1e7}


def _find(root: ET.Element, *path: str) -> str | None:
    node = root.find("/".join(path))
    return node.text.strip() if node is not None and node.text else None


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    text = image.metadata.get("text", {})
    if str(text.get("Make", "")).strip() != "JEOL Ltd.":
        return None
    desc = str(text.get("ImageDescription", ""))
    if "<TemReporter" not in desc:
        return None
    try:
        root = ET.fromstring(desc[desc.index("<TemReporter") :].strip(" \r\n\t\x00\x01"))
    except ET.ParseError:
        return MetadataReading(VENDOR, None, 0.0, "JEOL SightX description is not valid XML")
    mode = _find(root, "ImageFormingSystem", "ModeString")
    selector = _find(root, "ImageFormingSystem", "SelectorValue")
    tags = image.metadata.get("tags", {})
    unit = str(tags.get("ResolutionUnit", ""))
    px_per_unit = rational(tags.get("XResolution"))
    fields = {
        "EosMode": _find(root, "Eos", "EosMode"),
        "ModeString": mode,
        "SelectorValue": selector,
        "XResolution": tags.get("XResolution"),
        "ResolutionUnit": unit,
    }
    if mode != "MAG":
        return MetadataReading(
            VENDOR, None, 0.0, f"JEOL SightX image in {mode or 'unknown'} mode: no length scale",
            fields,
        )  # fmt: skip
    mag = positive(selector)
    if mag is None or px_per_unit is None or unit not in _NM_PER_UNIT:
        return MetadataReading(
            VENDOR, None, 0.0, "JEOL SightX without magnification or camera pixel pitch", fields
        )
    pixel_nm = _NM_PER_UNIT[unit] / px_per_unit / mag
    return MetadataReading(
        VENDOR, pixel_nm, 0.95, "JEOL SightX camera pixel (XResolution) / magnification", fields
    )
