"""COCO instance segmentation and Ultralytics YOLO-seg, both as zip files with the images.

Writers take plain records and a zip; readers take a zip and return plain records, never
extracting to disk: member names are validated (no absolute paths, no ``..``, no links,
no encryption, known compression only) and sizes are capped before anything is read, so a
hostile archive cannot escape or exhaust.

Readers are also the import's validation layer: every number is parsed strictly
(`semweb.core.params`: finite, pixel sizes positive and ranged), every polygon checked against
its image's bounds and the counts bounded, so a record that leaves here is safe to store. Any
problem is an `ArchiveRejected` naming the member and the value; nothing is written before.
"""

from __future__ import annotations

import json
import math
import posixpath
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from semweb.analyses.engine import polygon_area_px
from semweb.core.params import ParameterError, parse_int, parse_pixel_size_nm

CATEGORY = "particle"
IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}
# Caps for imports: a dataset of a few hundred SEM images fits; a zip bomb does not.
MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed per member
# What zipfile decodes without optional modules; anything else (AES = 99, …) is refused up front.
COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
MAX_SIDE_PX = 100_000  # a declared width/height beyond this is not a micrograph
MAX_POLYGONS_PER_IMAGE = 100_000
MAX_POINTS_PER_POLYGON = 10_000
MAX_POINTS_TOTAL = 5_000_000  # all outlines of one archive (~80 MB of rows at most)
# A point may sit this far outside the image (pixels, or the same in 0..1 units for YOLO):
# tools round outlines of edge particles to the pixel's outer corner.
EDGE_TOLERANCE_PX = 1.0


class ArchiveRejected(ValueError):
    """The archive is unsafe or not in a format we read; the message is for the user."""


@dataclass
class ImageRecord:
    """One image and its particle outlines (pixels of the image)."""

    filename: str  # a safe base name, unique in the archive
    data: bytes
    width: int | None  # None when the format does not say (YOLO): read from the image
    height: int | None
    polygons: list[list[list[float]]] = field(default_factory=list)
    # Per polygon: drawn or corrected by a person (provenance); empty = all from the engine.
    manual: list[bool] = field(default_factory=list)
    normalised: bool = False  # polygons in 0..1 of width/height (YOLO) instead of pixels
    pixel_size_nm: float | None = None
    source: dict = field(default_factory=dict)  # where it came from (ids), informative only
    # Painted by a learned style (a synthetic sample): training material, not a real micrograph.
    synthetic: bool = False


# --- safety ------------------------------------------------------------------------------------


def safe_member_name(name: str) -> str:
    """The normalised member path, or `ArchiveRejected` for absolute/parent/odd paths."""
    if "\\" in name or "\x00" in name:
        raise ArchiveRejected(f"unsafe name in archive: {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/") or any(part == ".." for part in path.parts):
        raise ArchiveRejected(f"unsafe name in archive: {name!r}")
    if path.parts and path.parts[0].endswith(":"):  # C:/… written by some tools
        raise ArchiveRejected(f"unsafe name in archive: {name!r}")
    normal = posixpath.normpath(name)
    if normal.startswith("../") or normal == "..":
        raise ArchiveRejected(f"unsafe name in archive: {name!r}")
    return normal


def open_archive(fileobj) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """Open and vet a zip: returns it with its regular files by normalised name."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ArchiveRejected(f"not a readable zip file ({exc})") from None
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArchiveRejected(f"too many files in archive ({len(infos)} > {MAX_MEMBERS})")
    total = 0
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = safe_member_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveRejected(f"links are not allowed in archives: {info.filename!r}")
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise ArchiveRejected(f"encrypted archive members are not supported: {name!r}")
        if info.compress_type not in COMPRESSIONS:
            raise ArchiveRejected(
                f"unsupported compression method {info.compress_type} for {name!r} "
                "(use deflate or store)"
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise ArchiveRejected("archive expands to more than the import limit")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise ArchiveRejected(f"suspicious compression ratio: {info.filename!r}")
        members[name] = info
    return archive, members


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes; a CRC error, a broken stream or a lying header is a rejection."""
    try:
        data = archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ArchiveRejected(f"{info.filename!r} is damaged in the archive ({exc})") from None
    except RuntimeError as exc:  # encrypted members without a password
        raise ArchiveRejected(f"{info.filename!r} cannot be read ({exc})") from None
    if len(data) != info.file_size:  # a lying header
        raise ArchiveRejected(f"size mismatch in archive: {info.filename!r}")
    return data


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArchiveRejected(f"{where} is not UTF-8 text (byte {exc.start})") from None


