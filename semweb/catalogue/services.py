"""Writes of the catalogue: projects, samples and micrographs (uploads).

A micrograph is created by exactly one path, `micrograph_create`, whether it comes from the
browser, the API or `seed_demo`: validate by content, compute calibration and a preview,
write the files, then insert the row in a transaction; if the insert fails the files just
written are removed again, so there is never a half-written record.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from PIL import Image

from semweb.analyses import engine
from semweb.audit.services import audit_record
from semweb.catalogue import uploads
from semweb.catalogue.models import Micrograph, Project, Sample, original_upload_to
from semweb.core.params import (
    DESCRIPTION_MAX_CHARS,
    NAME_MAX_CHARS,
    NOTES_MAX_CHARS,
    parse_tags,
    parse_text,
)

logger = logging.getLogger(__name__)


class UploadRejected(Exception):
    """The file cannot become a micrograph; ``str(exc)`` is the message for the user."""


class DuplicateMicrograph(Exception):
    """The same bytes are already a micrograph of this sample."""

    def __init__(self, existing: Micrograph):
        self.existing = existing
        super().__init__(
            f"already uploaded to this sample as “{existing.original_filename}” "
            f"(micrograph #{existing.pk})"
        )


# --------------------------------------------------------------------------------------------
# projects and samples


def _sample_fields(*, name: str, material: str, synthesis_notes: str, tags) -> dict[str, Any]:
    """A sample's editable fields, parsed by the one set of text limits (`core.params`)."""
    return {
        "name": parse_text(name, name="name", max_chars=NAME_MAX_CHARS, required=True),
        "material": parse_text(material, name="material", max_chars=NAME_MAX_CHARS),
        "synthesis_notes": parse_text(
            synthesis_notes, name="synthesis_notes", max_chars=NOTES_MAX_CHARS
        ),
        "tags": parse_tags(tags),
    }


@transaction.atomic
def project_create(*, lab, user, name: str, description: str = "") -> Project:
    project = Project.objects.create(
        lab=lab,
        name=parse_text(name, name="name", max_chars=NAME_MAX_CHARS, required=True),
        description=parse_text(description, name="description", max_chars=DESCRIPTION_MAX_CHARS),
        created_by=user,
    )
    audit_record(actor=user, verb="project.create", target=project, lab=lab, name=project.name)
    return project


@transaction.atomic
def project_update(*, project: Project, user, name: str, description: str = "") -> Project:
    before = {"name": project.name, "description": project.description}
    project.name = parse_text(name, name="name", max_chars=NAME_MAX_CHARS, required=True)
    project.description = parse_text(
        description, name="description", max_chars=DESCRIPTION_MAX_CHARS
    )
    project.save(update_fields=["name", "description", "updated_at"])
    changed = sorted(k for k, v in before.items() if getattr(project, k) != v)
    audit_record(
        actor=user, verb="project.update", target=project, lab=project.lab, changed=changed
    )
    return project


@transaction.atomic
def sample_create(
    *,
    project: Project,
    user,
    name: str,
    material: str = "",
    synthesis_notes: str = "",
    tags: Iterable[str] | str | None = None,
) -> Sample:
    sample = Sample.objects.create(
        project=project,
        created_by=user,
        **_sample_fields(name=name, material=material, synthesis_notes=synthesis_notes, tags=tags),
    )
    audit_record(actor=user, verb="sample.create", target=sample, lab=project.lab, name=sample.name)
    return sample


@transaction.atomic
def sample_update(
    *,
    sample: Sample,
    user,
    name: str,
    material: str = "",
    synthesis_notes: str = "",
    tags: Iterable[str] | str | None = None,
) -> Sample:
    new = _sample_fields(name=name, material=material, synthesis_notes=synthesis_notes, tags=tags)
    changed = sorted(k for k, v in new.items() if getattr(sample, k) != v)
    for key, value in new.items():
        setattr(sample, key, value)
    sample.save(update_fields=list(new))
    audit_record(
        actor=user, verb="sample.update", target=sample, lab=sample.project.lab, changed=changed
    )
    return sample


# --------------------------------------------------------------------------------------------
# micrographs


def max_upload_bytes() -> int:
    return int(settings.SEMWEB_MAX_UPLOAD_MB) * 1024 * 1024


