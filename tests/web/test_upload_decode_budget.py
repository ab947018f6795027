"""Decode budget: an image whose decode would exceed SEMWEB_DECODE_BUDGET_MB is refused from
its header, before a pixel is decoded; an accepted one stays within the estimate the budget is
checked against. Peaks are measured with tracemalloc (Python and numpy allocations; Pillow's own
decode buffer is outside it and counted in the estimate separately)."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from _api import api_as, api_media_fixture  # noqa: F401
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from analysis.io import declared_geometry
from semweb.catalogue.models import Micrograph
from semweb.catalogue.services import UploadRejected, decode_bytes_estimate, micrograph_create

MB = 2**20


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def traced_peak(fn) -> tuple[object, int]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - the caller asserts on it
        result = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, peak


def test_a_small_png_declaring_8000_by_8000_is_refused_before_decoding(sample, alice, api_media):
    data = png(np.zeros((8000, 8000), np.uint8))
    assert len(data) < 100_000  # the 62 kB bomb
    geometry = declared_geometry(data)
    assert (geometry.width, geometry.height, geometry.bytes_per_pixel) == (8000, 8000, 1)
    assert decode_bytes_estimate(geometry) > 768 * MB  # over the default budget

    result, peak = traced_peak(
        lambda: micrograph_create(sample=sample, user=alice, data=data, filename="bomb.png")
    )
    assert isinstance(result, UploadRejected)
    assert "SEMWEB_DECODE_BUDGET_MB" in str(result)
    assert peak < 4 * MB  # nothing was decoded (8000 × 8000 × 1 B would be 61 MB)
    assert Micrograph.objects.count() == 0


def test_the_api_answers_400_and_stores_nothing(sample, alice, api_media):
    data = png(np.zeros((8000, 8000), np.uint8))
    response = api_as(alice).post(
        "/api/v1/micrographs/",
        {"sample": sample.pk, "file": SimpleUploadedFile("bomb.png", data)},
        format="multipart",
    )
    assert response.status_code == 400
    assert "budget" in response.json()["file"][0]
    assert Micrograph.objects.count() == 0
    assert not api_media.exists() or not any(p.is_file() for p in api_media.rglob("*"))


@pytest.mark.parametrize("shape", [(1500, 2000), (1500, 2000, 3)])
def test_an_accepted_upload_peaks_within_its_estimate(shape, sample, alice, api_media, settings):
    rng = np.random.default_rng(0)
    data = png((rng.random(shape) * 255).astype(np.uint8))
    estimate = decode_bytes_estimate(declared_geometry(data))
    settings.SEMWEB_DECODE_BUDGET_MB = estimate // MB + 1  # just admits it
    result, peak = traced_peak(
        lambda: micrograph_create(sample=sample, user=alice, data=data, filename="ok.png")
    )
    assert isinstance(result, Micrograph), result
    # Measured: grey ≈ 38 MB, colour ≈ 77 MB traced for 3 MP; estimate 48 / 96 MB.
    assert peak <= estimate
    settings.SEMWEB_DECODE_BUDGET_MB = estimate // MB - 1  # one MB short: refused
    with pytest.raises(UploadRejected, match="budget"):
        micrograph_create(sample=sample, user=alice, data=data[:-1] + b"\0", filename="b.png")
