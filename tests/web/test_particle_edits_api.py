"""Manual outline edits over the REST API: draw, wand, split, merge, reshape, erase, delete,
undo and redo, with their revision check, bad geometry and what they leave behind (label map,
rows marked manual, summary, audit, history)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _api import api_as, api_media_fixture, approve  # noqa: F401
from _runs import completed_run, make_micrograph
from django.test import Client

from semweb.analyses.edits import load_labels
from semweb.analyses.models import AnalysisRun, ParticleEdit
from semweb.audit.models import AuditEvent

# Two discs that touch (the fake engine sees one particle) and two apart.
TOUCHING = [(100, 120, 20), (138, 120, 20), (250, 60, 12), (250, 190, 15)]
PS_NM = 2.0  # the fake engine's pixel size


@pytest.fixture
def run(bob, sample, api_media) -> AnalysisRun:
    return completed_run(make_micrograph(sample, bob, discs=TOUCHING), bob)


@pytest.fixture
def client(bob):
    return api_as(bob)


def _url(run, tail: str = "") -> str:
    return f"/api/v1/runs/{run.pk}/{tail}"


def _state(run) -> tuple:
    """Everything an edit may change, to prove that a refused one changed nothing."""
    run.refresh_from_db()
    rows = list(run.particles.order_by("index").values_list("index", "polygon", "area_px"))
    return (
        run.revision,
        run.particle_count,
        json.dumps(run.summary, sort_keys=True),
        rows,
        load_labels(run).tobytes(),
        ParticleEdit.objects.filter(run=run).count(),
    )


def _detail(response) -> str:
    detail = response.json()["detail"]
    return " ".join(detail) if isinstance(detail, list) else detail


def _index_at(run, x: int, y: int) -> int:
    return int(load_labels(run)[y, x])


def _square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_draw_a_missing_particle(client, run, bob):
    assert run.particle_count == 3
    response = client.post(
        _url(run, "particles"),
        {"polygon": _square(20, 20, 49, 49), "revision": run.revision},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    particle = body["particle"]
    assert particle["manual"] is True and particle["accepted"] is True
    assert particle["area_px"] == 30 * 30
    assert particle["ecd_nm"] == pytest.approx(2 * math.sqrt(900 / math.pi) * PS_NM)
    assert particle["shape_class"] == "cube"
    assert body["removed"] == [] and body["revision"] == run.revision + 1
    assert body["stats"]["n_accepted"] == 4 and body["stats"]["summary"]["count"] == 4
    assert body["stats"]["n_edits"] == 1 and body["stats"]["n_manual"] == 1
    assert body["geometry"]["index"] == [particle["index"]]
    run.refresh_from_db()
    assert run.particle_count == 4 and run.summary["count"] == 4
    labels = load_labels(run)
    assert (labels[20:50, 20:50] == particle["index"]).all()
    assert int((labels == particle["index"]).sum()) == 900
    event = AuditEvent.objects.filter(verb="particles.add").get()
    assert event.actor == bob and event.target_id == str(run.pk)
    assert event.data["created"] == [particle["index"]] and event.data["revision"] == run.revision


def _huge_ring(n: int) -> list:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([40 + 15 * np.cos(t), 40 + 15 * np.sin(t)], axis=1).round(3).tolist()


@pytest.mark.parametrize(
    ("polygon", "message"),
    [
        ([[20, 20], [60, 60], [60, 20], [20, 60]], "crosses itself"),
        ([[300, 200], [400, 200], [400, 230]], "outside"),
        ([[-10, 20], [40, 20], [40, 40]], "outside"),
        ([[20, 20], [40, 40]], "at least 3"),
        ([[20, 20], [40, None], [40, 40]], "not finite"),
        (_huge_ring(100_000), "at most 20000"),
        ("a square please", "list of"),
    ],
    ids=["self-intersecting", "outside-image", "negative", "2-points", "null", "100k", "text"],
)
def test_bad_geometry_is_400_and_changes_nothing(client, run, polygon, message):
    before = _state(run)
    response = client.post(
        _url(run, "particles"), {"polygon": polygon, "revision": run.revision}, format="json"
    )
    assert response.status_code == 400, response.content
    assert message in _detail(response)
    assert _state(run) == before


def test_nan_in_the_body_is_400_and_changes_nothing(client, run):
    before = _state(run)
    body = '{"polygon": [[20, 20], [40, NaN], [40, 40]], "revision": REV}'.replace(
        "REV", str(run.revision)
    )
    response = client.post(_url(run, "particles"), body, content_type="application/json")
    assert response.status_code == 400
    assert _state(run) == before


def test_bad_geometry_for_every_operation_is_400(client, run):
    merged = _index_at(run, 100, 120)
    other = _index_at(run, 250, 60)
    before = _state(run)
    r = run.revision
    for method, tail, body in [
        ("patch", f"particles/{merged}", {"polygon": [[1, 1], [2, 2]], "revision": r}),
        ("patch", f"particles/{merged}", {"erase": [[1, 1], [2, 2]], "revision": r}),
        ("post", "particles/split", {"index": merged, "line": [[0, 0], [5, 5]], "revision": r}),
        ("post", "particles/split", {"index": merged, "seeds": [[100, 120]], "revision": r}),
        ("post", "particles/split", {"index": merged, "line": [[1, None], [3, 4]], "revision": r}),
        ("post", "particles/merge", {"indices": [merged, other], "revision": r}),
        ("post", "particles/wand", {"x": 5000, "y": 10, "tolerance": 0.3}),
    ]:
        response = getattr(client, method)(_url(run, tail), body, format="json")
        assert response.status_code == 400, (tail, body, response.content)
        assert response.json().get("detail") or response.json(), tail
    assert _state(run) == before


def test_stale_revision_is_409_and_changes_nothing(client, run):
    before = _state(run)
    response = client.post(
        _url(run, "particles"),
        {"polygon": _square(20, 20, 49, 49), "revision": run.revision - 1 + 5},
        format="json",
    )
    assert response.status_code == 409
    assert "changed since you loaded it" in _detail(response)
    assert _state(run) == before


def test_split_by_line_undo_redo_restore_exactly(client, run):
    merged = _index_at(run, 100, 120)
    original = _state(run)
    response = client.post(
        _url(run, "particles/split"),
        {"index": merged, "line": [[119, 95], [119, 145]], "revision": run.revision},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["particles"]) == 2 and body["removed"] == []
    assert all(p["manual"] for p in body["particles"])
    assert {p["index"] for p in body["particles"]} == {merged, 4}  # largest keeps its index
    xs = sorted(p["measurements"]["centroid_x_px"] for p in body["particles"])
    assert xs[0] == pytest.approx(100, abs=2) and xs[1] == pytest.approx(138, abs=2)
    assert body["stats"]["n_accepted"] == 4
    after_split = _state(run)

    undo = client.post(_url(run, "undo"), {"revision": body["revision"]}, format="json")
    assert undo.status_code == 200, undo.content
    assert undo.json()["removed"] == [4]
    undone = _state(run)
    # Rows and label map exactly as before (the summary is now the engine's stats of them).
    assert (undone[1], undone[3], undone[4]) == (original[1], original[3], original[4])
    assert json.loads(undone[2])["count"] == 3
    assert undone[0] == original[0] + 2  # the revision moves on
    row = run.particles.get(index=merged)
    assert row.manual is False  # the engine's particle is back, provenance included

    redo = client.post(_url(run, "redo"), {"revision": undone[0]}, format="json")
    assert redo.status_code == 200
    redone = _state(run)
    assert (redone[1], redone[3], redone[4]) == (after_split[1], after_split[3], after_split[4])
    assert (
        client.post(_url(run, "redo"), {"revision": run.revision + 1}, format="json").status_code
        == 409
    )


def test_split_by_seeds_then_merge_back(client, run):
    merged = _index_at(run, 100, 120)
    area = run.particles.get(index=merged).area_px
    response = client.post(
        _url(run, "particles/split"),
        {"index": merged, "seeds": [[100, 120], [138, 120]], "revision": run.revision},
        format="json",
    )
    assert response.status_code == 200, response.content
    pieces = response.json()["particles"]
    assert len(pieces) == 2
    assert sum(p["area_px"] for p in pieces) == pytest.approx(area)
    revision = response.json()["revision"]
    response = client.post(
        _url(run, "particles/merge"),
        {"indices": [p["index"] for p in pieces], "revision": revision},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["particle"]["index"] == min(p["index"] for p in pieces)
    assert body["particle"]["area_px"] == area  # touching pieces merge exactly
    assert body["removed"] == [max(p["index"] for p in pieces)]
    assert body["stats"]["n_accepted"] == 3 and body["stats"]["n_edits"] == 2


def test_wand_returns_a_candidate_and_stores_nothing(client, run):
    before = _state(run)
    response = client.post(
        _url(run, "particles/wand"), {"x": 250, "y": 190, "tolerance": 0.3}, format="json"
    )
    assert response.status_code == 200, response.content
    polygon = np.asarray(response.json()["polygon"])
    x, y = polygon[:, 0], polygon[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert area == pytest.approx(math.pi * 15**2, rel=0.15)
    assert _state(run) == before


def test_reshape_erase_and_delete(client, run):
    disc = _index_at(run, 250, 60)
    r = run.revision
    response = client.patch(
        _url(run, f"particles/{disc}"),
        {"polygon": _square(240, 50, 260, 70), "revision": r},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["particle"]["area_px"] == 21 * 21
    response = client.patch(
        _url(run, f"particles/{disc}"),
        {"erase": _square(230, 40, 249, 80), "revision": r + 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["particle"]["area_px"] == 21 * 11  # columns 250..260 remain
    response = client.delete(_url(run, f"particles/{disc}"), {"revision": r + 2}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["removed"] == [disc]
    run.refresh_from_db()
    assert run.particle_count == 2 and not (load_labels(run) == disc).any()
    assert client.get(_url(run, f"particles/{disc}")).status_code == 404
    # Three undos bring the engine's disc back, pixel for pixel.
    for k in range(3):
        assert (
            client.post(_url(run, "undo"), {"revision": r + 3 + k}, format="json").status_code
            == 200
        )
    assert run.particles.get(index=disc).manual is False
    assert client.post(_url(run, "undo"), {"revision": r + 6}, format="json").status_code == 409


def test_a_new_edit_drops_the_redo_history(client, run):
    r = run.revision
    client.post(
        _url(run, "particles"), {"polygon": _square(20, 20, 49, 49), "revision": r}, format="json"
    )
    client.post(_url(run, "undo"), {"revision": r + 1}, format="json")
    response = client.post(
        _url(run, "particles"),
        {"polygon": _square(20, 180, 49, 209), "revision": r + 2},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["stats"]["can_redo"] is False
    assert ParticleEdit.objects.filter(run=run).count() == 1


def test_approved_runs_refuse_edits(client, run, sam):
    approve(run, sam)
    before = _state(run)
    response = client.post(
        _url(run, "particles"),
        {"polygon": _square(20, 20, 49, 49), "revision": run.revision},
        format="json",
    )
    assert response.status_code == 409
    assert "read-only" in _detail(response)
    assert (
        client.post(_url(run, "undo"), {"revision": run.revision}, format="json").status_code == 409
    )
    assert _state(run) == before


def test_revision_is_required(client, run):
    response = client.post(
        _url(run, "particles"), {"polygon": _square(20, 20, 49, 49)}, format="json"
    )
    assert response.status_code == 400
    assert "revision" in response.json()


def test_pieces_of_a_rejected_particle_stay_rejected(client, run):
    merged = _index_at(run, 100, 120)
    run.particles.filter(index=merged).update(accepted=False)
    response = client.post(
        _url(run, "particles/split"),
        {"index": merged, "seeds": [[100, 120], [138, 120]], "revision": run.revision},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert [p["accepted"] for p in response.json()["particles"]] == [False, False]
    assert response.json()["stats"]["n_accepted"] == 2


def test_the_run_page_timeline_tells_who_edited_what(client, run, bob):
    client.post(
        _url(run, "particles"),
        {"polygon": _square(20, 20, 49, 49), "revision": run.revision},
        format="json",
    )
    client.post(_url(run, "undo"), {"revision": run.revision + 1}, format="json")
    page = Client()
    page.force_login(bob)
    html = page.get(f"/runs/{run.pk}/").content.decode()
    timeline = html[html.index('data-testid="timeline"') :]
    assert "drew a particle" in timeline and "new #4" in timeline
    assert "undid an outline edit" in timeline and "add (step 1)" in timeline
    assert 'data-testid="edit-tools"' in html and "review_edit.js" in html