def _calibrate(image, sidecar_text: str | None) -> dict[str, Any]:
    """Calibration at upload time (best effort: a failure here never refuses the upload)."""
    try:
        return engine.calibrate(image, sidecar_text=sidecar_text).as_dict()
    except Exception as exc:  # the engine's bug must not lose the user's upload
        logger.exception("calibration failed")
        return {
            "pixel_size_nm": None,
            "source": "uncalibrated",
            "reason": f"calibration failed: {exc}",
        }


# Peak bytes per pixel of decode + calibration + preview in this process, measured with
# tracemalloc on 2000 × 1500 PNGs (grey 13.4 B/px, RGB 27 B/px) plus Pillow's own decode buffer
# (untraced, one raw copy): 8 B/px + 8 B per raw byte of a pixel covers both with a margin.
DECODE_BYTES_PER_PIXEL = 8
DECODE_BYTES_PER_RAW_BYTE = 8


def decode_bytes_estimate(geometry: engine.DeclaredGeometry) -> int:
    """Bytes the web process will hold at its peak while taking in this image."""
    pixels = geometry.width * geometry.height
    return pixels * (DECODE_BYTES_PER_PIXEL + DECODE_BYTES_PER_RAW_BYTE * geometry.bytes_per_pixel)


def _check_decode_budget(data: bytes, name: str) -> None:
    """Refuse, from the header alone, an image whose decode would exceed the memory budget
    (a 62 kB PNG can declare 8000 × 8000 pixels: a gigabyte once decoded)."""
    geometry = engine.declared_geometry(data)
    max_pixels = int(settings.SEMWEB_MAX_IMAGE_MEGAPIXELS) * 1_000_000
    if geometry is None or geometry.width * geometry.height > max_pixels:
        return  # unreadable header or over the pixel cap: read_image_bytes says which
    need = decode_bytes_estimate(geometry)
    budget = int(settings.SEMWEB_DECODE_BUDGET_MB) * 1024 * 1024
    if need > budget:
        raise UploadRejected(
            f"{name}: {geometry.width} × {geometry.height} px would need about "
            f"{need / 2**20:.0f} MB to decode, over the {budget // 2**20} MB per-image budget "
            "(SEMWEB_DECODE_BUDGET_MB); bin or crop the image before uploading"
        )


@dataclass
class _Written:
    """Files written by one upload, removed again if the row cannot be inserted."""

    storage: Storage
    names: list[str] = field(default_factory=list)

    def save(self, name: str, data: bytes, *, reuse: bool) -> str:
        if reuse and self.storage.exists(name):
            return name  # content-addressed: same name, same bytes (another sample's upload)
        saved = self.storage.save(name, ContentFile(data))
        self.names.append(saved)
        return saved

    def rollback(self) -> None:
        for name in self.names:
            try:
                self.storage.delete(name)
            except OSError:
                logger.warning("could not remove %s after a failed upload", name)