def _json(data: bytes, where: str) -> Any:
    """Parsed JSON; bad UTF-8, bad syntax, NaN/Infinity and deep nesting are rejections."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        return json.loads(_text(data, where), parse_constant=no_constants)
    except RecursionError:
        raise ArchiveRejected(f"{where} is nested too deeply") from None
    except ValueError as exc:
        raise ArchiveRejected(f"{where} is not valid JSON ({exc})") from None


def _number(value: Any, where: str) -> float:
    """A finite coordinate (JSON numbers only: a string is not a coordinate)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ArchiveRejected(f"{where}: {str(value)[:40]!r} is not a finite number")
    return float(value)


def _pixel_size(value: Any, where: str) -> float | None:
    try:
        return parse_pixel_size_nm(value)
    except ParameterError as exc:
        raise ArchiveRejected(f"{where}: pixel_size_nm {' '.join(exc.messages)}") from None


def _side(value: Any, where: str) -> int:
    try:
        return parse_int(value, name=where, min_value=1, max_value=MAX_SIDE_PX)
    except ParameterError as exc:
        raise ArchiveRejected(f"{where} {' '.join(exc.messages)}") from None


def check_polygons(
    polygons: list[list[list[float]]], width: float, height: float, where: str
) -> None:
    """Counts bounded, every point inside the image (with `EDGE_TOLERANCE_PX`), every polygon
    with a non-zero area: outlines that cannot belong to this image are refused."""
    if len(polygons) > MAX_POLYGONS_PER_IMAGE:
        raise ArchiveRejected(f"{where}: more than {MAX_POLYGONS_PER_IMAGE} outlines")
    tol_x = EDGE_TOLERANCE_PX if width > 1.5 else EDGE_TOLERANCE_PX / 1000
    tol_y = EDGE_TOLERANCE_PX if height > 1.5 else EDGE_TOLERANCE_PX / 1000
    for number, polygon in enumerate(polygons, start=1):
        if len(polygon) > MAX_POINTS_PER_POLYGON:
            raise ArchiveRejected(f"{where}: outline {number} has too many points")
        for x, y in polygon:
            if not (-tol_x <= x <= width + tol_x and -tol_y <= y <= height + tol_y):
                raise ArchiveRejected(
                    f"{where}: outline {number} has a point ({x:g}, {y:g}) outside the "
                    f"{width:g} × {height:g} image"
                )
        if polygon_area_px(polygon) <= 0:
            raise ArchiveRejected(f"{where}: outline {number} has no area")


def check_totals(records: list[ImageRecord]) -> None:
    points = sum(len(p) for r in records for p in r.polygons)
    if points > MAX_POINTS_TOTAL:
        raise ArchiveRejected(f"the archive holds more than {MAX_POINTS_TOTAL} outline points")


def unique_names(records: list[ImageRecord]) -> None:
    """Make file names unique in place (``a.tif``, ``a-2.tif``), keeping suffixes."""
    seen: set[str] = set()
    for record in records:
        path = PurePosixPath(record.filename)
        name, n = path.name, 1
        while name.lower() in seen:
            n += 1
            name = f"{path.stem}-{n}{path.suffix}"
        seen.add(name.lower())
        record.filename = name


# --- COCO --------------------------------------------------------------------------------------


