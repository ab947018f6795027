"""Fixing outlines in a real browser on a real micrograph analysed by the real (classical)
engine: draw a missing particle, split a merged one by a cut line, merge the pieces back,
trim one with the eraser, erase another entirely, bring it back with the magic wand, undo and
redo — checking the count and the summary on the page against the database after each step."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from _review_helpers import n_accepted  # noqa: E402

from semweb.analyses import services, tasks  # noqa: E402
from semweb.analyses.edits import load_labels  # noqa: E402
from semweb.analyses.models import AnalysisRun, RunStatus  # noqa: E402
from semweb.catalogue.models import Micrograph  # noqa: E402

IMAGE = "msa-tem-train/images/image_3.png"  # the classical engine finds 11 particles
PIXEL_SIZE_NM = 1.5

# Image pixel-centre coordinates → page coordinates (pixel c spans plot x c..c+1).
IMG_XY = """([x, y]) => {
  const el = document.getElementById('overlay'), fl = el._fullLayout;
  const r = el.getBoundingClientRect();
  return [r.left + fl.xaxis._offset + fl.xaxis.l2p(x + 0.5),
          r.top + fl.yaxis._offset + fl.yaxis.l2p(y + 0.5)];
}"""


@pytest.fixture
def real_run(shared_data, sample, bob, settings, tmp_path) -> AnalysisRun:
    settings.MEDIA_ROOT = tmp_path / "media"
    data = (shared_data / IMAGE).read_bytes()
    width, height = Image.open(shared_data / IMAGE).size
    m = Micrograph(
        sample=sample,
        sha256=hashlib.sha256(data).hexdigest(),
        original_filename="image_3.png",
        file_size=len(data),
        format="PNG",
        width=width,
        height=height,
        bit_depth=8,
        uploaded_by=bob,
    )
    m.original.save("image_3.png", ContentFile(data), save=False)
    m.save()
    run = services.run_create(
        micrograph=m, user=bob, method="classical", parameters={"pixel_size_nm": PIXEL_SIZE_NM}
    )
    assert tasks.run_analysis.apply(args=(run.pk,)).get() == "succeeded"
    run.refresh_from_db()
    # Since the area floor follows the particle scale (issue 9) the frame's own particles
    # (8 whole ones in the hand masks) are found, no longer dozens of noise blobs.
    assert run.status == RunStatus.SUCCEEDED and run.particle_count >= 3
    return run


def _empty_spot(labels: np.ndarray) -> tuple[int, int, int]:
    """Centre and half-size of the emptiest square (far from any particle and the edges)."""
    free = labels == 0
    free[[0, -1], :] = False
    free[:, [0, -1]] = False
    dist = ndi.distance_transform_edt(free)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y), int(min(12, dist[y, x] / 1.6))


def _big_inner_particle(run, exclude=()) -> tuple[int, float, float, tuple]:
    rows = run.particles.filter(touches_border=False, accepted=True).exclude(index__in=exclude)
    p = max(rows, key=lambda r: r.area_px)
    m = p.measurements
    return (
        p.index,
        m["centroid_x_px"],
        m["centroid_y_px"],
        (p.bbox_x0, p.bbox_y0, p.bbox_x1, p.bbox_y1),
    )


def _check(page, run) -> int:
    """The page's count and summary equal the database's; returns the accepted count."""
    run.refresh_from_db()
    n = run.particles.filter(accepted=True).count()
    assert n_accepted(page) == n
    summary = run.summary
    assert int(page.locator("[data-testid=summary-n]").inner_text()) == summary["count"]
    table = page.locator("[data-testid=summary]").inner_text()
    assert f"{summary['d50']:.1f}" in table  # D10 / D50 / D90 row, recomputed
    assert page.locator("[data-testid=n-edits]").inner_text() == str(
        run.edits.filter(undone=False).count()
    )
    return n


def _wait_revision(page, revision: int) -> None:
    try:
        page.wait_for_function(
            "(r) => document.body.dataset.editRevision === String(r)"
            " || document.body.dataset.editError",
            arg=revision,
        )
    except Exception as exc:  # say what the page said instead of a bare timeout
        state = page.locator("[data-testid=save-state]").inner_text()
        raise AssertionError(f"no edit reached revision {revision}; page says: {state}") from exc
    error = page.evaluate("() => document.body.dataset.editError || ''")
    assert not error, error


def _drag(page, points) -> None:
    xy = [page.evaluate(IMG_XY, list(p)) for p in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def _square(cx, cy, h):
    return [
        (cx - h, cy - h),
        (cx + h, cy - h),
        (cx + h, cy + h),
        (cx - h, cy + h),
        (cx - h, cy - h + 1),
    ]


def test_draw_wand_split_merge_erase_undo_redo(browser_page, live_server, login, real_run):
    run, page = real_run, browser_page
    login(page, live_server, "bob", "pw-bob")
    page.set_viewport_size({"width": 1400, "height": 1600})  # the whole image on screen
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.wait_for_selector("body[data-edit-ready='1']")
    page.locator("#overlay").scroll_into_view_if_needed()
    n = _check(page, run)
    revision = run.revision

    # Draw: a freehand square in the emptiest part of the image → one more particle.
    x, y, h = _empty_spot(load_labels(run))
    page.keyboard.press("d")
    _drag(page, _square(x, y, h))
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n + 1
    drawn = run.particles.get(manual=True)
    assert abs(drawn.area_px - (2 * h + 1) ** 2) <= 4 * (2 * h + 1)
    hover = page.evaluate(
        "(i) => document.getElementById('overlay').data.at(-1).text[i]",
        page.evaluate("(idx) => window.SEMwebReview.positionOf(idx)", drawn.index),
    )
    assert "manual" in hover
    n += 1

    # Split: a cut line straight through the largest particle → two.
    target, cx, cy, (x0, y0, x1, y1) = _big_inner_particle(run)
    page.keyboard.press("s")
    _drag(page, [(cx, y0 - 3), (cx, y1 + 2)])
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n + 1
    pieces = list(
        run.particles.filter(manual=True).exclude(index=drawn.index).values_list("index", flat=True)
    )
    assert len(pieces) == 2 and target in pieces
    n += 1

    # Merge: box-select the two pieces' centres, press M → one again.
    page.keyboard.press("Escape")
    page.click("[data-mode=select]")
    centres = [run.particles.get(index=i).measurements for i in pieces]
    xs = [c["centroid_x_px"] for c in centres]
    ys = [c["centroid_y_px"] for c in centres]
    # Inside the biggest particle of the image no other particle's centre is this close.
    a = page.evaluate(IMG_XY, [min(xs) - 6, min(ys) - 6])
    b = page.evaluate(IMG_XY, [max(xs) + 6, max(ys) + 6])
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=6)
    page.mouse.up()
    page.wait_for_selector("[data-testid=selection-count]:text-is('2 selected')")
    page.keyboard.press("m")
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n - 1
    n -= 1
    merged = run.particles.get(index=min(pieces))
    assert merged.manual

    # Erase (trim): cut the left half off another big particle → same count, smaller area.
    other, ox, oy, (bx0, by0, bx1, by1) = _big_inner_particle(
        run, exclude=[merged.index, drawn.index]
    )
    area = run.particles.get(index=other).area_px
    page.keyboard.press("e")
    _drag(
        page,
        [
            (bx0 - 2, by0 - 2),
            (ox - 1, by0 - 2),
            (ox - 1, by1 + 1),
            (bx0 - 2, by1 + 1),
            (bx0 - 2, by0),
        ],
    )
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n
    trimmed = run.particles.get(index=other)
    assert trimmed.manual and trimmed.area_px < area * 0.75

    # Erase (delete): cover a whole particle → one fewer.
    victim, vx, vy, (vx0, vy0, vx1, vy1) = _big_inner_particle(
        run, exclude=[merged.index, drawn.index, other]
    )
    _drag(page, _square((vx0 + vx1) / 2, (vy0 + vy1) / 2, max(vx1 - vx0, vy1 - vy0) / 2 + 3))
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n - 1
    assert not run.particles.filter(index=victim).exists()
    n -= 1

    # Wand: click where the erased particle was, keep the preview with Enter → it is back.
    page.keyboard.press("w")
    page.mouse.click(*page.evaluate(IMG_XY, [vx, vy]))
    page.wait_for_selector("[data-testid=wand-preview]")
    page.keyboard.press("Enter")
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n + 1
    wanded = run.particles.filter(manual=True).order_by("-index").first()
    assert wanded.bbox_x0 <= vx <= wanded.bbox_x1 and wanded.bbox_y0 <= vy <= wanded.bbox_y1
    n += 1

    # Undo (Ctrl+Z) takes the wand back; redo (Ctrl+Shift+Z) restores it.
    page.keyboard.press("Escape")
    page.keyboard.press("Control+z")
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n - 1
    assert page.locator("#redo").is_enabled()
    page.keyboard.press("Control+Shift+z")
    revision += 1
    _wait_revision(page, revision)
    assert _check(page, run) == n
    assert run.particles.filter(index=wanded.index).exists()

    # The help popover lists the shortcuts.
    page.keyboard.press("?")
    assert page.locator("[data-testid=edit-help]").is_visible()
    assert "Ctrl+Z" in page.locator("[data-testid=edit-help]").inner_text()