def micrograph_create(
    *,
    sample: Sample,
    user,
    data: bytes,
    filename: str,
    sidecar_data: bytes | None = None,
    sidecar_filename: str = "",
    storage: Storage | None = None,
    saved_names: list[str] | None = None,
) -> Micrograph:
    """Validate `data` by content and store it as a micrograph of `sample`.

    Raises `UploadRejected` (message for the user) or `DuplicateMicrograph`. `saved_names`
    collects the files this call stored, for a caller whose enclosing transaction may still
    roll the row back (a dataset import) and must then remove them.
    """
    storage = storage or default_storage
    name = uploads.clean_filename(filename)
    limit = max_upload_bytes()
    if len(data) > limit:
        raise UploadRejected(
            f"{name}: {len(data) / 1048576:.1f} MB is over the {settings.SEMWEB_MAX_UPLOAD_MB} MB "
            "limit per file"
        )
    sha256 = hashlib.sha256(data).hexdigest()
    existing = Micrograph.objects.filter(sample=sample, sha256=sha256).first()
    if existing is not None:
        raise DuplicateMicrograph(existing)

    _check_decode_budget(data, name)
    max_pixels = int(settings.SEMWEB_MAX_IMAGE_MEGAPIXELS) * 1_000_000
    try:
        image = engine.read_image_bytes(data, name, max_pixels=max_pixels)
    except engine.ImageReadError as exc:
        raise UploadRejected(str(exc)) from None
    except MemoryError:
        raise UploadRejected(f"{name}: the image is too large to decode") from None
    except Exception as exc:  # a decoder bug on hostile bytes is still a bad file, not a 500
        logger.exception("unexpected error reading upload %s", name)
        raise UploadRejected(f"{name}: could not be read as an image ({exc})") from None

    sidecar_text = None
    sidecar_name = ""
    if sidecar_data is not None:
        sidecar_name = uploads.clean_filename(sidecar_filename or "sidecar.txt")
        if not uploads.is_valid_sidecar(sidecar_data):
            raise UploadRejected(f"{sidecar_name}: not an instrument sidecar text file")
        sidecar_text = uploads.decode_sidecar(sidecar_data)

    calibration = engine.json_safe(_calibrate(image, sidecar_text))
    preview_png = uploads.render_preview_png(image.grey, image.bit_depth)
    metadata = engine.json_safe({**image.metadata, "pages": image.pages})

    micrograph = Micrograph(
        sample=sample,
        sha256=sha256,
        original_filename=name,
        file_size=len(data),
        format=image.format,
        width=image.width,
        height=image.height,
        bit_depth=image.bit_depth,
        metadata=metadata,
        pixel_size_nm=calibration.get("pixel_size_nm"),
        pixel_size_source=str(calibration.get("source") or "uncalibrated")[:64],
        calibration=calibration,
        uploaded_by=user,
    )
    written = _Written(storage)
    try:
        micrograph.original.name = written.save(
            original_upload_to(micrograph, name), data, reuse=True
        )
        micrograph.preview.name = written.save(
            f"previews/{sha256[:2]}/{sha256}.png", preview_png, reuse=True
        )
        if sidecar_data is not None:
            micrograph.sidecar_filename = sidecar_name
            suffix = PurePosixPath(sidecar_name).suffix.lower() or ".txt"
            sidecar_sha = hashlib.sha256(sidecar_data).hexdigest()
            micrograph.sidecar.name = written.save(
                f"sidecars/{sidecar_sha[:2]}/{sidecar_sha}{suffix}", sidecar_data, reuse=True
            )
        with transaction.atomic():
            micrograph.save()
            audit_record(
                actor=user,
                verb="micrograph.upload",
                target=micrograph,
                lab=sample.project.lab,
                filename=name,
                sha256=sha256,
                sample_id=sample.pk,
                sidecar=sidecar_name or None,
            )
    except IntegrityError:
        written.rollback()
        # Two uploads of the same bytes raced; the other one won.
        existing = Micrograph.objects.filter(sample=sample, sha256=sha256).first()
        if existing is not None:
            raise DuplicateMicrograph(existing) from None
        raise
    except BaseException:
        written.rollback()
        raise
    if saved_names is not None:
        saved_names.extend(written.names)
    return micrograph


def micrograph_preview_regenerate(*, micrograph: Micrograph) -> Micrograph:
    """Derived images can be rebuilt from the original (e.g. after moving storage)."""

    with default_storage.open(micrograph.original.name, "rb") as fh:
        data = fh.read()
    image = engine.read_image_bytes(data, micrograph.original_filename, max_pixels=10**12)
    name = f"previews/{micrograph.sha256[:2]}/{micrograph.sha256}.png"
    if default_storage.exists(name):
        default_storage.delete(name)
    micrograph.preview.name = default_storage.save(
        name, ContentFile(uploads.render_preview_png(image.grey, image.bit_depth))
    )
    micrograph.save(update_fields=["preview"])
    return micrograph


# Above this many pixels the display copy is a JPEG (q 90): a 4096 × 3072 PNG of a noisy
# micrograph is ~9 MB and slow to decode; the JPEG ~2 MB. Originals are untouched.
DISPLAY_JPEG_ABOVE_PX = 4_000_000


def micrograph_display_image(*, micrograph: Micrograph) -> tuple[str, str]:
    """Storage name and content type of an 8-bit rendering of the original for the review
    page, written once and then reused (derived, regenerable; the original is untouched)."""
    jpeg = micrograph.width * micrograph.height > DISPLAY_JPEG_ABOVE_PX
    ext, content_type = ("jpg", "image/jpeg") if jpeg else ("png", "image/png")
    name = f"derived/display/{micrograph.sha256[:2]}/{micrograph.sha256}.{ext}"
    if default_storage.exists(name):
        return name, content_type
    with micrograph.original.open("rb") as fh:
        data = fh.read()
    loaded = engine.read_image_bytes(data, micrograph.original_filename)
    grey = np.clip(np.asarray(loaded.grey, dtype=np.float32) * 255.0 + 0.5, 0, 255)
    buf = io.BytesIO()
    if jpeg:
        Image.fromarray(grey.astype(np.uint8)).save(buf, format="JPEG", quality=90)
    else:
        Image.fromarray(grey.astype(np.uint8)).save(buf, format="PNG", compress_level=1)
    return default_storage.save(name, ContentFile(buf.getvalue())), content_type


