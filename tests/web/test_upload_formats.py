"""Uploads are read by content: TIFF 8/16-bit (first page of a multi-page file), PNG, JPEG and
BMP become micrographs with their size, depth, format and a preview at most 1024 px wide."""

from __future__ import annotations

import numpy as np
import pytest
from _catalogue_helpers import (
    XHR,
    files,
    media_fixture,  # noqa: F401  (the `media` fixture)
    pil_bytes,
    png_bytes,
    results_by_name,
    stored_files,
    tiff_bytes,
    upload_url,
)
from PIL import Image

from semweb.catalogue.models import Micrograph

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "data", "fmt", "depth", "size"),
    [
        ("a.tif", tiff_bytes(64, 48), "TIFF", 8, (64, 48)),
        ("b16.tif", tiff_bytes(80, 40, dtype=np.uint16), "TIFF", 16, (80, 40)),
        ("c.png", png_bytes(30, 20), "PNG", 8, (30, 20)),
        ("d.jpg", pil_bytes("JPEG", 40, 32), "JPEG", 8, (40, 32)),
        ("e.bmp", pil_bytes("BMP", 36, 24), "BMP", 8, (36, 24)),
    ],
)
def test_each_format_becomes_a_micrograph(client, bob, sample, media, name, data, fmt, depth, size):
    client.force_login(bob)
    response = client.post(upload_url(sample), {"files": files((name, data))}, headers=XHR)
    assert response.status_code == 201
    result = results_by_name(response)[name]
    assert result["status"] == "created"
    m = Micrograph.objects.get(pk=result["micrograph"]["id"])
    assert (m.format, m.bit_depth, m.width, m.height) == (fmt, depth, *size)
    assert m.sample == sample and m.uploaded_by == bob and m.original_filename == name
    assert m.file_size == len(data)
    assert m.original.read() == data


def test_multipage_tiff_keeps_the_first_page(client, bob, sample, media):
    client.force_login(bob)
    data = tiff_bytes(64, 48, pages=3)
    response = client.post(upload_url(sample), {"files": files(("stack.tif", data))}, headers=XHR)
    assert response.status_code == 201
    m = Micrograph.objects.get()
    assert (m.width, m.height, m.metadata["pages"]) == (64, 48, 3)


def test_extension_is_ignored_content_decides(client, bob, sample, media):
    client.force_login(bob)
    response = client.post(
        upload_url(sample), {"files": files(("really-a-png.tif", png_bytes()))}, headers=XHR
    )
    assert response.status_code == 201
    m = Micrograph.objects.get()
    assert m.format == "PNG"
    assert m.original.name.endswith(f"{m.sha256}.png")


def test_preview_is_a_png_at_most_1024_wide(client, bob, sample, media):
    client.force_login(bob)
    client.post(
        upload_url(sample), {"files": files(("wide.png", png_bytes(1500, 300)))}, headers=XHR
    )
    m = Micrograph.objects.get()
    with Image.open(m.preview.path) as preview:
        assert (preview.format, preview.size) == ("PNG", (1024, 205))
    assert stored_files(media) == sorted(
        [f"originals/{m.sha256[:2]}/{m.sha256}.png", f"previews/{m.sha256[:2]}/{m.sha256}.png"]
    )
