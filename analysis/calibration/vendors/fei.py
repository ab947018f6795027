"""FEI / Thermo Fisher: INI-style text in TIFF tag 34682 (FEI_HELIOS) or 34680 (FEI_SFEG).

``[Scan] PixelWidth`` (metres) is the pixel size of the scanned frame; fallbacks are the
beam's scan section (``[EScan]``/``[IScan]``) and ``HFW / [Image] ResolutionX``. The stored
image is ``ResolutionX`` wide plus a data bar below ``ResolutionY`` rows. A navigation-camera
or IR-beam image has none of these sections: it is uncalibrated, never guessed.
"""

from __future__ import annotations

from typing import Any

from analysis.io import LoadedImage

from .base import MetadataReading, data_bar_rows, positive, relative_difference, vendor_block

VENDOR = "fei"


def _section(block: dict[str, Any], name: Any) -> dict[str, Any]:
    sec = block.get(str(name)) if name else None
    return sec if isinstance(sec, dict) else {}


def read(image: LoadedImage, sidecar_text: str | None = None) -> MetadataReading | None:
    block = vendor_block(image, "FEI_HELIOS", "FEI_SFEG")
    if block is None:
        return None
    beam = _section(block, "Beam")
    beam_name = beam.get("Beam") or ""
    scan_name = beam.get("Scan") or ""
    image_sec = _section(block, "Image")
    res_x = positive(image_sec.get("ResolutionX"))
    fields: dict[str, Any] = {}
    warnings: list[str] = []

    pixel_m = None
    for sec_name in ("Scan", scan_name):
        sec = _section(block, sec_name)
        pixel_m = positive(sec.get("PixelWidth"))
        if pixel_m:
            fields[f"[{sec_name}] PixelWidth"] = sec.get("PixelWidth")
            if positive(sec.get("PixelHeight")):
                fields[f"[{sec_name}] PixelHeight"] = sec.get("PixelHeight")
            break
    hfw_m = positive(_section(block, "Scan").get("HorFieldsize")) or positive(
        _section(block, beam_name).get("HFW")
    )
    if hfw_m:
        fields["HFW"] = hfw_m
    if res_x:
        fields["[Image] ResolutionX"] = int(res_x)
    if pixel_m is None and hfw_m and res_x:
        pixel_m = hfw_m / res_x
        fields["derived"] = "HFW / ResolutionX"
    bar_rows = data_bar_rows(image.height, image_sec.get("ResolutionY"))
    if bar_rows is None and positive(image_sec.get("ResolutionY")) is None:
        bar_rows = _private_databar(block, image.height)
    if pixel_m is None:
        what = f"beam {beam_name!r}" if beam_name else "no beam"
        return MetadataReading(
            VENDOR,
            None,
            0.0,
            f"FEI/Thermo metadata present ({what}) but without a pixel size "
            "([Scan] PixelWidth and HFW missing): the image is uncalibrated",
            fields,
            data_bar_rows=bar_rows,
        )
    if hfw_m and res_x and "derived" not in fields:
        diff = relative_difference(pixel_m, hfw_m / res_x)
        if diff > 0.02:
            warnings.append(
                f"FEI PixelWidth and HFW/ResolutionX disagree by {diff:.1%}; PixelWidth used"
            )
    pixel_nm = pixel_m * 1e9
    if res_x and int(res_x) != image.width:
        # The stored image was resampled after acquisition: rescale to stored pixels.
        pixel_nm *= res_x / image.width
        warnings.append(
            f"stored width {image.width} px differs from the scanned {int(res_x)} px; "
            "pixel size rescaled"
        )
    return MetadataReading(
        VENDOR,
        pixel_nm,
        0.99 if not warnings else 0.9,
        "FEI/Thermo [Scan] PixelWidth",
        fields,
        data_bar_rows=bar_rows,
        warnings=tuple(warnings),
    )


def _private_databar(block: dict[str, Any], image_height: int) -> int | None:
    h = positive(_section(block, "PrivateFei").get("DatabarHeight"))
    return int(h) if h and h < 0.35 * image_height else None