# --------------------------------------------------------------------------------------------
# a batch (one drop or one form post)


@dataclass
class UploadItem:
    """One file as received: its name and a way to read it (or why it was refused early)."""

    name: str
    size: int
    read: Any = None  # () -> bytes
    refused: str | None = None


@dataclass
class UploadOutcome:
    name: str
    status: str  # "created", "duplicate", "rejected", "sidecar"
    message: str = ""
    micrograph: Micrograph | None = None
    sidecar: str = ""
    run: Any = None  # the AnalysisRun queued for it ("analyse after upload")

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "status": self.status, "message": self.message}
        if self.micrograph is not None:
            d["micrograph"] = {
                "id": self.micrograph.pk,
                "url": reverse("catalogue:micrograph_detail", args=[self.micrograph.pk]),
                "preview_url": reverse("catalogue:micrograph_preview", args=[self.micrograph.pk]),
                "width": self.micrograph.width,
                "height": self.micrograph.height,
                "format": self.micrograph.format,
                "bit_depth": self.micrograph.bit_depth,
                "pixel_size_nm": self.micrograph.pixel_size_nm,
                "pixel_size_source": self.micrograph.pixel_size_source,
            }
        if self.run is not None:
            d["run"] = {
                "id": self.run.pk,
                "url": reverse("analyses:run", args=[self.run.pk]),
                "progress_url": reverse("analyses:progress", args=[self.run.pk]),
                "method": self.run.method,
            }
        if self.sidecar:
            d["sidecar"] = self.sidecar
        return d


def micrographs_upload(*, sample: Sample, user, items: list[UploadItem]) -> list[UploadOutcome]:
    """Store a batch: images are paired with sidecars by stem; each file succeeds or fails on
    its own, so one bad file never stops the rest."""
    outcomes: list[UploadOutcome] = []
    sidecars: dict[str, UploadItem] = {}
    images: list[UploadItem] = []
    for item in items:
        shown = uploads.clean_filename(item.name)
        if item.refused:
            outcomes.append(UploadOutcome(shown, "rejected", f"{shown}: {item.refused}"))
        elif uploads.is_sidecar_name(shown):
            sidecars[uploads.stem_of(shown)] = item
        else:
            images.append(item)
    used: set[str] = set()
    for item in images:
        shown = uploads.clean_filename(item.name)
        side = sidecars.get(uploads.stem_of(shown))
        if side is not None:
            used.add(uploads.stem_of(shown))
        side_data = side.read() if side is not None else None
        if side is not None and not uploads.is_valid_sidecar(side_data):
            # A bad sidecar must not cost the user the image: store it without one.
            side_name = uploads.clean_filename(side.name)
            outcomes.append(
                UploadOutcome(
                    side_name, "rejected", f"{side_name}: not an instrument sidecar text file"
                )
            )
            side = side_data = None
        try:
            micrograph = micrograph_create(
                sample=sample,
                user=user,
                data=item.read(),
                filename=shown,
                sidecar_data=side_data,
                sidecar_filename=side.name if side is not None else "",
            )
        except UploadRejected as exc:
            outcomes.append(UploadOutcome(shown, "rejected", str(exc)))
            continue
        except DuplicateMicrograph as exc:
            outcomes.append(UploadOutcome(shown, "duplicate", f"{shown}: {exc}", exc.existing))
            continue
        with_sidecar = f", with sidecar {micrograph.sidecar_filename}" if side is not None else ""
        outcomes.append(
            UploadOutcome(
                shown,
                "created",
                f"{shown}: stored ({micrograph.width} × {micrograph.height} px, "
                f"{micrograph.bit_depth}-bit {micrograph.format}{with_sidecar})",
                micrograph,
                sidecar=micrograph.sidecar_filename,
            )
        )
    for stem, side in sidecars.items():
        if stem not in used:
            shown = uploads.clean_filename(side.name)
            outcomes.append(
                UploadOutcome(
                    shown,
                    "rejected",
                    f"{shown}: no image named “{stem}.*” in this upload to pair this sidecar with; "
                    "drop the image and its sidecar together",
                )
            )
    return outcomes
