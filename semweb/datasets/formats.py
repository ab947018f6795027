"""COCO instance segmentation and Ultralytics YOLO-seg, both as zip files with the images.

Writers take plain records and a zip; readers take a zip and return plain records, never
extracting to disk: member names are validated (no absolute paths, no ``..``, no links) and
sizes are capped before anything is read, so a hostile archive cannot escape or exhaust.
"""

from __future__ import annotations

import json
import posixpath
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from semweb.datasets.measure import polygon_area_px

CATEGORY = "particle"
IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}
# Caps for imports: a dataset of a few hundred SEM images fits; a zip bomb does not.
MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed per member


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
    normalised: bool = False  # polygons in 0..1 of width/height (YOLO) instead of pixels
    pixel_size_nm: float | None = None
    source: dict = field(default_factory=dict)  # where it came from (ids), informative only


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
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveRejected(f"not a zip file ({exc})") from None
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
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise ArchiveRejected("archive expands to more than the import limit")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise ArchiveRejected(f"suspicious compression ratio: {info.filename!r}")
        members[name] = info
    return archive, members


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    data = archive.read(info)
    if len(data) != info.file_size:  # a lying header
        raise ArchiveRejected(f"size mismatch in archive: {info.filename!r}")
    return data


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
                "semweb": record.source,
            }
        )
        for polygon in record.polygons:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": [[round(c, 2) for point in polygon for c in point]],
                    "area": round(polygon_area_px(polygon), 2),
                    "bbox": [round(v, 2) for v in _bbox(polygon)],
                    "iscrowd": 0,
                }
            )
    document = {
        "info": info,
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": CATEGORY, "supercategory": "object"}],
    }
    archive.writestr("annotations.json", json.dumps(document))


def _polygon_from_flat(flat: list) -> list[list[float]]:
    if len(flat) < 6 or len(flat) % 2:
        raise ArchiveRejected("a COCO polygon needs at least three x, y pairs")
    return [[float(flat[i]), float(flat[i + 1])] for i in range(0, len(flat), 2)]


def read_coco(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]
) -> Iterator[ImageRecord]:
    try:
        document = json.loads(_read(archive, members["annotations.json"]))
        images = {int(img["id"]): img for img in document["images"]}
        annotations = document.get("annotations", [])
    except (KeyError, ValueError, TypeError) as exc:
        raise ArchiveRejected(f"annotations.json is not COCO ({exc})") from None
    polygons: dict[int, list] = {image_id: [] for image_id in images}
    for ann in annotations:
        segmentation = ann.get("segmentation")
        if not isinstance(segmentation, list) or ann.get("image_id") not in polygons:
            continue  # RLE (crowd) masks and orphans are skipped
        for flat in segmentation:
            polygons[ann["image_id"]].append(_polygon_from_flat(flat))
    for image_id, img in images.items():
        name = safe_member_name(str(img["file_name"]))
        info = members.get(f"images/{name}") or members.get(name)
        if info is None:
            raise ArchiveRejected(f"image {name!r} is listed but not in the archive")
        size = img.get("pixel_size_nm")
        yield ImageRecord(
            filename=PurePosixPath(name).name,
            data=_read(archive, info),
            width=int(img["width"]),
            height=int(img["height"]),
            polygons=polygons[image_id],
            pixel_size_nm=float(size) if size else None,
        )


# --- YOLO-seg ----------------------------------------------------------------------------------


def write_yolo(archive: zipfile.ZipFile, records: list[ImageRecord], *, info: dict) -> None:
    """Ultralytics layout: ``images/train``, ``labels/train`` (class x1 y1 … normalised),
    ``data.yaml``. Pixel sizes go to ``calibration.json`` (YOLO has no place for them)."""
    calibration = {}
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
    archive.writestr(
        "data.yaml",
        "# Ultralytics YOLO-seg dataset exported by SEMweb\n"
        "path: .\ntrain: images/train\nval: images/train\n"
        f"names:\n  0: {CATEGORY}\n",
    )
    archive.writestr("calibration.json", json.dumps(calibration))
    archive.writestr("semweb.json", json.dumps(info))


def read_yolo(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]
) -> Iterator[ImageRecord]:
    calibration = {}
    if "calibration.json" in members:
        try:
            calibration = dict(json.loads(_read(archive, members["calibration.json"])))
        except (ValueError, TypeError):
            calibration = {}
    labels = {
        PurePosixPath(name).stem: info
        for name, info in members.items()
        if name.startswith("labels/") and name.endswith(".txt")
    }
    for name, info in sorted(members.items()):
        path = PurePosixPath(name)
        if not name.startswith("images/") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        data = _read(archive, info)
        polygons = []
        label = labels.get(path.stem)
        if label is not None:
            for line_no, line in enumerate(_read(archive, label).decode().splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    values = [float(v) for v in parts[1:]]
                except ValueError:
                    raise ArchiveRejected(f"{label.filename}:{line_no}: not numbers") from None
                if len(values) < 6 or len(values) % 2:
                    raise ArchiveRejected(f"{label.filename}:{line_no}: not a polygon")
                polygons.append([[values[i], values[i + 1]] for i in range(0, len(values), 2)])
        size = calibration.get(path.name)
        yield ImageRecord(
            filename=path.name,
            data=data,
            width=None,
            height=None,
            polygons=polygons,
            normalised=True,
            pixel_size_nm=float(size) if size else None,
        )


def detect_format(members: dict[str, zipfile.ZipInfo]) -> str:
    if "annotations.json" in members:
        return "coco"
    if "data.yaml" in members or any(n.startswith("labels/") for n in members):
        return "yolo"
    raise ArchiveRejected("neither COCO (annotations.json) nor YOLO-seg (data.yaml + labels/)")