def _bbox(polygon: list[list[float]]) -> list[float]:
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def write_coco(archive: zipfile.ZipFile, records: list[ImageRecord], *, info: dict) -> None:
    images, annotations = [], []
    for image_id, record in enumerate(records, start=1):
        archive.writestr(f"images/{record.filename}", record.data)
        images.append(
            {
                "id": image_id,
                "file_name": record.filename,
                "width": record.width,
                "height": record.height,
                "pixel_size_nm": record.pixel_size_nm,
                # Consumers that evaluate must tell painted images from real ones.
                "synthetic": record.synthetic,
                "semweb": record.source,
            }
        )
        for k, polygon in enumerate(record.polygons):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": [[round(c, 2) for point in polygon for c in point]],
                    "area": round(polygon_area_px(polygon), 2),
                    "bbox": [round(v, 2) for v in _bbox(polygon)],
                    "iscrowd": 0,
                    "attributes": {"manual": _is_manual(record, k)},  # CVAT's place for flags
                }
            )
    document = {
        "info": info,
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": CATEGORY, "supercategory": "object"}],
    }
    archive.writestr("annotations.json", json.dumps(document))


def _polygon_from_flat(flat: Any, where: str) -> list[list[float]]:
    if not isinstance(flat, list) or len(flat) < 6 or len(flat) % 2:
        raise ArchiveRejected(f"{where}: a COCO polygon needs at least three x, y pairs")
    if len(flat) > 2 * MAX_POINTS_PER_POLYGON:
        raise ArchiveRejected(f"{where}: outline has too many points")
    values = [_number(v, where) for v in flat]
    return [[values[i], values[i + 1]] for i in range(0, len(values), 2)]


def _coco_images(document: Any) -> dict[int, dict]:
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise ArchiveRejected("annotations.json is not COCO (no list of images)")
    images: dict[int, dict] = {}
    for position, img in enumerate(document["images"], start=1):
        if not isinstance(img, dict) or not isinstance(img.get("file_name"), str):
            raise ArchiveRejected(f"annotations.json image {position}: needs id and file_name")
        try:
            image_id = parse_int(img.get("id"), name="id", min_value=0, max_value=2**63 - 1)
        except ParameterError:
            where = f"annotations.json image {position}"
            raise ArchiveRejected(f"{where}: id is not a whole number") from None
        if image_id in images:
            raise ArchiveRejected(f"annotations.json: image id {image_id} appears twice")
        images[image_id] = img
    return images


def _is_manual(record: ImageRecord, k: int) -> bool:
    return bool(record.manual[k]) if k < len(record.manual) else False


def read_coco(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]
) -> Iterator[ImageRecord]:
    document = _json(_read(archive, members["annotations.json"]), "annotations.json")
    images = _coco_images(document)
    annotations = document.get("annotations", [])
    if not isinstance(annotations, list):
        raise ArchiveRejected("annotations.json: annotations must be a list")
    polygons: dict[int, list] = {image_id: [] for image_id in images}
    for position, ann in enumerate(annotations, start=1):
        if not isinstance(ann, dict):
            raise ArchiveRejected(f"annotations.json annotation {position}: not an object")
        segmentation = ann.get("segmentation")
        image_id = ann.get("image_id")
        if not isinstance(segmentation, list) or isinstance(image_id, bool):
            continue  # RLE (crowd) masks are skipped
        if image_id not in polygons:
            continue  # orphans are skipped
        where = f"annotations.json annotation {position}"
        polygons[image_id].extend(_polygon_from_flat(flat, where) for flat in segmentation)
    for image_id, img in images.items():
        where = f"annotations.json image {image_id}"
        name = safe_member_name(img["file_name"])
        info = members.get(f"images/{name}") or members.get(name)
        if info is None:
            raise ArchiveRejected(f"image {name!r} is listed but not in the archive")
        width = _side(img.get("width"), f"{where} width")
        height = _side(img.get("height"), f"{where} height")
        check_polygons(polygons[image_id], width, height, where)
        yield ImageRecord(
            filename=PurePosixPath(name).name,
            data=_read(archive, info),
            width=width,
            height=height,
            polygons=polygons[image_id],
            pixel_size_nm=_pixel_size(img.get("pixel_size_nm"), where),
        )


# --- YOLO-seg ----------------------------------------------------------------------------------


