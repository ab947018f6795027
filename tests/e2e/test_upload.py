"""In real Chromium: a lab member logs in, opens a sample and uploads two micrographs (one
with its instrument sidecar) by the file picker; each gets its own progress row and result,
and both appear in the sample's table with thumbnails served through the permission check."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile
from PIL import Image

from semweb.catalogue.models import Micrograph

pytestmark = pytest.mark.django_db(transaction=True)


def _png(seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 255, size=(120, 160)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _tiff16(seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 4095, size=(100, 140)).astype(np.uint16)
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr)
    return buf.getvalue()


SIDECAR = b"[SemImageFile]\r\nInstructName=S-4800\r\nDataSize=140x100\r\nPixelSize=3.2\r\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_member_uploads_two_micrographs_with_progress(
    browser_page, live_server, login, bob, sample, media
):
    page = browser_page
    login(page, live_server, "bob", "pw-bob")
    page.goto(f"{live_server.url}/samples/{sample.pk}/")
    page.set_input_files(
        "[data-testid=file-input]",
        files=[
            {"name": "grains.png", "mimeType": "image/png", "buffer": _png(1)},
            {"name": "S4800_001.tif", "mimeType": "image/tiff", "buffer": _tiff16(2)},
            {"name": "S4800_001.txt", "mimeType": "text/plain", "buffer": SIDECAR},
        ],
    )
    page.wait_for_selector("form.upload-form[data-state=done]")
    items = page.locator("[data-testid=upload-item]")
    assert items.count() == 2
    statuses = sorted(items.nth(i).get_attribute("data-status") for i in range(2))
    assert statuses == ["created", "created"]
    texts = " ".join(items.all_inner_texts())
    assert "grains.png: stored (160 × 120 px, 8-bit PNG)" in texts
    assert "S4800_001.tif: stored (140 × 100 px, 16-bit TIFF, with sidecar S4800_001.txt)" in texts

    # The table is refreshed in place, with both rows and their thumbnails.
    page.wait_for_function("document.querySelectorAll('[data-testid=micrograph-row]').length === 2")
    widths = page.eval_on_selector_all(
        "[data-testid=micrograph-row] img.thumb",
        "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))",
    )
    assert sorted(widths) == [140, 160]

    tif = Micrograph.objects.get(original_filename="S4800_001.tif")
    assert (tif.bit_depth, tif.sidecar_filename, tif.pixel_size_nm) == (16, "S4800_001.txt", 3.2)
    assert Micrograph.objects.filter(sample=sample).count() == 2


def test_refused_file_shows_its_reason_and_the_other_goes_in(
    browser_page, live_server, login, bob, sample, media
):
    page = browser_page
    login(page, live_server, "bob", "pw-bob")
    page.goto(f"{live_server.url}/samples/{sample.pk}/")
    page.set_input_files(
        "[data-testid=file-input]",
        files=[
            {"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image" * 10},
            {"name": "ok.png", "mimeType": "image/png", "buffer": _png(3)},
        ],
    )
    page.wait_for_selector("form.upload-form[data-state=done]")
    rejected = page.locator("[data-testid=upload-item][data-status=rejected]")
    assert rejected.count() == 1
    assert "notes.png: not a supported image" in rejected.inner_text()
    assert page.locator("[data-testid=upload-item][data-status=created]").count() == 1
    assert list(Micrograph.objects.values_list("original_filename", flat=True)) == ["ok.png"]


def test_drag_and_drop_uploads_each_file(browser_page, live_server, login, bob, sample, media):
    page = browser_page
    login(page, live_server, "bob", "pw-bob")
    page.goto(f"{live_server.url}/samples/{sample.pk}/")
    png_a, png_b = list(_png(7)), list(_png(8))
    # A drop as the browser delivers it: a DataTransfer holding File objects.
    page.evaluate(
        """([a, b]) => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(a)], "drop-a.png", {type: "image/png"}));
          dt.items.add(new File([new Uint8Array(b)], "drop-b.png", {type: "image/png"}));
          const zone = document.querySelector("[data-testid=dropzone]");
          zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true}));
          zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
        }""",
        [png_a, png_b],
    )
    page.wait_for_selector("form.upload-form[data-state=done]")
    assert page.locator("[data-testid=upload-item][data-status=created]").count() == 2
    names = sorted(Micrograph.objects.values_list("original_filename", flat=True))
    assert names == ["drop-a.png", "drop-b.png"]