def write_yolo(archive: zipfile.ZipFile, records: list[ImageRecord], *, info: dict) -> None:
    """Ultralytics layout: ``images/train``, ``labels/train`` (class x1 y1 … normalised),
    ``data.yaml``. Pixel sizes go to ``calibration.json``, the manual flag of each label line
    to ``manual.json``, and the images painted by a learned style to ``synthetic.txt`` (one
    ``images/train/<name>`` per line, always written, empty when none) and to the
    ``synthetic_images`` list of ``semweb.json`` (YOLO has no place for any of them)."""
    calibration, manual = {}, {}
    for record in records:
        stem = PurePosixPath(record.filename).stem
        archive.writestr(f"images/train/{record.filename}", record.data)
        lines = []
        for polygon in record.polygons:
            coords = []
            for x, y in polygon:
                coords += [f"{x / record.width:.6f}", f"{y / record.height:.6f}"]
            lines.append("0 " + " ".join(coords))
        archive.writestr(f"labels/train/{stem}.txt", "\n".join(lines) + ("\n" if lines else ""))
        calibration[record.filename] = record.pixel_size_nm
        # YOLO lines have no place for attributes: line k of the label file ↔ item k here.
        manual[record.filename] = [_is_manual(record, k) for k in range(len(record.polygons))]
    synthetic = [record.filename for record in records if record.synthetic]
    # No `path:` key: ultralytics then takes the folder holding data.yaml as the dataset root,
    # so `yolo train data=/anywhere/export/data.yaml` works from any directory (`path: .` would
    # be resolved against the current directory instead).
    archive.writestr(
        "data.yaml",
        "# Ultralytics YOLO-seg dataset exported by SEMweb; paths are relative to this file\n"
        "train: images/train\nval: images/train\n"
        f"names:\n  0: {CATEGORY}\n",
    )
    archive.writestr("calibration.json", json.dumps(calibration))
    archive.writestr("manual.json", json.dumps(manual))
    archive.writestr("synthetic.txt", "".join(f"images/train/{name}\n" for name in synthetic))
    archive.writestr("semweb.json", json.dumps({**info, "synthetic_images": synthetic}))


def _yolo_calibration(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> dict:
    if "calibration.json" not in members:
        return {}
    calibration = _json(_read(archive, members["calibration.json"]), "calibration.json")
    if not isinstance(calibration, dict):
        raise ArchiveRejected("calibration.json must map image names to pixel sizes (nm)")
    return {
        str(name): _pixel_size(value, f"calibration.json {str(name)[:80]!r}")
        for name, value in calibration.items()
    }


def _yolo_polygons(archive: zipfile.ZipFile, label: zipfile.ZipInfo) -> list[list[list[float]]]:
    polygons = []
    for line_no, line in enumerate(_text(_read(archive, label), label.filename).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"{label.filename}:{line_no}"
        try:
            values = [float(v) for v in parts[1:]]
        except ValueError:
            raise ArchiveRejected(f"{where}: not numbers") from None
        if len(values) < 6 or len(values) % 2:
            raise ArchiveRejected(f"{where}: not a polygon")
        values = [_number(v, where) for v in values]
        polygons.append([[values[i], values[i + 1]] for i in range(0, len(values), 2)])
    check_polygons(polygons, 1.0, 1.0, label.filename)  # normalised: inside 0..1
    return polygons


def read_yolo(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]
) -> Iterator[ImageRecord]:
    calibration = _yolo_calibration(archive, members)
    labels = {
        PurePosixPath(name).stem: info
        for name, info in members.items()
        if name.startswith("labels/") and name.endswith(".txt")
    }
    for name, info in sorted(members.items()):
        path = PurePosixPath(name)
        if not name.startswith("images/") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        label = labels.get(path.stem)
        yield ImageRecord(
            filename=path.name,
            data=_read(archive, info),
            width=None,
            height=None,
            polygons=_yolo_polygons(archive, label) if label is not None else [],
            normalised=True,
            pixel_size_nm=calibration.get(path.name),
        )


def detect_format(members: dict[str, zipfile.ZipInfo]) -> str:
    if "annotations.json" in members:
        return "coco"
    if "data.yaml" in members or any(n.startswith("labels/") for n in members):
        return "yolo"
    raise ArchiveRejected("neither COCO (annotations.json) nor YOLO-seg (data.yaml + labels/)")
